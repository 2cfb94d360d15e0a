"""The OFM API stand-in's feature flags: Redis first, the Deployment's FEATURE_FLAGS on a miss, the last known flags when
either cannot be read; and what the flags change in the stand-in (the canary's publish pipeline, the flag gauge)."""
from __future__ import annotations

import random
import threading
import time
from typing import Any, Optional

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lab import flags
from lab.services.common import KubeReadError
from lab.services.flag_reader import DeploymentFlags, FlagReader, FlagSourceError
from lab.services.ofm_api import ApiSettings, OfmApi, build_flag_reader, parse_args

NAMES = ["platform_tiktok", "publish_v2"]
TTL = 42


class FakeCache:
    """Redis in memory: values and the TTL each key was last SET with; ``down`` refuses every call."""

    def __init__(self, values: Optional[dict[str, str]] = None) -> None:
        self.values = dict(values or {})
        self.ttls: dict[str, int] = {}
        self.reads = 0
        self.down = False
        self.writes_fail = False

    def get_many(self, keys: list[str]) -> list[Optional[str]]:
        if self.down:
            raise FlagSourceError("Redis: connection refused")
        self.reads += 1
        return [self.values.get(key) for key in keys]

    def set_many(self, values: dict[str, str], ttl_seconds: int) -> None:
        if self.down or self.writes_fail:
            raise FlagSourceError("Redis: READONLY")
        self.values.update(values)
        self.ttls.update({key: ttl_seconds for key in values})


class FakeSource:
    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0
        self.down = False

    def read(self) -> dict[str, bool]:
        if self.down:
            raise FlagSourceError("Deployment ofm-production/ofm-social-os-api-canary: connection refused")
        self.reads += 1
        return flags.parse(self.value)


def make_reader(cache: FakeCache, source: FakeSource) -> tuple[FlagReader, list[str]]:
    logged: list[str] = []
    return FlagReader(NAMES, cache, source, TTL, log=logged.append), logged


def test_every_flag_is_off_until_read_and_a_cached_flag_is_read_from_redis_alone():
    cache = FakeCache({"feature_flags:platform_tiktok": "true", "feature_flags:publish_v2": "false"})
    source = FakeSource("platform_tiktok=false,publish_v2=true")
    reader, logged = make_reader(cache, source)
    assert reader.current == {"platform_tiktok": False, "publish_v2": False}
    assert reader.refresh() == {"platform_tiktok": True, "publish_v2": False}
    assert reader.enabled("platform_tiktok") and not reader.enabled("publish_v2") and not reader.enabled("unknown")
    assert source.reads == 0 and cache.ttls == {} and logged == []


def test_a_miss_reads_the_deployment_and_caches_the_flag_again_with_the_ttl():
    cache = FakeCache({"feature_flags:platform_tiktok": "false"})
    reader, _logged = make_reader(cache, FakeSource("platform_tiktok=true,publish_v2=true"))
    assert reader.refresh() == {"platform_tiktok": False, "publish_v2": True}, "the cache wins over the source for a key it has"
    assert cache.values == {"feature_flags:platform_tiktok": "false", "feature_flags:publish_v2": "true"}
    assert cache.ttls == {"feature_flags:publish_v2": TTL}


def test_a_flag_the_deployment_does_not_name_is_off_and_not_cached():
    cache = FakeCache({"feature_flags:platform_tiktok": "true"})
    reader, _logged = make_reader(cache, FakeSource("platform_tiktok=false"))
    assert reader.refresh() == {"platform_tiktok": True, "publish_v2": False}
    assert "feature_flags:publish_v2" not in cache.values


def test_redis_down_keeps_the_last_known_flags_and_says_so_once_then_once_when_back():
    cache = FakeCache({"feature_flags:platform_tiktok": "true", "feature_flags:publish_v2": "true"})
    source = FakeSource("platform_tiktok=false,publish_v2=false")
    reader, logged = make_reader(cache, source)
    reader.refresh()
    cache.down = True
    assert reader.refresh() == reader.refresh() == {"platform_tiktok": True, "publish_v2": True}
    assert source.reads == 0, "a Redis that cannot be read is not a miss"
    assert len(logged) == 1 and "cannot read redis" in logged[0] and "publish_v2=true" in logged[0]
    assert "connection refused" in reader.problems["redis"]
    cache.down = False
    cache.values["feature_flags:publish_v2"] = "false"
    assert reader.refresh()["publish_v2"] is False
    assert len(logged) == 2 and "redis readable again" in logged[1] and reader.problems == {}


def test_kubernetes_down_on_a_miss_keeps_the_missed_flags_last_value_and_reads_the_cached_ones():
    cache = FakeCache({"feature_flags:platform_tiktok": "true", "feature_flags:publish_v2": "true"})
    source = FakeSource("platform_tiktok=true,publish_v2=false")
    reader, logged = make_reader(cache, source)
    reader.refresh()
    source.down = True
    del cache.values["feature_flags:publish_v2"]
    cache.values["feature_flags:platform_tiktok"] = "false"
    assert reader.refresh() == {"platform_tiktok": False, "publish_v2": True}
    assert "feature_flags:publish_v2" not in cache.values
    assert len(logged) == 1 and "cannot read kubernetes" in logged[0]
    source.down = False
    assert reader.refresh() == {"platform_tiktok": False, "publish_v2": False}
    assert cache.values["feature_flags:publish_v2"] == "false" and "kubernetes readable again" in logged[-1]


def test_a_failed_write_back_still_serves_the_source_value_and_is_reported():
    cache = FakeCache()
    cache.writes_fail = True
    reader, logged = make_reader(cache, FakeSource("platform_tiktok=true,publish_v2=true"))
    assert reader.refresh() == {"platform_tiktok": True, "publish_v2": True}
    assert "READONLY" in reader.problems["redis"] and len(logged) == 1


def test_run_refreshes_until_stopped():
    cache = FakeCache({"feature_flags:platform_tiktok": "true", "feature_flags:publish_v2": "true"})
    reader, _logged = make_reader(cache, FakeSource(""))
    stopping = threading.Event()
    worker = threading.Thread(target=reader.run, args=(0.01, stopping))
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while cache.reads < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stopping.set()
        worker.join(timeout=2)
    assert not worker.is_alive() and cache.reads >= 3 and reader.enabled("publish_v2")


class FakeKube:
    def __init__(self, answer: Any = None, error: Optional[Exception] = None) -> None:
        self.answer = answer
        self.error = error
        self.paths: list[str] = []

    def get(self, path: str) -> Any:
        self.paths.append(path)
        if self.error:
            raise self.error
        return self.answer


def deployment(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": list(containers)}}}}


def test_deployment_flags_reads_feature_flags_of_the_named_container():
    kube = FakeKube(deployment({"name": "sidecar", "env": [{"name": "FEATURE_FLAGS", "value": "publish_v2=true"}]},
                               {"name": "api", "env": [{"name": "NODE_ENV", "value": "production"},
                                                       {"name": "FEATURE_FLAGS", "value": "platform_x=true,publish_v2=false"}]}))
    source = DeploymentFlags(kube, "ofm-production", "ofm-social-os-api-canary")  # type: ignore[arg-type]
    assert source.read() == {"platform_x": True, "publish_v2": False}
    assert kube.paths == ["/apis/apps/v1/namespaces/ofm-production/deployments/ofm-social-os-api-canary"]
    assert DeploymentFlags(FakeKube(deployment({"name": "api"})), "ns", "d").read() == {}  # type: ignore[arg-type]


@pytest.mark.parametrize("kube, message", [
    (FakeKube(None), "the Deployment does not exist"),
    (FakeKube(deployment({"name": "worker"})), "has no container api"),
    (FakeKube(error=KubeReadError("GET /apis/...: connection refused")), "connection refused"),
])
def test_deployment_flags_refuses_what_it_cannot_read_naming_the_deployment(kube, message):
    with pytest.raises(FlagSourceError, match=message) as raised:
        DeploymentFlags(kube, "ofm-production", "ofm-social-os-api").read()
    assert "ofm-production/ofm-social-os-api" in str(raised.value)


def make_api(version: str, publish_v2: bool) -> OfmApi:
    cache = FakeCache({"feature_flags:platform_tiktok": "true", "feature_flags:publish_v2": "true" if publish_v2 else "false"})
    reader, _logged = make_reader(cache, FakeSource(""))
    reader.refresh()
    settings = ApiSettings(version_name=version, webhook_secret="s", publish_failure_ratio=0.5)
    return OfmApi(settings, rng=random.Random(3), feature_flags=reader)


def publish(api: OfmApi, jobs: int) -> dict[str, float]:
    for _unused in range(jobs):
        api.enqueue_publish()
    api.drain_publish_queue(jobs)
    samples = {}
    for family in text_string_to_metric_families(api.metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == "publish_requests_total":
                samples[sample.labels["result"]] = sample.value
    return samples


def test_the_canary_build_fails_about_half_its_publishes_while_publish_v2_is_on():
    counts = publish(make_api("canary", publish_v2=True), 400)
    assert counts["success"] + counts["failure"] == 400
    assert 0.35 < counts["failure"] / 400 < 0.65


@pytest.mark.parametrize("version, publish_v2", [("canary", False), ("stable", True), ("stable", False)])
def test_publish_v2_off_or_the_stable_build_publishes_everything(version, publish_v2):
    assert publish(make_api(version, publish_v2), 200) == {"success": 200, "failure": 0}


def test_the_flag_gauge_shows_each_flag_as_last_read():
    api = make_api("canary", publish_v2=True)
    gauge = {sample.labels["flag"]: sample.value for family in text_string_to_metric_families(api.metrics.exposition().decode())
             for sample in family.samples if sample.name == "ofm_feature_flag_enabled"}
    assert gauge == {"platform_tiktok": 1.0, "publish_v2": 1.0}
    api.feature_flags.cache.values["feature_flags:publish_v2"] = "false"  # type: ignore[union-attr]
    api.feature_flags.refresh()  # type: ignore[union-attr]
    assert 'ofm_feature_flag_enabled{flag="publish_v2"} 0.0' in api.metrics.exposition().decode()


@pytest.mark.parametrize("version, deployment", [("stable", "ofm-social-os-api"), ("canary", "ofm-social-os-api-canary")])
def test_each_version_reads_its_own_deployment_and_the_redis_password_from_the_environment(version, deployment, monkeypatch):
    monkeypatch.setenv("OFM_LAB_REDIS_PASSWORD", "from-the-environment")
    monkeypatch.setenv("OFM_LAB_FLAG_TTL", "7")
    args = parse_args(["--port", "1", "--version-name", version, "--webhook-secret", "s", "--redis-port", "1", "--kube-url", "http://127.0.0.1:2"])
    reader = build_flag_reader(args)
    assert reader is not None and reader.names == list(flags.FLAGS) and reader.ttl_seconds == 7
    assert reader.source.path.endswith(f"/namespaces/ofm-production/deployments/{deployment}")  # type: ignore[attr-defined]
    pool = reader.cache._conn.connection_pool  # type: ignore[attr-defined]  # pylint: disable=protected-access
    assert pool.connection_kwargs["password"] == "from-the-environment"


def test_flags_need_redis_and_kubernetes_or_neither(capsys):
    assert build_flag_reader(parse_args(["--port", "1", "--webhook-secret", "s"])) is None
    with pytest.raises(SystemExit):
        parse_args(["--port", "1", "--webhook-secret", "s", "--redis-port", "1"])
    assert "both --redis-port and --kube-url" in capsys.readouterr().err
