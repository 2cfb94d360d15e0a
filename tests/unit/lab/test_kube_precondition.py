"""The Kubernetes API test server refuses a patch made against a stale read as the real server does (409 Conflict for a stale
resourceVersion the patch sets, whatever the patch type; 422 for a failed JSON patch ``test`` op), and its ``/__lab/races``
hook lands a write right after a client's read is answered."""
from __future__ import annotations

import json

import pytest

from lab.services.kube import resources
from lab.services.kube.controllers import Controllers
from lab.services.kube.errors import ApiError
from lab.services.kube.store import JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, Store, Write
from lab.services.kube_apiserver import KubeApi

DEPLOYMENTS = resources.find("apps", "v1", "deployments")
WEB = "/apis/apps/v1/namespaces/default/deployments/web"


def deployment(image: str = "api:1") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}}}


def image_patch(image: str) -> dict:
    return {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}


def undo_patch(version: str, image: str) -> bytes:
    template = deployment(image)["spec"]["template"]
    return json.dumps([{"op": "replace", "path": "/metadata/resourceVersion", "value": version},
                       {"op": "replace", "path": "/spec/template", "value": template}]).encode()


def image_of(obj: dict) -> str:
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.fixture(name="store")
def fixture_store() -> Store:
    store = Store()
    store.create(DEPLOYMENTS, "default", deployment())
    return store


def test_a_json_patch_setting_a_stale_resource_version_is_a_conflict_and_changes_nothing(store: Store):
    read = store.get(DEPLOYMENTS, "default", "web")["metadata"]["resourceVersion"]
    store.patch(DEPLOYMENTS, "default", "web", STRATEGIC_PATCH, json.dumps(image_patch("api:2")).encode())  # a deploy lands
    for write in (Write(), Write(dry_run=True)):
        with pytest.raises(ApiError) as conflict:
            store.patch(DEPLOYMENTS, "default", "web", JSON_PATCH, undo_patch(read, "api:0"), write)
        assert (conflict.value.code, conflict.value.reason) == (409, "Conflict")
        assert conflict.value.message.startswith('Operation cannot be fulfilled on deployments.apps "web": the object has been modified')
    assert image_of(store.get(DEPLOYMENTS, "default", "web")) == "api:2"


def test_a_json_patch_setting_the_current_resource_version_goes_through(store: Store):
    current = store.get(DEPLOYMENTS, "default", "web")["metadata"]["resourceVersion"]
    patched = store.patch(DEPLOYMENTS, "default", "web", JSON_PATCH, undo_patch(current, "api:0"))
    assert image_of(patched) == "api:0" and int(patched["metadata"]["resourceVersion"]) > int(current)


def test_a_stale_resource_version_in_a_merge_patch_is_a_conflict(store: Store):
    read = store.get(DEPLOYMENTS, "default", "web")["metadata"]["resourceVersion"]
    store.patch(DEPLOYMENTS, "default", "web", STRATEGIC_PATCH, json.dumps(image_patch("api:2")).encode())
    with pytest.raises(ApiError) as conflict:
        store.patch(DEPLOYMENTS, "default", "web", MERGE_PATCH, json.dumps({"metadata": {"resourceVersion": read}, **image_patch("api:0")}).encode())
    assert conflict.value.code == 409


def test_a_failed_json_patch_test_of_the_resource_version_is_invalid(store: Store):
    read = store.get(DEPLOYMENTS, "default", "web")["metadata"]["resourceVersion"]
    store.patch(DEPLOYMENTS, "default", "web", STRATEGIC_PATCH, json.dumps(image_patch("api:2")).encode())
    body = [{"op": "test", "path": "/metadata/resourceVersion", "value": read}, {"op": "replace", "path": "/spec/replicas", "value": 5}]
    with pytest.raises(ApiError) as invalid:
        store.patch(DEPLOYMENTS, "default", "web", JSON_PATCH, json.dumps(body).encode())
    assert (invalid.value.code, invalid.value.reason) == (422, "Invalid")
    assert store.get(DEPLOYMENTS, "default", "web")["spec"]["replicas"] == 1


def api_with_web() -> KubeApi:
    store = Store()
    api = KubeApi(store, Controllers(store))
    assert api.handle("POST", "/apis/apps/v1/namespaces/default/deployments", {}, {}, json.dumps(deployment()).encode()).status == 201
    return api


def arm(api: KubeApi, race: dict) -> dict:
    answer = api.handle("PUT", "/__lab/races", {}, {}, json.dumps(race).encode())
    assert answer.status == 200, answer.body
    return answer.body


def test_a_race_lands_a_deploy_after_the_read_so_the_patch_from_that_read_gets_409():
    api = api_with_web()
    arm(api, {"path": WEB, "writes": [image_patch("api:2")]})
    read = api.handle("GET", WEB, {}, {}, b"")
    assert read.status == 200 and image_of(read.body) == "api:1"  # the client reads the object as it was
    refused = api.handle("PATCH", WEB, {}, {"Content-Type": JSON_PATCH}, undo_patch(read.body["metadata"]["resourceVersion"], "api:0"))
    assert refused.status == 409 and refused.body["reason"] == "Conflict"
    again = api.handle("GET", WEB, {}, {}, b"")
    assert image_of(again.body) == "api:2"  # the race is used up: this read sees the deploy and lands nothing more
    state = api.handle("GET", "/__lab/races", {}, {}, b"").body
    assert state["races"] == [] and [landed["resourceVersion"] for landed in state["landed"]] == [again.body["metadata"]["resourceVersion"]]
    accepted = api.handle("PATCH", WEB, {}, {"Content-Type": JSON_PATCH}, undo_patch(again.body["metadata"]["resourceVersion"], "api:0"))
    assert accepted.status == 200 and image_of(accepted.body) == "api:0"


def test_races_land_one_write_per_matching_request_and_only_after_those():
    api = api_with_web()
    arm(api, {"path": WEB + "/", "writes": [image_patch("api:2"), image_patch("api:3")], "verbs": ["get"]})
    api.handle("GET", "/apis/apps/v1/namespaces/default/deployments", {}, {}, b"")  # a list is no get of the object
    assert image_of(api.handle("GET", WEB, {}, {}, b"").body) == "api:1"
    assert image_of(api.handle("GET", WEB, {}, {}, b"").body) == "api:2"
    assert image_of(api.handle("GET", WEB, {}, {}, b"").body) == "api:3"
    assert len(api.handle("DELETE", "/__lab/races", {}, {}, b"").body["landed"]) == 0


def test_a_race_after_another_request_lands_on_its_path_after_that_request_only():
    api = api_with_web()
    arm(api, {"path": WEB, "writes": [image_patch("api:2")], "verbs": ["list"], "after": "/apis/apps/v1/namespaces/default/replicasets"})
    assert image_of(api.handle("GET", WEB, {}, {}, b"").body) == "api:1"  # a get of the object itself lands nothing
    assert api.handle("GET", "/apis/apps/v1/namespaces/default/replicasets", {}, {}, b"").status == 200
    assert image_of(api.handle("GET", WEB, {}, {}, b"").body) == "api:2"
    landed = api.handle("GET", "/__lab/races", {}, {}, b"").body["landed"]
    assert [entry["after"] for entry in landed] == ["list /apis/apps/v1/namespaces/default/replicasets"]


@pytest.mark.parametrize("race, problem", [
    ({"path": "/apis/apps/v1/namespaces/default/deployments", "writes": [{}]}, "'path' must name one object"),
    ({"path": WEB, "writes": [{}], "after": "/not/a/resource"}, "'after' must be a resource path"),
    ({"path": WEB, "writes": []}, "'writes' must be a non-empty list"),
    ({"path": WEB, "writes": [{}], "content_type": "text/plain"}, "'content_type' must be one of"),
])
def test_a_bad_race_is_refused(race: dict, problem: str):
    answer = api_with_web().handle("PUT", "/__lab/races", {}, {}, json.dumps(race).encode())
    assert answer.status == 400 and problem in answer.body["message"]


def test_a_json_patch_test_of_the_generation_survives_status_writes_and_fails_422_after_a_deploy(store: Store):
    read = store.get(DEPLOYMENTS, "default", "web")["metadata"]["generation"]
    store.patch(DEPLOYMENTS, "default", "web", MERGE_PATCH, b'{"status":{"replicas":1}}', Write(subresource="status"))
    store.patch(DEPLOYMENTS, "default", "web", MERGE_PATCH, b'{"metadata":{"annotations":{"deployment.kubernetes.io/revision":"1"}}}')
    body = [{"op": "test", "path": "/metadata/generation", "value": read}, {"op": "replace", "path": "/spec/replicas", "value": 2}]
    assert store.patch(DEPLOYMENTS, "default", "web", JSON_PATCH, json.dumps(body).encode())["spec"]["replicas"] == 2
    with pytest.raises(ApiError) as invalid:  # the patch just made bumped the generation: the same precondition now fails
        store.patch(DEPLOYMENTS, "default", "web", JSON_PATCH, json.dumps(body[:1] + [{"op": "replace", "path": "/spec/replicas", "value": 3}]).encode())
    assert invalid.value.code == 422 and "testing value /metadata/generation failed" in invalid.value.message
    assert store.get(DEPLOYMENTS, "default", "web")["spec"]["replicas"] == 2
