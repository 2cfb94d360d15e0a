"""OpenShift Routes on the Kubernetes API test server: discovery, OpenShift's defaults and validation of the backends, the
seeded Route ofm-api and how the seed puts a changed Route back without recreating the namespace."""
from __future__ import annotations

import json

import pytest

from lab.services.kube import resources, seed
from lab.services.kube.controllers import Controllers
from lab.services.kube.errors import ApiError
from lab.services.kube.store import Store

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
ROUTES = resources.find("route.openshift.io", "v1", "routes")


@pytest.fixture(name="cluster")
def fixture_cluster() -> tuple[Store, Controllers]:
    store = Store()
    controllers = Controllers(store)
    assert seed.seed(store, controllers.tick) is True
    return store, controllers


def route(store: Store, name: str = seed.ROUTE) -> dict:
    return store.get(ROUTES, seed.NAMESPACE, name)


def patch(store: Store, body: dict, content_type: str = MERGE, name: str = seed.ROUTE) -> dict:
    return store.patch(ROUTES, seed.NAMESPACE, name, content_type, json.dumps(body).encode())


def test_routes_are_in_discovery_as_a_namespaced_kind_of_route_openshift_io():
    assert {"name": "route.openshift.io", "versions": [{"groupVersion": "route.openshift.io/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "route.openshift.io/v1", "version": "v1"}} in resources.api_group_list()["groups"]
    listed = {entry["name"]: entry for entry in resources.resource_list("route.openshift.io", "v1")["resources"]}
    assert listed["routes"]["kind"] == "Route" and listed["routes"]["namespaced"] is True and "patch" in listed["routes"]["verbs"]
    assert "routes/status" in listed
    assert resources.by_kind("route.openshift.io/v1", "Route") is ROUTES


def test_the_seeded_route_splits_90_10_between_the_stable_and_canary_services(cluster):
    store, _controllers = cluster
    spec = route(store)["spec"]
    assert spec["to"] == {"kind": "Service", "name": "ofm-social-os-api", "weight": 90}
    assert spec["alternateBackends"] == [{"kind": "Service", "name": "ofm-social-os-api-canary", "weight": 10}]
    assert spec["host"] == "api.ofm.social"
    assert seed.route_seeded(store) and seed.is_seeded(store)


def test_backends_get_openshifts_defaults():
    store = Store()
    created = store.create(ROUTES, "default", {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "web"},
                                               "spec": {"to": {"name": "web"}, "alternateBackends": [{"name": "web-b"}]}})
    assert created["spec"] == {"to": {"kind": "Service", "name": "web", "weight": 100},
                               "alternateBackends": [{"kind": "Service", "name": "web-b", "weight": 100}], "wildcardPolicy": "None"}
    assert created["metadata"]["generation"] == 1


@pytest.mark.parametrize("body, field, message", [
    ({"spec": {"to": {"weight": 257}}}, "spec.to.weight", "between 0 and 256"),
    ({"spec": {"alternateBackends": [{"kind": "Service", "name": "c", "weight": -1}]}}, "spec.alternateBackends[0].weight", "between 0 and 256"),
    ({"spec": {"alternateBackends": [{"kind": "Service", "name": f"b{i}", "weight": 1} for i in range(4)]}}, "spec.alternateBackends",
     "more than 3"),
    ({"spec": {"alternateBackends": [{"kind": "Deployment", "name": "c", "weight": 1}]}}, "spec.alternateBackends[0].kind", "Service"),
])
def test_invalid_backends_are_refused_with_openshifts_causes_and_nothing_is_stored(cluster, body, field, message):
    store, _controllers = cluster
    before = route(store)
    with pytest.raises(ApiError) as refused:
        patch(store, body)
    assert refused.value.code == 422
    causes = refused.value.details["causes"]
    assert any(cause["field"] == field and message in cause["message"] for cause in causes), causes
    assert route(store) == before


def test_alternate_backends_are_replaced_whole_by_merge_and_strategic_patches(cluster):
    store, _controllers = cluster
    patched = patch(store, {"spec": {"alternateBackends": [{"name": "other", "weight": 5}]}})
    assert patched["spec"]["alternateBackends"] == [{"kind": "Service", "name": "other", "weight": 5}]
    patched = patch(store, {"spec": {"alternateBackends": [{"kind": "Service", "name": "third", "weight": 7}]}}, STRATEGIC)
    assert patched["spec"]["alternateBackends"] == [{"kind": "Service", "name": "third", "weight": 7}]
    assert patched["metadata"]["generation"] == 3


def test_seed_puts_a_changed_route_back_without_recreating_the_namespace(cluster):
    store, controllers = cluster
    namespace_uid = store.get(seed.NAMESPACES, "", seed.NAMESPACE)["metadata"]["uid"]
    patch(store, {"spec": {"to": {"weight": 0}, "alternateBackends": [{"kind": "Service", "name": seed.CANARY, "weight": 256}]}})
    assert not seed.is_seeded(store)

    assert seed.seed(store, controllers.tick) is True

    assert seed.is_seeded(store)
    assert route(store)["spec"]["to"]["weight"] == 90
    assert store.get(seed.NAMESPACES, "", seed.NAMESPACE)["metadata"]["uid"] == namespace_uid
    assert seed.seed(store, controllers.tick) is False


def test_seed_creates_a_deleted_route_again(cluster):
    store, controllers = cluster
    store.delete(ROUTES, seed.NAMESPACE, seed.ROUTE)
    assert seed.seed(store, controllers.tick) is True
    assert seed.route_seeded(store)
