"""canary_rollback through the real ``ansible`` command against the lab's ops API stand-in and HAProxy."""
from __future__ import annotations

from typing import Any

import pytest
from labtest import bearer, credentials, lab_call, run_module, tls

from lab.components.haproxy import weights
from lab.config import LabConfig

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

INCIDENT = "INC-4711"
IDEMPOTENCY_KEY = f"ofm-rollback-canary-{INCIDENT}"
ROLLBACK_PATH = "/internal/ops/canary/rollback"


def rollback_rows(lab: LabConfig) -> list[dict[str, Any]]:
    admin = credentials(lab)["identities"]["admin"]
    return lab_call(f"{lab.url('ops_api')}/internal/audit?action=canary.rollback&limit=1000", headers=bearer(admin["token"]))["logs"]


def rollback_posts(lab: LabConfig) -> list[dict[str, Any]]:
    return [row for row in lab_call(f"{lab.url('ops_api')}/__lab/requests")["requests"] if row["method"] == "POST" and row["path"] == ROLLBACK_PATH]


def rollback_args(lab: LabConfig, **overrides: Any) -> dict[str, Any]:
    return {"ops_api_url": lab.url("ops_api"), "haproxy_runtime_api": str(lab.path("run", "haproxy.sock")),
            "reason": "EMERGENCY_SLO_VIOLATION", "reason_detail": "error_rate above 1 % for 5m", "incident_id": INCIDENT, **tls(lab),
            **overrides}


@pytest.fixture(name="lab_env")
def fixture_lab_env(clean_lab: LabConfig, tmp_path) -> dict[str, Any]:
    lab_call(f"{clean_lab.url('ops_api')}/__lab/requests", "DELETE")
    identities = credentials(clean_lab)["identities"]
    return {"lab": clean_lab, "workdir": tmp_path, "admin_session": {"OFM_OPS_API_SESSION": identities["admin"]["session"]},
            "viewer": identities["viewer"], "admin": identities["admin"]}


def test_rollback_moves_all_traffic_to_stable_once(lab_env):
    lab = lab_env["lab"]
    rows_before = len(rollback_rows(lab))
    first = run_module("canary_rollback", rollback_args(lab), lab_env["workdir"], env=lab_env["admin_session"], diff=True)
    assert not first.failed, first.stderr
    assert first.result["changed"] is True and first.result["attempts"] == 1
    assert weights(lab) == {"stable": 100, "canary": 0}
    assert '-    "canary_weight": 10' in first.stdout and '+    "canary_weight": 0' in first.stdout
    assert first.result["incident_id"] == INCIDENT and first.result["idempotency_key"] == IDEMPOTENCY_KEY
    newest = rollback_rows(lab)
    assert len(newest) == rows_before + 1
    assert newest[0]["meta"]["reason"] == "EMERGENCY_SLO_VIOLATION" and newest[0]["actor_email"] == lab_env["admin"]["email"]

    second = run_module("canary_rollback", rollback_args(lab), lab_env["workdir"], env=lab_env["admin_session"])
    assert not second.failed, second.stderr
    assert second.result["changed"] is False and second.result["attempts"] == 0
    assert len(rollback_rows(lab)) == rows_before + 1
    assert [post["idempotency_key"] for post in rollback_posts(lab)] == [IDEMPOTENCY_KEY]
    assert lab_env["admin"]["session"] not in first.stdout + first.stderr + second.stdout + second.stderr


def test_check_mode_leaves_the_weights(lab_env):
    lab = lab_env["lab"]
    run = run_module("canary_rollback", rollback_args(lab), lab_env["workdir"], env=lab_env["admin_session"], check=True, diff=True)
    assert not run.failed, run.stderr
    assert run.result["changed"] is True
    assert run.result["rollback_request"]["headers"] == {"Idempotency-Key": IDEMPOTENCY_KEY}
    assert "+    \"canary_weight\": 0" in run.stdout
    assert weights(lab) == {"stable": 90, "canary": 10}
    assert rollback_posts(lab) == []


def test_viewer_token_fails_naming_the_admin_role(lab_env):
    lab = lab_env["lab"]
    run = run_module("canary_rollback", rollback_args(lab, ops_api_token=lab_env["viewer"]["token"]), lab_env["workdir"])
    assert run.failed
    assert "needs role 'admin' and the caller holds: viewer" in run.result["msg"]
    assert weights(lab) == {"stable": 90, "canary": 10}
    assert lab_env["viewer"]["token"] not in run.stdout + run.stderr


@pytest.mark.reliability("fault", procedure="canary_rollback", case="ops API answers 503",
                         expected="retried with one Idempotency-Key, then failed clearly")
def test_ops_api_503_fails_after_retries_with_one_idempotency_key(lab_env):
    lab = lab_env["lab"]
    lab_call(f"{lab.url('ops_api')}/__lab/faults", "PUT", {"status": 503, "count": -1, "paths": [ROLLBACK_PATH]})
    run = run_module("canary_rollback", rollback_args(lab, deadline=4), lab_env["workdir"], env=lab_env["admin_session"])
    assert run.failed
    assert "no attempt succeeded within the 4s deadline" in run.result["msg"]
    attempts = [entry for entry in run.result["requests"] if entry["url"].endswith(ROLLBACK_PATH)]
    assert len(attempts) >= 2 and all(entry["status"] == 503 for entry in attempts)
    posts = rollback_posts(lab)
    assert len(posts) == len(attempts)
    assert {post["idempotency_key"] for post in posts} == {IDEMPOTENCY_KEY}
    for number in range(1, len(attempts) + 1):
        assert f"#{number} HTTP 503" in run.result["msg"]
    assert weights(lab) == {"stable": 90, "canary": 10}
