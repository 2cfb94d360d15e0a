"""k8s_rollout_undo and k8s_rollout_info run through ansible against the Kubernetes API test server."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from kubelab import STATEFULSET, KubeServer, deployment_ready, kube_server
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


@pytest.fixture(scope="module", name="server")
def fixture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeServer]:
    with kube_server(tmp_path_factory.mktemp("kube")) as server:
        yield server


def deploy(server: KubeServer, name: str, *tags: str) -> None:
    """A Deployment rolled out through image ``ofm/api:1`` and then each of ``tags``, each revision complete."""
    server.apply(DEPLOYMENT.replace("NAME", name))
    server.wait_for(deployment_ready(server, name), f"{name} ready")
    for tag in tags:
        set_image(server, name, tag)
        server.wait_for(deployment_ready(server, name), f"{name} ready at {tag}")


def set_image(server: KubeServer, name: str, tag: str) -> None:
    server.patch("apps/v1", "Deployment", name, {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": f"ofm/api:{tag}"}]}}}},
                 content_type="application/strategic-merge-patch+json")


def image(server: KubeServer, name: str) -> str:
    return server.get("apps/v1", "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["image"]


def undo(server: KubeServer, tmp_path: Path, check: bool = False, **args: Any) -> AnsibleRun:
    return run_module("k8s_rollout_undo", {"kubeconfig": str(server.kubeconfig), "wait_sleep": 0.2, "wait_timeout": 60, **args}, tmp_path,
                      check=check, diff=check)


def test_undo_to_the_previous_revision_then_again_changes_nothing(server: KubeServer, tmp_path: Path):
    deploy(server, "web", "2", "3")
    first = undo(server, tmp_path, name="web", to_revision=2)
    assert not first.failed, first.output
    assert first.result["changed"] is True
    obj = first.result["objects"][0]
    assert (obj["revision_before"], obj["target_revision"], obj["revision_after"]) == (3, 2, 4)
    assert (obj["images_before"], obj["images_after"]) == (["ofm/api:3"], ["ofm/api:2"])
    assert image(server, "web") == "ofm/api:2"

    second = undo(server, tmp_path, name="web", to_revision=4)
    assert not second.failed, second.output
    assert second.result["changed"] is False and second.result["objects"][0]["images_after"] == ["ofm/api:2"]


def test_undo_to_a_missing_revision_fails_listing_the_history_and_changes_nothing(server: KubeServer, tmp_path: Path):
    deploy(server, "missing", "2")
    run = undo(server, tmp_path, name="missing", to_revision=9)
    assert run.failed
    assert "has no revision 9; its history holds revisions [1, 2]" in run.result["msg"]
    assert "Nothing was changed" in run.result["msg"] and run.result["changed"] is False
    assert image(server, "missing") == "ofm/api:2"


def test_check_mode_shows_the_template_diff_and_changes_nothing(server: KubeServer, tmp_path: Path):
    deploy(server, "checked", "2")
    run = undo(server, tmp_path, check=True, name="checked")
    assert not run.failed, run.output
    assert run.result["changed"] is True
    diff = run.result["objects"][0]["diff"]
    assert diff["before"]["spec"]["containers"][0]["image"] == "ofm/api:2"
    assert diff["after"]["spec"]["containers"][0]["image"] == "ofm/api:1"
    assert image(server, "checked") == "ofm/api:2"


def test_undo_onto_a_broken_revision_fails_on_the_progress_deadline(server: KubeServer, tmp_path: Path):
    deploy(server, "broken")
    set_image(server, "broken", "2-broken")
    server.wait_for(lambda: server.get("apps/v1", "Deployment", "broken")["status"].get("updatedReplicas"), "broken rollout started")
    set_image(server, "broken", "3")
    server.wait_for(deployment_ready(server, "broken"), "broken ready at 3")
    run = undo(server, tmp_path, name="broken")
    assert run.failed
    assert 'ProgressDeadlineExceeded: ReplicaSet "broken-' in run.result["msg"] and "has timed out progressing" in run.result["msg"]
    assert run.result["changed"] is True and run.result["patched"] == ["Deployment default/broken"]


def test_a_label_selector_rolls_back_every_match(server: KubeServer, tmp_path: Path):
    for name in ("sel-a", "sel-b"):
        deploy(server, name, "2")
    run = undo(server, tmp_path, label_selector="tier=api,app in (sel-a,sel-b)")
    assert not run.failed, run.output
    assert sorted(obj["name"] for obj in run.result["objects"]) == ["sel-a", "sel-b"]
    assert image(server, "sel-a") == image(server, "sel-b") == "ofm/api:1"


def test_info_lists_the_history_and_status(server: KubeServer, tmp_path: Path):
    deploy(server, "info", "2")
    run = run_module("k8s_rollout_info", {"kubeconfig": str(server.kubeconfig), "name": "info"}, tmp_path)
    assert not run.failed, run.output
    obj = run.result["objects"][0]
    assert [(entry["revision"], entry["images"]) for entry in obj["history"]] == [(1, ["ofm/api:1"]), (2, ["ofm/api:2"])]
    assert obj["current_revision"] == 2 and obj["status"]["ready"] is True and run.result["changed"] is False


def test_a_statefulset_goes_back_to_its_previous_controller_revision(server: KubeServer, tmp_path: Path):
    server.apply(STATEFULSET)
    server.wait_for(lambda: (server.get("apps/v1", "StatefulSet", "db").get("status") or {}).get("readyReplicas") == 2, "db ready")
    server.patch("apps/v1", "StatefulSet", "db", {"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}},
                 content_type="application/strategic-merge-patch+json")
    run = run_module("k8s_rollout_undo", {"kubeconfig": str(server.kubeconfig), "kind": "StatefulSet", "name": "db", "wait_sleep": 0.2},
                     tmp_path)
    assert not run.failed, run.output
    obj = run.result["objects"][0]
    assert (obj["images_before"], obj["images_after"], obj["target_revision"]) == (["postgres:16"], ["postgres:15"], 1)
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


def test_a_daemonset_goes_back_to_a_chosen_revision(server: KubeServer, tmp_path: Path):
    server.apply(DAEMONSET)
    revisions = server.resource("apps/v1", "ControllerRevision")
    server.wait_for(lambda: len(revisions.get(namespace="default", label_selector="app=agent").items) == 1, "agent revision 1")
    for count, tag in ((2, "2"), (3, "3")):
        server.patch("apps/v1", "DaemonSet", "agent", {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": f"agent:{tag}"}]}}}},
                     content_type="application/strategic-merge-patch+json")
        server.wait_for(lambda: len(revisions.get(namespace="default", label_selector="app=agent").items) == count, f"agent revision {count}")
    run = run_module("k8s_rollout_undo", {"kubeconfig": str(server.kubeconfig), "kind": "DaemonSet", "name": "agent", "to_revision": 1,
                                          "wait_sleep": 0.2}, tmp_path)
    assert not run.failed, run.output
    obj = run.result["objects"][0]
    assert (obj["images_before"], obj["images_after"], obj["revision_after"]) == (["agent:3"], ["agent:1"], 4)
