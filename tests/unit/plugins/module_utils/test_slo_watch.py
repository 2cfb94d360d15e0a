# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SLO watch against a local fake Prometheus range-query API whose values are functions of time, on a fake clock."""
from __future__ import annotations

import json
import math
import stat
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
from unithelpers import FakeClock, FakeService, Received, Reply, free_port, run_module

from ansible_collections.ofm.rollback.plugins.module_utils import slo_watch
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient
from ansible_collections.ofm.rollback.plugins.modules import slo_watch as module

SINCE = 1_700_000_000.0
HEALTHY = {"http_request_duration_seconds_bucket": 0.4, "http_requests_total": 0.001, "publish_requests_total": 0.99,
           "webhook_signature_verified_total": 1.0, "db_connection_attempts_total": 0.0, "up": 1.0}
SIGNALS = len(HEALTHY)


class FakeRange(FakeService):
    """/api/v1/query_range: one series whose value at ``t`` is ``values[metric](t)`` (None: no point), by the metric in the query.

    ``extra_point`` also answers the point one step before ``start`` (a Prometheus answer is never trusted to stay in range).
    """

    def __init__(self) -> None:
        self.values: dict[str, Callable[[float], Optional[float]]] = {name: (lambda _t, v=value: v) for name, value in HEALTHY.items()}
        self.down_after: Optional[int] = None
        self.extra_point = False
        super().__init__()

    def answer(self, request: Received) -> Reply:
        if self.down_after is not None and len(self.received) > self.down_after:
            return Reply(503, "down")
        form = request.form
        value = next(function for name, function in self.values.items() if name in form["query"])
        start, end, step = float(form["start"]), float(form["end"]), float(form["step"])
        times = [start + index * step for index in range(int(round((end - start) / step)) + 1)]
        times = ([start - step] if self.extra_point else []) + times
        points = [[at, str(value(at))] for at in times if value(at) is not None]
        return Reply(200, {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": points}]}})


@pytest.fixture(name="prometheus")
def fixture_prometheus() -> Iterator[FakeRange]:
    server = FakeRange()
    yield server
    server.close()


@pytest.fixture(name="clock")
def fixture_clock() -> FakeClock:
    return FakeClock(SINCE)


def watch(prometheus: FakeRange, clock: FakeClock, state_file: Path, check_mode: bool = False, **params: Any) -> dict[str, Any]:
    params = {"state_file": str(state_file), "since": str(SINCE), "duration": "2m", "resolution": "1s", "window": "15s", **params}
    options = slo_watch.check_options(params, clock.now)
    client = PrometheusClient(HttpClient(prometheus.url, retries=0, system="Prometheus"))
    return slo_watch.SloWatch(client, options, check_mode=check_mode, clock=lambda: clock.now, monotonic=lambda: clock.now,
                              sleep=clock.sleep).run()


def status(result: dict[str, Any]) -> dict[str, str]:
    return {found["name"]: found["status"] for found in result["checks"]}


def test_a_watch_whose_end_has_passed_is_answered_from_history_with_one_query_per_slo(prometheus, clock, tmp_path):
    clock.now = SINCE + 3 * 3600
    result = watch(prometheus, clock, tmp_path / "w.json", duration="2h", resolution="15s")
    assert result["status"] == "ok" and status(result) == {"all_slos": "ok", "stability": "ok"}
    assert len(prometheus.received) == SIGNALS and result["watch"]["queries"] == SIGNALS
    assert {(form["start"], form["end"], form["step"]) for form in prometheus.forms} == {(f"{SINCE:.3f}", f"{SINCE + 7200:.3f}", "15")}
    assert result["watch"]["state"] == "complete" and result["watch"]["left"] == "0s" and result["watch"]["covered"] == "2h"
    assert all(tally["samples"] == 481 and tally["missing"] == 0 for tally in result["watch"]["slos"].values())
    assert stat.S_IMODE((tmp_path / "w.json").stat().st_mode) == 0o600


def test_a_resumed_watch_continues_after_covered_until_and_counts_no_point_twice(prometheus, clock, tmp_path):
    prometheus.extra_point = True
    clock.now = SINCE + 30.4
    first = watch(prometheus, clock, tmp_path / "w.json")
    assert first["watch"]["state"] == "running" and first["watch"]["covered_until"] == "2023-11-14T22:13:50Z"
    assert status(first) == {"all_slos": "unknown", "stability": "unknown"}
    assert first["checks"][0]["detail"].startswith("in progress: 30s of 2m covered, 1m30s left; worst: p95_latency 0.4 (> 10 breaches)")
    clock.now = SINCE + 60
    second = watch(prometheus, clock, tmp_path / "w.json", since=None)
    assert {form["start"] for form in prometheus.forms[SIGNALS:]} == {f"{SINCE + 31:.3f}"}
    assert second["watch"]["slos"]["error_rate"]["samples"] == 61 and second["watch"]["slos"]["error_rate"]["missing"] == 0
    clock.now = SINCE + 60.5
    third = watch(prometheus, clock, tmp_path / "w.json")
    assert third["watch"]["queries"] == 0 and third["watch"]["slos"]["error_rate"]["samples"] == 61
    clock.now = SINCE + 500
    done = watch(prometheus, clock, tmp_path / "w.json")
    assert done["status"] == "ok" and done["watch"]["state"] == "complete"
    assert done["watch"]["slos"]["targets_up"]["samples"] == 121 and done["watch"]["evaluations"] == 3


def test_the_first_violating_sample_is_a_breach_and_ends_the_watch(prometheus, clock, tmp_path):
    prometheus.values["http_requests_total"] = lambda at: 0.2 if SINCE + 40 <= at <= SINCE + 42 else 0.001
    clock.now = SINCE + 90
    result = watch(prometheus, clock, tmp_path / "w.json")
    assert result["status"] == "failed" and status(result) == {"all_slos": "failed", "stability": "unknown"}
    detail = result["checks"][0]["detail"]
    assert detail.startswith("error_rate breached at 2023-11-14T22:14:00Z: 0.2 > 0.01 (first violating sample, 40s into the watch)")
    tally = result["watch"]["slos"]["error_rate"]
    assert tally["violating"] == 3 and tally["first_breach"] == {"at": "2023-11-14T22:14:00Z", "value": 0.2}
    assert result["watch"]["state"] == "breached"
    clock.now = SINCE + 300
    again = watch(prometheus, clock, tmp_path / "w.json")
    assert again["watch"]["queries"] == 0 and again["status"] == "failed"


def test_a_complete_watch_with_too_few_values_is_unknown(prometheus, clock, tmp_path):
    prometheus.values["webhook_signature_verified_total"] = lambda at: math.nan if at > SINCE + 50 else 1.0
    prometheus.values["publish_requests_total"] = lambda at: None if at > SINCE + 100 else 0.99
    clock.now = SINCE + 300
    result = watch(prometheus, clock, tmp_path / "w.json")
    found = result["checks"][0]
    assert found["status"] == "unknown" and "coverage below min_coverage 80%: webhook_signature_verification 42%" in found["detail"]
    assert "success_rate" not in found["detail"]
    assert result["watch"]["slos"]["webhook_signature_verification"]["missing"] == 70


def test_prometheus_down_mid_evaluation_keeps_the_state_as_it_was(prometheus, clock, tmp_path):
    state_file = tmp_path / "w.json"
    clock.now = SINCE + 20
    watch(prometheus, clock, state_file)
    saved = state_file.read_bytes()
    prometheus.down_after = len(prometheus.received) + 2
    clock.now = SINCE + 40
    result = watch(prometheus, clock, state_file, unavailable_is="unknown")
    assert state_file.read_bytes() == saved
    assert status(result) == {"all_slos": "unknown", "stability": "unknown"}
    assert "Prometheus could not be asked" in result["checks"][0]["detail"] and "20s of 2m covered" in result["checks"][0]["detail"]
    with pytest.raises(UnavailableError):
        watch(prometheus, clock, state_file)
    assert state_file.read_bytes() == saved


def test_check_mode_queries_but_writes_no_state(prometheus, clock, tmp_path):
    clock.now = SINCE + 20
    result = watch(prometheus, clock, tmp_path / "w.json", check_mode=True)
    assert result["watch"]["queries"] == SIGNALS and result["watch"]["saved"] is False
    assert list(tmp_path.iterdir()) == []


def test_waiting_polls_until_the_watch_is_complete(prometheus, clock, tmp_path):
    clock.now = SINCE + 1
    result = watch(prometheus, clock, tmp_path / "w.json", duration="30s", wait="10m", interval="10s")
    assert result["status"] == "ok" and result["watch"]["state"] == "complete"
    assert clock.sleeps == [10.0, 10.0, 10.0] and result["watch"]["queries"] == 4 * SIGNALS
    assert result["watch"]["slos"]["error_rate"]["samples"] == 31


def test_waiting_stops_when_wait_runs_out_and_reports_progress(prometheus, clock, tmp_path):
    clock.now = SINCE + 1
    result = watch(prometheus, clock, tmp_path / "w.json", wait="25s", interval="10s")
    assert result["watch"]["state"] == "running" and sum(clock.sleeps) == 25
    assert result["watch"]["covered"] == "26s"


STATE_ERRORS = {
    "other incident": (lambda state: {**state, "incident_id": "INC-2"}, "belongs to incident 'INC-2', not 'INC-1'"),
    "other since": (lambda state: {**state, "since": SINCE - 60}, "is a watch since 2023-11-14T22:12:20Z"),
    "other schema": (lambda state: {**state, "schema": "something/else"}, "is not an SLO watch state"),
    "missing fields": (lambda state: {key: value for key, value in state.items() if key != "covered_until"}, "does not hold the fields"),
    "other SLOs": (lambda state: {**state, "slos": {**state["slos"], "error_rate": {**state["slos"]["error_rate"], "threshold": 0.5}}},
                   "watches other SLO definitions (differing: error_rate)"),
}


@pytest.mark.parametrize("case", sorted(STATE_ERRORS))
def test_a_foreign_state_file_is_refused_and_left_unchanged(prometheus, clock, tmp_path, case):
    state_file = tmp_path / "w.json"
    clock.now = SINCE + 10
    watch(prometheus, clock, state_file, incident_id="INC-1")
    change, message = STATE_ERRORS[case]
    state_file.write_text(json.dumps(change(json.loads(state_file.read_text()))))
    before, asked = state_file.read_bytes(), len(prometheus.received)
    clock.now = SINCE + 20
    with pytest.raises(InputError) as caught:
        watch(prometheus, clock, state_file, incident_id="INC-1")
    assert caught.value.option == "state_file" and message in caught.value.reason
    assert state_file.read_bytes() == before and len(prometheus.received) == asked


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '"text"'])
def test_a_corrupt_state_file_is_refused_and_left_unchanged(prometheus, clock, tmp_path, content):
    state_file = tmp_path / "w.json"
    state_file.write_text(content)
    with pytest.raises(InputError) as caught:
        watch(prometheus, clock, state_file)
    assert caught.value.option == "state_file" and state_file.read_text() == content and prometheus.received == []


@pytest.mark.parametrize("params, option", [
    ({"since": str(SINCE + 3600)}, "since"),
    ({"since": "soon"}, "since"),
    ({"resolution": "5m", "duration": "1m"}, "resolution"),
    ({"resolution": "1s", "duration": "1d"}, "resolution"),
    ({"state_file": "/nonexistent-dir/w.json"}, "state_file"),
    ({"stability": [{"name": "error_rate", "query": "up", "comparison": "<", "threshold": 1}]}, "stability[0].name"),
    ({"stability": [{"name": "x", "query": "up", "comparison": "!=", "threshold": 1}]}, "stability[0].comparison"),
    ({"only": ["nope"]}, "only"),
    ({"selector": "a=b"}, "selector"),
    ({"job": 'a"b'}, "job"),
    ({"wait": "soon"}, "wait"),
    ({"min_coverage": 0}, "min_coverage"),
])
def test_bad_options_are_refused_naming_the_option(tmp_path, params, option):
    params = {"state_file": str(tmp_path / "w.json"), **params}
    with pytest.raises(InputError) as caught:
        slo_watch.check_options(params, SINCE)
    assert caught.value.option == option


def test_the_stability_signal_and_scope_shape_the_queries(prometheus, clock, tmp_path):
    clock.now = SINCE + 5
    watch(prometheus, clock, tmp_path / "w.json", scope="canary", job="api", only=["error_rate"])
    queries = [form["query"] for form in prometheus.forms]
    assert queries == ['sum(rate(http_requests_total{status=~"5..",version="canary"}[15s])) / sum(rate(http_requests_total{version="canary"}[15s]))',
                       'min(up{job="api"})']


SECRET = "prom-password-SECRET-77"


@pytest.mark.usefixtures("module_runner")
def test_main_sends_credentials_but_never_returns_them(prometheus, tmp_path):
    args = {"prometheus_url": prometheus.url, "prometheus_username": "watcher", "prometheus_password": SECRET,
            "state_file": str(tmp_path / "w.json"), "since": str(int(time.time()) - 30),
            "duration": "20s", "resolution": "1s", "window": "15s"}
    failed, result, _warnings = run_module(module, args)
    assert not failed and result["changed"] is False and result["status"] == "ok"
    assert result["watch"]["queries"] == SIGNALS and len(result["requests"]) == SIGNALS
    assert all(request.headers["Authorization"].startswith("Basic ") for request in prometheus.received)
    assert SECRET not in json.dumps(result) and SECRET not in (tmp_path / "w.json").read_text()
    failed, result, _warnings = run_module(module, {**args, "prometheus_url": f"http://127.0.0.1:{free_port()}", "retries": 0,
                                                    "state_file": str(tmp_path / "other.json")})
    assert failed and SECRET not in json.dumps(result)
