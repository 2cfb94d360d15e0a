"""Object store and controllers of the Kubernetes API test server, driven tick by tick with a fake clock."""
from __future__ import annotations

import copy
import json

import pytest

from lab.services.kube import resources
from lab.services.kube.controllers import Controllers
from lab.services.kube.errors import ApiError
from lab.services.kube.store import JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, Store, Write

DEPLOYMENTS = resources.find("apps", "v1", "deployments")
REPLICASETS = resources.find("apps", "v1", "replicasets")
CONFIGMAPS = resources.find("", "v1", "configmaps")
ROLLOUTS = resources.find("argoproj.io", "v1alpha1", "rollouts")


def deployment(image: str = "api:1", deadline: int = 600) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
            "spec": {"replicas": 2, "progressDeadlineSeconds": deadline, "selector": {"matchLabels": {"app": "api"}},
                     "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api", "image": image}]}}}}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="cluster")
def fixture_cluster() -> tuple[Store, Controllers, Clock]:
    store = Store()
    clock = Clock()
    return store, Controllers(store, clock=clock), clock


def run(controllers: Controllers, clock: Clock, ticks: int = 6) -> None:
    for _unused in range(ticks):
        controllers.tick()
        clock.now += 1


def set_image(store: Store, image: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": image}]}}}}
    store.patch(DEPLOYMENTS, "default", "api", STRATEGIC_PATCH, json.dumps(patch).encode())


def test_errors_are_status_bodies_like_the_real_server(cluster):
    store, _controllers, _clock = cluster
    store.create(DEPLOYMENTS, "default", deployment())
    with pytest.raises(ApiError) as exists:
        store.create(DEPLOYMENTS, "default", deployment())
    assert exists.value.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                     "message": 'deployments.apps "api" already exists', "reason": "AlreadyExists",
                                     "details": {"name": "api", "group": "apps", "kind": "deployments"}, "code": 409}
    with pytest.raises(ApiError) as missing:
        store.get(CONFIGMAPS, "default", "nope")
    assert missing.value.status()["details"] == {"name": "nope", "kind": "configmaps"}
    bad = deployment()
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    bad["metadata"]["name"] = "bad"
    with pytest.raises(ApiError) as invalid:
        store.create(DEPLOYMENTS, "default", bad)
    assert invalid.value.code == 422
    assert invalid.value.status()["details"]["causes"][0]["field"] == "spec.template.metadata.labels"
    with pytest.raises(ApiError) as no_namespace:
        store.create(CONFIGMAPS, "missing", {"metadata": {"name": "c"}})
    assert no_namespace.value.message == 'namespaces "missing" not found'


def test_resource_version_conflict_generation_and_status_subresource(cluster):
    store, _controllers, _clock = cluster
    created = store.create(DEPLOYMENTS, "default", deployment())
    assert created["metadata"]["generation"] == 1 and created["status"] == {}
    stale = copy.deepcopy(created)
    set_image(store, "api:2")
    with pytest.raises(ApiError) as conflict:
        store.update(DEPLOYMENTS, "default", "api", stale)
    assert conflict.value.reason == "Conflict"
    with pytest.raises(ApiError):
        store.patch(DEPLOYMENTS, "default", "api", MERGE_PATCH, b'{"metadata":{"resourceVersion":"%s"}}' % stale["metadata"]["resourceVersion"].encode())
    current = store.get(DEPLOYMENTS, "default", "api")
    assert current["metadata"]["generation"] == 2
    labelled = store.patch(DEPLOYMENTS, "default", "api", JSON_PATCH, b'[{"op":"add","path":"/metadata/labels","value":{"x":"y"}}]')
    assert labelled["metadata"]["generation"] == 2
    ignored = store.patch(DEPLOYMENTS, "default", "api", MERGE_PATCH, b'{"status":{"replicas":5}}')
    assert "replicas" not in ignored["status"]
    status = store.patch(DEPLOYMENTS, "default", "api", MERGE_PATCH, b'{"status":{"replicas":5},"spec":{"replicas":9}}', Write(subresource="status"))
    assert status["status"]["replicas"] == 5 and status["spec"]["replicas"] == 2


def test_dry_run_validates_without_storing(cluster):
    store, _controllers, _clock = cluster
    answer = store.create(CONFIGMAPS, "default", {"metadata": {"name": "c"}}, Write(dry_run=True))
    assert answer["metadata"]["uid"]
    with pytest.raises(ApiError):
        store.get(CONFIGMAPS, "default", "c")


def test_deployment_revisions_follow_the_real_controller(cluster):
    store, controllers, clock = cluster
    store.create(DEPLOYMENTS, "default", deployment())
    run(controllers, clock)
    for image in ("api:2", "api:3"):
        set_image(store, image)
        run(controllers, clock)
    set_image(store, "api:2")
    run(controllers, clock)
    replicasets, _revision = store.list(REPLICASETS, "default")
    by_image = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in replicasets}
    revisions = {image: rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for image, rs in by_image.items()}
    assert revisions == {"api:1": "1", "api:2": "4", "api:3": "3"}
    assert by_image["api:2"]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "2"
    assert {image: rs["spec"]["replicas"] for image, rs in by_image.items()} == {"api:1": 0, "api:2": 2, "api:3": 0}
    assert by_image["api:2"]["metadata"]["labels"]["pod-template-hash"] in by_image["api:2"]["metadata"]["name"]
    status = store.get(DEPLOYMENTS, "default", "api")["status"]
    assert status["observedGeneration"] == 4 and status["updatedReplicas"] == 2 and status["availableReplicas"] == 2
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "NewReplicaSetAvailable")


def test_broken_image_exceeds_the_progress_deadline(cluster):
    store, controllers, clock = cluster
    store.create(DEPLOYMENTS, "default", deployment(deadline=3))
    run(controllers, clock)
    set_image(store, "api:2-broken")
    run(controllers, clock, ticks=2)
    progressing = next(c for c in store.get(DEPLOYMENTS, "default", "api")["status"]["conditions"] if c["type"] == "Progressing")
    assert progressing["status"] == "True"
    run(controllers, clock, ticks=4)
    status = store.get(DEPLOYMENTS, "default", "api")["status"]
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"].endswith("has timed out progressing.")
    assert status["availableReplicas"] == 2


def rollout() -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "2s"}}]}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}}


def rollout_image(store: Store, image: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
    store.patch(ROLLOUTS, "default", "web", MERGE_PATCH, json.dumps(patch).encode())


def test_rollout_canary_steps_pause_promote_and_finish(cluster):
    store, controllers, clock = cluster
    store.create(ROLLOUTS, "default", rollout())
    run(controllers, clock)
    first = store.get(ROLLOUTS, "default", "web")["status"]
    assert (first["phase"], first["currentStepIndex"], first["stableRS"]) == ("Healthy", 4, first["currentPodHash"])
    rollout_image(store, "web:2")
    run(controllers, clock)
    paused = store.get(ROLLOUTS, "default", "web")["status"]
    assert (paused["phase"], paused["message"], paused["currentStepIndex"]) == ("Paused", "CanaryPauseStep", 1)
    assert paused["pauseConditions"][0]["reason"] == "CanaryPauseStep"
    assert paused["canary"]["weights"]["canary"] == {"podTemplateHash": paused["currentPodHash"], "serviceName": "", "weight": 10}
    assert paused["canary"]["weights"]["stable"]["podTemplateHash"] == first["stableRS"]
    store.patch(ROLLOUTS, "default", "web", MERGE_PATCH, b'{"status":{"pauseConditions":null}}', Write(subresource="status"))
    run(controllers, clock, ticks=8)
    done = store.get(ROLLOUTS, "default", "web")["status"]
    assert (done["phase"], done["currentStepIndex"], done["stableRS"]) == ("Healthy", 4, paused["currentPodHash"])
    assert done["canary"]["weights"]["stable"]["weight"] == 100


def test_rollout_abort_then_undo_returns_to_stable(cluster):
    store, controllers, clock = cluster
    store.create(ROLLOUTS, "default", rollout())
    run(controllers, clock)
    stable = store.get(ROLLOUTS, "default", "web")
    rollout_image(store, "web:2")
    run(controllers, clock)
    store.patch(ROLLOUTS, "default", "web", MERGE_PATCH, b'{"status":{"abort":true}}', Write(subresource="status"))
    run(controllers, clock, ticks=2)
    aborted = store.get(ROLLOUTS, "default", "web")["status"]
    assert (aborted["phase"], aborted["message"]) == ("Degraded", "RolloutAborted: Rollout aborted update to revision 2")
    assert aborted["canary"]["weights"]["canary"]["weight"] == 0 and "pauseConditions" not in aborted
    progressing = next(c for c in aborted["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "RolloutAborted")
    store.patch(ROLLOUTS, "default", "web", JSON_PATCH,
                json.dumps([{"op": "replace", "path": "/spec/template", "value": stable["spec"]["template"]}]).encode())
    run(controllers, clock)
    undone = store.get(ROLLOUTS, "default", "web")["status"]
    assert (undone["phase"], undone["currentPodHash"], undone["stableRS"]) == ("Healthy", aborted["stableRS"], aborted["stableRS"])
    assert "abort" not in undone


def test_rollout_promote_full_skips_the_remaining_steps(cluster):
    store, controllers, clock = cluster
    store.create(ROLLOUTS, "default", rollout())
    run(controllers, clock)
    rollout_image(store, "web:2")
    run(controllers, clock)
    store.patch(ROLLOUTS, "default", "web", MERGE_PATCH, b'{"status":{"promoteFull":true}}', Write(subresource="status"))
    run(controllers, clock)
    status = store.get(ROLLOUTS, "default", "web")["status"]
    assert (status["phase"], status["stableRS"]) == ("Healthy", status["currentPodHash"])
    assert "promoteFull" not in status


def test_delete_cascades_to_owned_replicasets(cluster):
    store, controllers, clock = cluster
    store.create(DEPLOYMENTS, "default", deployment())
    run(controllers, clock, ticks=1)
    assert store.list(REPLICASETS, "default")[0]
    answer = store.delete(DEPLOYMENTS, "default", "api")
    assert answer["status"] == "Success" and answer["details"]["kind"] == "deployments"
    assert store.list(REPLICASETS, "default")[0] == []
