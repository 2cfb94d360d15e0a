# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alertmanager API v2: the alerts firing now, and the post-rollback check that none fires for the service.

One ``GET /api/v2/alerts`` with the label matchers as ``filter`` parameters (Alertmanager applies them) returns the active
alerts, silenced and inhibited ones included; the module leaves those out unless asked, and says how many it left out.
A resolved alert (``endsAt`` passed) is not active and is never returned.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import http_client_kwargs, validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.checks import FAILED, OK, Check
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, isoformat
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.http import BasicAuth, BearerAuth, ClientAuth, HttpClient

SYSTEM = "Alertmanager"
URL_EXAMPLE = "https://alertmanager.example.com:9093"
ALERTS_PATH = "api/v2/alerts"
DEFAULT_MATCHERS = ('service="ofm-social-os"',)
MATCHER_HELP = 'a label matcher such as service="ofm-social-os", severity=~"page|critical" or env!="staging"'
MAX_LISTED = 5
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^"\s,{}=!~]*)\s*$')
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def checked_matchers(matchers: Optional[Sequence[Any]], option: str = "matchers") -> list[str]:
    """``matchers`` as Alertmanager filter values; an InputError naming ``option`` for one that is not a label matcher."""
    if matchers is None:
        return list(DEFAULT_MATCHERS)
    checked = []
    for item in matchers:
        match = _MATCHER.match(str(item)) if isinstance(item, str) else None
        if match is None:
            raise InputError(f"{item!r} is not a label matcher", option=option, system=SYSTEM, accepted=MATCHER_HELP)
        name, operator, value = match.groups()
        quoted = value.startswith('"')
        text = value[1:-1].replace('\\"', '"').replace("\\\\", "\\") if quoted else value
        if operator in ("=~", "!~"):
            try:
                re.compile(text)
            except re.error as exc:
                raise InputError(f"{item!r} holds an invalid regular expression ({exc})", option=option, system=SYSTEM,
                                 accepted=MATCHER_HELP) from None
        checked.append(f"{name}{operator}{value}" if quoted else f'{name}{operator}"{value}"')
    return checked


@dataclass(frozen=True)
class Alert:
    """One active alert as the module returns it."""

    name: str
    severity: Optional[str]
    starts_at: Optional[float]
    state: str
    silenced: bool
    inhibited: bool
    labels: dict[str, str]
    summary: Optional[str]
    fingerprint: Optional[str]

    def view(self, now: float) -> dict[str, Any]:
        return {"name": self.name, "severity": self.severity, "since": isoformat(self.starts_at) if self.starts_at is not None else None,
                "for": format_duration(max(1.0, round(now - self.starts_at))) if self.starts_at is not None else None, "state": self.state,
                "silenced": self.silenced, "inhibited": self.inhibited, "labels": self.labels, "summary": self.summary,
                "fingerprint": self.fingerprint}

    def line(self, now: float) -> str:
        """``OfmErrorBudgetBurn (page; slo=error_rate, version=canary) since 2026-12-04T14:57:11Z (3m12s)``."""
        extra = [f"{key}={value}" for key, value in sorted(self.labels.items()) if key not in ("alertname", "severity", "service")]
        what = "; ".join([self.severity or "no severity"] + ([", ".join(extra)] if extra else []))
        since = f" since {isoformat(self.starts_at)} ({format_duration(max(1.0, round(now - self.starts_at)))})" if self.starts_at is not None else ""
        return f"{self.name} ({what}){since}"


def parse_time(text: Any) -> Optional[float]:
    """Alertmanager's RFC 3339 time (fractions of any length, ``Z`` or an offset) as unix seconds; None when absent or unreadable."""
    match = _TIME.match(str(text or "").strip())
    if match is None:
        return None
    base, fraction, zone = match.groups()
    moment = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    offset = timedelta(0) if zone == "Z" else (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return (moment.replace(tzinfo=timezone.utc) - offset).timestamp() + (float(fraction) if fraction else 0.0)


def parse_alert(item: Any) -> Alert:
    if not isinstance(item, dict) or not isinstance(item.get("labels"), dict):
        raise ValueError("an alert without a 'labels' object")
    labels = {str(key): str(value) for key, value in item["labels"].items()}
    status = item.get("status") if isinstance(item.get("status"), dict) else {}
    annotations = item.get("annotations") if isinstance(item.get("annotations"), dict) else {}
    return Alert(name=labels.get("alertname", "(no alertname)"), severity=labels.get("severity"), starts_at=parse_time(item.get("startsAt")),
                 state=str(status.get("state") or "active"), silenced=bool(status.get("silencedBy")), inhibited=bool(status.get("inhibitedBy")),
                 labels=labels, summary=annotations.get("summary"), fingerprint=item.get("fingerprint"))


class AlertmanagerClient:
    """Reads the alerts of one Alertmanager."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, sleep: Callable[[float], None] = time.sleep) -> "AlertmanagerClient":
        """A client from the module's ``ALERTMANAGER_SPEC`` and ``HTTP_CLIENT_SPEC`` options (``argspec.py``), validated."""
        auth: Optional[ClientAuth] = None
        if params.get("alertmanager_token"):
            auth = BearerAuth(params["alertmanager_token"])
        elif params.get("alertmanager_username"):
            auth = BasicAuth(params["alertmanager_username"], params.get("alertmanager_password") or "")
        url = validated_url(params["alertmanager_url"], "alertmanager_url", example=URL_EXAMPLE)
        return cls(HttpClient(url, auth=auth, system=SYSTEM, sleep=sleep, **http_client_kwargs(params, "alertmanager_url")))

    def alerts(self, matchers: Sequence[str]) -> list[Alert]:
        """The active alerts matching every matcher, silenced, inhibited and not yet processed ones included."""
        params = {"filter": list(matchers), "active": "true", "silenced": "true", "inhibited": "true", "unprocessed": "true"}
        response = self.http.request("GET", ALERTS_PATH, params=params)
        if not isinstance(response.body, list):
            raise self._shape_error(f"expected a list of alerts, got {self.http.redact(str(response.body))[:300]}")
        try:
            return [parse_alert(item) for item in response.body]
        except ValueError as exc:
            raise self._shape_error(str(exc)) from exc

    def _shape_error(self, reason: str) -> DataError:
        return DataError(reason, system=SYSTEM, operation="GET alerts", target=self.http.redact(self.http.base_url + ALERTS_PATH),
                         hint=f"Check that alertmanager_url points at Alertmanager (its API v2), such as {URL_EXAMPLE}.")


def alerts_check(alerts: Sequence[Alert], matchers: Sequence[str], *, include_silenced: bool, include_inhibited: bool,
                 now: float) -> tuple[Check, list[Alert]]:
    """The check ``alerts`` (failed when any counted alert fires) and the alerts counted."""
    counted = [alert for alert in alerts if (include_silenced or not alert.silenced) and (include_inhibited or not alert.inhibited)]
    counted.sort(key=lambda alert: (alert.starts_at is None, alert.starts_at or 0.0, alert.name))
    left_out = []
    silenced = sum(1 for alert in alerts if alert.silenced and not include_silenced)
    inhibited = sum(1 for alert in alerts if alert.inhibited and not alert.silenced and not include_inhibited)
    if silenced:
        left_out.append(f"{silenced} silenced")
    if inhibited:
        left_out.append(f"{inhibited} inhibited")
    scope = ", ".join(matchers) or "any alert"
    note = f" ({' and '.join(left_out)} not counted)" if left_out else ""
    data = {"matchers": list(matchers), "firing": len(counted), "silenced_left_out": silenced, "inhibited_left_out": inhibited}
    if not counted:
        return Check("alerts", OK, f"no alert firing for {scope}{note}", data), counted
    listed = "; ".join(alert.line(now) for alert in counted[:MAX_LISTED])
    more = f"; and {len(counted) - MAX_LISTED} more" if len(counted) > MAX_LISTED else ""
    return Check("alerts", FAILED, f"{len(counted)} alert(s) firing for {scope}: {listed}{more}{note}", data), counted
