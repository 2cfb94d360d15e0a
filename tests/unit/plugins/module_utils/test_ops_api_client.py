# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpsApiClient and CanaryRollback against a local scripted HTTP server."""
from __future__ import annotations

from typing import Any, Iterator, Optional

import pytest
from unithelpers import FakeClock, Reply, ScriptedService, free_port

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError,
    AuthorizationError,
    DataError,
    InputError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.http import BearerAuth, HttpClient, SessionCookieAuth
from ansible_collections.ofm.rollback.plugins.module_utils.canary import CanaryRollback
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import (
    ADMIN_LOGIN_HINT,
    Identity,
    OpsApiClient,
    RollbackRequest,
)
from ansible_collections.ofm.rollback.plugins.module_utils.traffic import ConfiguredSplit, TrafficSplit

SESSION = "s:sid-ADMIN-0f3b.signature"
FORBIDDEN_VIEWER = Reply(403, {"error": "Insufficient permissions", "required": "admin", "current": ["viewer"]})
REQUEST = RollbackRequest("EMERGENCY_SLO_VIOLATION", "INC-1234", "error_rate 3 % > 1 %")


@pytest.fixture(name="server")
def fixture_server() -> Iterator[ScriptedService]:
    server = ScriptedService()
    yield server
    server.close()


def client_for(server: ScriptedService, **kwargs: Any) -> OpsApiClient:
    return OpsApiClient(HttpClient(server.url, auth=SessionCookieAuth(SESSION), system="ops API", sleep=lambda _: None, **kwargs))


def test_rollback_sends_reason_incident_and_idempotency_key(server):
    server.script(Reply(200, {"ok": True, "message": "Canary rollback initiated"}))
    answer = client_for(server).canary_rollback(REQUEST)
    assert answer == {"ok": True, "message": "Canary rollback initiated"}
    sent = server.received[0]
    assert (sent.method, sent.path_only) == ("POST", "/internal/ops/canary/rollback")
    assert sent.body == {"reason": "EMERGENCY_SLO_VIOLATION", "incident_id": "INC-1234", "reason_detail": "error_rate 3 % > 1 %"}
    assert sent.headers["Idempotency-Key"] == "ofm-rollback-canary-INC-1234"
    assert sent.headers["Cookie"] == f"connect.sid={SESSION}"


def test_rollback_body_leaves_out_an_empty_detail():
    assert RollbackRequest("PLANNED", "INC-7").body() == {"reason": "PLANNED", "incident_id": "INC-7"}


@pytest.mark.parametrize("incident_id", ["INC1234", "inc-1234", "INC-", "INC-12a", "INC-1 ", " INC-1", "INC-1\n", "INC-\u0661\u0662", None])
def test_incident_id_must_be_inc_and_digits(incident_id):
    with pytest.raises(InputError) as caught:
        RollbackRequest("MANUAL", incident_id)
    assert caught.value.option == "incident_id"
    assert "INC-1234" in str(caught.value)


def test_unknown_reason_lists_the_accepted_ones():
    with pytest.raises(InputError) as caught:
        RollbackRequest("SLO", "INC-1")
    assert "EMERGENCY_SLO_VIOLATION, PLANNED, MANUAL, FAILED_VALIDATION" in str(caught.value)


def test_a_503_to_the_rollback_is_not_retried_by_the_client(server):
    server.script(Reply(503, {"error": "Canary rollback failed", "details": "rollout busy"}))
    with pytest.raises(UnavailableError) as caught:
        client_for(server, retries=3).canary_rollback(REQUEST)
    assert len(server.received) == 1
    assert "Canary rollback failed (rollout busy)" in str(caught.value)


def test_ok_false_is_not_a_confirmation(server):
    server.script(Reply(200, {"ok": False, "message": "nothing to do"}))
    with pytest.raises(DataError) as caught:
        client_for(server).canary_rollback(REQUEST)
    assert "ok=false" in str(caught.value)


def test_401_says_an_admin_login_is_needed(server):
    server.script(Reply(401, {"error": "Authentication required"}))
    with pytest.raises(AuthenticationError) as caught:
        client_for(server).canary_promote("auto")
    assert caught.value.hint == ADMIN_LOGIN_HINT
    assert "role 'admin'" in str(caught.value) and "ops_api_session_cookie" in str(caught.value)


def test_403_names_the_admin_role_and_the_callers_roles(server):
    server.script(FORBIDDEN_VIEWER)
    with pytest.raises(AuthorizationError) as caught:
        client_for(server).execute("canary-pause")
    assert caught.value.required_role == "admin" and caught.value.current_roles == ["viewer"]
    assert "needs role 'admin' and the caller holds: viewer" in str(caught.value)


@pytest.mark.parametrize("reply, identity", [
    (Reply(200, "2025-01-01T03:00:00Z 127.0.0.1 \"GET /health\" 200 1ms\n"), Identity(True, True, ["admin"], "the admin-only logs probe answered")),
    (FORBIDDEN_VIEWER, Identity(True, False, ["viewer"], "lacks role 'admin': HTTP 403: Insufficient permissions")),
    (Reply(401, {"error": "Authentication required"}), Identity(False, False, [], "not authenticated: HTTP 401: Authentication required")),
    (Reply(403, {"error": "Forbidden", "reason": "IP not allowed"}),
     Identity(None, False, None, "refused before the roles were checked: HTTP 403: Forbidden (IP not allowed)")),
])
def test_whoami_probes_the_admin_only_logs(server, reply, identity):
    server.script(reply)
    assert client_for(server).whoami() == identity
    assert (server.received[0].method, server.received[0].path_only, server.received[0].query) == ("GET", "/internal/ops/logs", {"lines": ["1"]})


def test_health_needs_no_credentials(server):
    server.script(Reply(200, {"ok": True, "service": "ofm-internal-ops"}))
    assert OpsApiClient(HttpClient(server.url)).health() == {"ok": True, "service": "ofm-internal-ops"}
    assert server.received[0].path_only == "/health" and "Cookie" not in server.received[0].headers


def test_audit_filters_and_rows(server):
    rows = [{"id": 7, "action": "canary.rollback", "resource": "canary", "meta": {"reason": "MANUAL"}}]
    server.script(Reply(200, {"logs": rows}))
    assert client_for(server).audit(limit=5, action="canary.rollback") == rows
    assert server.received[0].query == {"limit": ["5"], "action": ["canary.rollback"]}


def test_audit_without_logs_list_is_a_data_error(server):
    server.script(Reply(200, {"rows": []}))
    with pytest.raises(DataError):
        client_for(server).audit()


def test_logs_are_lines(server):
    server.script(Reply(200, "line one\nline two\n"))
    assert client_for(server).logs(lines=2) == ["line one", "line two"]
    assert server.received[0].query == {"lines": ["2"]}


@pytest.mark.parametrize("call, option", [
    (lambda client: client.execute("rm-rf"), "operation"),
    (lambda client: client.canary_promote("150"), "step"),
    (lambda client: client.canary_promote("0"), "step"),
    (lambda client: client.audit(limit=0), "limit"),
    (lambda client: client.logs(lines=10001), "lines"),
])
def test_bad_arguments_fail_before_sending(server, call, option):
    with pytest.raises(InputError) as caught:
        call(client_for(server))
    assert caught.value.option == option
    assert server.received == []


def test_promote_and_execute_bodies(server):
    client = client_for(server)
    client.canary_promote(25)
    client.execute("health-check")
    assert [(request.path_only, request.body) for request in server.received] == [
        ("/internal/ops/canary/promote", {"step": "25"}), ("/internal/ops/execute", {"operation": "health-check"})]


# CanaryRollback with readers that script the split.

class ScriptedReader:
    """A traffic reader that returns the scripted canary weights, one per reading (the last repeats)."""

    def __init__(self, *canary_weights: Optional[int]) -> None:
        self.weights = list(canary_weights)
        self.requests: list[dict[str, Any]] = []
        self.has_source = True

    def read(self) -> TrafficSplit:
        weight = self.weights.pop(0) if len(self.weights) > 1 else self.weights[0]
        return TrafficSplit(ConfiguredSplit(100 - weight, weight, "scripted"), None)


def rollback_over(url: str, reader: ScriptedReader, deadline: float, clock: FakeClock, *, retries: int = 0,
                  http_sleeps: Optional[list[float]] = None) -> CanaryRollback:
    sleep = (http_sleeps if http_sleeps is not None else []).append
    ops = OpsApiClient(HttpClient(url, auth=BearerAuth("t0ken"), retries=retries, sleep=sleep))
    return CanaryRollback(ops, reader, deadline=deadline, clock=lambda: clock.now, sleep=clock.sleep)


def test_refused_attempts_did_not_apply_a_rollback_that_came_from_elsewhere():
    clock = FakeClock()
    rollback = rollback_over(f"http://127.0.0.1:{free_port()}", ScriptedReader(10, 10, 0), 30, clock)
    result = rollback.run(REQUEST)
    assert result.changed is False and rollback.may_have_applied is False
    assert result.attempts == 2 and clock.sleeps == [0.5, 1.0]
    assert "no attempt reached the server" in result.message
    assert [entry["error"].startswith("could not connect") for entry in rollback.requests] == [True, True]


def test_a_429_did_not_apply_but_a_5xx_may_have(server):
    server.script(Reply(429, {"error": "slow down"}), Reply(502, {"error": "bad gateway"}))
    clock = FakeClock()
    rollback = rollback_over(server.url, ScriptedReader(10, 10, 10), 2.0, clock)
    with pytest.raises(UnavailableError) as caught:
        rollback.run(REQUEST)
    assert rollback.may_have_applied is True and caught.value.sent is True
    assert "#1 HTTP 429" in str(caught.value) and "#2 HTTP 502" in str(caught.value)
    server.script(Reply(429, {"error": "slow down"}))
    only_429 = rollback_over(server.url, ScriptedReader(10), 0.4, FakeClock())
    with pytest.raises(UnavailableError) as caught:
        only_429.run(REQUEST)
    assert only_429.may_have_applied is False and caught.value.sent is False


def test_a_429_is_retried_within_the_attempt_after_its_retry_after(server):
    server.script(Reply(429, {"error": "slow down"}, {"Retry-After": "1"}), Reply(200, {"ok": True, "message": "Canary rollback initiated"}))
    http_sleeps: list[float] = []
    rollback = rollback_over(server.url, ScriptedReader(10, 0), 30, FakeClock(), retries=3, http_sleeps=http_sleeps)
    result = rollback.run(REQUEST)
    assert result.changed is True and result.attempts == 1
    assert http_sleeps == [1.0]
    assert [entry["status"] for entry in rollback.requests] == [429, 200]


def test_each_attempt_is_capped_by_the_time_left_and_logged_once(server):
    server.script(Reply(429, {"error": "slow down"}, {"Retry-After": "5"}))
    http_sleeps: list[float] = []
    clock = FakeClock()
    rollback = rollback_over(server.url, ScriptedReader(10), 2.0, clock, retries=3, http_sleeps=http_sleeps)
    with pytest.raises(UnavailableError) as caught:
        rollback.run(REQUEST)
    assert http_sleeps == [] and clock.sleeps == [0.5, 1.0]
    assert len(server.received) == 3
    assert [entry["status"] for entry in rollback.requests] == [429, 429, 429]
    assert caught.value.attempts == 3


def test_an_unreadable_split_is_a_warning_and_the_rollback_is_sent(server):
    class BrokenReader(ScriptedReader):
        def read(self) -> TrafficSplit:
            raise UnavailableError("No such file or directory", system="HAProxy runtime API", operation="command 'show servers state ofm_api'",
                                   target="unix socket /run/haproxy.sock")

    rollback = rollback_over(server.url, BrokenReader(10), 10, FakeClock())
    result = rollback.run(REQUEST)
    assert result.changed is True and result.previous is None and result.attempts == 1
    assert len(server.received) == 1
    assert rollback.warnings[0].startswith("Could not read the traffic split before the rollback: HAProxy runtime API: command")
