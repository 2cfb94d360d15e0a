"""The lab's OFM objects in the Kubernetes API test server, Argo's nginx traffic routing, and the ingress-nginx stand-in."""
from __future__ import annotations

import copy
from typing import Any, Optional

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import ServerWeight

from lab.services.ingress_controller import IngressSync, KubeReadError
from lab.services.kube import seed
from lab.services.kube.controllers import Controllers
from lab.services.kube.errors import ApiError
from lab.services.kube.store import Store, Write
from lab.services.kube.workloads import DEPLOYMENTS, REPLICASETS, REVISION, ROLLOUT_REVISION, ROLLOUTS
from lab.services.ops_api import CanaryOps

WEIGHT = seed.WEIGHT_ANNOTATION


@pytest.fixture(name="cluster")
def fixture_cluster() -> tuple[Store, Controllers]:
    store = Store()
    controllers = Controllers(store)
    assert seed.seed(store, controllers.tick) is True
    return store, controllers


def annotation(store: Store) -> str:
    return store.get(seed.INGRESSES, seed.NAMESPACE, seed.CANARY_INGRESS)["metadata"]["annotations"][WEIGHT]


def rollout_status(store: Store) -> dict[str, Any]:
    return store.get(ROLLOUTS, seed.NAMESPACE, seed.ROLLOUT)["status"]


def abort(store: Store, controllers: Controllers) -> None:
    current = store.get(ROLLOUTS, seed.NAMESPACE, seed.ROLLOUT)
    current["status"]["abort"] = True
    store.update(ROLLOUTS, seed.NAMESPACE, seed.ROLLOUT, current, Write(subresource="status"))
    for _unused in range(3):
        controllers.tick()


def test_seed_holds_the_canary_at_weight_10_and_is_idempotent(cluster):
    store, controllers = cluster
    status = rollout_status(store)
    assert status["phase"] == "Paused" and status["canary"]["weights"]["canary"]["weight"] == 10
    assert status["stableRS"] != status["currentPodHash"]
    assert annotation(store) == "10"
    assert store.get(DEPLOYMENTS, seed.NAMESPACE, seed.CANARY)["spec"]["replicas"] == 1
    assert seed.is_seeded(store)
    assert seed.seed(store, controllers.tick) is False


def test_abort_writes_weight_0_into_the_canary_ingress_and_seed_restores_10(cluster):
    store, controllers = cluster
    abort(store, controllers)
    assert rollout_status(store)["phase"] == "Degraded"
    assert annotation(store) == "0"
    assert not seed.is_seeded(store)
    assert seed.seed(store, controllers.tick) is True
    assert annotation(store) == "10" and seed.is_seeded(store)


def history(store: Store, owner: dict[str, Any], key: str) -> list[tuple[int, str]]:
    """(revision, image) of the owner's ReplicaSets, oldest first."""
    owned = store.owned_by(owner, REPLICASETS)
    return sorted((int(rs["metadata"]["annotations"][key]), rs["spec"]["template"]["spec"]["containers"][0]["image"]) for rs in owned)


def test_seed_gives_the_api_deployment_and_the_rollout_a_bad_release_to_roll_back_from(cluster):
    store, controllers = cluster
    api = store.get(DEPLOYMENTS, seed.NAMESPACE, seed.STABLE)
    assert history(store, api, REVISION) == [(1, seed.STABLE_IMAGE), (2, seed.CANARY_IMAGE)]
    assert api["metadata"]["annotations"][REVISION] == "2"
    assert api["metadata"]["annotations"][seed.CHANGE_CAUSE] == "deploy 2.4.0 (the bad release)"
    assert api["status"]["availableReplicas"] == 3
    assert history(store, store.get(ROLLOUTS, seed.NAMESPACE, seed.ROLLOUT), ROLLOUT_REVISION) == [(1, seed.STABLE_IMAGE), (2, seed.CANARY_IMAGE)]

    # kubectl rollout undo: the template of revision 1 again, which the controller renumbers 3; the seed brings back the bad release.
    api["spec"]["template"]["spec"]["containers"][0]["image"] = seed.STABLE_IMAGE
    store.update(DEPLOYMENTS, seed.NAMESPACE, seed.STABLE, api)
    controllers.tick()
    assert store.get(DEPLOYMENTS, seed.NAMESPACE, seed.STABLE)["metadata"]["annotations"][REVISION] == "3"
    assert not seed.is_seeded(store)
    assert seed.seed(store, controllers.tick) is True
    assert seed.is_seeded(store)
    restored = store.get(DEPLOYMENTS, seed.NAMESPACE, seed.STABLE)
    assert history(store, restored, REVISION) == [(1, seed.STABLE_IMAGE), (2, seed.CANARY_IMAGE)]


def test_a_rollout_without_nginx_routing_leaves_the_ingress_alone(cluster):
    store, controllers = cluster
    current = store.get(ROLLOUTS, seed.NAMESPACE, seed.ROLLOUT)
    del current["spec"]["strategy"]["canary"]["trafficRouting"]
    store.update(ROLLOUTS, seed.NAMESPACE, seed.ROLLOUT, current)
    abort(store, controllers)
    assert rollout_status(store)["phase"] == "Degraded"
    assert annotation(store) == "10"


class FakeRuntime:
    """HAProxy's runtime API, in memory."""

    def __init__(self, canary: int = 10) -> None:
        self.weights = {"stable": 100 - canary, "canary": canary}
        self.sets = 0

    def get_weight(self, _backend: str, server: str) -> ServerWeight:
        return ServerWeight(self.weights[server], self.weights[server])

    def set_weight(self, _backend: str, server: str, weight: int) -> None:
        self.sets += 1
        self.weights[server] = weight


class StoreReader:
    """The ingress stand-in's reader, answering from a Store instead of HTTP."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.down = False

    def get(self, path: str) -> Optional[dict[str, Any]]:
        if self.down:
            raise KubeReadError(f"GET {path}: connection refused")
        kind = seed.INGRESSES if "/ingresses/" in path else DEPLOYMENTS
        try:
            return copy.deepcopy(self.store.get(kind, seed.NAMESPACE, path.rsplit("/", 1)[1]))
        except ApiError:
            return None


@pytest.fixture(name="ingress")
def fixture_ingress(cluster) -> tuple[IngressSync, FakeRuntime, StoreReader]:
    store, _controllers = cluster
    runtime = FakeRuntime()
    reader = StoreReader(store)
    return IngressSync(reader, CanaryOps(runtime, "ofm_api", "stable", "canary", [100]), seed.NAMESPACE, seed.CANARY_INGRESS, seed.CANARY), runtime, reader


def test_ingress_stand_in_applies_kubernetes_changes_only(cluster, ingress):
    store, controllers = cluster
    sync, runtime, _reader = ingress
    assert sync.sync() == 10 and sync.applied == 10
    runtime.weights = {"stable": 100, "canary": 0}  # the ops API stand-in's rollback, which Kubernetes does not see
    assert sync.sync() == 10
    assert runtime.weights["canary"] == 0, "an unchanged Ingress must not undo a weight set elsewhere"
    abort(store, controllers)
    runtime.weights = {"stable": 90, "canary": 10}
    assert sync.sync() == 0
    assert runtime.weights == {"stable": 100, "canary": 0}


def test_ingress_stand_in_sends_nothing_to_a_canary_without_replicas(cluster, ingress):
    store, _controllers = cluster
    sync, runtime, _reader = ingress
    sync.sync()
    scale = store.get(DEPLOYMENTS, seed.NAMESPACE, seed.CANARY)
    scale["spec"]["replicas"] = 0
    store.update(DEPLOYMENTS, seed.NAMESPACE, seed.CANARY, scale)
    assert sync.sync() == 0 and runtime.weights == {"stable": 100, "canary": 0}


def test_ingress_stand_in_changes_nothing_when_kubernetes_is_down_or_the_ingress_missing(cluster, ingress):
    store, _controllers = cluster
    sync, runtime, reader = ingress
    reader.down = True
    assert sync.sync() is None and "connection refused" in sync.state()["last_error"]
    reader.down = False
    store.delete(seed.INGRESSES, seed.NAMESPACE, seed.CANARY_INGRESS)
    assert sync.sync() is None
    assert runtime.sets == 0 and runtime.weights == {"stable": 90, "canary": 10}


def test_forced_sync_puts_haproxy_back_on_the_kubernetes_weight(ingress):
    sync, runtime, _reader = ingress
    sync.sync()
    runtime.weights = {"stable": 100, "canary": 0}
    assert sync.sync(force=True) == 10
    assert runtime.weights == {"stable": 90, "canary": 10}
