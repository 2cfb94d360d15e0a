"""k8s_rollout_undo and k8s_rollout_info run through ansible against each Kubernetes target (kubelab.TARGETS)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubelab import STATEFULSET, KubeServer, deployment_ready
from labtest import AnsibleRun, run_module

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME, labels: {app: NAME, tier: api}}
spec:
  replicas: 2
  progressDeadlineSeconds: 2
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec: {containers: [{name: api, image: "ofm/api:1"}]}
"""


def deploy(kube: KubeServer, name: str, *tags: str) -> None:
    """A Deployment rolled out through image ``ofm/api:1`` and then each of ``tags``, each revision complete."""
    kube.apply(DEPLOYMENT.replace("NAME", name))
    kube.wait_for(deployment_ready(kube, name), f"{name} ready")
    for tag in tags:
        set_image(kube, name, tag)
        kube.wait_for(deployment_ready(kube, name), f"{name} ready at {tag}")


def set_image(kube: KubeServer, name: str, tag: str) -> None:
    kube.patch("apps/v1", "Deployment", name, {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": kube.image(f"ofm/api:{tag}")}]}}}},
               content_type="application/strategic-merge-patch+json")


def image(kube: KubeServer, name: str) -> str:
    return kube.get("apps/v1", "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["image"]


def undo(kube: KubeServer, tmp_path: Path, check: bool = False, **args: Any) -> AnsibleRun:
    return run_module("k8s_rollout_undo", {**kube.connection, "wait_sleep": 0.2, "wait_timeout": kube.patience, **args}, tmp_path,
                      check=check, diff=check)


def test_undo_to_the_previous_revision_then_again_changes_nothing(kube: KubeServer, tmp_path: Path):
    deploy(kube, "web", "2", "3")
    first = undo(kube, tmp_path, name="web", to_revision=2)
    assert not first.failed, first.output
    assert first.result["changed"] is True
    obj = first.result["objects"][0]
    assert (obj["revision_before"], obj["target_revision"], obj["revision_after"]) == (3, 2, 4)
    assert (obj["images_before"], obj["images_after"]) == ([kube.image("ofm/api:3")], [kube.image("ofm/api:2")])
    assert image(kube, "web") == kube.image("ofm/api:2")

    second = undo(kube, tmp_path, name="web", to_revision=4)
    assert not second.failed, second.output
    assert second.result["changed"] is False and second.result["objects"][0]["images_after"] == [kube.image("ofm/api:2")]


def test_undo_to_a_missing_revision_fails_listing_the_history_and_changes_nothing(kube: KubeServer, tmp_path: Path):
    deploy(kube, "missing", "2")
    run = undo(kube, tmp_path, name="missing", to_revision=9)
    assert run.failed
    assert "has no revision 9; its history holds revisions [1, 2]" in run.result["msg"]
    assert "Nothing was changed" in run.result["msg"] and run.result["changed"] is False
    assert image(kube, "missing") == kube.image("ofm/api:2")


def test_check_mode_shows_the_template_diff_and_changes_nothing(kube: KubeServer, tmp_path: Path):
    deploy(kube, "checked", "2")
    run = undo(kube, tmp_path, check=True, name="checked")
    assert not run.failed, run.output
    assert run.result["changed"] is True
    diff = run.result["objects"][0]["diff"]
    assert diff["before"]["spec"]["containers"][0]["image"] == kube.image("ofm/api:2")
    assert diff["after"]["spec"]["containers"][0]["image"] == kube.image("ofm/api:1")
    assert image(kube, "checked") == kube.image("ofm/api:2")


def generation_seen(deployment: dict) -> bool:
    """The Deployment controller has acted on the newest spec (its ReplicaSet for that template exists)."""
    status = deployment.get("status") or {}
    return status.get("observedGeneration") == deployment["metadata"]["generation"] and status.get("updatedReplicas") is not None


@pytest.mark.reliability("fault", procedure="planned", case="the revision rolled back to never becomes ready",
                         expected="failed on the progress deadline, naming it")
def test_undo_onto_a_broken_revision_fails_on_the_progress_deadline(kube: KubeServer, tmp_path: Path):
    deploy(kube, "broken")
    set_image(kube, "broken", "2-broken")
    # The broken revision must exist before the next change: wait until the controller has seen this generation
    # (updatedReplicas alone may still be the first rollout's, and two quick changes can make a single revision).
    kube.wait_for(lambda: generation_seen(kube.get("apps/v1", "Deployment", "broken")), "broken rollout started")
    set_image(kube, "broken", "3")
    kube.wait_for(deployment_ready(kube, "broken"), "broken ready at 3")
    run = undo(kube, tmp_path, name="broken")
    assert run.failed
    assert 'ProgressDeadlineExceeded: ReplicaSet "broken-' in run.result["msg"] and "has timed out progressing" in run.result["msg"]
    assert run.result["changed"] is True and run.result["patched"] == [f"Deployment {kube.namespace}/broken"]


def test_a_label_selector_rolls_back_every_match(kube: KubeServer, tmp_path: Path):
    for name in ("sel-a", "sel-b"):
        deploy(kube, name, "2")
    run = undo(kube, tmp_path, label_selector="tier=api,app in (sel-a,sel-b)")
    assert not run.failed, run.output
    assert sorted(obj["name"] for obj in run.result["objects"]) == ["sel-a", "sel-b"]
    assert image(kube, "sel-a") == image(kube, "sel-b") == kube.image("ofm/api:1")


def test_info_lists_the_history_and_status(kube: KubeServer, tmp_path: Path):
    deploy(kube, "info", "2")
    run = run_module("k8s_rollout_info", {**kube.connection, "name": "info"}, tmp_path)
    assert not run.failed, run.output
    obj = run.result["objects"][0]
    assert [(entry["revision"], entry["images"]) for entry in obj["history"]] == [(1, [kube.image("ofm/api:1")]), (2, [kube.image("ofm/api:2")])]
    assert obj["current_revision"] == 2 and obj["status"]["ready"] is True and run.result["changed"] is False


def test_a_statefulset_goes_back_to_its_previous_controller_revision(kube: KubeServer, tmp_path: Path):
    kube.apply(STATEFULSET)
    kube.wait_for(lambda: (kube.get("apps/v1", "StatefulSet", "db").get("status") or {}).get("readyReplicas") == 2, "db ready")
    kube.patch("apps/v1", "StatefulSet", "db", {"spec": {"template": {"spec": {"containers": [{"name": "db", "image": kube.image("postgres:16")}]}}}},
               content_type="application/strategic-merge-patch+json")
    run = run_module("k8s_rollout_undo", {**kube.connection, "kind": "StatefulSet", "name": "db", "wait_sleep": 0.2},
                     tmp_path)
    assert not run.failed, run.output
    obj = run.result["objects"][0]
    assert (obj["images_before"], obj["images_after"], obj["target_revision"]) == ([kube.image("postgres:16")], [kube.image("postgres:15")], 1)
    assert "ready" in obj["status"]


DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: "agent:1"}]}
"""


def test_a_daemonset_goes_back_to_a_chosen_revision(kube: KubeServer, tmp_path: Path):
    kube.apply(DAEMONSET)
    revisions = kube.resource("apps/v1", "ControllerRevision")
    kube.wait_for(lambda: len(revisions.get(namespace=kube.namespace, label_selector="app=agent").items) == 1, "agent revision 1")
    for count, tag in ((2, "2"), (3, "3")):
        kube.patch("apps/v1", "DaemonSet", "agent", {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": kube.image(f"agent:{tag}")}]}}}},
                   content_type="application/strategic-merge-patch+json")
        kube.wait_for(lambda: len(revisions.get(namespace=kube.namespace, label_selector="app=agent").items) == count, f"agent revision {count}")
    run = run_module("k8s_rollout_undo", {**kube.connection, "kind": "DaemonSet", "name": "agent", "to_revision": 1,
                                          "wait_sleep": 0.2}, tmp_path)
    assert not run.failed, run.output
    obj = run.result["objects"][0]
    assert (obj["images_before"], obj["images_after"], obj["revision_after"]) == ([kube.image("agent:3")], [kube.image("agent:1")], 4)
