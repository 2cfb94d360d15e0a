# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""traffic_split_info's main() against a real HAProxy (temporary config) and a fake Prometheus HTTP API."""
from __future__ import annotations

import contextlib
import functools
import json
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Optional
from unittest import mock
from urllib.parse import parse_qs

import pytest
from ansible.module_utils import basic

from ansible_collections.ofm.rollback.plugins.doc_fragments import haproxy as haproxy_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client as http_client_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import prometheus as prometheus_fragment
from ansible_collections.ofm.rollback.plugins.module_utils import traffic
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient
from ansible_collections.ofm.rollback.plugins.modules import traffic_split_info
from tests.unit.plugins.module_utils.test_argspec_docs import doc_options, mismatches

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args: Optional[dict[str, Any]] = None) -> Iterator[None]:
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()):
            yield

BACKEND = "ofm_api"
HAPROXY_CONFIG = """\
global
    stats socket {socket} level admin

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

backend ofm_api
    server stable 127.0.0.1:{stable_port} weight 90
    server canary 127.0.0.1:{canary_port} weight 10
"""

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed (apt-get install haproxy)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module", name="haproxy_socket")
def fixture_haproxy_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("haproxy")
    path = str(workdir / "admin.sock")
    config = workdir / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(socket=path, stable_port=free_port(), canary_port=free_port()))
    with open(workdir / "haproxy.log", "wb") as log, \
            subprocess.Popen(["haproxy", "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT) as process:
        try:
            wait_for_socket(path, process, workdir / "haproxy.log")
            yield path
        finally:
            process.terminate()
            process.wait(timeout=10)


def wait_for_socket(path: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OfmRollbackError):
            HaproxyRuntimeClient(path).get_weight(BACKEND, "canary")
            return
        time.sleep(0.05)
    pytest.fail(f"haproxy did not open {path} (log: {log})")


@pytest.fixture(name="haproxy")
def fixture_haproxy(haproxy_socket: str) -> HaproxyRuntimeClient:
    """The HAProxy's client, with the configured 90/10 split."""
    client = HaproxyRuntimeClient(haproxy_socket)
    client.set_weight(BACKEND, "stable", 90)
    client.set_weight(BACKEND, "canary", 10)
    return client


class FakePrometheus:
    """Answers instant queries with per-version request rates, one vector per query (the last repeats)."""

    def __init__(self) -> None:
        self.vectors: list[dict[str, float]] = [{"stable": 9.0, "canary": 1.0}]
        self.queries: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
                fake.queries.append(form["query"][0])
                rates = fake.vectors.pop(0) if len(fake.vectors) > 1 else fake.vectors[0]
                result = [{"metric": {"version": version}, "value": [1700000000, str(rate)]} for version, rate in rates.items()]
                payload = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
                self.send_response(200)
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

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(name="prometheus")
def fixture_prometheus() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    yield server
    server.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(name="clock")
def fixture_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(traffic_split_info, "wait_until_stable",
                        functools.partial(traffic.wait_until_stable, clock=lambda: clock.now, sleep=clock.sleep))
    return clock


class ModuleExit(Exception):
    def __init__(self, result: dict[str, Any], failed: bool):
        super().__init__(result.get("msg"))
        self.result = result
        self.failed = failed


def fake_exit_json(_module: Any, **kwargs: Any) -> None:
    raise ModuleExit(kwargs, failed=False)


def fake_fail_json(_module: Any, msg: Any = None, **kwargs: Any) -> None:
    raise ModuleExit({"msg": msg, **kwargs}, failed=True)


def run(args: dict[str, Any], check_mode: bool = False) -> tuple[bool, dict[str, Any]]:
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)), \
            mock.patch.multiple(basic.AnsibleModule, exit_json=fake_exit_json, fail_json=fake_fail_json):
        with pytest.raises(ModuleExit) as caught:
            traffic_split_info.main()
    return caught.value.failed, caught.value.result


def test_reads_configured_and_measured_split(haproxy, prometheus, haproxy_socket):
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url})
    assert not failed
    assert result["changed"] is False
    assert result["configured"] == {"stable_weight": 90, "canary_weight": 10, "canary_percent": 10.0,
                                    "source": f"HAProxy backend ofm_api at unix socket {haproxy_socket}"}
    measured = result["measured"]
    assert (measured["stable_share"], measured["canary_share"], measured["requests_per_second"], measured["window"]) == (0.9, 0.1, 10.0, "30s")
    assert prometheus.queries == ["sum by (version) (rate(http_requests_total[30s]))"]
    assert result["all_on_stable"] is False
    assert (result["polls"], result["waited_seconds"]) == (1, 0.0)
    assert [entry["status"] for entry in result["requests"]] == [200]
    assert result["msg"] == "The canary carries traffic: canary weight 10, stable weight 90; measured canary share 10.00% over 30s."


def test_no_prometheus_data_is_unknown(haproxy, prometheus, haproxy_socket):
    haproxy.set_weight(BACKEND, "canary", 0)
    prometheus.vectors = [{}]
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url})
    assert not failed
    assert result["measured"]["canary_share"] is None and result["measured"]["stable_share"] is None
    assert "no samples" in result["measured"]["unknown_reason"]
    assert result["all_on_stable"] is None
    assert result["msg"].startswith("Unknown whether the canary carries traffic")


def test_router_only_and_prometheus_only(haproxy, prometheus, haproxy_socket):
    router_only = run({"haproxy_runtime_api": haproxy_socket, "haproxy_timeout": 2.0})[1]
    assert router_only["measured"] is None and router_only["configured"]["canary_weight"] == 10 and router_only["requests"] == []
    measured_only = run({"prometheus_url": prometheus.url, "selector": 'app="ofm-social-os"', "measure_window": "1m"})[1]
    assert measured_only["configured"] is None and measured_only["measured"]["canary_share"] == 0.1
    assert prometheus.queries == ['sum by (version) (rate(http_requests_total{app="ofm-social-os"}[1m]))']


def test_one_source_is_required(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    failed, result = run({})
    assert failed
    assert "one of the following is required: haproxy_runtime_api, prometheus_url" in result["msg"]


def test_wait_for_all_on_stable_polls_until_the_share_is_zero(haproxy, prometheus, haproxy_socket, clock):
    haproxy.set_weight(BACKEND, "stable", 100)
    haproxy.set_weight(BACKEND, "canary", 0)
    prometheus.vectors = [{"stable": 9.0, "canary": 1.0}, {"stable": 9.5, "canary": 0.5}, {"stable": 10.0, "canary": 0.0}]
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url, "wait_for": "all_on_stable",
                          "wait_interval": 3})
    assert not failed
    assert result["all_on_stable"] is True and result["measured"]["canary_share"] == 0.0
    assert (result["polls"], result["waited_seconds"]) == (3, 6.0)
    assert clock.sleeps == [3.0, 3.0]
    assert result["msg"].startswith("All traffic is on stable")


def test_wait_timeout_fails_with_the_last_reading(haproxy, prometheus, haproxy_socket, clock):
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url, "wait_for": "all_on_stable",
                          "wait_timeout": 5, "wait_interval": 2})
    assert failed
    assert result["error"]["type"] == "DeadlineExceeded"
    assert "the canary still had traffic after 4 reading(s) in 5s: canary weight 10" in result["msg"]
    assert result["configured"]["canary_weight"] == 10 and result["all_on_stable"] is False
    assert clock.sleeps == [2.0, 2.0, 1.0] and len(result["requests"]) == 4


def test_max_canary_share_tolerates_a_residue(haproxy, prometheus, haproxy_socket, clock):
    haproxy.set_weight(BACKEND, "canary", 0)
    prometheus.vectors = [{"stable": 99.0, "canary": 1.0}]
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url, "wait_for": "all_on_stable",
                          "max_canary_share": 0.02})
    assert not failed and result["all_on_stable"] is True and clock.sleeps == []


def test_check_mode_reads_once_without_waiting(haproxy, prometheus, haproxy_socket, clock):
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url, "wait_for": "all_on_stable"},
                         check_mode=True)
    assert not failed
    assert result["polls"] == 1 and result["all_on_stable"] is False and clock.sleeps == []


@pytest.mark.parametrize("args, option", [
    ({"selector": "namespace=ofm"}, "selector"),
    ({"haproxy_backend": "ofm api"}, "haproxy_backend"),
    ({"wait_interval": 0}, "wait_interval"),
])
def test_bad_options_fail_before_reading(haproxy, prometheus, haproxy_socket, args, option):
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url, **args})
    assert failed
    assert result["error"]["option"] == option
    assert prometheus.queries == [] and result["requests"] == []


def test_unknown_server_names_the_servers_found(haproxy, haproxy_socket):
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "canary_server": "canary-v2"})
    assert failed
    assert "backend ofm_api has no server canary-v2; its servers: canary, stable" in result["msg"]


def test_docs_match_argument_spec():
    docs: dict[str, Any] = {}
    for fragment in (haproxy_fragment, prometheus_fragment, http_client_fragment):
        docs.update(doc_options(fragment.ModuleDocFragment.DOCUMENTATION))
    for name, option in doc_options(traffic_split_info.DOCUMENTATION).items():
        docs[name] = {**docs.get(name, {}), **option}
    assert mismatches(traffic_split_info.ARGUMENT_SPEC, docs) == []
