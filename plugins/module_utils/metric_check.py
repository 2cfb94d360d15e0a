# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named PromQL checks of the post-rollback validation: one instant query each, or two when the check has a baseline.

A check's query returns one series per group (its ``by`` labels); every group is judged:

* with ``max`` / ``min``: every series must stay at or below ``max`` and at or above ``min``;
* with a ``baseline`` (``offset``: the same query evaluated that long before now, which is what the PromQL ``offset`` modifier
  on every selector gives; or ``at``: evaluated at that time): a group fails when ``current > baseline * max_ratio`` and
  ``current - baseline > min_delta``, or when ``current < baseline * min_ratio`` and ``baseline - current > min_delta``.
  A group without a baseline series counts as a baseline of 0 (``missing_baseline: zero``, so a new error pattern fails)
  or leaves the check ``unknown`` (``missing_baseline: unknown``, for a business metric with no data a week before).

NaN samples (0/0 when a route has no traffic) are left out. A query without any series gives ``empty_is`` (``unknown``
by default: nothing was shown to be fine). Prometheus that cannot be asked gives ``unknown`` checks with
``unavailable_is: unknown`` (asked once: the other checks are not sent), else the task fails.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils import checks
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, isoformat, parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import (
    LABEL_NAME, MATCHERS, PLACEHOLDER, PLACEHOLDERS, PrometheusClient, Series, render_query)
from ansible_collections.ofm.rollback.plugins.module_utils.zoned_time import instant

SUBJECT = "the Prometheus metrics"
EMPTY_IS = ("ok", "unknown", "failed")
MISSING_BASELINE = ("zero", "unknown")
CHECK_KEYS = ("name", "description", "query", "by", "max", "min", "baseline", "max_ratio", "min_ratio", "min_delta",
              "missing_baseline", "empty_is")
MAX_LISTED = 20
WEEK = 7 * 86400.0

# The error ratio per route and status class (4xx, 5xx): the errors of that class over all requests of the route.
ERROR_RATIO_QUERY = (
    'sum by (route, status_class) (label_replace(rate(http_requests_total{status=~"[45]..",$selector}[$window]), '
    '"status_class", "${1}xx", "status", "([45])..")) / ignoring (status_class) group_left '
    "sum by (route) (rate(http_requests_total{$selector}[$window]))")


@dataclass(frozen=True)
class Baseline:
    """Where the baseline is read: ``offset`` seconds before the evaluation, or at the instant ``at``."""

    offset: Optional[float] = None
    at: Optional[float] = None

    def time(self, now: float) -> float:
        return self.at if self.at is not None else now - (self.offset or 0.0)

    def describe(self) -> str:
        if self.at is not None:
            return f"at {isoformat(self.at)}"
        return "a week before" if self.offset == WEEK else f"{format_duration(self.offset or 0.0)} before"


@dataclass(frozen=True)
class MetricCheck:
    """One named check: a query template and how its series are judged."""

    name: str
    query: str
    description: str = ""
    by: tuple[str, ...] = ()
    max: Optional[float] = None
    min: Optional[float] = None
    baseline: Optional[Baseline] = None
    max_ratio: Optional[float] = None
    min_ratio: Optional[float] = None
    min_delta: float = 0.0
    missing_baseline: str = "unknown"
    empty_is: str = "unknown"


# Built-ins; error_patterns and publish_rate get their baseline from the options baseline_at and business_offset.
BUILTIN_CHECKS: dict[str, MetricCheck] = {
    "error_patterns": MetricCheck(
        "error_patterns", ERROR_RATIO_QUERY, "4xx and 5xx request ratio per route and status class against a baseline before the incident",
        by=("route", "status_class"), max_ratio=2.0, min_delta=0.01, missing_baseline="zero", empty_is="ok"),
    "queue_backlog": MetricCheck(
        "queue_backlog", "max by (task_queue) (temporal_task_queue_backlog{$selector})", "Jobs waiting in each Temporal task queue",
        by=("task_queue",), max=1000.0),
    "publish_rate": MetricCheck(
        "publish_rate", "sum(rate(publish_jobs_completed_total{$selector}[$window]))",
        "Publish jobs completed per second against the same window business_offset before", min_ratio=0.8),
    "targets_up": MetricCheck(
        "targets_up", "up{$selector}", "Every Prometheus scrape target is up", by=("job", "instance"), min=1.0),
}
DEFAULT_CHECKS = tuple(BUILTIN_CHECKS)


@dataclass(frozen=True)
class Options:
    """Validated options: the checks, the label matchers for ``$selector`` and the ``$window``."""

    checks: tuple[MetricCheck, ...]
    selector: str
    window: float
    unavailable_is: str


def parse_time(value: Any, option: str) -> float:
    """``value`` as epoch seconds: a number, ISO 8601 with an offset, or a local time of the shell's zone (zoned_time.instant)."""
    return instant(value, option).timestamp()


def checked_selector(value: Optional[str]) -> str:
    selector = (value or "").strip()
    if selector and not MATCHERS.match(selector):
        raise InputError(f"{selector!r} is not a list of label matchers", option="selector",
                         accepted='matchers without braces, such as namespace="ofm-production",job=~"api.*"')
    return selector.rstrip(",").strip()


def checked_query(query: Any, option: str) -> str:
    text = str(query or "").strip()
    if not text:
        raise InputError("query is empty", option=option, accepted="a PromQL expression")
    unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        raise InputError(f"query uses unknown placeholder(s) {', '.join('$' + name for name in unknown)}", option=option,
                         accepted=", ".join("$" + name for name in PLACEHOLDERS))
    return text


def check_options(params: Mapping[str, Any]) -> Options:
    """The validated options; an ``InputError`` names the bad option before anything is sent."""
    unavailable_is = params.get("unavailable_is") or "fail"
    if unavailable_is not in checks.UNAVAILABLE_IS:
        raise InputError(f"{unavailable_is!r} is not a valid choice", option="unavailable_is", accepted=list(checks.UNAVAILABLE_IS))
    business = Baseline(offset=parse_duration(params.get("business_offset") or "1w", "business_offset"))
    incident = Baseline(at=parse_time(params["baseline_at"], "baseline_at")) if params.get("baseline_at") not in (None, "") else business
    builtins = {**BUILTIN_CHECKS, "error_patterns": replace(BUILTIN_CHECKS["error_patterns"], baseline=incident),
                "publish_rate": replace(BUILTIN_CHECKS["publish_rate"], baseline=business)}
    entries = params.get("checks")
    entries = list(DEFAULT_CHECKS) if entries is None else list(entries)
    if not entries:
        raise InputError("checks is empty, so there is nothing to check", option="checks", accepted=f"built-in names ({', '.join(BUILTIN_CHECKS)}) or dicts")
    resolved: list[MetricCheck] = []
    for index, entry in enumerate(entries):
        check = _resolve(entry, f"checks[{index}]", builtins)
        if check.name in {done.name for done in resolved}:
            raise InputError(f"check {check.name!r} appears more than once", option=f"checks[{index}]", accepted="each name once")
        resolved.append(check)
    return Options(tuple(resolved), checked_selector(params.get("selector")), parse_duration(params.get("window") or "5m", "window"),
                   unavailable_is)


def _resolve(entry: Any, option: str, builtins: Mapping[str, MetricCheck]) -> MetricCheck:
    if isinstance(entry, str):
        if entry not in builtins:
            raise InputError(f"{entry!r} is not a built-in check", option=option, accepted=f"{', '.join(builtins)}, or a dict with name and query")
        return builtins[entry]
    if not isinstance(entry, Mapping):
        raise InputError(f"{entry!r} is neither a check name nor a dict", option=option, accepted="a built-in name or a dict")
    unknown = sorted(set(entry) - set(CHECK_KEYS))
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(unknown)}", option=option, accepted=list(CHECK_KEYS))
    name = str(entry.get("name") or "")
    if not name or not all(char.isalnum() or char in "_.-" for char in name):
        raise InputError(f"name {name!r} is not a valid check name", option=f"{option}.name", accepted="letters, digits, '_', '.' and '-'")
    given = {key: value for key, value in entry.items() if value is not None and key != "name"}
    base = builtins.get(name)
    if base is None and "query" not in given:
        raise InputError(f"new check {name!r} has no query", option=f"{option}.query", accepted="a PromQL expression")
    fields: dict[str, Any] = {}
    if "query" in given:
        fields["query"] = checked_query(given["query"], f"{option}.query")
    if "description" in given:
        fields["description"] = str(given["description"])
    if "by" in given:
        fields["by"] = _labels(given["by"], f"{option}.by")
    for key in ("max", "min", "max_ratio", "min_ratio", "min_delta"):
        if key in given:
            fields[key] = _number(given[key], f"{option}.{key}")
    for key, choices in (("missing_baseline", MISSING_BASELINE), ("empty_is", EMPTY_IS)):
        if key in given:
            if given[key] not in choices:
                raise InputError(f"{given[key]!r} is not a valid choice", option=f"{option}.{key}", accepted=list(choices))
            fields[key] = given[key]
    if "baseline" in given:
        fields["baseline"] = _baseline(given["baseline"], f"{option}.baseline")
    check = replace(base, **fields) if base else MetricCheck(name=name, **fields)
    return _consistent(check, option)


def _labels(value: Any, option: str) -> tuple[str, ...]:
    labels = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else None
    if labels is None or not all(isinstance(label, str) and LABEL_NAME.match(label) for label in labels):
        raise InputError(f"{value!r} is not a list of label names", option=option, accepted="label names such as [route, status]")
    return tuple(labels)


def _number(value: Any, option: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise InputError(f"{value!r} is not a finite number", option=option, accepted="a finite number")
    return number


def _baseline(value: Any, option: str) -> Baseline:
    if not isinstance(value, Mapping) or len([key for key in ("offset", "at") if value.get(key) not in (None, "")]) != 1 \
            or set(value) - {"offset", "at"}:
        raise InputError(f"{value!r} is not a baseline", option=option, accepted="a dict with exactly one of offset (a duration such as 1w) "
                         "or at (a time)")
    if value.get("offset") not in (None, ""):
        return Baseline(offset=parse_duration(value["offset"], f"{option}.offset"))
    return Baseline(at=parse_time(value["at"], f"{option}.at"))


def _consistent(check: MetricCheck, option: str) -> MetricCheck:
    ratios = check.max_ratio is not None or check.min_ratio is not None
    if check.baseline is not None and not ratios:
        raise InputError(f"check {check.name!r} has a baseline but neither max_ratio nor min_ratio", option=f"{option}.max_ratio",
                         accepted="max_ratio and/or min_ratio with baseline")
    if ratios and check.baseline is None:
        raise InputError(f"check {check.name!r} has max_ratio/min_ratio but no baseline", option=f"{option}.baseline",
                         accepted="a dict with offset or at")
    if check.baseline is None and check.max is None and check.min is None:
        raise InputError(f"check {check.name!r} has no threshold", option=option,
                         accepted="max and/or min, or baseline with max_ratio and/or min_ratio")
    return check


@dataclass(frozen=True)
class Evaluated:
    """What one check's queries returned: the current series and, with a baseline, the baseline series."""

    current: list[Series]
    baseline: Optional[list[Series]] = None
    baseline_time: Optional[float] = None


class MetricChecker:
    """Runs the checks against Prometheus and judges them."""

    def __init__(self, prometheus: PrometheusClient, options: Options, clock: Callable[[], float] = time.time) -> None:
        self._prometheus = prometheus
        self._options = options
        self._clock = clock
        self.queries: list[dict[str, Any]] = []

    def run(self) -> list[checks.Check]:
        now = float(math.floor(self._clock()))
        window = format_duration(self._options.window)
        results: list[checks.Check] = []
        down: Optional[str] = None
        for check in self._options.checks:
            query = render_query(check.query, self._options.selector, window)
            if down is None:
                try:
                    results.append(judge(check, self._evaluate(check, query, now)))
                    continue
                except (UnavailableError, DeadlineExceeded) as exc:
                    if self._options.unavailable_is != "unknown":
                        raise
                    down = f"Prometheus could not be asked ({exc.reason})"
            results.append(checks.unavailable(check.name, down, {"query": query}))
        return results

    def _evaluate(self, check: MetricCheck, query: str, now: float) -> Evaluated:
        current = self._query(check.name, "current", query, now)
        if check.baseline is None:
            return Evaluated(current)
        at = check.baseline.time(now)
        return Evaluated(current, self._query(check.name, "baseline", query, at), at)

    def _query(self, name: str, role: str, query: str, at: float) -> list[Series]:
        self.queries.append({"name": name, "role": role, "query": query, "time": isoformat(at)})
        return self._prometheus.query(query, at)


def _key(series: Series, by: Sequence[str]) -> tuple[tuple[str, str], ...]:
    labels = series.labels if not by else {label: series.labels.get(label, "") for label in by}
    return tuple(sorted((name, value) for name, value in labels.items() if name != "__name__"))


def _values(series: Sequence[Series], by: Sequence[str]) -> dict[tuple[tuple[str, str], ...], float]:
    values = {}
    for item in series:
        if item.samples and not math.isnan(item.samples[-1][1]):
            values[_key(item, by)] = item.samples[-1][1]
    return values


def _group(key: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{name}={value}" for name, value in key) or "(no labels)"


def judge(check: MetricCheck, evaluated: Evaluated) -> checks.Check:
    """The verdict on ``check`` from what its queries returned."""
    current = _values(evaluated.current, check.by)
    if check.baseline is None:
        return _judge_absolute(check, current)
    return _judge_baseline(check, current, _values(evaluated.baseline or [], check.by), evaluated.baseline_time)


def _empty(check: MetricCheck, what: str) -> checks.Check:
    detail = f"the query returned no series {what}"
    return checks.Check(check.name, {"ok": checks.OK, "failed": checks.FAILED}.get(check.empty_is, checks.UNKNOWN), detail, {"series": []})


def _judge_absolute(check: MetricCheck, current: dict[tuple[tuple[str, str], ...], float]) -> checks.Check:
    if not current:
        return _empty(check, "(check that the metric exists and the selector matches its labels)")
    bounds = " and ".join(part for part in (f">= {check.min:g}" if check.min is not None else "",
                                            f"<= {check.max:g}" if check.max is not None else "") if part)
    violating = [(key, value) for key, value in current.items()
                 if (check.max is not None and value > check.max) or (check.min is not None and value < check.min)]
    series = [{"labels": dict(key), "value": value} for key, value in sorted(current.items())][:MAX_LISTED]
    data = {"series": series, "violating": [{"labels": dict(key), "value": value} for key, value in violating][:MAX_LISTED]}
    if violating:
        shown = "; ".join(f"{_group(key)} = {value:g}" for key, value in violating[:5])
        more = f" (and {len(violating) - 5} more)" if len(violating) > 5 else ""
        return checks.Check(check.name, checks.FAILED, f"{len(violating)} of {len(current)} series not {bounds}: {shown}{more}", data)
    extreme = max(current.values()) if check.max is not None else min(current.values())
    return checks.Check(check.name, checks.OK, f"all {len(current)} series {bounds} ({'max' if check.max is not None else 'min'} {extreme:g})", data)


def _judge_baseline(check: MetricCheck, current: dict[tuple[tuple[str, str], ...], float],
                    baseline: dict[tuple[tuple[str, str], ...], float], baseline_time: Optional[float]) -> checks.Check:
    where = check.baseline.describe() if check.baseline else ""
    if not baseline and check.missing_baseline == "unknown":
        return checks.Check(check.name, checks.UNKNOWN, f"no data {where}" + (f" ({isoformat(baseline_time)})" if baseline_time else ""),
                            {"series": [{"labels": dict(key), "value": value} for key, value in current.items()][:MAX_LISTED]})
    if not current and not (check.min_ratio is not None and baseline):
        return _empty(check, "now")
    keys = set(current) | (set(baseline) if check.min_ratio is not None else set())
    rows, violating, unknown = [], [], []
    for key in sorted(keys):
        value = current.get(key, 0.0)
        base = baseline.get(key)
        if base is None and check.missing_baseline == "unknown":
            unknown.append(key)
            rows.append({"labels": dict(key), "value": value, "baseline": None})
            continue
        base = base or 0.0
        rows.append({"labels": dict(key), "value": value, "baseline": base})
        if _violates(check, value, base):
            violating.append((key, value, base))
    data = {"series": rows[:MAX_LISTED], "baseline_time": isoformat(baseline_time) if baseline_time else None}
    if violating:
        shown = "; ".join(f"{_group(key)}: {value:.4g} vs {base:.4g} {where}" for key, value, base in violating[:5])
        more = f" (and {len(violating) - 5} more)" if len(violating) > 5 else ""
        return checks.Check(check.name, checks.FAILED, f"{len(violating)} of {len(keys)} group(s) beyond {_limits(check)}: {shown}{more}", data)
    if unknown:
        return checks.Check(check.name, checks.UNKNOWN, f"no data {where} for {', '.join(_group(key) for key in unknown[:5])}", data)
    if len(rows) == 1:
        row = rows[0]
        return checks.Check(check.name, checks.OK, f"{row['value']:.4g} vs {row['baseline']:.4g} {where}, within {_limits(check)}", data)
    return checks.Check(check.name, checks.OK, f"all {len(rows)} group(s) within {_limits(check)} of the baseline {where}", data)


def _violates(check: MetricCheck, value: float, base: float) -> bool:
    above = check.max_ratio is not None and value > base * check.max_ratio and value - base > check.min_delta
    below = check.min_ratio is not None and value < base * check.min_ratio and base - value > check.min_delta
    return above or below


def _limits(check: MetricCheck) -> str:
    parts = []
    if check.max_ratio is not None:
        parts.append(f"x{check.max_ratio:g}")
    if check.min_ratio is not None:
        parts.append(f"x{check.min_ratio:g} minimum")
    if check.min_delta:
        parts.append(f"delta {check.min_delta:g}")
    return ", ".join(parts)


def run(prometheus: PrometheusClient, params: Mapping[str, Any], clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """The module's result: ``checks.result`` of every check plus the ``queries`` sent (PromQL and evaluation time)."""
    options = check_options(params)
    checker = MetricChecker(prometheus, options, clock)
    return checks.result(checker.run(), SUBJECT, {"queries": checker.queries})
