"""The emergency playbook's fallback against the lab: Argo Rollouts, then the canary Ingress, when the ops API cannot be reached.

The lab's Kubernetes API test server holds the Rollout at canary weight 10, the canary Ingress and the canary Deployment
(namespace ofm-production); the ingress-nginx stand-in moves HAProxy's weights when they change. The first two tests share
one sustained breach: a 403 must change nothing, then an unreachable ops API rolls back through Argo. The third forces the
rollback (no breach to wait for) with Argo failing too, so the canary Ingress takes it. Validation needs every SLO to comply
for only 2 s here (its own tests are in test_emergency_rollback.py).
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from labtest import credentials, emergency, flat, lab_call, record, run_lab, slack_messages

from lab.components.haproxy import weights
from lab.services.kube import seed

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

INITIAL = {"stable": 90, "canary": 10}
ROLLED_BACK = {"stable": 100, "canary": 0}
NAMESPACE_PATH = f"/namespaces/{seed.NAMESPACE}"
ROLLOUTS_PATH = f"/apis/argoproj.io/v1alpha1{NAMESPACE_PATH}/rollouts"
# The operator is a listed admin, so authorization does not need the ops API that these tests take away.
FAST = {"incident_admins": ["lab-admin"], "canary_rollback_deadline": 2, "rollback_validation_sustain": "2s"}
_incident_numbers = itertools.count(8001)


def incident_id() -> str:
    return f"INC-{next(_incident_numbers)}"


def kube(lab, path: str) -> dict[str, Any]:
    return lab_call(lab.url("kube_apiserver") + path)


def rollout(lab) -> dict[str, Any]:
    return kube(lab, f"{ROLLOUTS_PATH}/{seed.ROLLOUT}")


def ingress_weight(lab) -> str:
    ingress = kube(lab, f"/apis/networking.k8s.io/v1{NAMESPACE_PATH}/ingresses/{seed.CANARY_INGRESS}")
    return ingress["metadata"]["annotations"][seed.WEIGHT_ANNOTATION]


def canary_replicas(lab) -> int:
    return kube(lab, f"/apis/apps/v1{NAMESPACE_PATH}/deployments/{seed.CANARY}")["spec"]["replicas"]


def audited_modules(tmp_path: Path) -> list[str]:
    return [json.loads(line).get("module") for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


def thread_update(lab, incident: str) -> str:
    updates = [m["text"] for m in slack_messages(lab) if incident in (m.get("text") or "") and "Record:" in m["text"]]
    assert len(updates) == 1, updates
    return updates[0]


def test_the_lab_starts_with_the_canary_at_weight_10_everywhere(clean_lab):
    status = rollout(clean_lab)["status"]
    assert status["phase"] == "Paused" and status["canary"]["weights"]["canary"]["weight"] == 10
    assert ingress_weight(clean_lab) == "10" and canary_replicas(clean_lab) == 1
    assert weights(clean_lab) == INITIAL


@pytest.mark.reliability("fault", procedure="emergency", case="ops API answers 403",
                         expected="failed clearly, no fallback, nothing changed")
def test_a_403_from_the_ops_api_never_falls_back(breaching_canary, tmp_path):
    lab = breaching_canary
    viewer = credentials(lab)["identities"]["viewer"]
    incident = incident_id()
    run = emergency(tmp_path, incident, ofm_ops_api_token=viewer["token"], **FAST)
    assert run.returncode != 0
    result = record(tmp_path / "incidents", incident)
    assert result["rollback"]["path"] is None
    assert [(a["path"], a["ok"], a["error_type"]) for a in result["rollback"]["attempts"]] == [("ops_api", False, "AuthorizationError")]
    assert "No fallback" in result["failure"]["msg"] and "AuthorizationError" in result["failure"]["msg"]
    modules = audited_modules(tmp_path)
    assert "ofm.rollback.canary_rollback" in modules
    assert "ofm.rollback.argo_rollout" not in modules and "ofm.rollback.canary_ingress" not in modules
    assert weights(lab) == INITIAL
    assert not rollout(lab)["status"].get("abort") and ingress_weight(lab) == "10"


@pytest.mark.reliability("fault", procedure="emergency", case="ops API unreachable (connection refused)",
                         expected="fell back to Argo Rollouts, rolled back")
def test_ops_api_unreachable_rolls_back_through_argo(breaching_canary, tmp_path):
    lab = breaching_canary
    incident = incident_id()
    run = emergency(tmp_path, incident, ofm_ops_api_url="http://127.0.0.1:9", **FAST)
    assert run.returncode == 0, run.stdout[-4000:]

    assert weights(lab) == ROLLED_BACK
    assert ingress_weight(lab) == "0"
    status = rollout(lab)["status"]
    assert status["phase"] == "Healthy" and status["stableRS"] == status["currentPodHash"]
    assert rollout(lab)["spec"]["template"]["spec"]["containers"][0]["image"] == seed.STABLE_IMAGE
    assert canary_replicas(lab) == 1, "the Argo path leaves the canary Deployment alone"
    result = record(tmp_path / "incidents", incident)
    rollback = result["rollback"]
    assert rollback["path"] == "argo"
    assert [(a["path"], a["ok"]) for a in rollback["attempts"]] == [("ops_api", False), ("argo", True)]
    assert rollback["attempts"][0]["error_type"] == "UnavailableError" and "ops API" in rollback["attempts"][0]["message"]
    assert rollback["argo"]["abort"]["aborted"] is True and rollback["argo"]["abort"]["phase"] == "Degraded"
    assert result["traffic"]["all_on_stable"] is True and result["trigger"]["breached"] == ["error_rate"]
    assert "Path:      argo: via Argo Rollouts" in run.stdout and "ops_api failed (UnavailableError)" in run.stdout
    markdown = next((tmp_path / "incidents").glob(f"{incident}-*.md")).read_text()
    assert "**argo**: via Argo Rollouts" in markdown and "- ops_api failed (UnavailableError) after " in markdown
    summary = flat(run.stdout)
    assert f"Changed:   Rollout {seed.NAMESPACE}/{seed.ROLLOUT} aborted (phase Degraded)," in summary
    assert "then undone to revision 1 (phase Healthy)" in summary
    phases = ["Assess impact", "Execute rollback", "Monitor traffic shift", "Verify recovery and validate"]
    assert [phase["phase"] for phase in result["phases"]] == phases
    assert all(phase["end"] >= phase["start"] for phase in result["phases"])
    assert "Rollback path: argo" in thread_update(lab, incident) and "ops_api failed: UnavailableError" in thread_update(lab, incident)


@pytest.mark.reliability("fault", procedure="emergency", case="ops API unreachable and the Argo Rollout failing",
                         expected="fell back to the canary Ingress, rolled back")
def test_argo_failing_too_rolls_back_through_the_canary_ingress(lab, tmp_path):
    run_lab("reset")
    lab_call(f"{lab.url('ops_api')}/__lab/faults", "PUT", {"status": 503, "count": -1, "paths": ["/internal/ops/canary/rollback"]})
    lab_call(f"{lab.url('kube_apiserver')}/__lab/faults", "PUT", {"status": 503, "count": -1, "paths": [ROLLOUTS_PATH]})
    try:
        incident = incident_id()
        run = emergency(tmp_path, incident, rollback_force=True, rollback_force_reason="fallback test: ops API and Argo down", **FAST)
    finally:
        lab_call(f"{lab.url('ops_api')}/__lab/faults", "DELETE")
        lab_call(f"{lab.url('kube_apiserver')}/__lab/faults", "DELETE")
    try:
        assert run.returncode == 0, run.stdout[-4000:]
        assert weights(lab) == ROLLED_BACK
        assert canary_replicas(lab) == 0
        # Argo's controller still runs (only its API was faulted) and writes the Rollout's weight back into the Ingress,
        # as the real one does; with no canary replicas the ingress controller sends the canary nothing all the same.
        assert not rollout(lab)["status"].get("abort"), "Argo could not be reached, so the Rollout was not aborted"
        assert ingress_weight(lab) == str(rollout(lab)["status"]["canary"]["weights"]["canary"]["weight"])
        rollback = record(tmp_path / "incidents", incident)["rollback"]
        assert rollback["path"] == "ingress"
        assert [(a["path"], a["ok"], a.get("error_type")) for a in rollback["attempts"]] == [
            ("ops_api", False, "UnavailableError"), ("argo", False, "UnavailableError"), ("ingress", True, None)]
        assert rollback["ingress"] == {"previous": {"weight": 10, "replicas": 1}, "current": {"weight": 0, "replicas": 0}}
        assert "Path:      ingress: via the canary Ingress" in run.stdout
        assert "argo failed (UnavailableError)" in run.stdout
        assert f"Changed:   canary Ingress {seed.CANARY_INGRESS} weight 10 -> 0," in flat(run.stdout)
        assert f"canary Deployment {seed.CANARY} replicas 1 -> 0" in flat(run.stdout)
        assert "Rollback path: ingress" in thread_update(lab, incident)
    finally:
        run_lab("reset")
