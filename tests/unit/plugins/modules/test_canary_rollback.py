# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""canary_rollback's main() against a real HAProxy (temporary config) and a fake ops API that shifts its weights."""
from __future__ import annotations

import contextlib
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

import pytest
from ansible.module_utils import basic

from ansible_collections.ofm.rollback.plugins.doc_fragments import haproxy as haproxy_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client as http_client_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import ops_api as ops_api_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import prometheus as prometheus_fragment
from ansible_collections.ofm.rollback.plugins.module_utils import ops_api
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient
from ansible_collections.ofm.rollback.plugins.modules import canary_rollback
from tests.unit.plugins.module_utils.test_argspec_docs import doc_options, mismatches

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args: Optional[dict[str, Any]] = None) -> Iterator[None]:
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()):
            yield

BACKEND = "ofm_api"
ADMIN_TOKEN = "admin-token-SECRET-41c9"
VIEWER_TOKEN = "viewer-token-SECRET-77aa"
ROLES = {ADMIN_TOKEN: ["admin"], VIEWER_TOKEN: ["viewer"]}
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


class Router:
    """The HAProxy's weights, through the collection's own client."""

    def __init__(self, path: str) -> None:
        self.client = HaproxyRuntimeClient(path)

    def set(self, stable: int, canary: int) -> None:
        self.client.set_weight(BACKEND, "stable", stable)
        self.client.set_weight(BACKEND, "canary", canary)

    def weights(self) -> tuple[int, int]:
        return self.client.get_weight(BACKEND, "stable").current, self.client.get_weight(BACKEND, "canary").current


@pytest.fixture(name="router")
def fixture_router(haproxy_socket: str) -> Router:
    router = Router(haproxy_socket)
    router.set(90, 10)
    return router


class FakeOpsApi:
    """The rollback route with the production auth answers; each POST takes the next scripted step (the last repeats).

    Steps: ``"apply"`` (weights to 100/0, then 200), an HTTP status (answer it, change nothing),
    ``("apply_then_hang", seconds)`` (weights to 100/0, answer only after ``seconds``).
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self.steps: list[Any] = ["apply"]
        self.posts: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake.posts.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(self.rfile.read(length) or b"null")})
                status, body = fake.answer(self.headers.get("Authorization", ""))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(json.dumps(body).encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, authorization: str) -> tuple[int, dict[str, Any]]:
        roles = ROLES.get(authorization.removeprefix("Bearer "))
        if roles is None:
            return 401, {"error": "Authentication required"}
        if "admin" not in roles:
            return 403, {"error": "Insufficient permissions", "required": "admin", "current": roles}
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, int):
            return step, {"error": "Canary rollback failed", "details": "injected"}
        self.router.set(100, 0)
        if isinstance(step, tuple):
            time.sleep(step[1])
        return 200, {"ok": True, "message": "Canary rollback initiated", "previous": {"canary_weight": 10, "stable_weight": 90}}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(name="ops")
def fixture_ops(router: Router) -> Iterator[FakeOpsApi]:
    fake = FakeOpsApi(router)
    yield fake
    fake.close()


class FakePrometheus:
    """Answers instant queries with one vector of per-version request rates."""

    def __init__(self, rates: dict[str, float]) -> None:
        self.rates = rates
        self.queries = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.queries += 1
                result = [{"metric": {"version": version}, "value": [1700000000, str(rate)]} for version, rate in fake.rates.items()]
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

    class Rollback(ops_api.CanaryRollback):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, clock=lambda: clock.now, sleep=clock.sleep, **kwargs)

    monkeypatch.setattr(canary_rollback, "CanaryRollback", Rollback)
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
            canary_rollback.main()
    return caught.value.failed, caught.value.result


def rollback_args(ops: FakeOpsApi, haproxy_socket: Optional[str], **overrides: Any) -> dict[str, Any]:
    args = {"ops_api_url": ops.url, "ops_api_token": ADMIN_TOKEN, "reason": "EMERGENCY_SLO_VIOLATION", "incident_id": "INC-1234",
            "reason_detail": "error_rate 3.4 % > 1 %", "haproxy_runtime_api": haproxy_socket}
    args.update(overrides)
    return {name: value for name, value in args.items() if value is not None}


def test_rollback_moves_the_canary_to_zero(ops, router, haproxy_socket, clock):
    failed, result = run(rollback_args(ops, haproxy_socket))
    assert not failed
    assert result["changed"] is True and result["attempts"] == 1
    assert router.weights() == (100, 0)
    assert result["diff"] == {"before": {"stable_weight": 90, "canary_weight": 10}, "after": {"stable_weight": 100, "canary_weight": 0}}
    assert result["previous"]["configured"]["canary_weight"] == 10 and result["current"]["configured"]["canary_weight"] == 0
    assert result["response"]["message"] == "Canary rollback initiated"
    post = ops.posts[0]
    assert post["path"] == "/internal/ops/canary/rollback"
    assert post["body"] == {"reason": "EMERGENCY_SLO_VIOLATION", "incident_id": "INC-1234", "reason_detail": "error_rate 3.4 % > 1 %"}
    assert post["headers"]["Idempotency-Key"] == "ofm-rollback-canary-INC-1234" == result["idempotency_key"]
    assert (result["incident_id"], result["reason"]) == ("INC-1234", "EMERGENCY_SLO_VIOLATION")
    assert [(entry["method"], entry["status"]) for entry in result["requests"]] == [("POST", 200)]
    assert ADMIN_TOKEN not in json.dumps(result)
    assert clock.sleeps == []


@pytest.mark.parametrize("incident_id", ["1234", "INC-12a", "inc-1234", "INC-1234; DROP"])
def test_bad_incident_id_fails_before_any_request(ops, router, haproxy_socket, incident_id):
    failed, result = run(rollback_args(ops, haproxy_socket, incident_id=incident_id, prometheus_url="http://127.0.0.1:9"))
    assert failed
    assert result["error"]["option"] == "incident_id"
    assert "INC- followed by digits" in result["msg"]
    assert ops.posts == [] and result["requests"] == []
    assert router.weights() == (90, 10)


def test_already_rolled_back_sends_nothing(ops, router, haproxy_socket):
    router.set(100, 0)
    failed, result = run(rollback_args(ops, haproxy_socket))
    assert not failed
    assert result["changed"] is False and result["attempts"] == 0
    assert ops.posts == []
    assert result["diff"]["before"] == result["diff"]["after"] == {"stable_weight": 100, "canary_weight": 0}
    assert "already carries no traffic" in result["msg"]


def test_check_mode_reads_and_says_what_it_would_send(ops, router, haproxy_socket):
    failed, result = run(rollback_args(ops, haproxy_socket), check_mode=True)
    assert not failed
    assert result["changed"] is True and result["attempts"] == 0
    assert ops.posts == [] and router.weights() == (90, 10)
    assert result["rollback_request"] == {
        "method": "POST", "url": f"{ops.url}/internal/ops/canary/rollback", "headers": {"Idempotency-Key": "ofm-rollback-canary-INC-1234"},
        "body": {"reason": "EMERGENCY_SLO_VIOLATION", "incident_id": "INC-1234", "reason_detail": "error_rate 3.4 % > 1 %"}}
    assert result["diff"]["after"] == {"stable_weight": 100, "canary_weight": 0}
    assert result["msg"].startswith("Would POST the rollback (canary weight 10, stable weight 90)")


def test_viewer_is_told_admin_is_needed_and_its_roles(ops, router, haproxy_socket):
    failed, result = run(rollback_args(ops, haproxy_socket, ops_api_token=VIEWER_TOKEN))
    assert failed
    assert "needs role 'admin' and the caller holds: viewer" in result["msg"]
    assert result["error"]["current_roles"] == ["viewer"]
    assert len(ops.posts) == 1 and router.weights() == (90, 10)
    assert result["changed"] is False
    assert VIEWER_TOKEN not in json.dumps(result)


def test_missing_credentials_say_admin_login_is_needed(ops, router, haproxy_socket):
    failed, result = run(rollback_args(ops, haproxy_socket, ops_api_token=None))
    assert failed
    assert result["error"]["type"] == "AuthenticationError"
    assert "role 'admin'" in result["msg"] and "ops_api_session_cookie" in result["msg"]


def test_503_twice_then_200_succeeds_on_the_third_attempt(ops, router, haproxy_socket, clock):
    ops.steps = [503, 503, "apply"]
    failed, result = run(rollback_args(ops, haproxy_socket))
    assert not failed
    assert result["changed"] is True and result["attempts"] == 3
    assert [entry["status"] for entry in result["requests"]] == [503, 503, 200]
    assert {post["headers"]["Idempotency-Key"] for post in ops.posts} == {"ofm-rollback-canary-INC-1234"} and len(ops.posts) == 3
    assert clock.sleeps == [0.5, 1.0]
    assert router.weights() == (100, 0)


def test_503_until_the_deadline_fails_listing_every_attempt(ops, router, haproxy_socket, clock):
    ops.steps = [503]
    failed, result = run(rollback_args(ops, haproxy_socket, deadline=10))
    assert failed
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert len(ops.posts) == 5 and router.weights() == (90, 10)
    assert result["error"]["type"] == "UnavailableError" and result["error"]["attempts"] == 5 and result["error"]["sent"] is True
    message = result["msg"]
    assert "no attempt succeeded within the 10s deadline and the canary still carries traffic (canary weight 10, stable weight 90)" in message
    for number in range(1, 6):
        assert f"#{number} HTTP 503" in message
    assert "Idempotency-Key ofm-rollback-canary-INC-1234" in message
    assert result["changed"] is True
    assert result["previous"]["configured"]["canary_weight"] == 10
    assert [entry["status"] for entry in result["requests"]] == [503] * 5


def test_traffic_gone_after_a_timed_out_post_is_success_without_a_second_post(ops, router, haproxy_socket, clock):
    ops.steps = [("apply_then_hang", 2.0)]
    failed, result = run(rollback_args(ops, haproxy_socket, timeout=0.3))
    assert not failed
    assert len(ops.posts) == 1
    assert result["changed"] is True and result["response"] is None
    current = result["current"]["configured"]
    assert (current["stable_weight"], current["canary_weight"]) == (100, 0)
    assert "no response within the read timeout" in result["requests"][0]["error"]
    assert "may have applied" in result["msg"]
    assert clock.sleeps == [0.5]


def test_without_a_router_the_measured_share_decides(ops, router, clock):
    prometheus = FakePrometheus({"stable": 10.0, "canary": 0.0})
    try:
        failed, result = run(rollback_args(ops, None, prometheus_url=prometheus.url))
        assert not failed and result["changed"] is False and ops.posts == []
        assert result["previous"]["measured"]["canary_share"] == 0.0 and result["previous"]["configured"] is None
        prometheus.rates = {"stable": 9.0, "canary": 1.0}
        failed, result = run(rollback_args(ops, None, prometheus_url=prometheus.url))
        assert not failed and result["changed"] is True and len(ops.posts) == 1
        assert result["diff"] == {"before": {"stable_share": 0.9, "canary_share": 0.1}, "after": {"stable_share": 1.0, "canary_share": 0.0}}
        assert [entry["url"].rsplit("/", 1)[-1] for entry in result["requests"]] == ["query", "rollback", "query"]
    finally:
        prometheus.close()


def test_without_any_traffic_source_it_always_sends(ops, router, clock):
    router.set(100, 0)
    failed, result = run(rollback_args(ops, None))
    assert not failed
    assert result["changed"] is True and len(ops.posts) == 1
    assert result["previous"] is None and result["current"] is None
    assert "traffic split unknown" in result["msg"]


def test_docs_match_argument_spec():
    docs: dict[str, Any] = {}
    for fragment in (ops_api_fragment, haproxy_fragment, prometheus_fragment, http_client_fragment):
        docs.update(doc_options(fragment.ModuleDocFragment.DOCUMENTATION))
    for name, option in doc_options(canary_rollback.DOCUMENTATION).items():
        docs[name] = {**docs.get(name, {}), **option}
    assert mismatches(canary_rollback.ARGUMENT_SPEC, docs) == []
