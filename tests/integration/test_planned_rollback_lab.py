"""The planned playbook on the lab itself, with the lab inventory, as a responder runs it: the lab prepares a bad release for
the kubectl method (the API Deployment ofm-social-os-api at revision 2, 2.4.0, over revision 1, 2.3.0), the playbook
undoes it, and ``lab reset`` prepares it again.

test_planned_rollback.py runs the playbook's paths against test servers of its own; this module changes the lab's seeded
Kubernetes objects, so it is a shared-lab module and resets the lab before and after (the clean_lab fixture).
"""
from __future__ import annotations

import time
from typing import Any

import pytest
from labtest import flat, lab_call, run_lab, run_playbook

from lab.services.kube import seed
from lab.services.kube.workloads import POD_TEMPLATE_HASH, REVISION

# Changes the lab's shared state (its seeded Kubernetes objects): runs in file order in the one pytest process of such modules.
pytestmark = pytest.mark.shared_lab

APPS = f"/apis/apps/v1/namespaces/{seed.NAMESPACE}"


def deployment(lab) -> dict[str, Any]:
    return lab_call(f"{lab.url('kube_apiserver')}{APPS}/deployments/{seed.STABLE}")


def history(lab) -> dict[int, dict[str, Any]]:
    """The API Deployment's ReplicaSets by revision."""
    listed = lab_call(f"{lab.url('kube_apiserver')}{APPS}/replicasets")["items"]
    owned = [rs for rs in listed if any(ref.get("name") == seed.STABLE for ref in rs["metadata"].get("ownerReferences") or [])]
    return {int(rs["metadata"]["annotations"][REVISION]): rs for rs in owned}


def pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    """A pod template as the Deployment holds it: without the hash label the controller adds to its ReplicaSets."""
    template = obj["spec"]["template"]
    labels = {key: value for key, value in template["metadata"]["labels"].items() if key != POD_TEMPLATE_HASH}
    return {"labels": labels, "spec": template["spec"]}


def image(obj: dict[str, Any]) -> str:
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


def test_the_kubectl_method_undoes_the_labs_bad_release_and_lab_reset_prepares_it_again(clean_lab, tmp_path):
    lab = clean_lab
    before = history(lab)
    assert sorted(before) == [1, 2], "the lab prepares two revisions"
    assert (image(before[1]), image(before[2])) == (seed.STABLE_IMAGE, seed.CANARY_IMAGE)
    current = deployment(lab)
    assert current["metadata"]["annotations"][REVISION] == "2" and pod_template(current) == pod_template(before[2])

    incident = f"INC-{int(time.time()) % 10**8}"
    run = run_playbook("planned-rollback.yml", audit_log=tmp_path / "audit.jsonl", timeout=300,
                       extra_vars={"rollback_incident_id": incident, "rollback_reason": "api 2.4.0 doubles the DB load",
                                   "planned_rollback_method": "kubectl"})
    summary = flat(run.stdout)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]

    # The Deployment's template is the previous revision's again (the controller renumbers that ReplicaSet 3).
    rolled_back = deployment(lab)
    assert pod_template(rolled_back) == pod_template(before[1])
    assert image(rolled_back) == seed.STABLE_IMAGE
    assert rolled_back["metadata"]["annotations"][REVISION] == "3"
    assert sorted(history(lab)) == [2, 3]
    assert "Outcome:   rolled back and validated" in summary
    assert (f"Changed:   Deployment {seed.NAMESPACE}/{seed.STABLE}: revision 2 -> 1 ({seed.CANARY_IMAGE} -> {seed.STABLE_IMAGE})"
            in summary)
    # (an ok line longer than the summary's width is cut; the record has it whole)
    assert (f"[ok    ] kubectl rollout undo deployment/{seed.STABLE} -n {seed.NAMESPACE}: Deployment {seed.NAMESPACE}/{seed.STABLE} "
            "to revision 1 (rolled b") in summary
    assert "[ok    ] Validate Health: 3 of 3 replicas updated and available" in summary

    run_lab("reset")
    again = deployment(lab)
    assert image(again) == seed.CANARY_IMAGE and again["metadata"]["annotations"][REVISION] == "2"
    assert sorted(history(lab)) == [1, 2]
