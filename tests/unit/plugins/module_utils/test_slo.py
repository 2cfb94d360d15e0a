# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import math
import threading
from dataclasses import replace
from typing import Any

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import Series
from ansible_collections.ofm.rollback.plugins.module_utils.slo import (
    BUILTIN_SLOS,
    Evaluation,
    Settings,
    SloChecker,
    SloDefinition,
    check_options,
    evaluate_series,
    resolve_slos,
    trend,
)
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import render_query

SETTINGS = Settings(sustain=300, resolution=15)  # 21 expected samples
ERROR_RATE = SloDefinition("error_rate", "errors", "q", ">", 0.01)
NAN = float("nan")
INF = float("inf")


def series(values: list[float], labels: dict[str, str] | None = None, start: float = 1000.0, step: float = 15.0) -> Series:
    return Series(labels or {}, [(start + index * step, value) for index, value in enumerate(values)])


def judge(values: list[float], slo: SloDefinition = ERROR_RATE, settings: Settings = SETTINGS):
    return evaluate_series(slo, "rendered", [series(values)], settings)


def default_params(**overrides: Any) -> dict[str, Any]:
    params = {"slos": [], "only": [], "scope": "canary", "version_label": "version", "selector": "", "window": "5m",
              "sustain": "5m", "resolution": "15s", "min_coverage": 0.8, "unknown_is": "unknown", "wait_for": "none",
              "wait_timeout": "10m", "wait_interval": "15s"}
    params.update(overrides)
    return params


def test_sustained_violation_is_a_breach():
    result = judge([0.05] * 21)
    assert result.verdict == "breach"
    assert result.violating_samples == 21
    assert result.samples == 21 and result.expected_samples == 21
    assert result.coverage == 1.0
    assert result.compliant is False
    assert result.current == 0.05
    assert "all 21 samples" in result.reason


def test_one_compliant_sample_prevents_a_breach_but_not_compliance():
    result = judge([0.05] * 10 + [0.001] + [0.05] * 10)
    assert result.verdict == "ok"
    assert result.violating_samples == 20
    assert result.compliant is False
    assert "not sustained" in result.reason


def test_all_compliant_samples_are_ok_and_compliant():
    result = judge([0.001] * 21)
    assert result.verdict == "ok"
    assert result.compliant is True
    assert result.reason is None


@pytest.mark.parametrize("comparison, at_threshold_violates", [(">", False), ("<", False), (">=", True), ("<=", True)])
def test_value_exactly_at_threshold(comparison, at_threshold_violates):
    slo = SloDefinition("s", "", "q", comparison, 0.95)
    result = judge([0.95] * 21, slo)
    assert (result.verdict == "breach") is at_threshold_violates
    assert result.compliant is not at_threshold_violates


@pytest.mark.parametrize("comparison, value, violates", [(">", 0.96, True), (">", 0.94, False), ("<", 0.94, True), ("<", 0.96, False)])
def test_comparisons_either_side_of_threshold(comparison, value, violates):
    assert (judge([value] * 21, SloDefinition("s", "", "q", comparison, 0.95)).verdict == "breach") is violates


def test_nan_samples_are_dropped():
    result = judge([0.05] * 18 + [NAN, NAN, NAN])
    assert result.samples == 18
    assert result.dropped_samples == 3
    assert result.verdict == "breach"
    assert result.current == 0.05


def test_infinite_samples_count_as_values():
    """histogram_quantile gives +Inf when the quantile lies above the largest bucket: a severe breach, not missing data."""
    latency = SloDefinition("p95_latency", "", "q", ">", 10)
    result = judge([12.0] * 18 + [INF, INF, INF], latency)
    assert result.samples == 21
    assert result.dropped_samples == 0
    assert result.verdict == "breach"
    assert result.current is None and result.current_text == "+Inf"
    assert result.line.startswith("p95_latency: BREACH, now +Inf")
    assert judge([0.05] * 20 + [-INF]).verdict == "ok"


def test_all_nan_is_unknown():
    result = judge([NAN] * 21)
    assert result.verdict == "unknown"
    assert result.current is None
    assert result.compliant is False
    assert "coverage 0%" in result.reason


def test_empty_result_is_unknown_with_a_reason():
    result = evaluate_series(ERROR_RATE, "rendered", [], SETTINGS)
    assert result.verdict == "unknown"
    assert result.series == 0
    assert "no data for the last 5m" in result.reason


def test_multiple_series_is_unknown_and_asks_for_aggregation():
    result = evaluate_series(ERROR_RATE, "rendered", [series([0.5] * 21, {"pod": "a"}), series([0.5] * 21, {"pod": "b"})], SETTINGS)
    assert result.verdict == "unknown"
    assert result.series == 2
    assert "aggregate" in result.reason and "'pod': 'a'" in result.reason


def test_partial_coverage_below_minimum_is_unknown():
    result = judge([0.05] * 16)  # 16 / 21 = 0.76 < 0.8
    assert result.verdict == "unknown"
    assert result.coverage == round(16 / 21, 4)
    assert "min_coverage 80%" in result.reason


def test_partial_coverage_at_minimum_gives_a_verdict():
    result = judge([0.05] * 17, settings=Settings(sustain=300, resolution=15, min_coverage=0.8))  # 17 / 21 = 0.81
    assert result.verdict == "breach"


@pytest.mark.parametrize("values, expected", [
    ([0.05 - 0.002 * i for i in range(21)], "falling"),
    ([0.001 * i for i in range(21)], "rising"),
    ([0.02, 0.0201, 0.0199] * 7, "flat"),
    ([0.02], None),
])
def test_trend(values, expected):
    assert trend([(1000.0 + 15 * i, v) for i, v in enumerate(values)], 0.01) == expected


def test_trend_is_reported_per_slo():
    assert judge([0.1 - 0.004 * i for i in range(21)]).trend == "falling"


def evaluation(verdicts: dict[str, tuple[str, bool]], unknown_is: str = "unknown") -> Evaluation:
    results = {}
    for name, (verdict, compliant) in verdicts.items():
        base = judge([0.001] * 21 if compliant else [0.05] * 21)
        results[name] = base.__class__(**{**base.as_dict(), "name": name, "verdict": verdict, "compliant": compliant})
    return Evaluation(results, [], 1700000000.0, unknown_is)


def test_overall_lists_and_flags():
    result = evaluation({"a": ("breach", False), "b": ("ok", True), "c": ("unknown", False)}).summary()
    assert result["breached"] == ["a"]
    assert result["ok"] == ["b"]
    assert result["unknown"] == ["c"]
    assert result["breach_detected"] is True
    assert result["all_ok"] is False
    assert result["evaluated_at"] == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize("unknown_is, breach_detected, all_ok", [("unknown", False, False), ("breach", True, False), ("ok", False, True)])
def test_unknown_is_variants(unknown_is, breach_detected, all_ok):
    result = evaluation({"a": ("ok", True), "b": ("unknown", False)}, unknown_is)
    assert result.breach_detected is breach_detected
    assert result.all_ok is all_ok


def test_all_ok_needs_compliance_not_just_ok():
    assert evaluation({"a": ("ok", True), "b": ("ok", False)}).all_ok is False
    assert evaluation({"a": ("ok", True), "b": ("ok", True)}).all_ok is True


TEMPLATE = 'sum(rate(m{status=~"5..",$selector}[$window])) / sum(rate(m{$selector}[$window]))'


@pytest.mark.parametrize("scope, label, expected", [
    ("canary", "version", 'sum(rate(m{status=~"5..",version="canary"}[5m])) / sum(rate(m{version="canary"}[5m]))'),
    ("stable", "version", 'sum(rate(m{status=~"5..",version="stable"}[5m])) / sum(rate(m{version="stable"}[5m]))'),
    ("both", "version", 'sum(rate(m{status=~"5.."}[5m])) / sum(rate(m[5m]))'),
    ("canary", "track", 'sum(rate(m{status=~"5..",track="canary"}[5m])) / sum(rate(m{track="canary"}[5m]))'),
])
def test_selector_rendering_for_each_scope(scope, label, expected):
    selector = Settings(scope=scope, version_label=label).label_selector()
    assert render_query(TEMPLATE, selector, "5m") == expected


def test_extra_selector_is_combined_with_scope():
    selector = Settings(scope="canary", selector='namespace="ofm-production",').label_selector()
    assert selector == 'version="canary",namespace="ofm-production"'
    assert render_query("up{$selector}", selector, "5m") == 'up{version="canary",namespace="ofm-production"}'


@pytest.mark.parametrize("template, expected", [
    ("up{$selector}", "up"),
    ("up{ $selector }", "up"),
    ('up{a="b", $selector}', 'up{a="b"}'),
    ('up{$selector, a="b"}', 'up{a="b"}'),
    ('label_replace(up{$selector}, "x", "$1", "job", "(.*)")', 'label_replace(up, "x", "$1", "job", "(.*)")'),
])
def test_empty_selector_leaves_no_dangling_comma_or_braces(template, expected):
    assert render_query(template, "", "1m") == expected


def test_builtin_queries_render_without_placeholders_or_empty_braces():
    for slo in BUILTIN_SLOS:
        for scope in ("canary", "both"):
            query = render_query(slo.query, Settings(scope=scope).label_selector(), "5m")
            assert "$" not in query and "{}" not in query and ",}" not in query and "{," not in query


def test_builtin_thresholds_follow_the_checklist():
    assert {slo.name: (slo.comparison, slo.threshold) for slo in BUILTIN_SLOS} == {
        "p95_latency": (">", 10.0), "error_rate": (">", 0.01), "success_rate": ("<", 0.95),
        "webhook_signature_verification": ("<", 0.999), "db_connection_failures": (">", 0.05)}


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("1m30s", 90), ("500ms", 0.5), ("1d", 86400),
                                           ("90", 90), (45, 45), ("2.5", 2.5)])
def test_parse_duration(text, seconds):
    assert parse_duration(text, "sustain") == seconds


@pytest.mark.parametrize("text", ["5x", "", "m5", "1s1m", "-5m", "0s", "0", "nan", True])
def test_bad_duration_names_the_option(text):
    with pytest.raises(InputError) as caught:
        parse_duration(text, "sustain")
    assert caught.value.option == "sustain"
    assert "30s, 5m, 1h or 1m30s" in str(caught.value)


@pytest.mark.parametrize("seconds, text", [(90, "1m30s"), (300, "5m"), (0.25, "250ms"), (3600, "1h"), (86400 + 1, "1d1s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_override_changes_only_given_fields():
    slos = resolve_slos([{"name": "p95_latency", "threshold": 5, "query": None, "comparison": None}], None)
    latency = next(slo for slo in slos if slo.name == "p95_latency")
    builtin = next(slo for slo in BUILTIN_SLOS if slo.name == "p95_latency")
    assert latency.threshold == 5.0
    assert latency.query == builtin.query and latency.comparison == ">"
    assert len(slos) == 5


def test_new_slo_needs_query_comparison_threshold():
    with pytest.raises(InputError) as caught:
        resolve_slos([{"name": "backlog", "query": "sum(x)"}], None)
    assert caught.value.option == "slos[0]"
    assert "lacks comparison, threshold" in str(caught.value)


def test_new_slo_is_added_and_disabled_ones_are_skipped():
    slos = resolve_slos([{"name": "backlog", "query": "sum(x{$selector})", "comparison": ">", "threshold": 1000},
                         {"name": "webhook_signature_verification", "enabled": False}], None)
    assert [slo.name for slo in slos] == ["p95_latency", "error_rate", "success_rate", "db_connection_failures", "backlog"]


def test_only_narrows_and_is_validated():
    assert [slo.name for slo in resolve_slos([], ["error_rate"])] == ["error_rate"]
    with pytest.raises(InputError) as caught:
        resolve_slos([], ["error_rate", "latency"])
    assert caught.value.option == "only"
    assert "latency" in caught.value.reason
    assert "p95_latency" in caught.value.accepted


def test_only_naming_a_disabled_slo_is_an_error():
    with pytest.raises(InputError, match="disabled"):
        resolve_slos([{"name": "error_rate", "enabled": False}], ["error_rate"])


def test_disabling_everything_is_an_error():
    with pytest.raises(InputError, match="nothing to evaluate"):
        resolve_slos([{"name": slo.name, "enabled": False} for slo in BUILTIN_SLOS], None)


@pytest.mark.parametrize("entry, option", [
    ({"name": "x", "query": "up", "comparison": "==", "threshold": 1}, "slos[0].comparison"),
    ({"name": "x", "query": "up{$selctor}", "comparison": ">", "threshold": 1}, "slos[0].query"),
    ({"name": "x", "query": "up", "comparison": ">", "threshold": math.inf}, "slos[0].threshold"),
    ({"name": "bad name", "query": "up", "comparison": ">", "threshold": 1}, "slos[0].name"),
])
def test_bad_slo_entries_name_the_field(entry, option):
    with pytest.raises(InputError) as caught:
        resolve_slos([entry], None)
    assert caught.value.option == option


def test_duplicate_entries_are_rejected():
    with pytest.raises(InputError, match="more than once"):
        resolve_slos([{"name": "error_rate", "threshold": 0.02}, {"name": "error_rate", "threshold": 0.03}], None)


@pytest.mark.parametrize("overrides, option", [
    ({"scope": "all"}, "scope"),
    ({"unknown_is": "maybe"}, "unknown_is"),
    ({"wait_for": "ever"}, "wait_for"),
    ({"version_label": "app-version"}, "version_label"),
    ({"selector": "{namespace=\"x\"}"}, "selector"),
    ({"selector": "namespace=x"}, "selector"),
    ({"min_coverage": 0}, "min_coverage"),
    ({"min_coverage": 1.5}, "min_coverage"),
    ({"window": "5 minutes"}, "window"),
    ({"resolution": "10m"}, "resolution"),
    ({"sustain": "1d", "resolution": "1s"}, "resolution"),
    ({"wait_timeout": "soon"}, "wait_timeout"),
])
def test_check_options_rejects_bad_input_naming_the_option(overrides, option):
    with pytest.raises(InputError) as caught:
        check_options(default_params(**overrides))
    assert caught.value.option == option


def test_check_options_defaults():
    options = check_options(default_params())
    assert options.settings == Settings()
    assert [slo.name for slo in options.slos] == [slo.name for slo in BUILTIN_SLOS]
    assert options.wait_timeout == 600 and options.wait_interval == 15
    assert options.warnings == ()


def test_check_options_warns_when_a_custom_query_cannot_be_scoped():
    options = check_options(default_params(slos=[{"name": "backlog", "query": "sum(backlog)", "comparison": ">", "threshold": 1}]))
    assert len(options.warnings) == 1 and "backlog" in options.warnings[0]
    assert check_options(default_params(scope="both", slos=[{"name": "backlog", "query": "sum(backlog)", "comparison": ">",
                                                             "threshold": 1}])).warnings == ()


class FakePrometheus:
    """Answers query_range from a list of value lists per call, and records the calls."""

    def __init__(self, answers: list[list[float]]):
        self.answers = answers
        self.calls: list[tuple[str, float, float, float]] = []
        self.http = type("Http", (), {"base_url": "http://prom/", "redact": staticmethod(lambda value: value)})()

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        self.calls.append((expr, start, end, step))
        values = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [series(values, start=start, step=step)]


class Clock:
    def __init__(self):
        self.wall = 1_700_000_007.0
        self.mono = 50.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.wall += seconds
        self.mono += seconds


def checker(prometheus: FakePrometheus, clock: Clock, slos=(ERROR_RATE,)) -> SloChecker:
    return SloChecker(prometheus, slos, SETTINGS, clock=lambda: clock.wall, monotonic=lambda: clock.mono, sleep=clock.sleep)


def test_evaluate_sends_one_aligned_range_query_per_slo():
    prometheus, clock = FakePrometheus([[0.05] * 21]), Clock()
    slo = SloDefinition("error_rate", "", "sum(rate(m{$selector}[$window]))", ">", 0.01)
    result = checker(prometheus, clock, (slo,)).evaluate()
    assert prometheus.calls == [('sum(rate(m{version="canary"}[5m]))', 1_699_999_695.0, 1_699_999_995.0, 15.0)]
    assert result.names("breach") == ["error_rate"]
    assert result.queries == [{"name": "error_rate", "query": 'sum(rate(m{version="canary"}[5m]))', "start": "2023-11-14T22:08:15Z",
                               "end": "2023-11-14T22:13:15Z", "step": "15s"}]


def test_wait_returns_when_condition_holds():
    prometheus, clock = FakePrometheus([[0.05] * 21, [0.05] * 21, [0.001] * 21]), Clock()
    result, polls = checker(prometheus, clock).wait("all_ok", timeout=600, interval=15)
    assert result.all_ok is True
    assert polls == 3
    assert clock.sleeps == [15, 15]


def test_wait_for_breach():
    prometheus, clock = FakePrometheus([[0.001] * 21, [0.05] * 21]), Clock()
    result, polls = checker(prometheus, clock).wait("breach", timeout=600, interval=30)
    assert result.breach_detected is True and polls == 2


def test_wait_deadline_raises_with_last_evaluation():
    prometheus, clock = FakePrometheus([[0.05] * 21]), Clock()
    with pytest.raises(DeadlineExceeded) as caught:
        checker(prometheus, clock).wait("all_ok", timeout=40, interval=15)
    last, polls = caught.value.last_state
    assert polls == 4  # at 0, 15, 30 and a last look at the 40 s deadline
    assert clock.sleeps == [15, 15, 10]
    assert last.names("breach") == ["error_rate"]
    assert "breached [error_rate]" in str(caught.value)


class ConcurrentPrometheus(FakePrometheus):
    """Holds every query after the first until ``together`` of them are in flight at once (or the wait times out)."""

    def __init__(self, answers: list[list[float]], together: int, fail: dict[str, Exception] | None = None):
        super().__init__(answers)
        self.barrier = threading.Barrier(together)
        self.fail = fail or {}
        self.met = False

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        if self.calls:  # the first query goes alone
            self.barrier.wait(timeout=5)
            self.met = True
        self.calls.append((expr, start, end, step))
        if expr in self.fail:
            raise self.fail[expr]
        return [series(self.answers[0], start=start, step=step)]


FIVE = tuple(SloDefinition(name, "", f"q_{name}", ">", 0.01) for name in ("a", "b", "c", "d", "e"))


def unknown_when_down(prometheus: FakePrometheus) -> SloChecker:
    clock = Clock()
    return SloChecker(prometheus, FIVE, replace(SETTINGS, unavailable_is="unknown"), clock=lambda: clock.wall, monotonic=lambda: clock.mono,
                      sleep=clock.sleep)


def test_evaluate_sends_the_queries_after_the_first_at_the_same_time():
    prometheus, clock = ConcurrentPrometheus([[0.05] * 21], together=4), Clock()
    result = checker(prometheus, clock, FIVE).evaluate()
    assert prometheus.met, "the four queries after the first were in flight together"
    assert prometheus.calls[0][0] == "q_a" and sorted(call[0] for call in prometheus.calls) == [f"q_{n}" for n in "abcde"]
    assert result.names("breach") == ["a", "b", "c", "d", "e"]
    assert [query["name"] for query in result.queries] == ["a", "b", "c", "d", "e"]


def test_evaluate_asks_a_prometheus_that_is_down_once():
    prometheus = ConcurrentPrometheus([[0.05] * 21], together=4, fail={"q_a": UnavailableError("connection refused")})
    result = unknown_when_down(prometheus).evaluate()
    assert [call[0] for call in prometheus.calls] == ["q_a"]
    assert result.names("unknown") == ["a", "b", "c", "d", "e"] and "connection refused" in result.monitoring_error


def test_evaluate_judges_failures_in_the_slos_order():
    """A later SLO's query failing makes it and the ones after it unknown, as when the queries went one after the other."""
    prometheus = ConcurrentPrometheus([[0.05] * 21], together=4, fail={"q_c": UnavailableError("timed out")})
    result = unknown_when_down(prometheus).evaluate()
    assert result.names("breach") == ["a", "b"] and result.names("unknown") == ["c", "d", "e"]
    failing = ConcurrentPrometheus([[0.05] * 21], together=4, fail={"q_d": InputError("bad query", option="slos")})
    with pytest.raises(InputError):
        unknown_when_down(failing).evaluate()
    with pytest.raises(UnavailableError):  # unavailable_is=fail: Prometheus down fails the evaluation
        checker(ConcurrentPrometheus([[0.05] * 21], together=4, fail={"q_b": UnavailableError("timed out")}), Clock(), FIVE).evaluate()


def test_a_series_whose_newest_value_is_older_than_max_sample_age_is_unknown_as_stale():
    # 21 samples every 15 s, the newest 45 s before the end of the span: three steps missing, the rest a sustained breach.
    values = [0.5] * 18
    stale = series(values)
    end = stale.samples[-1][0] + 45
    result = evaluate_series(ERROR_RATE, "rendered", [stale], replace(SETTINGS, min_coverage=0.5), end)
    assert result.verdict == "unknown" and result.reason.startswith("stale data: the newest value is 45s older than the end of the span")
    assert "max_sample_age 30s" in result.reason
    fresh = evaluate_series(ERROR_RATE, "rendered", [stale], replace(SETTINGS, min_coverage=0.5, max_sample_age=60.0), end)
    assert fresh.verdict == "breach"
    one_step_late = evaluate_series(ERROR_RATE, "rendered", [stale], replace(SETTINGS, min_coverage=0.5), stale.samples[-1][0] + 15)
    assert one_step_late.verdict == "breach"


def test_a_series_ending_in_nan_is_fresh_not_stale():
    # NaN (0/0: no events in the rate window) is Prometheus answering for now: not stale; the valid values judge the breach.
    quiet_end = series([0.5] * 18 + [math.nan] * 3)
    end = quiet_end.samples[-1][0]
    result = evaluate_series(ERROR_RATE, "rendered", [quiet_end], replace(SETTINGS, min_coverage=0.5), end)
    assert result.verdict == "breach" and result.samples == 18 and result.dropped_samples == 3
    assert "stale" not in (result.reason or "")
    # The same values with the series ending 45 s before the end of the span are stale.
    stale = evaluate_series(ERROR_RATE, "rendered", [quiet_end], replace(SETTINGS, min_coverage=0.5), end + 45)
    assert stale.verdict == "unknown" and "stale data" in stale.reason
