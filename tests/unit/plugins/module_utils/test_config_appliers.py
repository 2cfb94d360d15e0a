# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The appliers of the kinds flags (Deployments over the test server's store, the cache on a real redis-server), unleash (a fake
Unleash admin API) and rate_limits (a table in memory): exact restores, one request per target, idempotence, refusals."""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any, Optional

import pytest
import redis
from kubefake import StoreClient
from unithelpers import UNLEASH_TOKEN, FakeUnleash

from ansible_collections.ofm.rollback.plugins.module_utils.config import kube_appliers
from ansible_collections.ofm.rollback.plugins.module_utils.config.appliers import (
    CACHE_TARGET, UNPARSED, FlagsApplier, RateLimitsApplier, UnleashApplier, flag_keys)
from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import ADD, CHANGE, REMOVE, UNCHANGED, make_plan, restore
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.flags import RedisFlagCache
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import KubeConfig
from ansible_collections.ofm.rollback.plugins.module_utils.unleash import UnleashClient

NS = "ofm-production"
API, CANARY = "ofm-social-os-api", "ofm-social-os-api-canary"
FLAGS_THEN = "platform_tiktok=true,publish_v2=false"


def deployment(name: str, flags: str) -> dict[str, Any]:
    env = [{"name": "NODE_ENV", "value": "production"}, {"name": "FEATURE_FLAGS", "value": flags}]
    return {"metadata": {"name": name}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {
        "metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "api", "image": "api:1", "env": env}]}}}}


@pytest.fixture(name="server")
def fixture_server() -> StoreClient:
    server = StoreClient()
    server.create("v1", "Namespace", "", {"metadata": {"name": NS}})
    for name in (API, CANARY):
        server.create("apps/v1", "Deployment", NS, deployment(name, FLAGS_THEN))
    return server


@pytest.fixture(name="cache")
def fixture_cache(redis_server) -> redis.Redis:
    client = redis.Redis(port=redis_server.port, password=redis_server.password, decode_responses=True)
    client.set("feature_flags:platform_tiktok", "true", px=200_000)
    client.set("feature_flags:publish_v2", "false", px=250_000)
    return client


def flags_cache(redis_server) -> RedisFlagCache:
    return RedisFlagCache.from_params({"redis_url": redis_server.url, "redis_password": redis_server.password})


def flags_applier(server: StoreClient, redis_server, wanted: Optional[dict[str, Any]] = None) -> FlagsApplier:
    return FlagsApplier(KubeConfig(server.kube()), flags_cache(redis_server), NS, [API, CANARY], wanted=wanted)


def feature_flags(server: StoreClient, name: str) -> str:
    env = server.read("apps/v1", "Deployment", NS, name)["spec"]["template"]["spec"]["containers"][0]["env"]
    return next(entry["value"] for entry in env if entry["name"] == "FEATURE_FLAGS")


def set_flags(server: StoreClient, name: str, text: str) -> None:
    server.write("apps/v1", "Deployment", NS, name, [{"op": "replace", "path": "/spec/template/spec/containers/0/env/1/value", "value": text}],
                 content_type="application/json-patch+json")


# --- flags

def test_flags_are_read_as_each_deployments_text_and_every_cache_key_with_its_ttl(server, cache, redis_server):
    section = flags_applier(server, redis_server).read()
    assert section["source"] == {API: FLAGS_THEN, CANARY: FLAGS_THEN} and section["container"] == "api"
    assert section["variable"] == "FEATURE_FLAGS" and set(section["cache"]) == {"feature_flags:platform_tiktok", "feature_flags:publish_v2"}
    assert section["cache"]["feature_flags:publish_v2"]["value"] == "false" and 200_000 < section["cache"]["feature_flags:publish_v2"]["ttl_ms"] <= 250_000


def test_flags_are_restored_source_first_one_patch_each_then_the_cache_in_one_transaction(server, cache, redis_server):
    taken = flags_applier(server, redis_server).read()
    set_flags(server, API, "publish_v2=true,platform_tiktok=false")
    cache.set("feature_flags:publish_v2", "true", px=5_000)
    cache.set("feature_flags:brand_new", "true")
    cache.delete("feature_flags:platform_tiktok")

    applier = flags_applier(server, redis_server, wanted=taken)
    plan = make_plan({"flags": applier}, {"flags": taken})
    actions = {(change.target, change.key): change.action for change in plan.kind("flags").changes}
    assert actions[(API, "publish_v2")] == CHANGE and actions[(API, "(order)")] == CHANGE and actions[(CANARY, "publish_v2")] == UNCHANGED
    assert actions[(CACHE_TARGET, "feature_flags:platform_tiktok")] == ADD and actions[(CACHE_TARGET, "feature_flags:brand_new")] == REMOVE
    assert list(plan.kind("flags").by_target()) == [API, CACHE_TARGET]
    server.patches.clear()
    before = applier.cache.round_trips
    report = restore(plan, {"flags": applier})
    assert report.restored_targets("flags") == [API, CACHE_TARGET]
    assert feature_flags(server, API) == FLAGS_THEN == feature_flags(server, CANARY)
    (content_type, body), = server.patches  # one JSON patch, conditional on the value read
    assert content_type == "application/json-patch+json" and {"op": "test", "path": "/spec/template/spec/containers/0/env/1/value",
                                                              "value": "publish_v2=true,platform_tiktok=false"} in body
    assert applier.cache.round_trips == before + 1  # one MULTI/EXEC
    assert cache.get("feature_flags:publish_v2") == "false" and 200_000 < cache.pttl("feature_flags:publish_v2") <= 250_000
    assert cache.get("feature_flags:platform_tiktok") == "true" and cache.exists("feature_flags:brand_new") == 0

    again = flags_applier(server, redis_server, wanted=taken)
    assert not make_plan({"flags": again}, {"flags": taken}).changed


def test_a_cache_value_that_is_the_snapshots_is_unchanged_whatever_its_ttl(server, cache, redis_server):
    taken = flags_applier(server, redis_server).read()
    cache.set("feature_flags:publish_v2", "false", px=1_000)
    plan = make_plan({"flags": flags_applier(server, redis_server, wanted=taken)}, {"flags": taken})
    assert not plan.changed and cache.pttl("feature_flags:publish_v2") <= 1_000


def test_a_feature_flags_value_that_does_not_parse_is_replaced_whole(server, cache, redis_server):
    taken = flags_applier(server, redis_server).read()
    set_flags(server, CANARY, "publish_v2=yes please")
    assert flag_keys("publish_v2=yes please") == {UNPARSED: "publish_v2=yes please"}
    applier = flags_applier(server, redis_server, wanted=taken)
    plan = make_plan({"flags": applier}, {"flags": taken})
    assert [(change.key, change.action) for change in plan.kind("flags").changes if change.target == CANARY and change.changed] == [
        ("platform_tiktok", ADD), ("publish_v2", ADD), (UNPARSED, REMOVE)]
    restore(plan, {"flags": applier})
    assert feature_flags(server, CANARY) == FLAGS_THEN


def test_a_flags_write_landing_after_the_read_is_a_conflict_and_is_kept(server, cache, redis_server):
    taken = flags_applier(server, redis_server).read()
    set_flags(server, API, "publish_v2=true")
    applier = flags_applier(server, redis_server, wanted=taken)
    plan = make_plan({"flags": applier}, {"flags": taken})
    set_flags(server, API, "publish_v2=true,platform_x=false")  # someone else, between the plan and the write
    report = restore(plan, {"flags": applier})
    assert report.failed.kind == "flags" and report.failed.error["type"] == "ConflictError" and report.failed.not_restored == (API,)
    assert feature_flags(server, API) == "publish_v2=true,platform_x=false"


def test_flags_and_env_of_one_deployment_are_both_restored_in_one_run(server, cache, redis_server):
    client = KubeConfig(server.kube())
    taken = {"flags": flags_applier(server, redis_server).read(),
             "env": kube_appliers.EnvApplier(client, NS, [f"{API}/api"]).read()}
    server.write("apps/v1", "Deployment", NS, API, [{"op": "replace", "path": "/spec/template/spec/containers/0/env", "value": [
        {"name": "NODE_ENV", "value": "staging"}, {"name": "FEATURE_FLAGS", "value": "publish_v2=true"}]}], content_type="application/json-patch+json")
    appliers = {"flags": FlagsApplier(client, flags_cache(redis_server), NS, [API, CANARY], wanted=taken["flags"]),
                "env": kube_appliers.EnvApplier(client, NS, [f"{API}/api"])}
    appliers["flags"].written = appliers["env"].written
    report = restore(make_plan(appliers, taken), appliers)
    assert report.failed is None and report.restored_kinds == ["flags", "env"]
    env = server.read("apps/v1", "Deployment", NS, API)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "NODE_ENV", "value": "production"}, {"name": "FEATURE_FLAGS", "value": FLAGS_THEN}]


def test_a_missing_deployment_stops_the_plan_before_any_write(server, cache, redis_server):
    taken = flags_applier(server, redis_server).read()
    taken["source"]["gone"] = "a=true"
    applier = FlagsApplier(KubeConfig(server.kube()), flags_cache(redis_server), NS, list(taken["source"]), wanted=taken)
    with pytest.raises(NotFoundError, match="gone"):
        make_plan({"flags": applier}, {"flags": taken})
    assert server.patches == []


# --- unleash

def unleash_client(unleash: FakeUnleash) -> UnleashClient:
    client = UnleashClient.from_params({"unleash_url": unleash.url, "unleash_token": UNLEASH_TOKEN})
    client.http._sleep = lambda _seconds: None  # pylint: disable=protected-access
    return client


def test_unleash_toggles_are_restored_in_bulk_and_an_extra_toggle_is_turned_off_not_archived(unleash):
    taken = UnleashApplier(unleash_client(unleash)).read()
    assert taken == {"project": "default", "environment": "production",
                     "toggles": {"publish_v2": False, "new_composer": True, "tiktok_direct_post": True}}
    unleash.projects["default"]["publish_v2"]["production"] = True
    unleash.projects["default"]["new_composer"]["production"] = False
    unleash.projects["default"]["added_later_on"] = {"development": False, "production": True}
    unleash.projects["default"]["added_later_off"] = {"development": False, "production": False}
    unleash.received.clear()

    applier = UnleashApplier(unleash_client(unleash), wanted=taken)
    plan = make_plan({"unleash": applier}, {"unleash": taken})
    assert {(change.key, change.action, change.after) for change in plan.kind("unleash").changes if change.changed} == {
        ("publish_v2", CHANGE, False), ("new_composer", CHANGE, True), ("added_later_on", CHANGE, False)}
    restore(plan, {"unleash": applier})
    assert [(request.path, sorted(request.body["features"])) for request in unleash.writes()] == [
        ("/api/admin/projects/default/bulk_features/environments/production/off", ["added_later_on", "publish_v2"]),
        ("/api/admin/projects/default/bulk_features/environments/production/on", ["new_composer"])]
    assert applier.round_trips == 3  # the read and two bulk writes
    assert UnleashApplier(unleash_client(unleash)).read()["toggles"] == {**taken["toggles"], "added_later_on": False, "added_later_off": False}
    assert not make_plan({"unleash": UnleashApplier(unleash_client(unleash), wanted=taken)}, {"unleash": taken}).changed


def test_a_snapshot_toggle_that_is_gone_stops_the_plan_naming_it(unleash):
    taken = UnleashApplier(unleash_client(unleash)).read()
    del unleash.projects["default"]["tiktok_direct_post"]
    with pytest.raises(NotFoundError) as caught:
        make_plan({"unleash": UnleashApplier(unleash_client(unleash), wanted=taken)}, {"unleash": taken})
    assert caught.value.details["toggles"] == ["tiktok_direct_post"] and unleash.writes() == []


# --- rate limits

class MemoryTable:
    """What the applier needs of a RateLimitTable, over rows in memory: one round trip per read and per restore."""

    table, key, target = "platform_rate_limits", "platform", "platform_rate_limits on memory"

    def __init__(self, rows: dict[str, dict[str, Any]]) -> None:
        self.rows = rows
        self.round_trips = 0
        self.restored_with: list[Any] = []

    def read(self) -> dict[str, dict[str, Any]]:
        self.round_trips += 1
        return copy.deepcopy(self.rows)

    def restore(self, wanted: dict[str, dict[str, Any]], current: Optional[dict[str, dict[str, Any]]] = None) -> None:
        self.round_trips += 1
        self.restored_with.append(current)
        self.rows = copy.deepcopy(wanted)


ROWS = {"tiktok": {"per_minute": 30, "per_hour": 600, "per_day": 6000, "burst": 5}, "x": {"per_minute": 50, "per_hour": 900, "per_day": 9000, "burst": 10}}


def test_rate_limits_are_restored_exactly_in_one_transaction_from_the_rows_read():
    table = MemoryTable(copy.deepcopy(ROWS))
    taken = RateLimitsApplier(table).read()
    assert taken == {"table": "platform_rate_limits", "key": "platform", "rows": ROWS}
    table.rows = {"tiktok": {**ROWS["tiktok"], "per_minute": 300}, "reddit": {"per_minute": 1, "per_hour": 1, "per_day": 1, "burst": 1}}
    applier = RateLimitsApplier(table, wanted=taken)
    plan = make_plan({"rate_limits": applier}, {"rate_limits": json.loads(json.dumps(taken))})
    assert {(change.key, change.action) for change in plan.kind("rate_limits").changes} == {("tiktok", CHANGE), ("x", ADD), ("reddit", REMOVE)}
    table.round_trips = 0
    restore(plan, {"rate_limits": applier})
    assert table.rows == ROWS and table.round_trips == 1 and table.restored_with[0]["reddit"]  # planned from the rows read, not read again


def test_rows_that_are_not_json_or_have_other_columns_are_refused_at_the_read():
    with pytest.raises(DataError, match="Decimal in column 'per_minute'"):
        RateLimitsApplier(MemoryTable({"x": {"per_minute": Decimal("1.5")}})).read()
    wanted = {"table": "platform_rate_limits", "key": "platform", "rows": {"x": {"per_minute": 1}}}
    with pytest.raises(DataError, match="columns"):
        RateLimitsApplier(MemoryTable(copy.deepcopy(ROWS)), wanted=wanted).read()
