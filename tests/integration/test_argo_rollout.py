"""argo_rollout run through ansible against the Kubernetes API test server's Argo Rollouts controller."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from kubelab import KubeServer, kube_server
from labtest import AnsibleRun, run_module

ROLLOUT = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: NAME}
spec:
  replicas: 5
  selector: {matchLabels: {app: NAME}}
  strategy: {canary: {canaryService: NAME-canary, stableService: NAME-stable, steps: [{setWeight: 20}, {pause: {}}]}}
  template:
    metadata: {labels: {app: NAME}}
    spec: {containers: [{name: api, image: "ofm/api:1"}]}
"""


@pytest.fixture(scope="module", name="server")
def fixture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeServer]:
    with kube_server(tmp_path_factory.mktemp("kube")) as server:
        yield server


def rollout(server: KubeServer, name: str) -> dict[str, Any]:
    return server.get("argoproj.io/v1alpha1", "Rollout", name)


def phase(server: KubeServer, name: str) -> str:
    return (rollout(server, name).get("status") or {}).get("phase", "")


def canary_at_20(server: KubeServer, name: str) -> None:
    """A Rollout healthy on ``ofm/api:1`` whose update to ``ofm/api:2`` is paused at 20 % canary weight."""
    server.apply(ROLLOUT.replace("NAME", name))
    server.wait_for(lambda: phase(server, name) == "Healthy", f"{name} healthy")
    server.patch("argoproj.io/v1alpha1", "Rollout", name, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "ofm/api:2"}],
                 content_type="application/json-patch+json")
    server.wait_for(lambda: phase(server, name) == "Paused", f"{name} paused at its canary step")


def argo(server: KubeServer, tmp_path: Path, check: bool = False, **args: Any) -> AnsibleRun:
    return run_module("argo_rollout", {"kubeconfig": str(server.kubeconfig), "wait_sleep": 0.2, "wait_timeout": 60, **args}, tmp_path,
                      check=check)


def test_abort_at_20_percent_then_undo_returns_to_the_old_template(server: KubeServer, tmp_path: Path):
    canary_at_20(server, "ofm")
    aborted = argo(server, tmp_path, name="ofm", action="abort", wait_for="degraded")
    assert not aborted.failed, aborted.output
    assert aborted.result["changed"] is True
    assert aborted.result["before"]["weights"]["canary"]["weight"] == 20 and aborted.result["before"]["phase"] == "Paused"
    assert aborted.result["after"]["weights"]["canary"]["weight"] == 0 and aborted.result["after"]["phase"] == "Degraded"
    assert aborted.result["patches"] == [{"subresource": "status", "content_type": "application/merge-patch+json", "body": {"status": {"abort": True}}}]
    assert argo(server, tmp_path, name="ofm", action="abort").result["changed"] is False

    undone = argo(server, tmp_path, name="ofm", action="undo", wait_for="healthy")
    assert not undone.failed, undone.output
    assert undone.result["changed"] is True and undone.result["target_revision"] == 1
    assert undone.result["after"]["phase"] == "Healthy" and undone.result["after"]["images"] == ["ofm/api:1"]
    assert undone.result["after"]["stable_rs"] == undone.result["before"]["stable_rs"] == undone.result["after"]["current_pod_hash"]
    assert "rollouts-pod-template-hash" not in rollout(server, "ofm")["spec"]["template"]["metadata"]["labels"]

    again = argo(server, tmp_path, name="ofm", action="undo", to_revision=3)
    assert not again.failed, again.output
    assert again.result["changed"] is False and again.result["patches"] == []


def test_check_mode_sends_nothing(server: KubeServer, tmp_path: Path):
    canary_at_20(server, "checked")
    run = argo(server, tmp_path, check=True, name="checked", action="abort", wait_for="degraded")
    assert not run.failed, run.output
    assert run.result["changed"] is True and run.result["patches"] == []
    assert phase(server, "checked") == "Paused" and not rollout(server, "checked")["status"].get("abort")


def test_full_promotion(server: KubeServer, tmp_path: Path):
    canary_at_20(server, "promoted")
    run = argo(server, tmp_path, name="promoted", action="promote", full=True, wait_for="fully_promoted")
    assert not run.failed, run.output
    assert run.result["after"]["images"] == ["ofm/api:2"] and run.result["after"]["stable_rs"] == run.result["after"]["current_pod_hash"]
    assert run.result["after"]["weights"]["canary"]["weight"] == 0
    assert argo(server, tmp_path, name="promoted", action="promote").result["changed"] is False


def test_undo_to_a_missing_revision_fails_and_changes_nothing(server: KubeServer, tmp_path: Path):
    canary_at_20(server, "missing")
    run = argo(server, tmp_path, name="missing", action="undo", to_revision=7)
    assert run.failed and "has no revision 7; its history holds revisions [1, 2]" in run.result["msg"]
    assert run.result["changed"] is False and phase(server, "missing") == "Paused"
