# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""load_test's main(): a real short Locust run against a local API, its statistics, the bounds, and bad input."""
from __future__ import annotations

import json
import time
from typing import Iterator

import pytest
from unithelpers import FakeService, Received, Reply, documented_options, exits_within, free_port, mismatches, run_module, silent_port

from ansible_collections.ofm.rollback.plugins.module_utils.load_test import read_stats
from ansible_collections.ofm.rollback.plugins.modules import load_test

SECRET = "Bearer load-SECRET-51c0"
SUITE = [{"name": "health", "url": "/health"}, {"name": "posts", "url": "/api/posts"},
         {"name": "publish", "method": "POST", "url": "/api/posts/publish", "json": {"post_id": 1}, "status": 202}]


class FlakyApi(FakeService):
    """/health is fine; every other /api/posts answer is a 500 while ``flaky``."""

    def __init__(self) -> None:
        self.flaky = False
        self.count = 0
        super().__init__()

    def answer(self, request: Received) -> Reply:
        if request.path_only == "/api/posts":
            self.count += 1
            return Reply(500, {"error": "boom"}) if self.flaky and self.count % 2 else Reply(200, [{"id": 1}])
        return Reply(200, {"ok": True})


@pytest.fixture(name="api")
def fixture_api() -> Iterator[FlakyApi]:
    service = FlakyApi()
    yield service
    service.close()


def short_run(api_url: str, **extra) -> dict:
    """A short Locust run: 4 s leave Locust's start-up room on a loaded 2-core machine (at 2 s a CI run once saw no request)."""
    return {"host": api_url, "suite": SUITE, "users": 2, "run_time": "4s", "wait_time": "50ms", **extra}


def test_a_short_run_replays_the_get_cases_and_judges_the_error_rate(api):
    api.flaky = True
    failed, result, _warnings = run_module(load_test, short_run(api.url, secret_headers={"Authorization": SECRET}))
    assert not failed and result["changed"] is False, result["msg"]
    stats = result["stats"]
    assert {row["name"] for row in stats["endpoints"]} == {"health", "posts"}
    assert stats["requests"] >= 10 and stats["failures"] > 0 and stats["requests"] == sum(row["requests"] for row in stats["endpoints"])
    assert {(r.method, r.path_only) for r in api.received} == {("GET", "/health"), ("GET", "/api/posts")}
    assert all(r.headers.get("Authorization") == SECRET for r in api.received)
    checks = {check["name"]: check for check in result["checks"]}
    assert checks["error_rate"]["status"] == "failed" and result["failed_checks"] == ["error_rate"]
    assert checks["p95_latency"]["status"] == "ok" and checks["p95_latency"]["data"]["p95_ms"] < 10000
    assert "load-SECRET" not in json.dumps(result)
    assert result["command"][result["command"].index("-u") + 1] == "2"


def test_a_healthy_run_passes_and_a_tight_p95_fails(api):
    failed, result, _warnings = run_module(load_test, short_run(api.url, max_p95="1ms"))
    assert not failed and result["failed_checks"] == ["p95_latency"] and result["stats"]["failures"] == 0


def test_check_mode_sends_no_load(api):
    failed, result, _warnings = run_module(load_test, short_run(api.url), check_mode=True)
    assert not failed and result["status"] == "unknown" and result["unknown_checks"] == ["p95_latency", "error_rate"]
    assert api.received == [] and result["checks"][0]["detail"] == "check mode: no load sent"


def test_a_refused_service_is_unknown_or_fails_the_task():
    args = short_run(f"http://127.0.0.1:{free_port()}", unavailable_is="unknown")
    failed, result, _warnings = run_module(load_test, args)
    assert not failed and result["status"] == "unknown" and "could not connect" in result["checks"][0]["detail"]
    assert result["command"] is None
    failed, result, _warnings = run_module(load_test, {**args, "unavailable_is": "fail"})
    assert failed and result["error"]["type"] == "UnavailableError"


def test_a_service_that_never_answers_is_unknown():
    with silent_port() as port:
        failed, result, _warnings = run_module(load_test, short_run(f"http://127.0.0.1:{port}", unavailable_is="unknown"))
    assert not failed and result["status"] == "unknown", result["msg"]
    assert "no request to" in result["checks"][0]["detail"] and result["stats"]["requests"] == 0


def test_locust_is_killed_with_what_it_started_when_timeout_passes(tmp_path):
    pid_file = tmp_path / "child.pid"
    fake = tmp_path / "locust"
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\nsleep 300\n")
    fake.chmod(0o755)
    service = FlakyApi()
    try:
        started = time.monotonic()
        failed, result, _warnings = run_module(load_test, short_run(service.url, run_time="1s", timeout="2s", executable=str(fake)))
    finally:
        service.close()
    assert failed and result["error"]["type"] == "DeadlineExceeded" and time.monotonic() - started < 30
    assert exits_within(int(pid_file.read_text()), 5)


def test_reading_locust_statistics(tmp_path):
    path = tmp_path / "stats_stats.csv"
    header = ["Type", "Name", "Request Count", "Failure Count", "Median Response Time", "Average Response Time", "Min Response Time",
              "Max Response Time", "Average Content Size", "Requests/s", "Failures/s", "50%", "66%", "75%", "80%", "90%", "95%", "98%",
              "99%", "99.9%", "99.99%", "100%"]
    rows = ["GET,posts,200,10,4,5.1,1,90,120,20.0,1.0,4,5,6,7,9,12,40,80,90,90,90", ",Aggregated,400,10,3,4.0,1,90,80,40.0,1.0,3,4,5,6,8,11,30,70,90,90,90"]
    path.write_text("\n".join([",".join(header), *rows]) + "\n")
    stats = read_stats(str(path))
    assert (stats["requests"], stats["failures"], stats["error_rate"], stats["p95_ms"]) == (400, 10, 0.025, 11.0)
    assert stats["endpoints"] == [{"type": "GET", "name": "posts", "requests": 200, "failures": 10, "error_rate": 0.05, "p95_ms": 12.0,
                                   "median_ms": 4.0, "requests_per_second": 20.0}]


@pytest.mark.parametrize(("args", "option"), [
    ({"users": 0}, "users"),
    ({"users": 1001}, "users"),
    ({"run_time": "2h"}, "run_time"),
    ({"run_time": "later"}, "run_time"),
    ({"max_error_rate": 1.5}, "max_error_rate"),
    ({"spawn_rate": 0}, "spawn_rate"),
    ({"timeout": "1s"}, "timeout"),
    ({"max_p95": "fast"}, "max_p95"),
    ({"host": "api.ofm.social"}, "host"),
    ({"suite": [{"name": "p", "method": "POST", "url": "/p"}]}, "suite"),
    ({"suite": None}, "locustfile"),
    ({"suite": None, "locustfile": "/nonexistent/locustfile.py"}, "locustfile"),
])
def test_bad_input_names_the_option(api, args, option):
    merged = {key: value for key, value in {**short_run(api.url), **args}.items() if value is not None}
    failed, result, _warnings = run_module(load_test, merged)
    assert failed and result["error"]["option"] == option, result["msg"]
    assert api.received == []


def test_documentation_matches_the_argument_spec():
    assert mismatches(load_test.ARGUMENT_SPEC, documented_options(load_test)) == []


def test_the_default_run_is_bounded():
    spec = load_test.ARGUMENT_SPEC
    assert (spec["users"]["default"], spec["run_time"]["default"], spec["max_p95"]["default"], spec["max_error_rate"]["default"]) == (
        5, "30s", "10s", 0.01)
