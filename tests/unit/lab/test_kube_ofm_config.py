"""The OFM API's configuration in the lab's Kubernetes objects: the ConfigMap, the Secret and the container env of every
revision of both API Deployments, and how the seed puts a changed configuration back."""
from __future__ import annotations

import base64
from typing import Any

import pytest

from lab import flags
from lab.services.kube import seed
from lab.services.kube.controllers import Controllers
from lab.services.kube.store import Store
from lab.services.kube.workloads import DEPLOYMENTS, REPLICASETS, REVISION

SECRETS = {"TIKTOK_API_KEY": "tk-unit-1", "META_APP_SECRET": "meta-unit-2", "INSTAGRAM_API_KEY": "ig-unit-3"}
ENV = [{"name": "NODE_ENV", "value": "production"},
       {"name": "FEATURE_FLAGS", "value": "platform_instagram=true,platform_tiktok=true,platform_reddit=true,platform_x=true,publish_v2=false"},
       {"name": "TIKTOK_API_KEY", "valueFrom": {"secretKeyRef": {"name": "ofm-social-os-secrets", "key": "TIKTOK_API_KEY"}}}]
ENV_FROM = [{"configMapRef": {"name": "ofm-social-os-config"}}]


@pytest.fixture(name="cluster")
def fixture_cluster() -> tuple[Store, Controllers]:
    store = Store()
    controllers = Controllers(store)
    assert seed.seed(store, controllers.tick, SECRETS) is True
    return store, controllers


def get(store: Store, resource: Any, name: str) -> dict[str, Any]:
    return store.get(resource, seed.NAMESPACE, name)


def api_container(obj: dict[str, Any]) -> dict[str, Any]:
    [container] = obj["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "api"
    return container


def revisions(store: Store, name: str) -> dict[int, dict[str, Any]]:
    owned = store.owned_by(get(store, DEPLOYMENTS, name), REPLICASETS)
    return {int(rs["metadata"]["annotations"][REVISION]): rs for rs in owned}


def test_the_configmap_and_the_secret_hold_exactly_the_seeded_values(cluster):
    store, _controllers = cluster
    assert get(store, seed.CONFIGMAPS, "ofm-social-os-config")["data"] == {
        "LOG_LEVEL": "info", "PUBLISH_TIMEOUT_MS": "30000", "WEBHOOK_URL_TIKTOK": "https://hooks.ofm.social/tiktok",
        "WEBHOOK_URL_META": "https://hooks.ofm.social/meta"}
    secret = get(store, seed.SECRETS, "ofm-social-os-secrets")
    assert secret["type"] == "Opaque"
    assert {key: base64.b64decode(value).decode() for key, value in secret["data"].items()} == SECRETS


def test_every_revision_of_both_api_deployments_reads_the_configuration(cluster):
    store, _controllers = cluster
    assert ENV[1]["value"] == flags.render(flags.FLAGS)
    for name, count in ((seed.STABLE, 2), (seed.CANARY, 1)):
        templates = [get(store, DEPLOYMENTS, name)] + list(revisions(store, name).values())
        assert len(templates) == count + 1, name
        for obj in templates:
            container = api_container(obj)
            assert container["env"] == ENV and container["envFrom"] == ENV_FROM, f"{name} {obj['kind']}"
    assert sorted(revisions(store, seed.STABLE)) == [1, 2]


def test_other_secret_values_are_not_the_seeded_state(cluster):
    store, _controllers = cluster
    assert seed.is_seeded(store, SECRETS)
    assert not seed.is_seeded(store, {**SECRETS, "META_APP_SECRET": "rotated"})
    assert not seed.is_seeded(store), "the placeholders are other values"


def change_configuration(store: Store, controllers: Controllers) -> None:
    """What `lab config bad` does, and a rotated key and a key added to the ConfigMap."""
    config = get(store, seed.CONFIGMAPS, "ofm-social-os-config")
    config["data"].update(WEBHOOK_URL_TIKTOK="https://wrong.example/tiktok", EXTRA="1")
    store.update(seed.CONFIGMAPS, seed.NAMESPACE, "ofm-social-os-config", config)
    secret = get(store, seed.SECRETS, "ofm-social-os-secrets")
    secret["data"]["TIKTOK_API_KEY"] = base64.b64encode(b"rotated").decode()
    store.update(seed.SECRETS, seed.NAMESPACE, "ofm-social-os-secrets", secret)
    canary = get(store, DEPLOYMENTS, seed.CANARY)
    api_container(canary)["env"][1]["value"] = flags.render({**flags.FLAGS, "publish_v2": True})
    store.update(DEPLOYMENTS, seed.NAMESPACE, seed.CANARY, canary)
    for _unused in range(3):
        controllers.tick()


def test_a_changed_configuration_is_put_back_without_touching_the_workloads(cluster):
    store, controllers = cluster
    namespace_uid = store.get(seed.NAMESPACES, "", seed.NAMESPACE)["metadata"]["uid"]
    stable_before = get(store, DEPLOYMENTS, seed.STABLE)
    change_configuration(store, controllers)
    assert sorted(revisions(store, seed.CANARY)) == [1, 2]
    assert not seed.config_seeded(store, SECRETS) and not seed.is_seeded(store, SECRETS)

    assert seed.seed(store, controllers.tick, SECRETS) is True
    assert seed.is_seeded(store, SECRETS)
    assert store.get(seed.NAMESPACES, "", seed.NAMESPACE)["metadata"]["uid"] == namespace_uid, "the namespace was recreated"
    assert get(store, DEPLOYMENTS, seed.STABLE)["metadata"]["resourceVersion"] == stable_before["metadata"]["resourceVersion"]
    assert "EXTRA" not in get(store, seed.CONFIGMAPS, "ofm-social-os-config")["data"]
    # The canary's seeded template again: the controller takes its first ReplicaSet back as revision 3.
    assert sorted(revisions(store, seed.CANARY)) == [2, 3] and api_container(get(store, DEPLOYMENTS, seed.CANARY))["env"] == ENV
    assert seed.seed(store, controllers.tick, SECRETS) is False


def test_seed_config_leaves_a_rolled_back_api_deployment_alone(cluster):
    store, controllers = cluster
    api = get(store, DEPLOYMENTS, seed.STABLE)
    api_container(api)["image"] = seed.STABLE_IMAGE  # the planned rollback's kubectl method
    store.update(DEPLOYMENTS, seed.NAMESPACE, seed.STABLE, api)
    change_configuration(store, controllers)
    assert seed.seed_config(store, controllers.tick, SECRETS) is True
    assert seed.config_seeded(store, SECRETS) and not seed.is_seeded(store, SECRETS)
    assert api_container(get(store, DEPLOYMENTS, seed.STABLE))["image"] == seed.STABLE_IMAGE
    assert seed.seed_config(store, controllers.tick, SECRETS) is False


def test_a_changed_stable_env_is_a_new_revision_and_the_seed_brings_the_history_back(cluster):
    store, controllers = cluster
    api = get(store, DEPLOYMENTS, seed.STABLE)
    api_container(api)["env"] = [entry for entry in ENV if entry["name"] != "NODE_ENV"]
    store.update(DEPLOYMENTS, seed.NAMESPACE, seed.STABLE, api)
    controllers.tick()
    assert sorted(revisions(store, seed.STABLE)) == [1, 2, 3] and not seed.is_seeded(store, SECRETS)
    assert seed.seed(store, controllers.tick, SECRETS) is True
    assert seed.is_seeded(store, SECRETS) and sorted(revisions(store, seed.STABLE)) == [1, 2]
    assert all(api_container(rs)["env"] == ENV for rs in revisions(store, seed.STABLE).values())
