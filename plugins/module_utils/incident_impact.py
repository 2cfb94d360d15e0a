# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The measured impact of an incident, from Prometheus over the incident's window (ofm.rollback.incident_impact_info).

**Window**: from the record's start minus ``lookback`` (a bad canary hurts before anyone declares an incident) to the end of
its procedure plus ``lookahead``, never past now.

**Requests**: ``requests_total`` and ``requests_failed`` (5xx) are ``increase`` of ``http_requests_total`` over the window.

**Error budget burned** (per SLO, percent of the budget of ``slo_period``, 30 days by default), from the SLO's series over
the window on all traffic:

* ratio SLOs breaching above a threshold (error rate, database connection failures): the budget is the threshold share of
  bad events over the period; burned = mean bad share over the window x window / (threshold x period);
* ratio SLOs breaching below a threshold (publish success, webhook signature verification): the same with the bad share
  ``1 - value`` and the budget ``1 - threshold``;
* latency (p95 above its threshold): the budget is the time the p95 may be above it, 5 % of the period; burned = the
  share of samples above it x window / (5 % x period).

This assumes steady traffic over the period, as every burn-rate alert does; it says how much of the month one incident
used, which is what a post-incident review asks.

**Recovery**: detected (the record's start), traffic on stable (the end of the record's "Monitor traffic shift" phase),
SLOs compliant (the first sample after the rollback from which no SLO violates until the window ends).

A series Prometheus has no data for is a **gap** ("no data for error_rate between ... and ..."), never a zero.
"""

from __future__ import annotations

import json
import math
import time as _time
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient, render_query
from ansible_collections.ofm.rollback.plugins.module_utils.slo import BUILTIN_SLOS, SloDefinition
from ansible_collections.ofm.rollback.plugins.module_utils.zoned_time import instant

LATENCY_BUDGET_SHARE = 0.05
SCOPES = {"all": "", "canary": 'version="canary"'}


def zoned_iso(epoch: Optional[float]) -> Optional[str]:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def read_record(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except FileNotFoundError:
        raise InputError(f"record: no incident record at {path}", option="record", accepted="the JSON record the emergency procedure wrote") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"record: {path} is not a readable JSON incident record ({exc})", option="record") from exc
    if not isinstance(record, dict) or "started_at" not in record:
        raise InputError(f"record: {path} is not an incident record (no started_at)", option="record")
    return record


def _epoch(text: Any) -> Optional[float]:
    if isinstance(text, (int, float)):
        return float(text)
    if not text:
        return None
    value = str(text)
    return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value).timestamp()


def record_times(record: Mapping[str, Any]) -> Dict[str, Optional[float]]:
    """started, finished, rollback (the rollback request) and on_stable (traffic back on stable), as epoch seconds."""
    started = _epoch(record.get("started_at"))
    finished = started + float(record.get("duration_seconds") or 0) if started is not None else None
    phases = {phase.get("phase"): phase for phase in record.get("phases") or [] if isinstance(phase, Mapping)}
    monitor = phases.get("Monitor traffic shift") or {}
    execute = phases.get("Execute rollback") or {}
    return {"started": started, "finished": finished, "rollback": monitor.get("start") or execute.get("end"),
            "on_stable": monitor.get("end") if (record.get("traffic") or {}).get("all_on_stable") is not False else None}


def window(record: Mapping[str, Any], since: Optional[float], until: Optional[float], lookback: float, lookahead: float,
           now: float) -> Tuple[float, float]:
    times = record_times(record)
    start = since if since is not None else (times["started"] or now) - lookback
    end = until if until is not None else (times["finished"] or now) + lookahead
    end = min(end, now)
    if end <= start:
        raise InputError(f"the window is empty: it would start at {zoned_iso(start)} and end at {zoned_iso(end)}", option="since",
                         accepted="a since before until (and before now)")
    return start, end


def options_window(record: Mapping[str, Any], params: Mapping[str, Any], now: float) -> Tuple[float, float]:
    """The window of the options ``since``/``until`` (times as people type them: zoned_time.instant) or ``lookback``/``lookahead``
    around the record."""
    since = instant(params["since"], "since").timestamp() if params.get("since") not in (None, "") else None
    until = instant(params["until"], "until").timestamp() if params.get("until") not in (None, "") else None
    return window(record, since, until, parse_duration(params.get("lookback") or "15m", "lookback"),
                  parse_duration(params.get("lookahead") or "15m", "lookahead"), now)


def budget_burned(slo: SloDefinition, samples: Sequence[Tuple[float, float]], window_seconds: float, period_seconds: float) -> Optional[float]:
    """Percent of the period's error budget the samples used (module docstring); None without samples."""
    values = [value for _t, value in samples if math.isfinite(value)]
    if not values:
        return None
    if slo.comparison in (">", ">=") and slo.threshold >= 1:  # a latency in seconds, not a share
        bad_share, allowed = sum(1 for value in values if slo.violates(value)) / len(values), LATENCY_BUDGET_SHARE
    elif slo.comparison in (">", ">="):
        bad_share, allowed = sum(values) / len(values), slo.threshold
    else:
        bad_share, allowed = sum(1.0 - value for value in values) / len(values), 1.0 - slo.threshold
    if allowed <= 0:
        return None
    return round(100.0 * bad_share * window_seconds / (allowed * period_seconds), 4)


def compliant_since(slos: Sequence[SloDefinition], series: Mapping[str, List[List[float]]], after: float) -> Optional[float]:
    """The first sample time at or after ``after`` from which no SLO violates any more; None when one still does at the end,
    or when no SLO has a sample at or after ``after`` (no data is no evidence of recovery)."""
    since, measured = after, False
    for slo in slos:
        points = [(t, v) for t, v in series.get(slo.name) or [] if t >= after and math.isfinite(v)]
        measured = measured or bool(points)
        violating = [t for t, v in points if slo.violates(v)]
        if not violating:
            continue
        later = [t for t, _v in points if t > violating[-1]]
        if not later:
            return None
        since = max(since, later[0])
    return since if measured else None


def measure(client: PrometheusClient, record: Mapping[str, Any], params: Mapping[str, Any], now: Optional[float] = None) -> Dict[str, Any]:
    """The module's result (see the docstring)."""
    now = _time.time() if now is None else now
    period = parse_duration(params.get("slo_period") or "30d", "slo_period")
    rate_window = format_duration(parse_duration(params.get("rate_window") or "5m", "rate_window"))  # "300" is no PromQL duration
    start, end = options_window(record, params, now)
    span = end - start
    step = float(params.get("resolution") or 0) or max(1.0, round(span / 240.0, 3))
    max_points = int(params.get("max_points") or 500)
    selector = params.get("selector") or ""
    gaps: List[str] = []
    queries: List[Dict[str, Any]] = []
    series: Dict[str, Dict[str, List[List[float]]]] = {"all": {}, "canary": {}}
    for scope, scope_selector in SCOPES.items():
        matchers = ",".join(part for part in (selector, scope_selector) if part)
        for slo in BUILTIN_SLOS:
            query = render_query(slo.query, matchers, rate_window)
            queries.append({"name": f"{slo.name} ({scope})", "query": query})
            found = client.query_range(query, start, end, step)
            points = [[t, v] for t, v in (found[0].samples if found else []) if math.isfinite(v)]
            if len(points) > max_points:
                stride = math.ceil(len(points) / max_points)
                points = points[::stride]
            series[scope][slo.name] = points
            if scope == "all" and not points:
                gaps.append(f"no data for {slo.name} between {zoned_iso(start)} and {zoned_iso(end)}")
    totals = {}
    base = ",".join(part for part in (selector,) if part)
    for name, extra in (("requests_total", ""), ("requests_failed", 'status=~"5.."')):
        matchers = ",".join(part for part in (base, extra) if part)
        query = f"sum(increase(http_requests_total{{{matchers}}}[{int(math.ceil(span))}s]))"
        queries.append({"name": name, "query": query, "time": zoned_iso(end)})
        found = client.query(query, end)
        value = found[0].samples[0][1] if found and found[0].samples else None
        totals[name] = int(round(value)) if value is not None and math.isfinite(value) else None
    if totals["requests_total"] is None:
        gaps.append(f"no request counts between {zoned_iso(start)} and {zoned_iso(end)}")
    elif totals["requests_failed"] is None:
        totals["requests_failed"] = 0  # no 5xx series at all: none failed
    burned = {slo.name: budget_burned(slo, [tuple(point) for point in series["all"][slo.name]], span, period) for slo in BUILTIN_SLOS}
    times = record_times(record)
    after = times["on_stable"] or times["rollback"] or times["started"] or start
    compliant = compliant_since(BUILTIN_SLOS, series["all"], after)
    detected = times["started"]
    recovery = {"detected_at": zoned_iso(detected), "rollback_at": zoned_iso(times["rollback"]),
                "traffic_on_stable_at": zoned_iso(times["on_stable"]), "slos_compliant_at": zoned_iso(compliant),
                "time_to_recover": format_duration(compliant - detected) if compliant is not None and detected is not None else None,
                "time_to_stable": format_duration(times["on_stable"] - detected) if times["on_stable"] and detected else None}
    if compliant is None:
        data_after = any(t >= after for points in series["all"].values() for t, _v in points)
        gaps.append("recovery not measured: " + ("no SLO data after the rollback" if not data_after
                                                 else "an SLO still violates its threshold at the end of the window"))
    thresholds = {slo.name: {"threshold": slo.threshold, "comparison": slo.comparison, "description": slo.description} for slo in BUILTIN_SLOS}
    return {"window": {"since": zoned_iso(start), "until": zoned_iso(end), "step": step}, **totals,
            "error_budget_burned": burned, "slo_period": format_duration(period), "recovery": recovery, "series": series["all"],
            "canary_series": series["canary"], "thresholds": thresholds, "gaps": gaps, "queries": queries}


def unavailable(record: Mapping[str, Any], exc: OfmRollbackError) -> Dict[str, Any]:
    """The result when Prometheus could not be asked (``unavailable_is: unknown``): every figure a gap."""
    return {"window": None, "requests_total": None, "requests_failed": None, "error_budget_burned": {slo.name: None for slo in BUILTIN_SLOS},
            "recovery": {"detected_at": record.get("started_at")}, "series": {}, "canary_series": {},
            "thresholds": {slo.name: {"threshold": slo.threshold, "comparison": slo.comparison, "description": slo.description}
                           for slo in BUILTIN_SLOS},
            "gaps": [f"Prometheus could not be asked: {exc}"], "queries": [], "unavailable": str(exc)}
