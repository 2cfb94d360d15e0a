# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a validation check ends with: an ``Outcome`` (status, detail, measured values) or a ``Skip``, recorded as a
``CheckResult``; the per-category summary and the verdict of a run; values made fit for JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.options import CATEGORIES

STATUSES = ("ok", "failed", "skipped")


@dataclass
class Outcome:
    status: str
    detail: str
    measured: dict[str, Any] = field(default_factory=dict)


class Skip(Exception):
    """A check that cannot or must not run; its message says why."""


@dataclass
class CheckResult:
    category: str
    name: str
    status: str
    detail: str
    measured: dict[str, Any]
    duration: float

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "name": self.name, "status": self.status, "detail": self.detail,
                "measured": self.measured, "duration": round(self.duration, 3)}


def summarize(checks: Sequence[CheckResult]) -> dict[str, dict[str, Any]]:
    """Per category: how many checks ended ok, failed, skipped, and the category's status (failed beats ok beats skipped)."""
    summary = {}
    for category in CATEGORIES:
        counts = {status: sum(1 for check in checks if check.category == category and check.status == status) for status in STATUSES}
        status = "failed" if counts["failed"] else "ok" if counts["ok"] else "skipped"
        summary[category] = {"status": status, **counts}
    return summary


def passed(checks: Sequence[CheckResult]) -> bool:
    """True when no check failed and at least one ran: validating nothing is not a pass."""
    return any(check.status == "ok" for check in checks) and not any(check.status == "failed" for check in checks)


def message(checks: Sequence[CheckResult]) -> str:
    failed = [check.name for check in checks if check.status == "failed"]
    counts = ", ".join(f"{sum(1 for check in checks if check.status == status)} {status}" for status in STATUSES)
    verdict = f"failed: {', '.join(failed)}" if failed else "passed" if passed(checks) else "no check ran"
    return f"sandbox validation {verdict} ({len(checks)} checks: {counts})"


def plain(value: Any) -> Any:
    """A value as JSON can hold it: datetimes as ISO text, decimals as numbers, anything else unknown as text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return str(value)


def rows_text(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pg_error_text(exc: Exception) -> str:
    """``Type (SQLSTATE): primary message`` of a psycopg error, without the statement excerpt."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or " ".join(line.strip() for line in str(exc).strip().splitlines()) or "no message"
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__}{f' ({sqlstate})' if sqlstate else ''}: {text}"


def error_text(exc: OfmRollbackError) -> str:
    """A check's detail for a collection error: its reason, and for bad input what the option accepts."""
    return f"{exc.reason}. {exc.hint}" if isinstance(exc, InputError) and exc.hint else exc.reason
