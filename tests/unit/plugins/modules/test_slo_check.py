# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""slo_check's main() against a local fake Prometheus HTTP API (a test fixture answering canned matrices)."""
from __future__ import annotations

import json
import math
from typing import Any, Callable, Iterator, Optional

import pytest
from unithelpers import FakeClock, FakeService, Received, Reply, free_port, run_module

from ansible_collections.ofm.rollback.plugins.module_utils import slo
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient
from ansible_collections.ofm.rollback.plugins.modules import slo_check

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")

HEALTHY = {
    "http_request_duration_seconds_bucket": 0.8,
    "http_requests_total": 0.001,
    "publish_requests_total": 0.99,
    "webhook_signature_verified_total": 1.0,
    "db_connection_attempts_total": 0.0,
}
TOKEN = "prom-token-SECRET"


class FakePrometheus(FakeService):
    """Answers /api/v1/query_range with one series per query, the value chosen by the metric the query names."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = dict(HEALTHY)
        self.canned: Optional[tuple[int, Any]] = None
        super().__init__()

    @property
    def queries(self) -> list[dict[str, str]]:
        return [request.form for request in self.received]

    @property
    def headers(self) -> list[dict[str, str]]:
        return [request.headers for request in self.received]

    def answer(self, request: Received) -> Reply:
        if self.canned:
            return Reply(*self.canned)
        if request.path != "/api/v1/query_range":
            return Reply(404, {"status": "error", "errorType": "not_found", "error": request.path})
        form = request.form
        metric = next(name for name in self.values if name in form["query"])
        value = self.values[metric]
        value = value(len(self.received)) if callable(value) else value
        start, end, step = float(form["start"]), float(form["end"]), float(form["step"])
        count = int((end - start) / step) + 1
        samples = [[start + index * step, str(value)] for index in range(count)]
        return Reply(200, {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": samples}]}})


@pytest.fixture(name="prometheus")
def fixture_prometheus() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    yield server
    server.close()


@pytest.fixture(name="clock")
def fixture_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()

    class Checker(slo.SloChecker):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, monotonic=lambda: clock.now, sleep=clock.sleep, **kwargs)

    monkeypatch.setattr(slo_check, "SloChecker", Checker)
    return clock


def run(args: dict[str, Any], check_mode: bool = False) -> tuple[bool, dict[str, Any]]:
    failed, result, _warnings = run_module(slo_check, args, check_mode)
    return failed, result


def test_healthy_canary_is_all_ok(prometheus):
    failed, result = run({"prometheus_url": prometheus.url})
    assert not failed
    assert result["changed"] is False
    assert result["all_ok"] is True and result["breach_detected"] is False
    assert result["breached"] == [] and result["unknown"] == []
    assert result["ok"] == ["p95_latency", "error_rate", "success_rate", "webhook_signature_verification", "db_connection_failures"]
    assert len(prometheus.queries) == 5
    assert all('version="canary"' in form["query"] for form in prometheus.queries)
    assert all(form["step"] == "15" for form in prometheus.queries)
    # The first SLO's query goes first, alone (a Prometheus that is down gets one request); the others at the same time.
    assert prometheus.queries[0]["query"] == result["queries"][0]["query"]
    assert sorted(query["query"] for query in result["queries"]) == sorted(form["query"] for form in prometheus.queries)
    assert result["slos"]["error_rate"]["samples"] == 21 and result["slos"]["error_rate"]["coverage"] == 1.0
    assert [entry["status"] for entry in result["requests"]] == [200] * 5
    assert result["polls"] == 1
    assert result["evaluated_at"] == result["queries"][0]["end"]


def test_error_rate_breach_is_reported(prometheus):
    prometheus.values["http_requests_total"] = 0.2
    failed, result = run({"prometheus_url": prometheus.url})
    assert not failed
    assert result["breached"] == ["error_rate"]
    assert result["breach_detected"] is True and result["all_ok"] is False
    assert result["slos"]["error_rate"]["current"] == 0.2
    assert result["msg"].startswith("1 of 5 SLOs breached on canary; error_rate (current 0.2 > 0.01)")


def test_scope_both_sends_no_version_matcher(prometheus):
    failed, result = run({"prometheus_url": prometheus.url, "scope": "both", "only": ["error_rate", "p95_latency"]})
    assert not failed
    assert sorted(result["slos"]) == ["error_rate", "p95_latency"]
    for form in prometheus.queries:
        assert "version=" not in form["query"] and "{}" not in form["query"] and ",}" not in form["query"]


def test_no_traffic_is_unknown_not_breach(prometheus):
    prometheus.values["webhook_signature_verified_total"] = "NaN"
    failed, result = run({"prometheus_url": prometheus.url})
    assert not failed
    assert result["unknown"] == ["webhook_signature_verification"]
    assert result["breach_detected"] is False and result["all_ok"] is False
    assert result["slos"]["webhook_signature_verification"]["dropped_samples"] == 21


def test_unknown_is_breach_flags_a_breach(prometheus):
    prometheus.values["webhook_signature_verified_total"] = "NaN"
    failed, result = run({"prometheus_url": prometheus.url, "unknown_is": "breach"})
    assert not failed
    assert result["breach_detected"] is True and result["breached"] == []


def test_override_and_custom_slo(prometheus):
    prometheus.values["temporal_task_queue_backlog"] = 1500
    failed, result = run({"prometheus_url": prometheus.url, "only": ["p95_latency", "backlog"], "slos": [
        {"name": "p95_latency", "threshold": 0.5},
        {"name": "backlog", "query": "sum(temporal_task_queue_backlog{$selector})", "comparison": ">=", "threshold": 1000},
    ]})
    assert not failed
    assert result["breached"] == ["p95_latency", "backlog"]
    assert result["slos"]["p95_latency"]["threshold"] == 0.5


@pytest.mark.parametrize("args, option, accepted", [
    ({"sustain": "5x"}, "sustain", "1m30s"),
    ({"only": ["latency"]}, "only", "p95_latency"),
    ({"slos": [{"name": "backlog", "query": "sum(x)"}]}, "slos[0]", "threshold"),
    ({"resolution": "10m"}, "resolution", "no longer than sustain"),
    ({"prometheus_url": "prometheus:9090"}, "prometheus_url", "https://"),
])
def test_bad_input_fails_before_any_query(prometheus, args, option, accepted):
    failed, result = run({"prometheus_url": prometheus.url, **args})
    assert failed
    assert f"option '{option}'" in result["msg"]
    assert accepted in result["msg"]
    assert result["error"]["option"] == option
    assert prometheus.queries == []
    assert result["requests"] == []


def test_prometheus_query_error_names_the_expression(prometheus):
    prometheus.canned = (400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"})
    failed, result = run({"prometheus_url": prometheus.url, "only": ["error_rate"]})
    assert failed
    assert "bad_data: parse error at char 5" in result["msg"]
    assert 'http_requests_total{status=~"5..",version="canary"}' in result["msg"]
    assert result["msg"].startswith("Prometheus: query_range on ")
    assert len(prometheus.queries) == 1


def test_unreachable_prometheus_fails_with_attempts(clock):
    failed, result = run({"prometheus_url": f"http://127.0.0.1:{free_port()}", "retries": 0})
    assert failed
    assert result["error"]["type"] == "UnavailableError"
    assert result["error"]["attempts"] == 1
    assert "could not connect" in result["msg"]
    assert len(result["requests"]) == 1


def test_unreachable_prometheus_can_be_every_slo_unknown_with_the_reason(clock):
    failed, result = run({"prometheus_url": f"http://127.0.0.1:{free_port()}", "retries": 0, "unavailable_is": "unknown"})
    assert not failed
    assert result["monitoring_available"] is False and "could not connect" in result["monitoring_error"]
    assert set(result["unknown"]) == set(result["slos"]) and len(result["slos"]) == 5
    assert all(slo["reason"].startswith("Prometheus could not be asked") for slo in result["slos"].values())
    assert result["breach_detected"] is False and result["all_ok"] is False
    assert len(result["requests"]) == 1, "once Prometheus failed, the other SLOs are not asked again"
    assert result["msg"].startswith("no SLO could be evaluated on canary, all unknown: Prometheus could not be asked")


def test_an_answering_prometheus_is_judged_as_usual_with_unavailable_is_unknown(prometheus):
    prometheus.values["http_requests_total"] = 0.2
    failed, result = run({"prometheus_url": prometheus.url, "only": ["error_rate"], "unavailable_is": "unknown"})
    assert not failed and result["breached"] == ["error_rate"] and result["monitoring_available"] is True


def test_a_bad_query_still_fails_with_unavailable_is_unknown(prometheus):
    prometheus.canned = (400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"})
    failed, result = run({"prometheus_url": prometheus.url, "only": ["error_rate"], "unavailable_is": "unknown"})
    assert failed and "bad_data" in result["msg"]


def test_token_is_sent_but_never_returned(prometheus):
    prometheus.values["http_requests_total"] = f"not-a-number {TOKEN}"
    failed, result = run({"prometheus_url": prometheus.url, "prometheus_token": TOKEN, "only": ["error_rate"]})
    assert failed
    assert prometheus.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in json.dumps(result)


def poll_dependent(bad_until: int, bad: float, good: float) -> Callable[[int], float]:
    """A value that is ``bad`` for the first ``bad_until`` requests, then ``good``."""
    return lambda request_count: bad if request_count <= bad_until else good


def test_wait_for_all_ok_polls_until_recovered(prometheus, clock):
    prometheus.values["http_requests_total"] = poll_dependent(2, 0.2, 0.0)
    failed, result = run({"prometheus_url": prometheus.url, "only": ["error_rate"], "wait_for": "all_ok", "wait_interval": "20s"})
    assert not failed
    assert result["all_ok"] is True
    assert result["polls"] == 3
    assert clock.sleeps == [20.0, 20.0]


def test_wait_timeout_fails_with_last_results(prometheus, clock):
    prometheus.values["http_requests_total"] = 0.2
    failed, result = run({"prometheus_url": prometheus.url, "only": ["error_rate"], "wait_for": "all_ok",
                          "wait_timeout": "1m", "wait_interval": "30s"})
    assert failed
    assert result["error"]["type"] == "DeadlineExceeded"
    assert result["breached"] == ["error_rate"]
    assert result["polls"] == 3
    assert "all_ok did not hold after 3 evaluation(s) in 1m" in result["msg"]
    assert len(result["requests"]) == 3


def test_check_mode_evaluates_once_without_waiting(prometheus, clock):
    prometheus.values["http_requests_total"] = 0.2
    failed, result = run({"prometheus_url": prometheus.url, "only": ["error_rate"], "wait_for": "all_ok"}, check_mode=True)
    assert not failed
    assert result["polls"] == 1
    assert result["breached"] == ["error_rate"]
    assert clock.sleeps == []


# PrometheusClient on its own, against the same fake server.

def matrix(*values: str) -> tuple[int, dict[str, Any]]:
    samples = [[1000 + 15 * index, value] for index, value in enumerate(values)]
    return 200, {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {"job": "api"}, "values": samples}]}}


def test_query_range_posts_a_form_and_parses_special_values(prometheus):
    prometheus.canned = matrix("0.5", "NaN", "+Inf", "-Inf")
    series = PrometheusClient(HttpClient(prometheus.url)).query_range("up", 1000, 1045, 15)
    assert prometheus.queries == [{"query": "up", "start": "1000.000", "end": "1045.000", "step": "15"}]
    assert series[0].labels == {"job": "api"}
    times = [sample[0] for sample in series[0].samples]
    values = [sample[1] for sample in series[0].samples]
    assert times == [1000.0, 1015.0, 1030.0, 1045.0]
    assert values[0] == 0.5 and math.isnan(values[1]) and values[2] == math.inf and values[3] == -math.inf


def test_instant_query_parses_vector_and_scalar(prometheus):
    client = PrometheusClient(HttpClient(prometheus.url))
    prometheus.canned = (200, {"status": "success", "data": {"resultType": "vector",
                                                             "result": [{"metric": {"version": "canary"}, "value": [1700000000.5, "3"]}]}})
    vector = client.query("sum by (version) (up)", time=1700000000.5)
    assert prometheus.queries[-1] == {"query": "sum by (version) (up)", "time": "1700000000.500"}
    assert vector[0].labels == {"version": "canary"} and vector[0].samples == [(1700000000.5, 3.0)]
    prometheus.canned = (200, {"status": "success", "data": {"resultType": "scalar", "result": [1700000000, "2.5"]}})
    assert client.query("scalar(up)")[0].samples == [(1700000000.0, 2.5)]
    assert "time" not in prometheus.queries[-1]


def test_execution_error_is_an_input_error(prometheus):
    prometheus.canned = (422, {"status": "error", "errorType": "execution", "error": "many-to-many matching not allowed"})
    with pytest.raises(InputError) as caught:
        PrometheusClient(HttpClient(prometheus.url)).query_range("a / b", 1000, 1045, 15)
    assert caught.value.status == 422
    assert "'a / b'" in str(caught.value) and "many-to-many matching not allowed" in str(caught.value)


@pytest.mark.parametrize("canned, problem", [
    ((200, {"status": "success", "data": {"resultType": "vector", "result": []}}), "expected 'matrix'"),
    ((200, {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}}]}}), "no 'values' list"),
    ((200, {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "x"]]}]}}), "not [time"),
    ((200, {"hello": "world"}), "without status 'success'"),
])
def test_malformed_answers_are_data_errors(prometheus, canned, problem):
    prometheus.canned = canned
    with pytest.raises(DataError) as caught:
        PrometheusClient(HttpClient(prometheus.url)).query_range("up", 1000, 1045, 15)
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"Prometheus: query_range on {prometheus.url}/api/v1/query_range failed")
