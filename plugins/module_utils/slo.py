# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service level objectives: definitions, option parsing, query rendering and the breach verdict.

One SLO is judged from ONE range query over the last ``sustain`` at step ``resolution``:

* NaN and +/-Inf samples are dropped (no traffic gives 0/0);
* ``unknown`` when there is no series, more than one series, or fewer valid samples than
  ``min_coverage`` of the expected ``sustain / resolution + 1``;
* ``breach`` when every valid sample violates the threshold (the violation is sustained);
* ``ok`` otherwise; ``compliant`` additionally says that no sample violates (recovery is complete).

A value exactly at the threshold violates only ``>=`` and ``<=`` comparisons.
"""

from __future__ import annotations

import math
import operator
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, InputError, OfmRollbackError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, isoformat, parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import (
    LABEL_NAME, MATCHERS, PLACEHOLDER, PLACEHOLDERS, PrometheusClient, Series, render_query)

COMPARISONS: dict[str, Callable[[float, float], bool]] = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
SCOPES = ("canary", "stable", "both")
UNKNOWN_IS = ("unknown", "breach", "ok")
UNAVAILABLE_IS = ("fail", "unknown")
WAIT_FOR = ("none", "all_ok", "breach")
OK, BREACH, UNKNOWN = "ok", "breach", "unknown"
MAX_POINTS_PER_SERIES = 11000
# Range queries of one evaluation sent at the same time.
MAX_PARALLEL_QUERIES = 8
TREND_FLAT_FRACTION = 0.01

_SLO_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class SloDefinition:
    """An SLO: a PromQL template (with ``$selector`` and ``$window``) that breaches when ``value <comparison> threshold``."""

    name: str
    description: str
    query: str
    comparison: str
    threshold: float
    enabled: bool = True

    def violates(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)


BUILTIN_SLOS: tuple[SloDefinition, ...] = (
    SloDefinition(
        "p95_latency", "P95 request latency in seconds",
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))", ">", 10.0),
    SloDefinition(
        "error_rate", "Share of HTTP requests answered with a 5xx status",
        'sum(rate(http_requests_total{status=~"5..",$selector}[$window])) / sum(rate(http_requests_total{$selector}[$window]))',
        ">", 0.01),
    SloDefinition(
        "success_rate", "Share of publish requests that succeeded",
        'sum(rate(publish_requests_total{result="success",$selector}[$window])) / sum(rate(publish_requests_total{$selector}[$window]))',
        "<", 0.95),
    SloDefinition(
        "webhook_signature_verification", "Share of incoming webhooks whose signature verified",
        "sum(rate(webhook_signature_verified_total{$selector}[$window])) / sum(rate(webhook_signature_total{$selector}[$window]))",
        "<", 0.999),
    SloDefinition(
        "db_connection_failures", "Share of database connection attempts that failed",
        'sum(rate(db_connection_attempts_total{result="failure",$selector}[$window])) / sum(rate(db_connection_attempts_total{$selector}[$window]))',
        ">", 0.05),
)


@dataclass(frozen=True)
class Settings:
    """How to scope, sample and judge the SLOs (durations in seconds)."""

    scope: str = "canary"
    version_label: str = "version"
    selector: str = ""
    window: float = 300.0
    sustain: float = 300.0
    resolution: float = 15.0
    min_coverage: float = 0.8
    unknown_is: str = UNKNOWN
    unavailable_is: str = "fail"
    # How old the newest value may be at the end of the queried span (0: two resolutions) before the data counts as stale.
    max_sample_age: float = 0.0

    @property
    def sample_age_limit(self) -> float:
        return self.max_sample_age or 2 * self.resolution

    @property
    def expected_samples(self) -> int:
        return int(math.floor(self.sustain / self.resolution + 1e-9)) + 1

    def label_selector(self) -> str:
        """The label matchers that scope every query (empty when nothing restricts it)."""
        matchers = [] if self.scope == "both" else [f'{self.version_label}="{self.scope}"']
        extra = self.selector.strip().rstrip(",").strip()
        return ",".join(matchers + ([extra] if extra else []))


@dataclass(frozen=True)
class CheckOptions:
    """Validated options of one SLO check: what to evaluate, how, and what to wait for."""

    slos: tuple[SloDefinition, ...]
    settings: Settings
    wait_for: str
    wait_timeout: float
    wait_interval: float
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class SloResult:
    """The verdict on one SLO and the numbers behind it."""

    name: str
    description: str
    query: str
    comparison: str
    threshold: float
    verdict: str
    reason: Optional[str]
    current: Optional[float]
    samples: int
    expected_samples: int
    violating_samples: int
    dropped_samples: int
    coverage: float
    compliant: bool
    trend: Optional[str]
    series: int
    current_text: str = "none"
    line: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    """The results of one pass over every selected SLO."""

    results: dict[str, SloResult]
    queries: list[dict[str, Any]]
    evaluated_at: float
    unknown_is: str
    monitoring_error: Optional[str] = None

    def names(self, verdict: str) -> list[str]:
        return [name for name, result in self.results.items() if result.verdict == verdict]

    @property
    def breach_detected(self) -> bool:
        return bool(self.names(BREACH)) or (self.unknown_is == BREACH and bool(self.names(UNKNOWN)))

    @property
    def all_ok(self) -> bool:
        if self.names(UNKNOWN) and self.unknown_is != OK:
            return False
        return all(result.verdict == OK and result.compliant for result in self.results.values() if result.verdict != UNKNOWN)

    def summary(self) -> dict[str, Any]:
        """The module's result fields for this evaluation."""
        return {
            "slos": {name: result.as_dict() for name, result in self.results.items()},
            "breached": self.names(BREACH),
            "unknown": self.names(UNKNOWN),
            "ok": self.names(OK),
            "breach_detected": self.breach_detected,
            "all_ok": self.all_ok,
            "queries": self.queries,
            "evaluated_at": isoformat(self.evaluated_at),
            "summary": [result.line for result in self.results.values()],
            "monitoring_available": self.monitoring_error is None,
            "monitoring_error": self.monitoring_error,
        }

    def message(self, scope: str) -> str:
        """One line for a human: what breached, what is unknown, or that all is well."""
        if self.monitoring_error is not None:
            return f"no SLO could be evaluated on {scope}, all unknown: {self.monitoring_error}"
        parts = [f"{len(self.names(BREACH))} of {len(self.results)} SLOs breached on {scope}"]
        parts += [f"{name} ({_current_text(self.results[name])})" for name in self.names(BREACH)]
        if self.names(UNKNOWN):
            parts.append(f"unknown: {', '.join(self.names(UNKNOWN))}")
        parts.append("all OK and compliant" if self.all_ok else "not all OK")
        return "; ".join(parts)


def _current_text(result: SloResult) -> str:
    return f"current {result.current:.6g} {result.comparison} {result.threshold:g}" if result.current is not None else "no current value"


def resolve_slos(entries: Optional[Sequence[Mapping[str, Any]]], only: Optional[Sequence[str]]) -> tuple[SloDefinition, ...]:
    """Built-in SLOs merged with ``entries`` (overrides and additions), narrowed to ``only``, enabled ones only."""
    merged = {slo.name: slo for slo in BUILTIN_SLOS}
    seen: set[str] = set()
    for index, entry in enumerate(entries or ()):
        slo = _merge_entry(merged, index, entry, seen)
        merged[slo.name] = slo
    wanted = list(only or ())
    unknown = [name for name in wanted if name not in merged]
    if unknown:
        raise InputError(f"unknown SLO name(s): {', '.join(unknown)}", option="only", accepted=sorted(merged))
    disabled = [name for name in wanted if not merged[name].enabled]
    if disabled:
        raise InputError(f"SLO(s) {', '.join(disabled)} are listed in only but disabled in slos", option="only",
                         hint="Remove them from only, or set enabled to true in their slos entry.")
    selected = tuple(slo for slo in merged.values() if slo.enabled and (not wanted or slo.name in wanted))
    if not selected:
        raise InputError("every SLO is disabled, so there is nothing to evaluate", option="slos",
                         hint="Enable at least one SLO.")
    return selected


def _merge_entry(merged: dict[str, SloDefinition], index: int, entry: Mapping[str, Any], seen: set[str]) -> SloDefinition:
    option = f"slos[{index}]"
    name = str(entry.get("name") or "")
    if not _SLO_NAME.match(name):
        raise InputError(f"name {name!r} is not a valid SLO name", option=f"{option}.name", accepted="letters, digits, '_', '.' and '-'")
    if name in seen:
        raise InputError(f"SLO {name!r} appears more than once", option=f"{option}.name", hint="Merge the entries into one.")
    seen.add(name)
    given = {key: entry[key] for key in ("description", "query", "comparison", "threshold", "enabled") if entry.get(key) is not None}
    if name in merged:
        slo = replace(merged[name], **given)
    else:
        missing = [key for key in ("query", "comparison", "threshold") if key not in given]
        if missing:
            raise InputError(f"new SLO {name!r} lacks {', '.join(missing)}", option=option,
                             hint=f"Give query, comparison and threshold, or use a built-in name: {', '.join(s.name for s in BUILTIN_SLOS)}.")
        slo = SloDefinition(name=name, description=given.get("description", ""), query=given["query"],
                            comparison=given["comparison"], threshold=given["threshold"], enabled=given.get("enabled", True))
    _check_definition(slo, option)
    return replace(slo, threshold=float(slo.threshold))


def _check_definition(slo: SloDefinition, option: str) -> None:
    if slo.comparison not in COMPARISONS:
        raise InputError(f"comparison {slo.comparison!r} is not supported", option=f"{option}.comparison", accepted=list(COMPARISONS))
    try:
        threshold = float(slo.threshold)
    except (TypeError, ValueError):
        threshold = math.nan
    if not math.isfinite(threshold):
        raise InputError(f"threshold {slo.threshold!r} is not a finite number", option=f"{option}.threshold", accepted="a finite number")
    unknown = sorted({name for name in PLACEHOLDER.findall(slo.query) if name not in PLACEHOLDERS})
    if unknown:
        raise InputError(f"query uses unknown placeholder(s) {', '.join('$' + name for name in unknown)}", option=f"{option}.query",
                         accepted=", ".join("$" + name for name in PLACEHOLDERS))
    if not slo.query.strip():
        raise InputError("query is empty", option=f"{option}.query", accepted="a PromQL expression")


def check_options(params: Mapping[str, Any]) -> CheckOptions:
    """Validated ``CheckOptions`` from the module's parameters; raises ``InputError`` naming the bad option."""
    settings = _settings(params)
    slos = resolve_slos(params.get("slos"), params.get("only"))
    wait_for = params.get("wait_for") or "none"
    _check_choice(wait_for, "wait_for", WAIT_FOR)
    warnings = tuple(
        f"SLO {slo.name!r}: its query has no $selector, so scope={settings.scope} and selector do not apply to it"
        for slo in slos if "$selector" not in slo.query and settings.label_selector())
    return CheckOptions(slos=slos, settings=settings, wait_for=wait_for,
                        wait_timeout=parse_duration(params.get("wait_timeout", "10m"), "wait_timeout"),
                        wait_interval=parse_duration(params.get("wait_interval", "15s"), "wait_interval"),
                        warnings=warnings)


def _settings(params: Mapping[str, Any]) -> Settings:
    scope = params.get("scope") or "canary"
    unknown_is = params.get("unknown_is") or UNKNOWN
    unavailable_is = params.get("unavailable_is") or "fail"
    _check_choice(scope, "scope", SCOPES)
    _check_choice(unknown_is, "unknown_is", UNKNOWN_IS)
    _check_choice(unavailable_is, "unavailable_is", UNAVAILABLE_IS)
    version_label = params.get("version_label") or "version"
    if not LABEL_NAME.match(version_label):
        raise InputError(f"{version_label!r} is not a Prometheus label name", option="version_label", accepted="[a-zA-Z_][a-zA-Z0-9_]*")
    selector = (params.get("selector") or "").strip()
    if selector and not MATCHERS.match(selector):
        raise InputError(f"{selector!r} is not a list of label matchers", option="selector",
                         accepted='matchers without braces, such as namespace="ofm-production",job=~"api.*"')
    min_coverage = params.get("min_coverage", 0.8)
    if not 0 < min_coverage <= 1:
        raise InputError(f"{min_coverage!r} is outside (0, 1]", option="min_coverage", accepted="a fraction above 0 and at most 1")
    settings = Settings(scope=scope, version_label=version_label, selector=selector,
                        window=parse_duration(params.get("window", "5m"), "window"),
                        sustain=parse_duration(params.get("sustain", "5m"), "sustain"),
                        resolution=parse_duration(params.get("resolution", "15s"), "resolution"),
                        min_coverage=float(min_coverage), unknown_is=unknown_is, unavailable_is=unavailable_is,
                        max_sample_age=parse_duration(params["max_sample_age"], "max_sample_age") if params.get("max_sample_age") else 0.0)
    if settings.resolution > settings.sustain:
        raise InputError(f"resolution ({format_duration(settings.resolution)}) is longer than sustain ({format_duration(settings.sustain)})",
                         option="resolution", accepted="a duration no longer than sustain")
    if settings.expected_samples > MAX_POINTS_PER_SERIES:
        raise InputError(f"sustain / resolution asks for {settings.expected_samples} points, Prometheus answers at most {MAX_POINTS_PER_SERIES}",
                         option="resolution", accepted=f"a duration of at least sustain / {MAX_POINTS_PER_SERIES - 1}")
    return settings


def _check_choice(value: str, option: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise InputError(f"{value!r} is not a valid choice", option=option, accepted=list(choices))


def unavailable_result(slo: SloDefinition, query: str, settings: Settings, reason: str) -> SloResult:
    """The verdict on ``slo`` when Prometheus cannot be asked: unknown, with the reason (once it fails, no SLO is asked again)."""
    result = SloResult(name=slo.name, description=slo.description, query=query, comparison=slo.comparison, threshold=slo.threshold,
                       verdict=UNKNOWN, reason=reason, current=None, samples=0, expected_samples=settings.expected_samples,
                       violating_samples=0, dropped_samples=0, coverage=0.0, compliant=False, trend=None, series=0)
    return replace(result, line=result_line(result))


def evaluate_series(slo: SloDefinition, query: str, series: Sequence[Series], settings: Settings, end: Optional[float] = None) -> SloResult:
    """The verdict on ``slo`` from the series its range query returned; with ``end`` (the end of the queried span), a series
    whose newest value is older than ``settings.sample_age_limit`` is stale, so unknown: the metrics stopped arriving (a
    target that cannot be scraped, rules not evaluated, a Prometheus replica behind) and the older values say nothing of now."""
    expected = settings.expected_samples
    sustain = format_duration(settings.sustain)
    common = {"name": slo.name, "description": slo.description, "query": query, "comparison": slo.comparison,
              "threshold": slo.threshold, "expected_samples": expected, "series": len(series)}
    if len(series) != 1:
        result = SloResult(**common, verdict=UNKNOWN, reason=_series_problem(series, sustain), current=None, samples=0,
                           violating_samples=0, dropped_samples=0, coverage=0.0, compliant=False, trend=None)
        return replace(result, line=result_line(result))
    # NaN (no traffic in the window) carries no information; +Inf is a real value (e.g. a p95 above the largest bucket).
    valid = [(at, value) for at, value in series[0].samples if not math.isnan(value)]
    violating = sum(1 for sample in valid if slo.violates(sample[1]))
    coverage = min(len(valid) / expected, 1.0)
    verdict, reason = _verdict(slo, len(valid), violating, coverage, settings)
    # Staleness is judged on the newest sample of any value: a NaN (0/0, no events in the window) is Prometheus answering
    # for now, so the metrics arrive; too little traffic is min_coverage's business, not max_sample_age's.
    newest = series[0].samples[-1][0] if series[0].samples else None
    age = end - newest if end is not None and newest is not None else 0.0
    if age > settings.sample_age_limit and newest is not None:
        verdict, reason = UNKNOWN, (f"stale data: the newest value is {format_duration(age)} older than the end of the span "
                                    f"({isoformat(newest)}), more than max_sample_age {format_duration(settings.sample_age_limit)}: "
                                    "the metrics stopped arriving (scrapes failing, rules not evaluated, or Prometheus behind)")
    last = valid[-1][1] if valid else None
    result = SloResult(**common, verdict=verdict, reason=reason, current=last if last is not None and math.isfinite(last) else None,
                       samples=len(valid), violating_samples=violating, dropped_samples=len(series[0].samples) - len(valid),
                       coverage=round(coverage, 4), compliant=bool(valid) and violating == 0,
                       trend=trend([sample for sample in valid if math.isfinite(sample[1])], slo.threshold),
                       current_text=_number_text(last))
    return replace(result, line=result_line(result))


def _number_text(value: Optional[float]) -> str:
    if value is None:
        return "none"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.4g}"


def result_line(result: SloResult) -> str:
    """One line for a human, e.g. ``error_rate: BREACH, now 0.31 (> 0.01 breaches), 30/30 samples violate``."""
    head = f"{result.name}: {result.verdict.upper()}"
    if result.verdict == UNKNOWN:
        return f"{head} ({result.reason})"
    detail = (f"now {result.current_text} ({result.comparison} {result.threshold:g} breaches), "
              f"{result.violating_samples}/{result.samples} samples violate")
    return f"{head}, {detail}" + (f", trend {result.trend}" if result.trend else "")


def _series_problem(series: Sequence[Series], sustain: str) -> str:
    if not series:
        return (f"the query returned no data for the last {sustain}: check that the metrics exist in Prometheus and that "
                "the scope and selector match their labels")
    shown = "; ".join(str(item.labels) for item in series[:3])
    return (f"the query returned {len(series)} series ({shown}{'; ...' if len(series) > 3 else ''}): "
            "aggregate it to one series, for example with sum(...) or sum by () (...)")


def _verdict(slo: SloDefinition, valid: int, violating: int, coverage: float, settings: Settings) -> tuple[str, Optional[str]]:
    sustain = format_duration(settings.sustain)
    if coverage < settings.min_coverage:
        return UNKNOWN, (f"only {valid} of {settings.expected_samples} expected samples in the last {sustain} hold a value "
                         f"(coverage {coverage:.0%} < min_coverage {settings.min_coverage:.0%}): too little traffic or missing scrapes")
    if violating == valid:
        return BREACH, f"all {valid} samples in the last {sustain} are {slo.comparison} {slo.threshold:g}"
    if violating:
        return OK, f"{violating} of {valid} samples in the last {sustain} are {slo.comparison} {slo.threshold:g}, not sustained"
    return OK, None


def trend(samples: Sequence[tuple[float, float]], threshold: float) -> Optional[str]:
    """``rising``, ``falling`` or ``flat`` from the least-squares slope; flat when the fitted change is within 1% of the threshold."""
    if len(samples) < 2:
        return None
    times = [sample[0] for sample in samples]
    values = [sample[1] for sample in samples]
    mean_t = sum(times) / len(times)
    mean_v = sum(values) / len(values)
    spread = sum((at - mean_t) ** 2 for at in times)
    if spread == 0:
        return None
    slope = sum((at - mean_t) * (value - mean_v) for at, value in zip(times, values)) / spread
    change = slope * (times[-1] - times[0])
    tolerance = TREND_FLAT_FRACTION * (abs(threshold) or 1.0)
    if abs(change) <= tolerance:
        return "flat"
    return "rising" if change > 0 else "falling"


class SloChecker:
    """Evaluates SLOs against Prometheus, once or until a condition holds."""

    def __init__(self, prometheus: PrometheusClient, slos: Sequence[SloDefinition], settings: Settings, *,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._prometheus = prometheus
        self._slos = tuple(slos)
        self._settings = settings
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep

    def evaluate(self) -> Evaluation:
        """One range query per SLO over ``[now - sustain, now]``, ``now`` aligned down to the resolution.

        The first SLO's query goes alone, the others' then at the same time (at most ``MAX_PARALLEL_QUERIES``): an evaluation
        takes about two queries' time instead of one per SLO, and a Prometheus that cannot be asked still gets one request,
        whose reason makes every SLO unknown (or, with ``unavailable_is`` not ``unknown``, is raised). Failures are judged in
        the SLOs' order, as if the queries had gone one after the other.
        """
        step = self._settings.resolution
        end = math.floor(self._clock() / step) * step
        start = end - self._settings.sustain
        selector = self._settings.label_selector()
        window = format_duration(self._settings.window)
        rendered = [(slo, render_query(slo.query, selector, window)) for slo in self._slos]
        queries = [{"name": slo.name, "query": query, "start": isoformat(start), "end": isoformat(end), "step": format_duration(step)}
                   for slo, query in rendered]
        calls = [lambda query=query: self._prometheus.query_range(query, start, end, step) for _slo, query in rendered]
        answers = _all_at_once(calls[:1])
        if not any(isinstance(answer, OfmRollbackError) for answer in answers):
            answers += _all_at_once(calls[1:])
        results: dict[str, SloResult] = {}
        monitoring_error: Optional[str] = None
        for index, (slo, query) in enumerate(rendered):
            answer = answers[index] if index < len(answers) else None
            if monitoring_error is None and isinstance(answer, OfmRollbackError):
                if not isinstance(answer, (UnavailableError, DeadlineExceeded)) or self._settings.unavailable_is != "unknown":
                    raise answer
                monitoring_error = f"Prometheus could not be asked ({answer.reason})"
            results[slo.name] = (unavailable_result(slo, query, self._settings, monitoring_error) if monitoring_error is not None
                                 else evaluate_series(slo, query, answer, self._settings, end))
        return Evaluation(results, queries, end, self._settings.unknown_is, monitoring_error)

    def wait(self, condition: str, timeout: float, interval: float) -> tuple[Evaluation, int]:
        """Evaluate every ``interval`` until ``condition`` (``all_ok`` or ``breach``) holds; return it and the poll count.

        Raises ``DeadlineExceeded`` (``last_state`` = the last evaluation) when ``timeout`` runs out first.
        """
        def timed_out(evaluation: Evaluation, polls: int, _elapsed: float) -> Exception:
            return DeadlineExceeded(
                f"{condition} did not hold after {polls} evaluation(s) in {format_duration(timeout)}; last: "
                f"breached [{', '.join(evaluation.names(BREACH))}], unknown [{', '.join(evaluation.names(UNKNOWN))}]",
                system="Prometheus", operation=f"wait for {condition}", target=self._prometheus.http.redact(self._prometheus.http.base_url),
                timeout=timeout, last_state=(evaluation, polls),
                hint="The last evaluation is in the result (see slos.<name>.reason); raise wait_timeout if the service is still converging.")

        poller = Poller(timeout=timeout, interval=interval, clock=self._monotonic, sleep=self._sleep)
        polled = poller.until(self.evaluate, lambda evaluation: _holds(evaluation, condition), timed_out)
        return polled.value, polled.polls


def _all_at_once(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Each call's result, or the ``OfmRollbackError`` it raised, in the calls' order; the calls run in threads when several."""
    def outcome(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except OfmRollbackError as exc:
            return exc

    if len(calls) < 2:
        return [outcome(call) for call in calls]
    with ThreadPoolExecutor(max_workers=min(len(calls), MAX_PARALLEL_QUERIES), thread_name_prefix="ofm-slo") as pool:
        return list(pool.map(outcome, calls))


def _holds(evaluation: Evaluation, condition: str) -> bool:
    return evaluation.all_ok if condition == "all_ok" else evaluation.breach_detected
