"""argo_rollout run through ansible against each Kubernetes target's Argo Rollouts controller (kubelab.TARGETS)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubelab import KubeServer, require_api
from labtest import AnsibleRun, run_module

# The Services and the stable Ingress are what the real Argo Rollouts controller needs to route by weight (and report
# status.canary.weights); the test server's controller does not read them.
ROLLOUT = """
apiVersion: v1
kind: Service
metadata: {name: NAME-stable}
spec: {selector: {app: NAME}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: NAME-canary}
spec: {selector: {app: NAME}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: NAME-stable}
spec:
  ingressClassName: nginx
  rules: [{host: NAME.ofm.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: NAME-stable, port: {number: 80}}}}]}}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: NAME}
spec:
  replicas: 5
  selector: {matchLabels: {app: NAME}}
  strategy:
    canary:
      canaryService: NAME-canary
      stableService: NAME-stable
      trafficRouting: {nginx: {stableIngress: NAME-stable}}
      steps: [{setWeight: 20}, {pause: {}}]
  template:
    metadata: {labels: {app: NAME}}
    spec: {containers: [{name: api, image: "ofm/api:1"}]}
"""


@pytest.fixture(name="kube")
def fixture_kube(kube: KubeServer) -> KubeServer:
    """The target, when it serves Argo Rollouts (a real cluster needs the CRD and the controller)."""
    require_api(kube, "argoproj.io/v1alpha1", "Rollout", "Argo Rollouts")
    return kube


def rollout(kube: KubeServer, name: str) -> dict[str, Any]:
    return kube.get("argoproj.io/v1alpha1", "Rollout", name)


def phase(kube: KubeServer, name: str) -> str:
    return (rollout(kube, name).get("status") or {}).get("phase", "")


def canary_at_20(kube: KubeServer, name: str) -> None:
    """A Rollout healthy on ``ofm/api:1`` whose update to ``ofm/api:2`` is paused at 20 % canary weight."""
    kube.apply(ROLLOUT.replace("NAME", name))
    kube.wait_for(lambda: phase(kube, name) == "Healthy", f"{name} healthy")
    new_image = {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": kube.image("ofm/api:2")}
    kube.patch("argoproj.io/v1alpha1", "Rollout", name, [new_image], content_type="application/json-patch+json")
    kube.wait_for(lambda: phase(kube, name) == "Paused", f"{name} paused at its canary step")


def argo(kube: KubeServer, tmp_path: Path, check: bool = False, **args: Any) -> AnsibleRun:
    return run_module("argo_rollout", {**kube.connection, "wait_sleep": 0.2, "wait_timeout": kube.patience, **args}, tmp_path,
                      check=check)


def test_abort_at_20_percent_then_undo_returns_to_the_old_template(kube: KubeServer, tmp_path: Path):
    canary_at_20(kube, "ofm")
    aborted = argo(kube, tmp_path, name="ofm", action="abort", wait_for="degraded")
    assert not aborted.failed, aborted.output
    assert aborted.result["changed"] is True
    assert aborted.result["before"]["weights"]["canary"]["weight"] == 20 and aborted.result["before"]["phase"] == "Paused"
    assert aborted.result["after"]["weights"]["canary"]["weight"] == 0 and aborted.result["after"]["phase"] == "Degraded"
    assert aborted.result["patches"] == [{"subresource": "status", "content_type": "application/merge-patch+json", "body": {"status": {"abort": True}}}]
    assert argo(kube, tmp_path, name="ofm", action="abort").result["changed"] is False

    undone = argo(kube, tmp_path, name="ofm", action="undo", wait_for="healthy")
    assert not undone.failed, undone.output
    assert undone.result["changed"] is True and undone.result["target_revision"] == 1
    assert undone.result["after"]["phase"] == "Healthy" and undone.result["after"]["images"] == [kube.image("ofm/api:1")]
    assert undone.result["after"]["stable_rs"] == undone.result["before"]["stable_rs"] == undone.result["after"]["current_pod_hash"]
    assert "rollouts-pod-template-hash" not in rollout(kube, "ofm")["spec"]["template"]["metadata"]["labels"]

    again = argo(kube, tmp_path, name="ofm", action="undo", to_revision=3)
    assert not again.failed, again.output
    assert again.result["changed"] is False and again.result["patches"] == []


def test_check_mode_sends_nothing(kube: KubeServer, tmp_path: Path):
    canary_at_20(kube, "checked")
    run = argo(kube, tmp_path, check=True, name="checked", action="abort", wait_for="degraded")
    assert not run.failed, run.output
    assert run.result["changed"] is True and run.result["patches"] == []
    assert phase(kube, "checked") == "Paused" and not rollout(kube, "checked")["status"].get("abort")


def test_full_promotion(kube: KubeServer, tmp_path: Path):
    canary_at_20(kube, "promoted")
    run = argo(kube, tmp_path, name="promoted", action="promote", full=True, wait_for="fully_promoted")
    assert not run.failed, run.output
    assert run.result["after"]["images"] == [kube.image("ofm/api:2")] and run.result["after"]["stable_rs"] == run.result["after"]["current_pod_hash"]
    assert run.result["after"]["weights"]["canary"]["weight"] == 0
    assert argo(kube, tmp_path, name="promoted", action="promote").result["changed"] is False


def test_undo_to_a_missing_revision_fails_and_changes_nothing(kube: KubeServer, tmp_path: Path):
    canary_at_20(kube, "missing")
    run = argo(kube, tmp_path, name="missing", action="undo", to_revision=7)
    assert run.failed and "has no revision 7; its history holds revisions [1, 2]" in run.result["msg"]
    assert run.result["changed"] is False and phase(kube, "missing") == "Paused"


def test_undo_to_stable_is_safe_to_repeat_where_undo_to_the_previous_revision_is_not(kube: KubeServer, tmp_path: Path):
    """The emergency fallback's undo: after a first undo (ours or the ops API's) a second one must not re-deploy the canary."""
    canary_at_20(kube, "twice")
    assert not argo(kube, tmp_path, name="twice", action="abort", wait_for="degraded").failed
    first = argo(kube, tmp_path, name="twice", action="undo", to_stable=True, wait_for="healthy")
    assert not first.failed, first.output
    assert first.result["changed"] is True and first.result["after"]["images"] == [kube.image("ofm/api:1")]

    second = argo(kube, tmp_path, name="twice", action="undo", to_stable=True)
    assert not second.failed, second.output
    assert second.result["changed"] is False and second.result["patches"] == []
    previous = argo(kube, tmp_path, check=True, name="twice", action="undo")
    assert previous.result["changed"] is True and previous.result["target_revision"] == 2, \
        "an undo to the previous revision would deploy the bad canary (revision 2) again"
    assert rollout(kube, "twice")["spec"]["template"]["spec"]["containers"][0]["image"] == kube.image("ofm/api:1")
