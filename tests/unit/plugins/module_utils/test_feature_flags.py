# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kill switch's logic (module_utils/feature_flags.py): provider ofm against the Kubernetes API test server (a process of
this module's own) and a real redis-server; provider unleash against the fake Unleash admin API."""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis
from kubelab import kube_apiserver
from kubernetes import config as kube_config
from kubernetes.dynamic import DynamicClient
from unithelpers import UNLEASH_TOKEN, FakeUnleash, RedisServer

from ansible_collections.ofm.rollback.plugins.module_utils import feature_flags
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError, DataError, InputError, NotFoundError, OfmRollbackError)
from ansible_collections.ofm.rollback.plugins.module_utils.feature_flags import (
    FlagSwitch, UnleashSwitch, failure, run_switch, switch_from_params)
from ansible_collections.ofm.rollback.plugins.module_utils.flags import RedisFlagCache
from ansible_collections.ofm.rollback.plugins.module_utils.kube import Kube
from ansible_collections.ofm.rollback.plugins.module_utils.unleash import UnleashClient

FLAGS = "platform_instagram=true,platform_tiktok=true,publish_v2=true"
API, CANARY = "ofm-social-os-api", "ofm-social-os-api-canary"
_namespaces = itertools.count(1)


def deployment(name: str, flags: str, *, value_from: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": "FEATURE_FLAGS", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "all"}}} if value_from else \
        {"name": "FEATURE_FLAGS", "value": flags}
    env = [{"name": "NODE_ENV", "value": "production"}, entry, {"name": "LOG_LEVEL", "value": "info"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "sidecar", "image": "envoy:1"}, {"name": "api", "image": "ofm/api:1", "env": env}]}}}}


class Cluster:
    """The test server seen from one fresh namespace: create Deployments, read their FEATURE_FLAGS and resourceVersion."""

    def __init__(self, kubeconfig: Path, client: DynamicClient) -> None:
        self.kubeconfig = kubeconfig
        self.client = client
        self.namespace = f"flags-{next(_namespaces)}"
        client.resources.get(api_version="v1", kind="Namespace").create(body={"metadata": {"name": self.namespace}})
        self.deployments = client.resources.get(api_version="apps/v1", kind="Deployment")

    def create(self, name: str, flags: str = FLAGS, **kwargs: Any) -> None:
        self.deployments.create(body=deployment(name, flags, **kwargs), namespace=self.namespace)

    def get(self, name: str) -> dict[str, Any]:
        return self.deployments.get(name=name, namespace=self.namespace).to_dict()

    def env(self, name: str) -> list[dict[str, Any]]:
        return self.get(name)["spec"]["template"]["spec"]["containers"][1]["env"]

    def flags(self, name: str) -> str:
        return next(entry["value"] for entry in self.env(name) if entry["name"] == "FEATURE_FLAGS")

    def versions(self) -> dict[str, int]:
        """Each Deployment's ``metadata.generation``: it moves with every spec change, and only then (the controller's status
        writes move the resourceVersion too)."""
        return {name: self.get(name)["metadata"]["generation"] for name in (API, CANARY)}


@pytest.fixture(scope="module", name="kube_server")
def fixture_kube_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DynamicClient]]:
    with kube_apiserver(tmp_path_factory.mktemp("kube")) as (_url, kubeconfig):
        yield kubeconfig, DynamicClient(kube_config.new_client_from_config(str(kubeconfig)))


@pytest.fixture(name="cluster")
def fixture_cluster(kube_server: tuple[Path, DynamicClient]) -> Cluster:
    """A fresh namespace holding both Deployments with ``FLAGS``."""
    cluster = Cluster(*kube_server)
    cluster.create(API)
    cluster.create(CANARY)
    return cluster


def raw(server: RedisServer) -> redis.Redis:
    return redis.Redis(port=server.port, password=server.password, decode_responses=True)


def switch(cluster: Cluster, server: RedisServer, **options: Any) -> FlagSwitch:
    cache = RedisFlagCache.from_params({"redis_url": server.url, "redis_password": server.password, **options.pop("redis", {})})
    return FlagSwitch(Kube.from_params({"kubeconfig": str(cluster.kubeconfig)}), cache, namespace=cluster.namespace, **options)


def run(cluster: Cluster, server: RedisServer, names: list[str], state: str = "disabled", check_mode: bool = False,
        create_missing: bool = False, **options: Any) -> dict[str, Any]:
    return run_switch(switch(cluster, server, **options), names, state, create_missing=create_missing, check_mode=check_mode)


def test_disabling_patches_only_feature_flags_of_each_deployment_then_the_cache(cluster, redis_server):
    raw(redis_server).set("feature_flags:publish_v2", "true", px=100000)
    result = run(cluster, redis_server, ["publish_v2"], cache_ttl=60)
    assert result["changed"] is True and result["previous"] == {"publish_v2": True}
    for name in (API, CANARY):
        assert cluster.env(name) == [{"name": "NODE_ENV", "value": "production"},
                                     {"name": "FEATURE_FLAGS", "value": "platform_instagram=true,platform_tiktok=true,publish_v2=false"},
                                     {"name": "LOG_LEVEL", "value": "info"}]
    cached = raw(redis_server)
    assert cached.get("feature_flags:publish_v2") == "false" and 55000 < cached.pttl("feature_flags:publish_v2") <= 60000
    assert result["applied"] == [f"Deployment {cluster.namespace}/{API}", f"Deployment {cluster.namespace}/{CANARY}",
                                 "Redis cache (feature_flags:publish_v2)"]
    flag = result["flags"][0]
    assert flag["before"] == {f"deployment/{API}": True, f"deployment/{CANARY}": True, "redis": True}
    assert flag["after"] == {f"deployment/{API}": False, f"deployment/{CANARY}": False, "redis": False}
    assert result["diff"] == {"before": {"publish_v2": flag["before"]}, "after": {"publish_v2": flag["after"]}}
    assert result["cache"]["before"]["feature_flags:publish_v2"]["value"] == "true" and result["cache"]["written"] == ["feature_flags:publish_v2"]
    assert "would come back" in result["cache"]["note"]


def test_a_second_run_changes_nothing_and_sends_no_write(cluster, redis_server):
    run(cluster, redis_server, ["publish_v2", "platform_tiktok"])
    versions, ttl = cluster.versions(), raw(redis_server).pttl("feature_flags:publish_v2")
    again = switch(cluster, redis_server)
    result = run_switch(again, ["publish_v2", "platform_tiktok"], "disabled", create_missing=False, check_mode=False)
    assert result["changed"] is False and result["applied"] == [] and result["previous"] == {"publish_v2": False, "platform_tiktok": False}
    assert cluster.versions() == versions and raw(redis_server).pttl("feature_flags:publish_v2") <= ttl
    assert again.cache.round_trips == 1  # one read pipeline, no write
    assert result["msg"] == f"All 2 flag(s) already disabled in {again.source}: nothing to change."


def test_check_mode_reports_the_change_and_touches_nothing(cluster, redis_server):
    raw(redis_server).set("feature_flags:platform_tiktok", "true", px=100000)
    versions = cluster.versions()
    result = run(cluster, redis_server, ["platform_tiktok"], check_mode=True)
    assert result["changed"] is True and result["applied"] == [] and "would be disabled" in result["msg"]
    assert cluster.versions() == versions and cluster.flags(API) == FLAGS
    assert raw(redis_server).get("feature_flags:platform_tiktok") == "true" and raw(redis_server).pttl("feature_flags:platform_tiktok") > 90000


def test_enabling_undoes_a_kill_switch_from_its_previous_states(cluster, redis_server):
    killed = run(cluster, redis_server, ["publish_v2", "platform_tiktok"])
    back = [name for name, state in killed["previous"].items() if state]
    run(cluster, redis_server, back, state="enabled")
    assert cluster.flags(API) == FLAGS == cluster.flags(CANARY)
    assert raw(redis_server).get("feature_flags:publish_v2") == "true"


def test_an_unknown_flag_fails_before_anything_changes_listing_the_known_ones(cluster, redis_server):
    versions = cluster.versions()
    with pytest.raises(InputError) as caught:
        run(cluster, redis_server, ["publish_v2", "publish_v3"])
    assert caught.value.option == "names" and caught.value.accepted == ["platform_instagram", "platform_tiktok", "publish_v2"]
    assert "publish_v3" in str(caught.value) and "create_missing=true" in caught.value.hint
    assert failure(None, caught.value)["msg"].endswith("Nothing was changed.")
    assert cluster.versions() == versions and raw(redis_server).keys("*") == []


def test_a_flag_only_in_the_cache_exists_and_is_added_to_the_source_of_truth(cluster, redis_server):
    raw(redis_server).set("feature_flags:platform_x", "true", px=100000)
    result = run(cluster, redis_server, ["platform_x"])
    assert result["previous"] == {"platform_x": True}
    assert cluster.flags(API) == FLAGS + ",platform_x=false" == cluster.flags(CANARY)


def test_a_flag_one_deployment_lacks_is_added_to_it(kube_server, redis_server):
    cluster = Cluster(*kube_server)
    cluster.create(API, "publish_v2=true")
    cluster.create(CANARY, "platform_x=true")
    result = run(cluster, redis_server, ["platform_x"])
    assert result["flags"][0]["before"] == {f"deployment/{API}": None, f"deployment/{CANARY}": True, "redis": None}
    assert result["previous"] == {"platform_x": True} and result["warnings"] == []
    assert (cluster.flags(API), cluster.flags(CANARY)) == ("publish_v2=true,platform_x=false", "platform_x=false")


def test_deployments_that_differed_are_warned_about(kube_server, redis_server):
    cluster = Cluster(*kube_server)
    cluster.create(API, "publish_v2=false")
    cluster.create(CANARY, "publish_v2=true")
    result = run(cluster, redis_server, ["publish_v2"])
    assert result["previous"] == {"publish_v2": False}
    assert result["warnings"] == [f"publish_v2 differed between the Deployments before ({API}=false, {CANARY}=true); previous shows the "
                                  "first, flags[].before each one."]


def test_create_missing_adds_a_new_flag_everywhere(cluster, redis_server):
    result = run(cluster, redis_server, ["brand_new"], state="disabled", create_missing=True)
    assert result["previous"] == {"brand_new": None}
    assert cluster.flags(CANARY) == FLAGS + ",brand_new=false" and raw(redis_server).get("feature_flags:brand_new") == "false"


@pytest.mark.parametrize("kwargs, error, said", [
    ({"flags": "publish_v2=maybe"}, DataError, "has the value 'maybe'"),
    ({"value_from": True}, DataError, "comes from valueFrom"),
])
def test_a_canary_whose_feature_flags_cannot_be_changed_fails_before_anything_changes(kube_server, redis_server, kwargs, error, said):
    cluster = Cluster(*kube_server)
    cluster.create(API)
    cluster.create(CANARY, **{"flags": FLAGS, **kwargs})
    generation = cluster.get(API)["metadata"]["generation"]
    with pytest.raises(error) as caught:
        run(cluster, redis_server, ["publish_v2"])
    assert said in str(caught.value) and CANARY in str(caught.value)
    assert cluster.get(API)["metadata"]["generation"] == generation


def test_a_missing_deployment_names_the_option(cluster, redis_server):
    versions = cluster.versions()
    with pytest.raises(NotFoundError) as caught:
        run(cluster, redis_server, ["publish_v2"], deployments=[API, "ofm-social-os-api-blue"])
    assert "deployments" in caught.value.hint and "ofm-social-os-api-blue" in caught.value.hint
    assert cluster.versions() == versions


def test_a_deployment_without_the_api_container_names_it(kube_server, redis_server):
    cluster = Cluster(*kube_server)
    body = deployment(API, FLAGS)
    body["spec"]["template"]["spec"]["containers"][1]["name"] = "web"
    cluster.deployments.create(body=body, namespace=cluster.namespace)
    with pytest.raises(NotFoundError) as caught:
        run(cluster, redis_server, ["publish_v2"], deployments=[API])
    assert "has no container 'api'" in str(caught.value) and "'web'" in str(caught.value)


def test_a_write_landing_between_read_and_patch_is_kept(cluster, redis_server):
    kill = switch(cluster, redis_server)
    plan = kill.plan(["publish_v2"], False, False)
    # a deploy adds a flag after the read: the conditional patch is refused, read again and made again
    cluster.deployments.patch(name=API, namespace=cluster.namespace, content_type="application/strategic-merge-patch+json",
                              body={"spec": {"template": {"spec": {"containers": [{"name": "api", "env": [
                                  {"name": "FEATURE_FLAGS", "value": FLAGS + ",platform_reddit=true"}]}]}}}})
    kill.apply(plan, check_mode=False)
    assert cluster.flags(API) == "platform_instagram=true,platform_tiktok=true,publish_v2=false,platform_reddit=true"


def test_a_cache_write_refused_after_the_deployments_were_patched_says_what_was_done_and_a_rerun_finishes(cluster, redis_server):
    raw(redis_server).acl_setuser("reader", enabled=True, passwords=["+reader-pw"], keys=["feature_flags:*"],
                                  commands=["+@connection", "+get", "+pttl", "+scan"])
    reader = switch(cluster, redis_server, redis={"redis_username": "reader", "redis_password": "reader-pw"})
    with pytest.raises(OfmRollbackError) as caught:
        run_switch(reader, ["publish_v2"], "disabled", create_missing=False, check_mode=False)
    assert isinstance(caught.value, AuthorizationError)
    failed = failure(reader, caught.value)
    assert failed["changed"] is True
    assert failed["applied"] == [f"Deployment {cluster.namespace}/{API}", f"Deployment {cluster.namespace}/{CANARY}"]
    assert failed["not_applied"] == ["Redis cache (feature_flags:publish_v2)"]
    assert failed["msg"].endswith(f"Already changed: {', '.join(failed['applied'])}; not changed: Redis cache (feature_flags:publish_v2). "
                                  "Run the task again to finish.")
    assert "reader-pw" not in str(failed)
    versions = cluster.versions()
    finished = run(cluster, redis_server, ["publish_v2"])
    assert finished["changed"] is True and finished["applied"] == ["Redis cache (feature_flags:publish_v2)"]
    assert cluster.versions() == versions and raw(redis_server).get("feature_flags:publish_v2") == "false"


def test_a_failure_before_any_write_says_nothing_was_changed():
    error = InputError("bad", option="names")
    result = failure(None, error)
    assert result["changed"] is False and result["msg"].endswith("Nothing was changed.") and result["applied"] == []


@pytest.mark.parametrize("options, option", [({"cache_ttl": 0}, "cache_ttl"), ({"deployments": []}, "deployments")])
def test_bad_switch_options_name_the_option(cluster, redis_server, options, option):
    with pytest.raises(InputError) as caught:
        switch(cluster, redis_server, **options)
    assert caught.value.option == option


@pytest.mark.parametrize("names, said", [([], "no flag is named"), (["a,b"], "'a,b' is not a flag name")])
def test_bad_names_are_refused(names, said):
    with pytest.raises(InputError) as caught:
        feature_flags.checked_names(names)
    assert caught.value.option == "names" and said in str(caught.value)


# --- provider unleash -------------------------------------------------------------------------------------------------

def unleash_switch(unleash: FakeUnleash) -> UnleashSwitch:
    return switch_from_params({"provider": "unleash", "unleash_url": unleash.url, "unleash_token": UNLEASH_TOKEN,
                               "unleash_project": "default", "unleash_environment": "production"})


def test_unleash_toggles_off_returns_previous_states_and_a_second_run_sends_nothing(unleash):
    result = run_switch(unleash_switch(unleash), ["new_composer", "publish_v2"], "disabled", create_missing=False, check_mode=False)
    assert result["changed"] is True and result["previous"] == {"new_composer": True, "publish_v2": False}
    assert [request.path for request in unleash.writes()] == ["/api/admin/projects/default/features/new_composer/environments/production/off"]
    assert result["flags"][0]["before"] == {"unleash/default/production": True}
    assert result["msg"] == "new_composer were disabled in Unleash (project default, environment production); already disabled: publish_v2."
    again = run_switch(unleash_switch(unleash), ["new_composer", "publish_v2"], "disabled", create_missing=False, check_mode=False)
    assert again["changed"] is False and len(unleash.writes()) == 1


def test_unleash_check_mode_sends_no_write(unleash):
    result = run_switch(unleash_switch(unleash), ["tiktok_direct_post"], "disabled", create_missing=False, check_mode=True)
    assert result["changed"] is True and unleash.writes() == [] and unleash.state("tiktok_direct_post") is True


def test_unleash_unknown_toggle_fails_before_any_write(unleash):
    with pytest.raises(InputError) as caught:
        run_switch(unleash_switch(unleash), ["new_composer", "nope"], "disabled", create_missing=False, check_mode=False)
    assert caught.value.accepted == ["new_composer", "publish_v2", "tiktok_direct_post"] and unleash.writes() == []


def test_unleash_create_missing_creates_the_toggle_then_sets_it(unleash):
    result = run_switch(unleash_switch(unleash), ["fresh"], "enabled", create_missing=True, check_mode=False)
    assert [request.method for request in unleash.writes()] == ["POST", "POST"] and unleash.state("fresh") is True
    assert result["previous"] == {"fresh": None}


def test_switch_from_params_refuses_an_unknown_provider():
    with pytest.raises(InputError) as caught:
        switch_from_params({"provider": "launchdarkly"})
    assert caught.value.option == "provider" and caught.value.accepted == ("ofm", "unleash")


def test_the_unleash_switch_reads_through_the_client(unleash):
    client = UnleashClient.from_params({"unleash_url": unleash.url, "unleash_token": UNLEASH_TOKEN})
    assert UnleashSwitch(client).source == "Unleash (project default, environment production)"
