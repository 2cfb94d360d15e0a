"""Tests of the lab's load generator: mix, signatures, saturation, real runs against ofm_api."""
from __future__ import annotations

import collections
import itertools
import json
import random
import signal
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from unithelpers import REPO_ROOT

from lab.services import ofm_api
from lab.services.loadgen import (LIST_POSTS, PUBLISH, WEBHOOK, RunStats, Senders, Target, build_request, request_plan, sign_tiktok)

SECRET = "loadgen-test-secret"


class ApiServer:
    """An ofm_api stand-in served from a thread; under the slow fault it holds answers until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        settings = ofm_api.ApiSettings(version_name="stable", webhook_secret=SECRET, slow_seconds=60)
        self.api = ofm_api.OfmApi(settings, rng=random.Random(5), sleep=self.release.wait)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), ofm_api.build_handler(self.api))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def count(self, method: str, route: str, status: str) -> Optional[float]:
        return self.api.metrics.registry.get_sample_value("http_requests_total", {"method": method, "route": route, "status": status})

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(name="server")
def fixture_server() -> Iterator[ApiServer]:
    server = ApiServer()
    yield server
    server.close()


def test_every_block_of_twenty_holds_the_exact_mix() -> None:
    plan = list(itertools.islice(request_plan(11), 1000))
    for start in range(0, len(plan), 20):
        assert collections.Counter(plan[start:start + 20]) == {LIST_POSTS: 14, PUBLISH: 3, WEBHOOK: 3}


def test_the_plan_is_deterministic_for_a_seed() -> None:
    first = list(itertools.islice(request_plan(11), 200))
    assert first == list(itertools.islice(request_plan(11), 200))
    assert first != list(itertools.islice(request_plan(12), 200))


def test_a_planned_webhook_is_signed_so_that_ofm_api_accepts_it() -> None:
    now = 1_800_000_000.5
    request = build_request(WEBHOOK, random.Random(1), SECRET, now)
    header = request.headers["TikTok-Signature"]
    assert (request.method, request.path) == ("POST", "/webhooks/tiktok")
    assert ofm_api.verify_tiktok_signature(SECRET, header, request.body, now=now)
    assert not ofm_api.verify_tiktok_signature("rotated-secret", header, request.body, now=now)
    assert not ofm_api.verify_tiktok_signature(SECRET, header, request.body + b" ", now=now)


def test_sign_tiktok_puts_the_timestamp_in_the_header() -> None:
    assert sign_tiktok(SECRET, b"{}", 1_700_000_000).startswith("t=1700000000,s=")
    assert sign_tiktok(SECRET, b"{}", 1_700_000_000) != sign_tiktok(SECRET, b"{}", 1_700_000_001)


def test_a_planned_publish_names_a_platform_ofm_api_accepts() -> None:
    rng = random.Random(2)
    bodies = [json.loads(build_request(PUBLISH, rng, SECRET, 0).body) for _request in range(50)]
    assert {body["platform"] for body in bodies} <= set(ofm_api.PLATFORMS)
    assert all(isinstance(body["post_id"], int) for body in bodies)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:21", "127.0.0.1:18080", "http://"])
def test_a_target_that_is_not_an_http_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="--target"):
        Target.parse(url)


def test_a_target_keeps_its_base_path() -> None:
    assert Target.parse("http://127.0.0.1:18080/ofm/") == Target("http", "127.0.0.1", 18080, "/ofm")


def test_requests_beyond_the_concurrency_are_dropped_not_queued(server: ApiServer) -> None:
    server.api.replace_faults(["slow"])
    target = Target.parse(server.url)
    stats = RunStats(target, rate=1)
    senders = Senders(target, stats, concurrency=1, timeout=30)
    accepted = [senders.submit(build_request(LIST_POSTS, random.Random(0), SECRET, 0)) for _request in range(3)]
    assert accepted == [True, False, False]
    assert (stats.sent, stats.dropped) == (1, 2)
    server.release.set()
    assert stats.wait_idle(timeout=30)
    assert stats.snapshot()["by_status"] == {"200": 1}


def run_loadgen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "lab.services.loadgen", "--webhook-secret", SECRET, *args],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_short_run_is_counted_by_the_server(server: ApiServer, tmp_path: Path) -> None:
    status_file = tmp_path / "loadgen.json"
    process = run_loadgen("--target", server.url, "--max-requests", "30", "--rate", "50", "--seed", "4",
                          "--status-file", str(status_file))
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    planned = collections.Counter(itertools.islice(request_plan(4), 30))
    status = json.loads(status_file.read_text())
    assert json.loads(stdout) | {"updated_at": None} == status | {"updated_at": None}
    assert (status["sent"], status["completed"], status["dropped"], status["errors"]) == (30, 30, 0, 0)
    assert status["by_status"] == {"200": planned[LIST_POSTS] + planned[WEBHOOK], "202": planned[PUBLISH]}
    assert (status["finished"], status["stop_reason"]) == (True, "max-requests")
    assert server.count("GET", "/api/posts", "200") == planned[LIST_POSTS]
    assert server.count("POST", "/api/posts/publish", "202") == planned[PUBLISH]
    assert server.count("POST", "/webhooks/tiktok", "200") == planned[WEBHOOK]
    registry = server.api.metrics.registry
    assert registry.get_sample_value("webhook_signature_verified_total", {"platform": "tiktok"}) == planned[WEBHOOK]
    assert SECRET not in stdout + stderr + status_file.read_text()


def read_status(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def test_sigterm_stops_the_run_even_with_requests_hanging(server: ApiServer, tmp_path: Path) -> None:
    server.api.replace_faults(["slow"])
    status_file = tmp_path / "loadgen.json"
    process = run_loadgen("--target", server.url, "--rate", "20", "--status-file", str(status_file))
    deadline = time.monotonic() + 30
    while read_status(status_file).get("in_flight", 0) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    assert (summary["finished"], summary["stop_reason"]) == (True, "signal")
    assert summary["in_flight"] >= 2
