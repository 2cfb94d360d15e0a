"""metric_check and slo_watch against the lab Prometheus (1 s scrapes of the OFM API stand-in), with the lab's canary faults.

Prometheus is reached through a counting proxy started by the test, so the tests count the queries each run really sent;
the proxy can also stop answering (a Prometheus that hangs) without touching the lab's own Prometheus.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from labtest import ansible_bin, ansible_env, lab_context, run_lab, run_module, slo_wait, tls, wait_until

from lab.config import LabConfig

# The tests that read history come first, those that make the canary bad last (the lab's SLI windows remember a fault).
# Changes the canary's faults: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

PASSWORD = "prom-basic-SECRET-5521"
SLOS_AND_SIGNALS = 6  # the five built-in SLOs and the default stability signal targets_up


class CountingProxy:
    """Forwards to the lab Prometheus and counts the queries by path; with ``hang`` it reads a request and never answers."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.paths: list[str] = []
        self.hang = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.hang.is_set():
                    time.sleep(30)
                    return
                proxy.paths.append(self.path)
                request = urllib.request.Request(proxy.target + self.path, data=body, method="POST",
                                                 headers={"Content-Type": self.headers.get("Content-Type", "")})
                with urllib.request.urlopen(request, timeout=20, context=lab_context()) as answer:
                    payload = answer.read()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def count(self, path: str) -> int:
        return sum(1 for seen in self.paths if seen.endswith(path))

    def close(self) -> None:
        self.hang.clear()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(name="proxy")
def fixture_proxy(lab: LabConfig) -> Iterator[CountingProxy]:
    proxy = CountingProxy(lab.url("prometheus"))
    yield proxy
    proxy.close()


@pytest.fixture(scope="module", name="healthy")
def fixture_healthy(healthy_canary: LabConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabConfig]:
    """The lab reset and no SLO sample of all traffic violating in the last 50 s (the history the watch tests read); the
    canary made good again after the module."""
    lab = healthy_canary
    args = {"prometheus_url": lab.url("prometheus"), "scope": "both", "window": lab.sli_window, "sustain": "50s", "resolution": "1s",
            "wait_for": "all_ok", "wait_timeout": "180s", "wait_interval": "2s", **tls(lab)}
    run = run_module("slo_check", args, tmp_path_factory.mktemp("quiet-history"))
    assert not run.failed, f"the SLOs of all traffic never held for 50 s:\n{run.stdout[-3000:]}"
    yield lab
    run_lab("canary", "good")


def watch_args(proxy: CountingProxy, lab: LabConfig, state_file: Path, **extra: Any) -> dict[str, Any]:
    return {"prometheus_url": proxy.url, "prometheus_username": "watcher", "prometheus_password": PASSWORD,
            "state_file": str(state_file), "window": lab.sli_window, "resolution": "1s", **extra}


def metric_args(proxy: CountingProxy, lab: LabConfig, checks: list[Any], **extra: Any) -> dict[str, Any]:
    return {"prometheus_url": proxy.url, "window": lab.sli_window, "checks": checks, **extra}


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {found["name"]: found["status"] for found in result["checks"]}


PUBLISH_RATE = {"name": "publish_rate", "query": "sum(rate(publish_requests_total{$selector}[$window]))"}


def test_a_healthy_service_passes_every_metric_check(healthy, proxy, tmp_path):
    lab = healthy
    baseline_at = str(int(time.time()) - 20)
    run = run_module("metric_check", metric_args(proxy, lab, ["error_patterns", "queue_backlog", "targets_up", PUBLISH_RATE],
                                                 baseline_at=baseline_at, business_offset="20s"), tmp_path)
    assert not run.failed, run.output[-3000:]
    assert statuses(run.result) == {"error_patterns": "ok", "queue_backlog": "ok", "targets_up": "ok", "publish_rate": "ok"}, run.result["msg"]
    assert run.result["status"] == "ok"
    assert proxy.count("/api/v1/query") == 6, "one query per check, two for the checks with a baseline"
    targets = run.result["checks"][2]["data"]["series"]
    assert sum(1 for target in targets if target["labels"]["job"] == "ofm-social-os-api") == 2, targets


def test_publish_rate_without_data_a_week_before_is_unknown(healthy, proxy, tmp_path):
    run = run_module("metric_check", metric_args(proxy, healthy, [PUBLISH_RATE]), tmp_path)
    assert not run.failed and run.result["status"] == "unknown"
    assert run.result["checks"][0]["detail"].startswith("no data a week before")


def test_a_watch_that_has_ended_is_answered_from_history_with_one_query_per_slo(healthy, proxy, tmp_path):
    state_file = tmp_path / "watch.json"
    since = int(time.time()) - 45
    run = run_module("slo_watch", watch_args(proxy, healthy, state_file, since=str(since), duration="30s", incident_id="INC-7"), tmp_path)
    assert not run.failed, run.output[-3000:]
    watch = run.result["watch"]
    assert run.result["status"] == "ok" and statuses(run.result) == {"all_slos": "ok", "stability": "ok"}, run.result["msg"]
    assert watch["state"] == "complete" and watch["queries"] == SLOS_AND_SIGNALS
    assert proxy.count("/api/v1/query_range") == SLOS_AND_SIGNALS and len(proxy.paths) == SLOS_AND_SIGNALS
    assert all(tally["samples"] + tally["missing"] == 31 for tally in watch["slos"].values())
    assert PASSWORD not in run.output and PASSWORD not in state_file.read_text()
    # A state of another incident is refused and left as it was.
    saved = state_file.read_bytes()
    other = run_module("slo_watch", watch_args(proxy, healthy, state_file, duration="30s", incident_id="INC-8"), tmp_path)
    assert other.failed and other.result["error"]["option"] == "state_file" and "INC-7" in other.result["msg"]
    assert state_file.read_bytes() == saved
    # A corrupt one too.
    state_file.write_text('{"schema": "ofm.rollback.slo_watch/1", "since": ')
    corrupt = run_module("slo_watch", watch_args(proxy, healthy, state_file, duration="30s", incident_id="INC-7"), tmp_path)
    assert corrupt.failed and "is not valid JSON" in corrupt.result["msg"]
    assert state_file.read_text() == '{"schema": "ofm.rollback.slo_watch/1", "since": '
    assert PASSWORD not in other.output + corrupt.output


def test_check_mode_queries_but_writes_no_state(healthy, proxy, tmp_path):
    state_file = tmp_path / "watch.json"
    run = run_module("slo_watch", watch_args(proxy, healthy, state_file, since=str(int(time.time()) - 10), duration="1m"), tmp_path, check=True)
    assert not run.failed, run.output[-3000:]
    assert run.result["watch"]["queries"] == SLOS_AND_SIGNALS and run.result["watch"]["saved"] is False
    assert not state_file.exists()


def test_an_interrupted_watch_resumes_where_it_stopped(healthy, proxy, tmp_path):
    state_file = tmp_path / "watch.json"
    args = watch_args(proxy, healthy, state_file, since=str(int(time.time())), duration="25s", wait="2m", interval="1s")
    argv = [ansible_bin("ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", "ofm.rollback.slo_watch", "-a", json.dumps(args)]
    process = subprocess.Popen(argv, cwd=tmp_path, env=ansible_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        def covered() -> Any:
            state = json.loads(state_file.read_text()) if state_file.exists() else None
            return state if state and state["evaluations"] >= 3 else None

        killed_at = wait_until(covered, 60, interval=0.2, what="the watch saving three evaluations")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    state = json.loads(state_file.read_text())
    assert state["covered_until"] is not None and state["covered_until"] < state["since"] + 25, "killed before the end of the watch"
    assert state["evaluations"] >= killed_at["evaluations"]
    run = run_module("slo_watch", {**args, "since": None}, tmp_path)
    assert not run.failed, run.output[-3000:]
    watch = run.result["watch"]
    assert watch["state"] == "complete" and run.result["status"] == "ok", run.result["msg"]
    assert watch["evaluations"] > state["evaluations"]
    # Every point of the 25 s at 1 s counted exactly once over both runs.
    assert all(tally["samples"] + tally["missing"] == 26 for tally in watch["slos"].values()), watch["slos"]


def test_prometheus_that_never_answers_leaves_the_watch_unknown_and_the_state_unchanged(healthy, proxy, tmp_path):
    state_file = tmp_path / "watch.json"
    args = watch_args(proxy, healthy, state_file, since=str(int(time.time()) - 5), duration="1m")
    first = run_module("slo_watch", args, tmp_path)
    assert not first.failed and first.result["watch"]["state"] == "running"
    saved = state_file.read_bytes()
    # A run asks Prometheus only for points not covered yet: wait until the next point (1 s resolution) is due, or the hung
    # run would have nothing to ask.
    covered_until = json.loads(saved)["covered_until"]
    wait_until(lambda: time.time() >= covered_until + 2, timeout=10, interval=0.2, what="the next point of the watch due")
    proxy.hang.set()
    hung = {**args, "since": None, "timeout": 2, "retries": 0}
    run = run_module("slo_watch", {**hung, "unavailable_is": "unknown"}, tmp_path)
    assert not run.failed, run.output[-3000:]
    assert statuses(run.result) == {"all_slos": "unknown", "stability": "unknown"}
    assert "Prometheus could not be asked" in run.result["checks"][0]["detail"]
    assert state_file.read_bytes() == saved
    failed = run_module("slo_watch", hung, tmp_path)
    assert failed.failed and failed.result["error"]["type"] == "UnavailableError"
    assert state_file.read_bytes() == saved
    assert PASSWORD not in run.output + failed.output
    metrics = run_module("metric_check", {**metric_args(proxy, healthy, ["targets_up", "queue_backlog"]), "timeout": 2, "retries": 0,
                                          "unavailable_is": "unknown"}, tmp_path)
    assert not metrics.failed and statuses(metrics.result) == {"targets_up": "unknown", "queue_backlog": "unknown"}


def test_canary_errors_fail_exactly_the_error_patterns_check(healthy, proxy, tmp_path):
    lab = healthy
    baseline_at = str(int(time.time()))
    run_lab("canary", "bad", "errors")
    try:
        def failing() -> Any:
            run = run_module("metric_check", metric_args(proxy, lab, ["error_patterns", "queue_backlog", "targets_up"],
                                                         baseline_at=baseline_at, selector='version="canary"'), tmp_path)
            assert not run.failed, run.output[-3000:]
            return run.result if run.result["status"] == "failed" else None

        result = wait_until(failing, 60, what="error_patterns failing on the canary's 5xx")
    finally:
        run_lab("canary", "good")
    assert statuses(result) == {"error_patterns": "failed", "queue_backlog": "ok", "targets_up": "ok"}
    assert result["failed_checks"] == ["error_patterns"]
    assert "status_class=5xx" in result["checks"][0]["detail"] and "route=/api/" in result["checks"][0]["detail"]


def test_a_queue_backlog_fails_exactly_the_queue_backlog_check(healthy, proxy, tmp_path):
    lab = healthy
    run_lab("canary", "bad", "queue")
    try:
        def failing() -> Any:
            run = run_module("metric_check", metric_args(proxy, lab, [{"name": "queue_backlog", "max": 3}, "targets_up"]), tmp_path)
            return run.result if run.result.get("status") == "failed" else None

        result = wait_until(failing, 60, what="queue_backlog failing")
    finally:
        run_lab("canary", "good")
    assert statuses(result) == {"queue_backlog": "failed", "targets_up": "ok"}
    assert "task_queue=publish" in result["checks"][0]["detail"]


def test_a_breach_during_the_watch_fails_it_with_the_slo_and_time(healthy, proxy, tmp_path):
    lab = healthy
    slo_wait(lab, tmp_path, "all_ok")
    state_file = tmp_path / "watch.json"
    since = int(time.time())
    args = watch_args(proxy, lab, state_file, since=str(since), duration="2m", scope="canary", wait="3m", interval="1s", incident_id="INC-9")
    argv = [ansible_bin("ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", "ofm.rollback.slo_watch", "-a", json.dumps(args)]
    process = subprocess.Popen(argv, cwd=tmp_path, env=ansible_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        wait_until(lambda: state_file.exists() and json.loads(state_file.read_text())["evaluations"] >= 2, 60, interval=0.2,
                   what="the watch running")
        fault_at = time.time()
        run_lab("canary", "bad", "errors")
        output = process.communicate(timeout=150)[0]
    finally:
        run_lab("canary", "good")
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    result = json.loads(output.split(" => ", 1)[1])
    assert result["status"] == "failed" and result["watch"]["state"] == "breached", result["msg"]
    assert result["failed_checks"] == ["all_slos"]
    breach = result["watch"]["slos"]["error_rate"]["first_breach"]
    assert breach is not None and breach["value"] > 0.01
    assert result["checks"][0]["detail"].startswith(f"error_rate breached at {breach['at']}")
    breach_time = time.mktime(time.strptime(breach["at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert fault_at - 1 <= breach_time <= fault_at + 60
    assert PASSWORD not in output
