# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""canary_rollback's main() against a real HAProxy (temporary config) and a fake ops API that shifts its weights."""
from __future__ import annotations

import json
from typing import Any, Iterator, Optional

import pytest
from unithelpers import FakeClock, FakeService, Received, Reply, documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import haproxy as haproxy_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client as http_client_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import ops_api as ops_api_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import prometheus as prometheus_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import traffic_measure as traffic_measure_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import traffic_wait as traffic_wait_fragment
from ansible_collections.ofm.rollback.plugins.module_utils import canary
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient
from ansible_collections.ofm.rollback.plugins.modules import canary_rollback

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")

BACKEND = "ofm_api"
ADMIN_TOKEN = "admin-token-SECRET-41c9"
VIEWER_TOKEN = "viewer-token-SECRET-77aa"
ROLES = {ADMIN_TOKEN: ["admin"], VIEWER_TOKEN: ["viewer"]}


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
    return Router(haproxy_socket)


class FakeOpsApi(FakeService):
    """The rollback route with the production auth answers; each POST takes the next scripted step (the last repeats).

    Steps: ``"apply"`` (weights to 100/0, then 200), an HTTP status (answer it, change nothing),
    ``("apply_then_hang", seconds)`` (weights to 100/0, answer only after ``seconds``).
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self.steps: list[Any] = ["apply"]
        super().__init__()

    @property
    def posts(self) -> list[Received]:
        return [request for request in self.received if request.method == "POST"]

    def answer(self, request: Received) -> Reply:
        roles = ROLES.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if roles is None:
            return Reply(401, {"error": "Authentication required"})
        if "admin" not in roles:
            return Reply(403, {"error": "Insufficient permissions", "required": "admin", "current": roles})
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, int):
            return Reply(step, {"error": "Canary rollback failed", "details": "injected"})
        self.router.set(100, 0)
        return Reply(200, {"ok": True, "message": "Canary rollback initiated", "previous": {"canary_weight": 10, "stable_weight": 90}},
                     delay=step[1] if isinstance(step, tuple) else 0.0)


@pytest.fixture(name="ops")
def fixture_ops(router: Router) -> Iterator[FakeOpsApi]:
    fake = FakeOpsApi(router)
    yield fake
    fake.close()


@pytest.fixture(name="clock")
def fixture_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()

    class Rollback(canary.CanaryRollback):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, clock=lambda: clock.now, sleep=clock.sleep, **kwargs)

    monkeypatch.setattr(canary_rollback, "CanaryRollback", Rollback)
    return clock


def run(args: dict[str, Any], check_mode: bool = False) -> tuple[bool, dict[str, Any]]:
    failed, result, _warnings = run_module(canary_rollback, args, check_mode)
    return failed, result


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
    assert post.path == "/internal/ops/canary/rollback"
    assert post.body == {"reason": "EMERGENCY_SLO_VIOLATION", "incident_id": "INC-1234", "reason_detail": "error_rate 3.4 % > 1 %"}
    assert post.headers["Idempotency-Key"] == "ofm-rollback-canary-INC-1234" == result["idempotency_key"]
    assert (result["incident_id"], result["reason"]) == ("INC-1234", "EMERGENCY_SLO_VIOLATION")
    assert [(entry["method"], entry["status"]) for entry in result["requests"]] == [("POST", 200)]
    assert ADMIN_TOKEN not in json.dumps(result)
    assert clock.sleeps == []


@pytest.mark.parametrize("incident_id", [
    pytest.param(value, marks=pytest.mark.reliability(
        "bad-input", procedure="canary_rollback", case=f"incident_id={value!r}", expected="refused before any change"))
    for value in ("1234", "INC-12a", "inc-1234", "INC-1234; DROP", "INC-1\r\nX-Admin: yes")])
def test_bad_incident_id_fails_before_any_request(ops, router, haproxy_socket, reliability, incident_id):
    failed, result = run(rollback_args(ops, haproxy_socket, incident_id=incident_id, prometheus_url="http://127.0.0.1:9"))
    assert failed
    assert result["error"]["option"] == "incident_id"
    assert "INC- followed by digits" in result["msg"]
    assert ops.posts == [] and result["requests"] == []
    assert router.weights() == (90, 10)
    reliability.observed("failed, no request sent, weights still 90/10: names incident_id, shows INC- followed by digits")


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
    assert {post.headers["Idempotency-Key"] for post in ops.posts} == {"ofm-rollback-canary-INC-1234"} and len(ops.posts) == 3
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


def test_without_a_router_the_measured_share_decides(ops, router, prometheus, clock):
    prometheus.vectors = [{"stable": 10.0, "canary": 0.0}]
    failed, result = run(rollback_args(ops, None, prometheus_url=prometheus.url))
    assert not failed and result["changed"] is False and ops.posts == []
    assert result["previous"]["measured"]["canary_share"] == 0.0 and result["previous"]["configured"] is None
    prometheus.vectors = [{"stable": 9.0, "canary": 1.0}]
    failed, result = run(rollback_args(ops, None, prometheus_url=prometheus.url))
    assert not failed and result["changed"] is True and len(ops.posts) == 1
    assert result["diff"] == {"before": {"stable_share": 0.9, "canary_share": 0.1}, "after": {"stable_share": 1.0, "canary_share": 0.0}}
    assert [entry["url"].rsplit("/", 1)[-1] for entry in result["requests"]] == ["query", "rollback", "query"]


def test_without_any_traffic_source_it_always_sends(ops, router, clock):
    router.set(100, 0)
    failed, result = run(rollback_args(ops, None))
    assert not failed
    assert result["changed"] is True and len(ops.posts) == 1
    assert result["previous"] is None and result["current"] is None
    assert "traffic split unknown" in result["msg"]


def test_docs_match_argument_spec():
    docs = documented_options(canary_rollback, ops_api_fragment, haproxy_fragment, traffic_measure_fragment, traffic_wait_fragment,
                              prometheus_fragment, http_client_fragment)
    assert mismatches(canary_rollback.ARGUMENT_SPEC, docs) == []


# --- wait_for: the rollback and the wait for all traffic on stable in one task -----------------------------------------

def test_waits_until_all_traffic_is_on_stable(ops, router, haproxy_socket):
    router.set(90, 10)
    failed, result = run(rollback_args(ops, haproxy_socket, wait_for="all_on_stable", wait_timeout=5, wait_interval=0.1))
    assert not failed and result["changed"] is True
    assert result["traffic"]["all_on_stable"] is True and result["traffic"]["configured"]["canary_weight"] == 0
    assert result["rollback_confirmed_after"] >= 0 and "All traffic is on stable" in result["msg"]
    assert len(ops.posts) == 1


def test_a_wait_that_times_out_still_reports_the_rollback(ops, router, haproxy_socket):
    """The ops API confirms, but the router keeps the canary's weight: the rollback stands, the wait fails."""
    router.set(90, 10)
    ops.steps = [200]
    failed, result = run(rollback_args(ops, haproxy_socket, wait_for="all_on_stable", wait_timeout=0.3, wait_interval=0.1))
    assert failed
    assert result["changed"] is True and result["attempts"] == 1
    assert result["traffic"]["all_on_stable"] is False and result["traffic"]["polls"] >= 2
    assert "Then:" in result["msg"] and "still had traffic" in result["msg"]
    assert result["error"]["type"] == "DeadlineExceeded"


def test_wait_without_a_traffic_source_is_refused_before_sending(ops):
    failed, result = run(rollback_args(ops, None, wait_for="all_on_stable"))
    assert failed and result["error"]["option"] == "wait_for"
    assert ops.posts == []


def test_check_mode_does_not_wait(ops, router, haproxy_socket):
    router.set(90, 10)
    failed, result = run(rollback_args(ops, haproxy_socket, wait_for="all_on_stable", wait_timeout=0.2), check_mode=True)
    assert not failed and result["changed"] is True
    assert result["traffic"]["all_on_stable"] is False and result["traffic"]["polls"] == 1
    assert ops.posts == [] and router.weights() == (90, 10)
