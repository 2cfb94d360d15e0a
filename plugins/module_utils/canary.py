# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A canary rollback through the ops API that is safe to repeat.

The ops API has no idempotency of its own and reads only ``reason`` from a rollback's body, so ``CanaryRollback``:

* reads the traffic split first and sends nothing when the canary already carries no traffic;
* sends an ``Idempotency-Key`` derived from the incident id, the same on every attempt;
* retries 5xx answers, 429 and timeouts until its deadline, and before each retry reads the split
  again, stopping as soon as the canary carries no traffic (an earlier attempt may have applied);
* tells from ``UnavailableError.sent`` whether a failed attempt may have applied the rollback;
* gives up at once on a refused certificate (``CertificateError``: nothing was sent, and retrying cannot help).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    CertificateError,
    InputError,
    OfmRollbackError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import IDEMPOTENCY_HEADER, ROLLBACK_PATH, SYSTEM, OpsApiClient, RollbackRequest
from ansible_collections.ofm.rollback.plugins.module_utils.traffic import TrafficReader, TrafficSplit

RETRY_BACKOFF_START = 0.5
RETRY_BACKOFF_MAX = 8.0


@dataclass(frozen=True)
class RollbackResult:
    """What a canary rollback did; ``attempts`` counts the rollback requests sent (0 when nothing was sent)."""

    changed: bool
    message: str
    previous: Optional[TrafficSplit]
    current: Optional[TrafficSplit]
    response: Any
    attempts: int

    def diff(self) -> dict[str, dict[str, Any]]:
        """Before: the split read first. After: the split the rollback leads to (all weight on stable)."""
        before = self.previous.summary() if self.previous else {}
        return {"before": before, "after": _all_on_stable(self.previous) if self.changed else before}


def _all_on_stable(split: Optional[TrafficSplit]) -> dict[str, Any]:
    if split is None:
        return {}
    if split.configured is not None:
        return {"stable_weight": split.configured.stable_weight + split.configured.canary_weight, "canary_weight": 0}
    return {"stable_share": 1.0, "canary_share": 0.0} if split.summary() else {}


class CanaryRollback:
    """Rolls the canary back through the ops API once it still carries traffic, retrying within ``deadline`` seconds.

    Every attempt goes through ``ops``, its retries and timeouts capped at the time left. ``requests`` collects every
    HTTP attempt (Prometheus readings and ops API calls) in order; ``warnings`` what could not be read; ``previous`` the
    split read first; ``may_have_applied`` whether a failed attempt may have been processed by the server.
    """

    # pylint: disable-next=too-many-arguments
    def __init__(self, ops: OpsApiClient, reader: TrafficReader, *, deadline: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if deadline <= 0:
            raise InputError(f"deadline must be more than 0 seconds, got {deadline:g}", option="deadline", accepted="a number of seconds above 0")
        self.requests: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.previous: Optional[TrafficSplit] = None
        self.may_have_applied = False
        self._ops = ops
        self._reader = reader
        self._deadline = deadline
        self._clock = clock
        self._sleep = sleep
        self._attempts: list[dict[str, Any]] = []

    def run(self, request: RollbackRequest, check_mode: bool = False) -> RollbackResult:
        """Read the split, then (unless the canary carries no traffic, or in check mode) send the rollback."""
        self.previous = self._read("before the rollback")
        if self.previous is not None and self.previous.canary_carries_traffic() is False:
            return RollbackResult(False, f"The canary already carries no traffic ({self.previous.describe()}); nothing was sent.",
                                  self.previous, self.previous, None, 0)
        state = self.previous.describe() if self.previous else "traffic split unknown"
        if check_mode:
            return RollbackResult(True, f"Would POST the rollback ({state}) with {IDEMPOTENCY_HEADER} {request.idempotency_key}.",
                                  self.previous, self.previous, None, 0)
        return self._send(request)

    def _send(self, request: RollbackRequest) -> RollbackResult:
        ends = self._clock() + self._deadline
        failures: list[UnavailableError] = []
        while True:
            try:
                response = self._attempt(request, max(ends - self._clock(), 0.001))
            except CertificateError:
                raise  # a refused certificate stays refused: no retry, nothing was sent (the fallback starts at once)
            except UnavailableError as exc:
                failures.append(exc)
                self.may_have_applied = self.may_have_applied or exc.sent is not False
            else:
                return self._confirmed(response, len(failures) + 1)
            delay = min(RETRY_BACKOFF_START * 2 ** (len(failures) - 1), RETRY_BACKOFF_MAX)
            can_retry = ends - self._clock() > delay
            if can_retry:
                self._sleep(delay)
            split = self._read(f"before retry {len(failures) + 1}" if can_retry else "after the last attempt")
            if split is not None and split.canary_carries_traffic() is False:
                return self._stopped_early(split, len(failures))
            if not can_retry:
                raise self._gave_up(request, failures, split)

    def _attempt(self, request: RollbackRequest, seconds_left: float) -> Any:
        seen = len(self._ops.http.requests)
        try:
            return self._ops.canary_rollback(request, deadline=seconds_left)
        finally:
            made = self._ops.http.requests[seen:]
            self.requests.extend(made)
            self._attempts.extend(made)

    def _confirmed(self, response: Any, attempts: int) -> RollbackResult:
        current = self._read("after the rollback")
        message = response.get("message") if isinstance(response, dict) else None
        confirmation = f" ({message})" if message else ""
        now = current.describe() if current else "traffic split unknown"
        return RollbackResult(True, f"The ops API rolled the canary back on attempt {attempts}{confirmation}; now: {now}.",
                              self.previous, current, response, attempts)

    def _stopped_early(self, split: TrafficSplit, failed: int) -> RollbackResult:
        why = ("an earlier attempt may have applied the rollback" if self.may_have_applied
               else "no attempt reached the server, so the rollback came from elsewhere")
        return RollbackResult(self.may_have_applied, f"The canary carries no traffic any more ({split.describe()}) after {failed} failed "
                                                     f"attempt(s): {why}; not retrying.", self.previous, split, None, failed)

    def _read(self, when: str) -> Optional[TrafficSplit]:
        if not self._reader.has_source:
            return None
        seen = len(self._reader.requests)
        try:
            return self._reader.read()
        except InputError:
            raise
        except OfmRollbackError as exc:
            self.warnings.append(f"Could not read the traffic split {when}: {exc}")
            return None
        finally:
            self.requests.extend(self._reader.requests[seen:])

    def _gave_up(self, request: RollbackRequest, failures: list[UnavailableError], split: Optional[TrafficSplit]) -> UnavailableError:
        attempts = "; ".join(_attempt_text(number, entry) for number, entry in enumerate(self._attempts, start=1))
        state = split.describe() if split else "traffic split unknown"
        applied = " An attempt may have reached the server and applied the rollback." if self.may_have_applied else ""
        return UnavailableError(
            f"no attempt succeeded within the {self._deadline:g}s deadline and the canary still carries traffic ({state}); "
            f"{len(self._attempts)} attempt(s): {attempts}; the last answer: {_last_answer(failures[-1])}.{applied}",
            attempts=len(self._attempts), sent=_any_sent(failures), system=SYSTEM, operation=f"POST /{ROLLBACK_PATH}",
            target=self._ops.url(ROLLBACK_PATH), status=failures[-1].status,
            details={"attempts": self._attempts, "idempotency_key": request.idempotency_key},
            hint=f"Every attempt carried {IDEMPOTENCY_HEADER} {request.idempotency_key}. Check the ops API (GET /health) and the "
                 "Argo Rollout, then run again (the split is read first, so a rollback that did apply is not repeated), "
                 "or abort and undo the Rollout by hand.")


def _attempt_text(number: int, entry: dict[str, Any]) -> str:
    outcome = f"HTTP {entry['status']}" if "status" in entry else entry.get("error", "no answer")
    return f"#{number} {outcome} after {entry.get('duration', 0):g}s"


def _last_answer(error: UnavailableError) -> str:
    body = error.details.get("body")
    return json.dumps(body) if isinstance(body, (dict, list)) else str(body or error.reason)[:500]


def _any_sent(failures: list[UnavailableError]) -> Optional[bool]:
    """True when any attempt reached the server, False when none did, else None (unknown)."""
    sent = {failure.sent for failure in failures}
    if True in sent:
        return True
    return None if None in sent else False
