# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metric_check's main() against a local fake Prometheus instant-query API whose answers depend on the query and its time."""
from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Optional

import pytest
from unithelpers import FakeService, Received, Reply, free_port, run_module

from ansible_collections.ofm.rollback.plugins.module_utils import metric_check as utils
from ansible_collections.ofm.rollback.plugins.modules import metric_check

pytestmark = pytest.mark.usefixtures("module_runner")
TOKEN = "prom-token-SECRET-4417"
Vector = list[tuple[dict[str, str], float]]


class FakeInstant(FakeService):
    """/api/v1/query: ``answers[metric](time)`` gives the vector for the first metric name of ``answers`` in the query."""

    def __init__(self) -> None:
        self.answers: dict[str, Callable[[float], Vector]] = {}
        super().__init__()

    def answer(self, request: Received) -> Reply:
        form = request.form
        metric = next((name for name in self.answers if name in form["query"]), None)
        vector = self.answers[metric](float(form["time"])) if metric else []
        result = [{"metric": labels, "value": [float(form["time"]), str(value)]} for labels, value in vector]
        return Reply(200, {"status": "success", "data": {"resultType": "vector", "result": result}})


@pytest.fixture(name="prometheus")
def fixture_prometheus() -> Iterator[FakeInstant]:
    server = FakeInstant()
    yield server
    server.close()


def run(prometheus: FakeInstant, **args: Any) -> tuple[bool, dict[str, Any]]:
    failed, result, _warnings = run_module(metric_check, {"prometheus_url": prometheus.url, **args})
    return failed, result


def check(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(found for found in result["checks"] if found["name"] == name)


def test_queue_backlog_above_its_maximum_fails_naming_the_queue(prometheus):
    prometheus.answers["temporal_task_queue_backlog"] = lambda _t: [({"task_queue": "publish"}, 1532.0), ({"task_queue": "mail"}, 3.0)]
    failed, result = run(prometheus, checks=["queue_backlog"])
    assert not failed and result["changed"] is False
    assert result["status"] == "failed" and result["failed_checks"] == ["queue_backlog"]
    assert "task_queue=publish = 1532" in check(result, "queue_backlog")["detail"] and "mail" not in check(result, "queue_backlog")["detail"]
    prometheus.answers["temporal_task_queue_backlog"] = lambda _t: [({"task_queue": "publish"}, 999.0)]
    _failed, result = run(prometheus, checks=[{"name": "queue_backlog", "max": 1000}])
    assert result["status"] == "ok"


def test_targets_up_lists_the_down_targets_and_is_unknown_without_series(prometheus):
    prometheus.answers["up"] = lambda _t: [({"job": "api", "instance": "a:1"}, 1.0), ({"job": "api", "instance": "b:1"}, 0.0)]
    _failed, result = run(prometheus, checks=["targets_up"], selector='job="api"')
    assert check(result, "targets_up")["status"] == "failed"
    assert "instance=b:1,job=api = 0" in check(result, "targets_up")["detail"]
    assert prometheus.forms[-1]["query"] == 'up{job="api"}'
    prometheus.answers["up"] = lambda _t: []
    _failed, result = run(prometheus, checks=["targets_up"])
    assert check(result, "targets_up")["status"] == "unknown" and result["status"] == "unknown"
    assert prometheus.forms[-1]["query"] == "up"


def test_error_patterns_compare_with_the_window_before_the_incident(prometheus):
    incident = 1_700_000_000.0

    def ratios(at: float) -> Vector:
        if at <= incident:
            return [({"route": "/api/posts", "status_class": "5xx"}, 0.02), ({"route": "/api/posts", "status_class": "4xx"}, 0.10)]
        return [({"route": "/api/posts", "status_class": "5xx"}, 0.025), ({"route": "/api/posts", "status_class": "4xx"}, 0.11),
                ({"route": "/api/posts/publish", "status_class": "5xx"}, 0.30), ({"route": "/quiet", "status_class": "5xx"}, float("nan"))]

    prometheus.answers["http_requests_total"] = ratios
    _failed, result = run(prometheus, checks=["error_patterns"], baseline_at="2023-11-14T23:13:20+01:00", window="1m")
    found = check(result, "error_patterns")
    assert found["status"] == "failed"
    # Only the new pattern: the others stay within twice the baseline.
    assert "1 of 3 group(s)" in found["detail"] and "route=/api/posts/publish,status_class=5xx: 0.3 vs 0" in found["detail"]
    baseline = [form for form in prometheus.forms if float(form["time"]) == incident]
    assert len(baseline) == 1 and len(prometheus.forms) == 2
    assert "[1m]" in baseline[0]["query"] and "${1}xx" in baseline[0]["query"]
    assert [query["role"] for query in result["queries"]] == ["current", "baseline"]
    assert result["queries"][1]["time"] == "2023-11-14T22:13:20Z"


def test_error_patterns_pass_when_small_changes_stay_under_min_delta(prometheus):
    prometheus.answers["http_requests_total"] = lambda at: [({"route": "/api/posts", "status_class": "5xx"}, 0.001 if at < 1e9 else 0.009)]
    _failed, result = run(prometheus, checks=["error_patterns"], baseline_at="0")
    assert check(result, "error_patterns")["status"] == "ok"


def test_publish_rate_without_data_a_week_before_is_unknown_then_judged_on_the_ratio(prometheus):
    now = [0.0]

    def rate(at: float) -> Vector:
        now[0] = max(now[0], at)
        return [({}, 2.0)] if at >= now[0] - 1 else []

    prometheus.answers["publish_jobs_completed_total"] = rate
    _failed, result = run(prometheus, checks=["publish_rate"])
    found = check(result, "publish_rate")
    assert found["status"] == "unknown" and found["detail"].startswith("no data a week before")
    assert float(prometheus.forms[0]["time"]) - float(prometheus.forms[1]["time"]) == 7 * 86400
    # The current rate (asked first, the latest time) is half the rate 30 s before.
    prometheus.answers["publish_requests_total"] = lambda at: [({}, 1.0 if rate(at) else 2.0)]
    override = {"name": "publish_rate", "query": "sum(rate(publish_requests_total[$window]))"}
    _failed, result = run(prometheus, checks=[override], business_offset="30s")
    assert check(result, "publish_rate")["status"] == "failed"
    assert "1 vs 2 30s before" in check(result, "publish_rate")["detail"]


@pytest.mark.parametrize("args, option", [
    ({"checks": ["bogus"]}, "checks[0]"),
    ({"checks": [{"name": "x", "query": "up", "baseline": {"offset": "1d"}}]}, "checks[0].max_ratio"),
    ({"checks": [{"name": "x", "query": "up"}]}, "checks[0]"),
    ({"checks": [{"name": "x", "query": "up{$nope}", "max": 1}]}, "checks[0].query"),
    ({"checks": [{"name": "x", "query": "up", "max": 1, "colour": 1}]}, "checks[0]"),
    ({"checks": ["targets_up", {"name": "targets_up", "min": 1}]}, "checks[1]"),
    ({"selector": "job=api"}, "selector"),
    ({"baseline_at": "yesterday"}, "baseline_at"),
    ({"business_offset": "a week"}, "business_offset"),
    ({"checks": []}, "checks"),
])
def test_bad_input_fails_naming_the_option_before_anything_is_sent(prometheus, args, option):
    failed, result = run(prometheus, **args)
    assert failed
    assert result["error"]["option"] == option and result["error"]["hint"]
    assert prometheus.received == []


def test_unreachable_prometheus_fails_or_leaves_every_check_unknown():
    url = f"http://127.0.0.1:{free_port()}"
    failed, result, _warnings = run_module(metric_check, {"prometheus_url": url, "retries": 0, "timeout": 2})
    assert failed and result["error"]["type"] == "UnavailableError"
    failed, result, _warnings = run_module(metric_check, {"prometheus_url": url, "retries": 0, "timeout": 2, "unavailable_is": "unknown"})
    assert not failed
    assert result["status"] == "unknown" and result["unknown_checks"] == list(utils.DEFAULT_CHECKS)
    assert all("Prometheus could not be asked" in found["detail"] for found in result["checks"])
    assert len(result["requests"]) == 1, "Prometheus is asked once, not once per check"


def test_the_token_is_sent_but_never_returned(prometheus):
    prometheus.answers["up"] = lambda _t: [({"job": "api", "instance": TOKEN}, 1.0)]
    failed, result = run(prometheus, checks=["targets_up"], prometheus_token=TOKEN)
    assert not failed
    assert prometheus.received[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in json.dumps(result)


def test_parse_time_reads_epochs_offsets_and_local_times(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    assert utils.parse_time(1700000000, "t") == 1700000000.0
    assert utils.parse_time("1700000000.5", "t") == 1700000000.5
    assert utils.parse_time("2023-11-14T22:13:20Z", "t") == 1700000000.0
    assert utils.parse_time("2023-11-14 17:13:20", "t") == 1700000000.0


def judge(spec: dict[str, Any], current: Vector, baseline: Optional[Vector] = None) -> Any:
    resolved = utils.check_options({"checks": [spec]}).checks[0]
    series = [utils.Series(labels, [(0.0, value)]) for labels, value in current]
    base = None if baseline is None else [utils.Series(labels, [(0.0, value)]) for labels, value in baseline]
    return utils.judge(resolved, utils.Evaluated(series, base, 0.0 if base is not None else None))


def test_min_ratio_counts_a_vanished_group_as_zero_and_min_delta_spares_small_drops():
    spec = {"name": "rate", "query": "x", "by": ["platform"], "baseline": {"offset": "1d"}, "min_ratio": 0.8}
    assert judge(spec, [({"platform": "x"}, 5.0)], [({"platform": "x"}, 5.0), ({"platform": "tiktok"}, 4.0)]).status == "failed"
    assert judge({**spec, "min_delta": 1}, [({"platform": "x"}, 3.5)], [({"platform": "x"}, 4.0)]).status == "ok"
    assert judge(spec, [({"platform": "x"}, 3.5)], [({"platform": "x"}, 4.0)]).status == "ok"
    assert judge(spec, [({"platform": "x"}, 3.1)], [({"platform": "x"}, 4.0)]).status == "failed"
