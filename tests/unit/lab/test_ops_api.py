"""Tests of the ops API stand-in, against a real HAProxy driven by the collection's runtime API client."""
from __future__ import annotations

import email.message
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, Optional

import pytest
from unithelpers import REPO_ROOT, Addresses, LabService, serving
from unithelpers import http_call as call

from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient, ServerWeight

from lab.services.common import JsonlFile
from lab.services.httpbase import HTTPError
from lab.services.ops_api import (AuditLog, Authenticator, CanaryOps, OpsApi, Principal, RequestJournal, build_app, parse_args,
                                  session_id, tail_lines)

BACKEND = "ofm_api"
ADMIN = {"sub": "oidc|admin", "email": "admin@ofm.social", "roles": ["admin"]}
OPERATOR = {"sub": "oidc|operator", "email": "operator@ofm.social", "roles": ["operator"]}
VIEWER = {"sub": "oidc|viewer", "email": "viewer@ofm.social", "roles": ["viewer"]}
ADMIN_TOKEN = "token-admin-0f3b9c"
CREDENTIALS = {
    "sessions": {"sid-admin": ADMIN, "sid-operator": OPERATOR, "sid-viewer": VIEWER},
    "tokens": {ADMIN_TOKEN: ADMIN, "token-viewer-77aa": VIEWER},
}
AS_ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AUDIT_FIELDS = {"id", "created_at", "actor_sub", "actor_email", "action", "resource", "meta", "ip", "ua"}


@pytest.fixture(name="runtime")
def fixture_runtime(haproxy: Addresses) -> HaproxyRuntimeClient:
    """The collection's runtime client of the HAProxy at its 90/10 split."""
    return HaproxyRuntimeClient(haproxy.admin)


def weights(runtime: HaproxyRuntimeClient) -> dict[str, int]:
    return {server: runtime.get_weight(BACKEND, server).current for server in ("stable", "canary")}


def make_app(tmp_path: Path, haproxy_address: str, networks: Optional[list[str]] = None, app_logs: Optional[list[str]] = None) -> OpsApi:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps(CREDENTIALS))
    argv = ["--port", "0", "--credentials-file", str(credentials), "--haproxy-socket", haproxy_address,
            "--audit-file", str(tmp_path / "audit.jsonl"), "--log-file", str(tmp_path / "requests.log")]
    for network in networks or []:
        argv += ["--allow-cidr", network]
    for path in app_logs or []:
        argv += ["--app-log", path]
    return build_app(parse_args(argv))


@pytest.fixture()
def ops(tmp_path: Path, haproxy: Addresses, runtime: HaproxyRuntimeClient) -> Iterator[SimpleNamespace]:
    app = make_app(tmp_path, haproxy.admin)
    with serving(app.handler()) as url:
        yield SimpleNamespace(url=url, app=app, runtime=runtime, tmp_path=tmp_path)


def audit_rows(url: str, query: str = "") -> list[dict[str, Any]]:
    status, body = call(f"{url}/internal/audit{query}", headers=AS_ADMIN)
    assert status == 200, body
    return body["logs"]


class FakeRuntime:
    """Weights in a dict, recording every change in order."""

    def __init__(self, stable: int = 90, canary: int = 10):
        self.weights = {"stable": stable, "canary": canary}
        self.changes: list[tuple[str, int]] = []

    def get_weight(self, _backend: str, server: str) -> ServerWeight:
        return ServerWeight(self.weights[server], 0)

    def set_weight(self, _backend: str, server: str, weight: int) -> None:
        self.changes.append((server, weight))
        self.weights[server] = weight


def canary_ops(stable: int = 90, canary: int = 10) -> CanaryOps:
    return CanaryOps(FakeRuntime(stable, canary), BACKEND, "stable", "canary", [10, 25, 50, 75, 100])


def headers(**values: str) -> email.message.Message:
    message = email.message.Message()
    for key, value in values.items():
        message[key.replace("_", "-")] = value
    return message


# Authentication and authorization

@pytest.mark.parametrize("request_headers, status, body", [
    ({}, 401, {"error": "Authentication required"}),
    ({"Authorization": "Bearer not-a-known-token"}, 401, {"error": "Authentication required"}),
    ({"Cookie": "connect.sid=unknown-session"}, 401, {"error": "Authentication required"}),
    ({"Authorization": "Bearer token-viewer-77aa"}, 403, {"error": "Insufficient permissions", "required": "admin", "current": ["viewer"]}),
    ({"Cookie": "connect.sid=sid-viewer"}, 403, {"error": "Insufficient permissions", "required": "admin", "current": ["viewer"]}),
    ({"Cookie": "connect.sid=sid-operator"}, 403, {"error": "Insufficient permissions", "required": "admin", "current": ["operator"]}),
])
def test_non_admins_are_refused_with_production_bodies(ops, request_headers, status, body):
    assert call(f"{ops.url}/internal/ops/logs", headers=request_headers) == (status, body)
    assert call(f"{ops.url}/internal/audit", headers=request_headers) == (status, body)


@pytest.mark.parametrize("request_headers", [
    AS_ADMIN,
    {"Cookie": "connect.sid=sid-admin"},
    {"Cookie": "theme=dark; connect.sid=s%3Asid-admin.mL3kq%2Fsig%2BnEs%3D"},
    {"Cookie": "connect.sid=s:sid-admin.c2lnbmF0dXJl"},
])
def test_admin_session_or_token_is_accepted(ops, request_headers):
    status, body = call(f"{ops.url}/internal/ops/logs", headers=request_headers)
    assert status == 200
    assert isinstance(body, str)


def test_non_admin_rollback_changes_nothing(ops):
    status, _body = call(f"{ops.url}/internal/ops/canary/rollback", "POST", {"reason": "x"}, {"Cookie": "connect.sid=sid-operator"})
    assert status == 403
    assert weights(ops.runtime) == {"stable": 90, "canary": 10}
    assert not audit_rows(ops.url)


def test_authenticator_without_sockets():
    admin = Principal("oidc|admin", "admin@ofm.social", ("admin",))
    viewer = Principal("oidc|viewer", "viewer@ofm.social", ("viewer",))
    auth = Authenticator({"abc123": admin}, {"tok": viewer})
    assert auth.identify(headers(Cookie="connect.sid=s%3Aabc123.sig%2Fpart")) == admin
    assert auth.identify(headers(Authorization="bearer tok")) == viewer
    assert auth.identify(headers(Authorization="Basic tok")) is None
    assert auth.require(headers(Authorization="Bearer wrong", Cookie="connect.sid=abc123"), "admin") == admin
    with pytest.raises(HTTPError) as refused:
        auth.require(headers(Authorization="Bearer tok"), "operator")
    assert refused.value.response.body == {"error": "Insufficient permissions", "required": "operator", "current": ["viewer"]}


@pytest.mark.parametrize("cookie, expected", [
    ("abc", "abc"), ("s:abc.signature", "abc"), ("s:a.b.c", "a.b"), ("s:nosignature", None), ("", None),
])
def test_session_id_of_plain_and_signed_cookies(cookie, expected):
    assert session_id(cookie) == expected


def test_credentials_file_errors_do_not_echo_secrets(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"sessions": {"very-secret-sid": {"sub": "x", "email": "y", "roles": "admin"}}}))
    with pytest.raises(ValueError) as invalid:
        Authenticator.from_file(str(path))
    assert "sessions entry #1" in str(invalid.value) and "roles" in str(invalid.value)
    assert "very-secret-sid" not in str(invalid.value)


def test_health_is_open(ops):
    status, body = call(f"{ops.url}/health")
    assert status == 200
    assert body["ok"] is True and body["service"] == "ofm-internal-ops"
    assert body["timestamp"].endswith("Z")


def test_sources_outside_the_allow_list_are_forbidden(tmp_path, haproxy, runtime):
    app = make_app(tmp_path, haproxy.admin, networks=["10.0.0.0/8"])
    with serving(app.handler()) as url:
        assert call(f"{url}/internal/ops/canary/rollback", "POST", {"reason": "x"}, AS_ADMIN) == \
            (403, {"error": "Forbidden", "reason": "IP not allowed"})
        assert call(f"{url}/health")[0] == 200
    assert weights(runtime) == {"stable": 90, "canary": 10}


# Rollback

def test_rollback_moves_all_traffic_to_stable_and_audits(ops):
    status, body = call(f"{ops.url}/internal/ops/canary/rollback", "POST", {"reason": "SLO breach", "incident_id": "INC-1234"},
                        {**AS_ADMIN, "User-Agent": "ofm.rollback-test"})
    assert status == 200
    assert body["ok"] is True and body["message"] == "Canary rollback initiated"
    assert body["previous"] == {"canary_weight": 10, "stable_weight": 90}
    assert weights(ops.runtime) == {"stable": 100, "canary": 0}

    [row] = audit_rows(ops.url, "?action=canary.rollback&resource=canary")
    assert set(row) == AUDIT_FIELDS
    assert (row["actor_sub"], row["actor_email"], row["ip"], row["ua"]) == ("oidc|admin", "admin@ofm.social", "127.0.0.1", "ofm.rollback-test")
    assert row["meta"] == {"reason": "SLO breach", "previous": {"canary_weight": 10, "stable_weight": 90}, "result": "success"}
    assert not audit_rows(ops.url, "?action=canary.promote")
    assert not audit_rows(ops.url, "?resource=ops")


def test_repeated_rollback_repeats_and_writes_a_second_row(ops):
    for _attempt in range(2):
        status, body = call(f"{ops.url}/internal/ops/canary/rollback", "POST", {"reason": "again"}, {"Cookie": "connect.sid=sid-admin"})
        assert status == 200
    assert body["previous"] == {"canary_weight": 0, "stable_weight": 100}
    rows = audit_rows(ops.url, "?action=canary.rollback")
    assert [row["meta"]["previous"]["canary_weight"] for row in rows] == [0, 10]
    assert rows[0]["id"] > rows[1]["id"]
    assert audit_rows(ops.url, "?limit=1") == rows[:1]


def test_rollback_with_haproxy_down_is_500_and_audited(tmp_path):
    missing = str(tmp_path / "no-haproxy.sock")
    with serving(make_app(tmp_path, missing).handler()) as url:
        status, body = call(f"{url}/internal/ops/canary/rollback", "POST", {"reason": "x"}, AS_ADMIN)
        assert status == 500
        assert body["error"] == "Canary rollback failed"
        assert missing in body["details"]
        [row] = audit_rows(url)
    assert row["action"] == "canary.rollback" and row["meta"]["result"] == "failure"


# Lab fault injection and request counting

def test_injected_faults_change_nothing_and_are_counted(ops):
    rollback = f"{ops.url}/internal/ops/canary/rollback"
    status, body = call(f"{ops.url}/__lab/faults", "PUT", {"status": 503, "count": 2, "paths": ["/internal/ops/canary/rollback"]})
    assert status == 200 and body["fault"]["count"] == 2
    assert call(f"{ops.url}/internal/ops/logs", headers=AS_ADMIN)[0] == 200

    for attempt in ("k-1", "k-2"):
        assert call(rollback, "POST", {"reason": "x"}, {**AS_ADMIN, "Idempotency-Key": attempt}) == \
            (503, {"error": "Injected fault", "status": 503})
        assert weights(ops.runtime) == {"stable": 90, "canary": 10}
    assert not audit_rows(ops.url)
    assert call(f"{ops.url}/__lab/faults") == (200, {"fault": None})

    assert call(rollback, "POST", {"reason": "x"}, {**AS_ADMIN, "Idempotency-Key": "k-3"})[0] == 200
    recorded = [entry for entry in call(f"{ops.url}/__lab/requests")[1]["requests"] if entry["path"] == "/internal/ops/canary/rollback"]
    assert [(entry["method"], entry["status"], entry["idempotency_key"]) for entry in recorded] == \
        [("POST", 503, "k-1"), ("POST", 503, "k-2"), ("POST", 200, "k-3")]
    assert ADMIN_TOKEN not in json.dumps(call(f"{ops.url}/__lab/requests")[1])


def test_fault_until_cleared_covers_paths_below_a_prefix(ops):
    call(f"{ops.url}/__lab/faults", "PUT", {"status": 502, "count": -1, "paths": ["/internal/ops"]})
    for _attempt in range(3):
        assert call(f"{ops.url}/internal/ops/canary/promote", "POST", {"step": "auto"}, AS_ADMIN)[0] == 502
    assert call(f"{ops.url}/internal/audit", headers=AS_ADMIN)[0] == 200
    assert call(f"{ops.url}/__lab/faults")[1]["fault"]["count"] == -1
    call(f"{ops.url}/__lab/faults", "DELETE")
    assert call(f"{ops.url}/internal/ops/canary/promote", "POST", {"step": "auto"}, AS_ADMIN)[0] == 200


@pytest.mark.parametrize("fault", [{"status": 42}, {"count": 0}, {"delay_seconds": -1}, {"paths": "/internal"}])
def test_invalid_fault_is_400(ops, fault):
    status, body = call(f"{ops.url}/__lab/faults", "PUT", fault)
    assert status == 400 and "fault" in body["error"]
    assert call(f"{ops.url}/__lab/faults") == (200, {"fault": None})


# Promote and execute

def test_promote_steps_without_sockets():
    ops = canary_ops()
    assert ops.promote("auto") == ({"canary_weight": 10, "stable_weight": 90}, {"canary_weight": 25, "stable_weight": 75})
    assert ops.runtime.changes == [("canary", 25), ("stable", 75)]
    assert ops.promote(75)[1] == {"canary_weight": 75, "stable_weight": 25}
    assert ops.promote("auto")[1] == {"canary_weight": 100, "stable_weight": 0}
    with pytest.raises(HTTPError) as exhausted:
        ops.promote("auto")
    assert exhausted.value.response.status == 409


def test_rollback_raises_stable_before_lowering_canary():
    ops = canary_ops(stable=0, canary=100)
    assert ops.rollback() == {"canary_weight": 100, "stable_weight": 0}
    assert ops.runtime.changes == [("stable", 100), ("canary", 0)]


@pytest.mark.parametrize("step", ["30", 30, True, None, "AUTO"])
def test_invalid_step_names_accepted_values(step):
    ops = canary_ops()
    with pytest.raises(HTTPError) as invalid:
        ops.promote(step)
    assert invalid.value.response.status == 400
    assert invalid.value.response.body["accepted"] == ["auto", "10", "25", "50", "75", "100"]
    assert "auto, 10, 25, 50, 75, 100" in invalid.value.response.body["error"]
    assert not ops.runtime.changes


def test_promote_over_http_sets_haproxy_and_audits(ops):
    status, body = call(f"{ops.url}/internal/ops/canary/promote", "POST", {"step": "auto"}, AS_ADMIN)
    assert status == 200 and body["current"] == {"canary_weight": 25, "stable_weight": 75}
    assert weights(ops.runtime) == {"stable": 75, "canary": 25}
    [row] = audit_rows(ops.url, "?action=canary.promote")
    assert row["meta"]["step"] == "auto" and row["meta"]["previous"] == {"canary_weight": 10, "stable_weight": 90}


def test_paused_canary_cannot_be_promoted_until_resumed(ops):
    execute = f"{ops.url}/internal/ops/execute"
    assert call(execute, "POST", {"operation": "canary-pause"}, AS_ADMIN)[1]["paused"] is True
    status, body = call(f"{ops.url}/internal/ops/canary/promote", "POST", {"step": "50"}, AS_ADMIN)
    assert status == 409 and body["error"] == "Canary is paused"
    assert weights(ops.runtime) == {"stable": 90, "canary": 10}
    assert call(execute, "POST", {"operation": "canary-resume"}, AS_ADMIN)[1]["paused"] is False
    assert call(f"{ops.url}/internal/ops/canary/promote", "POST", {"step": "50"}, AS_ADMIN)[0] == 200
    assert weights(ops.runtime) == {"stable": 50, "canary": 50}
    assert [row["meta"]["operation"] for row in audit_rows(ops.url, "?action=ops.execute&resource=canary")] == ["canary-resume", "canary-pause"]


def test_execute_operations(ops):
    execute = f"{ops.url}/internal/ops/execute"
    status, body = call(execute, "POST", {"operation": "drop-tables"}, AS_ADMIN)
    assert status == 400 and "canary-pause, canary-resume, canary-rollback" in body["error"]
    assert call(execute, "POST", {"operation": "db-backup"}, AS_ADMIN) == (501, {"error": "Not available in the lab", "operation": "db-backup"})
    status, body = call(execute, "POST", {"operation": "health-check"}, AS_ADMIN)
    assert status == 200 and body["checks"]["haproxy"]["canary_weight"] == 10
    status, body = call(execute, "POST", {"operation": "canary-rollback"}, AS_ADMIN)
    assert status == 200 and body["message"] == "Canary rollback initiated"
    assert weights(ops.runtime) == {"stable": 100, "canary": 0}
    assert audit_rows(ops.url, "?action=canary.rollback")[0]["meta"]["reason"] == "execute"


def test_health_check_reports_unreachable_haproxy(tmp_path):
    with serving(make_app(tmp_path, str(tmp_path / "absent.sock")).handler()) as url:
        status, body = call(f"{url}/internal/ops/execute", "POST", {"operation": "health-check"}, AS_ADMIN)
    assert status == 503
    assert body["ok"] is False and "absent.sock" in body["checks"]["haproxy"]["error"]


# Logs and persistence

def test_logs_tail_the_request_log_without_secrets(ops):
    call(f"{ops.url}/health")
    call(f"{ops.url}/internal/ops/canary/rollback", "POST", {"reason": "x"}, {"Cookie": "connect.sid=sid-viewer"})
    status, text = call(f"{ops.url}/internal/ops/logs?lines=2", headers=AS_ADMIN)
    assert status == 200
    lines = text.splitlines()
    assert len(lines) == 2
    assert '"GET /health" 200' in lines[0] and '"POST /internal/ops/canary/rollback" 403' in lines[1]
    log_file = (ops.tmp_path / "requests.log").read_text()
    assert ADMIN_TOKEN not in log_file and "sid-viewer" not in log_file
    assert call(f"{ops.url}/internal/ops/logs?lines=0", headers=AS_ADMIN)[0] == 400
    assert weights(ops.runtime) == {"stable": 90, "canary": 10}


def test_request_log_is_reloaded_at_start(tmp_path):
    log = tmp_path / "requests.log"
    log.write_text("line one\nline two\n")
    assert RequestJournal(str(log)).tail(5) == ["line one", "line two"]


def test_audit_rows_survive_a_restart(tmp_path):
    actor = Principal("oidc|admin", "admin@ofm.social", ("admin",))
    first = AuditLog(JsonlFile(str(tmp_path / "audit.jsonl")))
    first.write(actor, "canary.rollback", "canary", {"reason": "one"}, "127.0.0.1", None)
    reloaded = AuditLog(JsonlFile(str(tmp_path / "audit.jsonl")))
    second = reloaded.write(actor, "canary.promote", "canary", {"step": "auto"}, "127.0.0.1", "ua")
    assert second["id"] == 2
    assert [row["action"] for row in reloaded.query(10)] == ["canary.promote", "canary.rollback"]
    assert [row["id"] for row in reloaded.query(10, resource="canary", action="canary.rollback")] == [1]


def test_cli_serves_a_real_haproxy_over_tcp(tmp_path, haproxy, runtime):
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps(CREDENTIALS))
    service = LabService("ops_api", "--credentials-file", str(credentials), "--haproxy-socket", haproxy.tcp,
                         "--audit-file", str(tmp_path / "audit.jsonl"), "--promote-steps", "20,100", log=tmp_path / "ops-api.log")
    with service:
        assert call(f"{service.url}/internal/ops/canary/promote", "POST", {"step": "auto"}, AS_ADMIN)[1]["current"]["canary_weight"] == 20
        assert call(f"{service.url}/internal/ops/canary/rollback", "POST", {"reason": "cli"}, AS_ADMIN)[0] == 200
        assert weights(runtime) == {"stable": 100, "canary": 0}
    assert service.process.returncode == 0
    rows = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [row["action"] for row in rows] == ["canary.promote", "canary.rollback"]


def test_cli_refuses_to_start_with_unreadable_credentials(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "lab.services.ops_api", "--port", "1", "--credentials-file", str(tmp_path / "missing.json"),
         "--haproxy-socket", str(tmp_path / "admin.sock")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0
    assert "ops API stand-in cannot start" in result.stderr and "missing.json" in result.stderr


def test_logs_serve_the_application_logs_merged_by_time(tmp_path, haproxy):
    stable, canary = tmp_path / "stable.log", tmp_path / "canary.log"
    stable.write_text("2026-03-01T10:00:01.000+01:00 INFO version=stable a\n2026-03-01T09:00:03.000Z INFO version=stable c\n")
    canary.write_text("2026-03-01T09:00:02.000+00:00 ERROR version=canary b\n" + "".join(
        f"2026-03-01T09:00:{second:02d}.000+00:00 INFO version=canary filler {second}\n" for second in range(4, 60)))
    app = make_app(tmp_path, haproxy.admin, app_logs=[str(stable), str(canary)])
    with serving(app.handler()) as url:
        status, text = call(f"{url}/internal/ops/logs?lines=3", headers=AS_ADMIN)
        assert status == 200 and text.splitlines() == [f"2026-03-01T09:00:{second}.000+00:00 INFO version=canary filler {second}"
                                                       for second in (57, 58, 59)]
        lines = call(f"{url}/internal/ops/logs?lines=5000", headers=AS_ADMIN)[1].splitlines()
        assert [line.split()[-1] for line in lines[:3]] == ["a", "b", "c"] and len(lines) == 59
        # The stand-in's own requests are not in the application log, but /__lab/requests still sees them.
        assert not any("/internal/ops/logs" in line for line in lines)
        assert [record["path"] for record in call(f"{url}/__lab/requests")[1]["requests"]] == ["/internal/ops/logs"] * 2


def test_tail_lines_reads_backwards_across_blocks(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {index}\n" for index in range(100)))
    assert tail_lines(str(log), 3, block=7) == ["line 97", "line 98", "line 99"]
    assert tail_lines(str(log), 500, block=7) == [f"line {index}" for index in range(100)]
    assert tail_lines(str(tmp_path / "absent.log"), 3) == []


def test_clients_add_rows_of_their_own_namespace_listed_by_the_real_route(ops):
    meta = {"anchor": {"chain": "c0ffee", "seq": 7, "hash": "ab" * 32}}
    status, body = call(f"{ops.url}/internal/audit", "POST", {"action": "rollback.audit_anchor", "resource": "audit-chain:c0ffee", "meta": meta},
                        headers={**AS_ADMIN, "User-Agent": "ofm.rollback/test"})
    assert status == 201 and body["ok"] is True and isinstance(body["id"], int)
    [row] = audit_rows(ops.url, "?action=rollback.audit_anchor&resource=audit-chain:c0ffee")
    assert (row["actor_sub"], row["meta"], row["ua"], row["id"]) == ("oidc|admin", meta, "ofm.rollback/test", body["id"])
    assert not audit_rows(ops.url, "?resource=audit-chain:other")


@pytest.mark.parametrize("body, error", [
    ({"action": "canary.rollback", "resource": "canary", "meta": {}}, "'action' must be a client action under 'rollback.'"),
    ({"action": "rollback.", "resource": "x", "meta": {}}, "'action' must be"),
    ({"action": "rollback.audit_anchor", "resource": "", "meta": {}}, "'resource' must be a string"),
    ({"action": "rollback.audit_anchor", "resource": "x", "meta": ["not", "an", "object"]}, "'meta' must be a JSON object"),
    ({"action": "rollback.audit_anchor", "resource": "x", "meta": {"big": "x" * 70000}}, "at most 65536 bytes"),
])
def test_client_rows_that_would_pass_for_the_servers_or_are_malformed_are_refused(ops, body, error):
    status, answer = call(f"{ops.url}/internal/audit", "POST", body, headers=AS_ADMIN)
    assert status == 400 and error in answer["error"]
    assert not audit_rows(ops.url)


def test_only_admins_add_audit_rows(ops):
    body = {"action": "rollback.audit_anchor", "resource": "audit-chain:c0ffee", "meta": {}}
    assert call(f"{ops.url}/internal/audit", "POST", body)[0] == 401
    assert call(f"{ops.url}/internal/audit", "POST", body, headers={"Authorization": "Bearer token-viewer-77aa"})[0] == 403
    assert not audit_rows(ops.url)
