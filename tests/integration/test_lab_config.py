"""The lab's API configuration: ``lab config bad`` is a configuration change the canary suffers from, ``lab config good`` puts
every value back; the OFM API stand-in reads its flags from Redis, on a miss from the Deployment's FEATURE_FLAGS, and keeps
answering with the last known flags while Redis is down."""
from __future__ import annotations

import base64
import math
from typing import Any, Optional

import pytest
from labtest import lab_call, run_lab, stopped, wait_until

from lab import flags
from lab.components import redis as lab_redis
from lab.components import unleash
from lab.components.postgres import RATE_LIMITS, Postgres
from lab.components.redis import Redis
from lab.config import LabConfig
from lab.services.kube import seed

# Changes the lab's shared state (flags, configuration, Redis): runs in file order in the one pytest process of such modules.
pytestmark = pytest.mark.shared_lab

NAMESPACE_PATH = f"/namespaces/{seed.NAMESPACE}"
SEEDED_CONFIG = {"LOG_LEVEL": "info", "PUBLISH_TIMEOUT_MS": "30000", "WEBHOOK_URL_TIKTOK": "https://hooks.ofm.social/tiktok",
                 "WEBHOOK_URL_META": "https://hooks.ofm.social/meta"}
SEEDED_FLAGS = "platform_instagram=true,platform_tiktok=true,platform_reddit=true,platform_x=true,publish_v2=false"


def kube(lab: LabConfig, path: str) -> Any:
    return lab_call(f"{lab.url('kube_apiserver')}{path}")


def container_env(lab: LabConfig, deployment: str) -> dict[str, Any]:
    [container] = kube(lab, f"/apis/apps/v1{NAMESPACE_PATH}/deployments/{deployment}")["spec"]["template"]["spec"]["containers"]
    return {"name": container["name"], "envFrom": container.get("envFrom"), "env": container.get("env")}


def configuration(lab: LabConfig, secrets: dict[str, Any]) -> dict[str, Any]:
    """Every configuration value `lab config` touches, read from each system (the Secret as: equal to the lab's values)."""
    secret = kube(lab, f"/api/v1{NAMESPACE_PATH}/secrets/{seed.SECRET}")["data"]
    conn = lab_redis.client(lab)
    features = unleash.admin(lab, "GET", f"/api/admin/projects/{flags.UNLEASH_PROJECT}/features")["features"]
    return {
        "configmap": kube(lab, f"/api/v1{NAMESPACE_PATH}/configmaps/{seed.CONFIGMAP}")["data"],
        "secret_is_the_labs": {key: base64.b64decode(value).decode() for key, value in secret.items()} == secrets["ofm_api_secrets"],
        "env": {name: container_env(lab, name) for name in (seed.STABLE, seed.CANARY)},
        "redis": {key: conn.get(key) for key in sorted(conn.scan_iter(match=flags.KEY_PREFIX + "*"))},
        "unleash": {feature["name"]: next(env["enabled"] for env in feature["environments"] if env["name"] == flags.UNLEASH_ENVIRONMENT)
                    for feature in features},
        "rate_limits": Postgres().rate_limits(lab),
    }


def feature_flags(env: dict[str, Any]) -> str:
    return next(entry["value"] for entry in env["env"] if entry["name"] == "FEATURE_FLAGS")


def health(lab: LabConfig, version: str) -> dict[str, Any]:
    return lab_call(f"{lab.url(f'ofm_api_{version}')}/health")


def success_ratio(prometheus, version: str) -> Optional[float]:
    """The version's publish success-rate SLI; None while it has published nothing in the window (no series, or NaN)."""
    value = prometheus.value("ofm:sli_success_ratio", version)
    return None if value is None or math.isnan(value) else value


def publishing_fine(prometheus, version: str) -> bool:
    value = success_ratio(prometheus, version)
    return value is not None and value >= 0.95


def breached(prometheus, version: str) -> bool:
    value = success_ratio(prometheus, version)
    return value is not None and value < 0.95


def test_the_seeded_configuration(clean_lab, secrets):
    seeded = configuration(clean_lab, secrets)
    assert seeded["configmap"] == SEEDED_CONFIG and seeded["secret_is_the_labs"]
    for name in (seed.STABLE, seed.CANARY):
        assert seeded["env"][name] == {"name": "api", "envFrom": [{"configMapRef": {"name": seed.CONFIGMAP}}], "env": [
            {"name": "NODE_ENV", "value": "production"}, {"name": "FEATURE_FLAGS", "value": SEEDED_FLAGS},
            {"name": "TIKTOK_API_KEY", "valueFrom": {"secretKeyRef": {"name": seed.SECRET, "key": "TIKTOK_API_KEY"}}}]}
    assert seeded["redis"] == {flags.KEY_PREFIX + name: str(value).lower() for name, value in flags.FLAGS.items()}
    assert seeded["unleash"] == {"publish_v2": False, "new_composer": True, "tiktok_direct_post": True}
    assert seeded["rate_limits"] == RATE_LIMITS


def test_lab_config_bad_breaches_the_canarys_success_rate_and_lab_config_good_puts_everything_back(clean_lab, prometheus, secrets):
    lab = clean_lab
    seeded = configuration(lab, secrets)
    # (after a test that sent the canary no traffic, its SLI has no value until it publishes again)
    wait_until(lambda: publishing_fine(prometheus, "canary"), 60, what="the canary publishing within its success-rate SLO")

    run = run_lab("config", "bad")
    assert "FEATURE_FLAGS publish_v2 false -> true" in run.stdout
    bad = configuration(lab, secrets)
    assert bad["configmap"] == {**SEEDED_CONFIG, "WEBHOOK_URL_TIKTOK": "https://hooks-staging.ofm.social/tiktok-v2"}
    assert flags.parse(feature_flags(bad["env"][seed.CANARY])) == {**flags.FLAGS, "publish_v2": True}
    assert bad["env"][seed.STABLE] == seeded["env"][seed.STABLE]
    assert bad["redis"] == {**seeded["redis"], "feature_flags:publish_v2": "true"}
    assert bad["unleash"] == {**seeded["unleash"], "publish_v2": True}
    assert bad["rate_limits"] == {**RATE_LIMITS, "tiktok": (1, 600, 6000, 5)}
    assert bad["secret_is_the_labs"]

    wait_until(lambda: health(lab, "canary")["flags"]["publish_v2"], 10, interval=0.5, what="the canary reading publish_v2 on")
    wait_until(lambda: prometheus.value('ofm_feature_flag_enabled{flag="publish_v2"}', "canary") == 1, 30, interval=0.5,
               what="the canary's publish_v2 gauge at 1 in Prometheus")
    wait_until(lambda: breached(prometheus, "canary"), 60, what="the canary's success-rate SLI breached")
    assert publishing_fine(prometheus, "stable"), "the stable build has no publish_v2 pipeline"
    assert health(lab, "stable")["flags"]["publish_v2"] is True

    run_lab("config", "good")
    assert configuration(lab, secrets) == seeded
    wait_until(lambda: not health(lab, "canary")["flags"]["publish_v2"], 10, interval=0.5, what="the canary reading publish_v2 off")
    wait_until(lambda: publishing_fine(prometheus, "canary"), 120, what="the canary's success-rate SLI recovered")


def test_lab_reset_puts_the_configuration_back_too_and_changes_nothing_when_it_is_in_place(clean_lab, secrets):
    lab = clean_lab
    seeded = configuration(lab, secrets)
    run_lab("config", "bad")
    assert configuration(lab, secrets) != seeded
    run_lab("reset")
    assert configuration(lab, secrets) == seeded
    canary = kube(lab, f"/apis/apps/v1{NAMESPACE_PATH}/deployments/{seed.CANARY}")
    run_lab("reset")
    again = kube(lab, f"/apis/apps/v1{NAMESPACE_PATH}/deployments/{seed.CANARY}")
    assert again["metadata"]["resourceVersion"] == canary["metadata"]["resourceVersion"]
    assert lab_call(f"{lab.url('kube_apiserver')}/__lab/seed") == {"seeded": True, "config_seeded": True, "namespace": seed.NAMESPACE}


def test_a_flag_missing_in_redis_is_read_from_the_deployment_and_cached_again_with_the_ttl(clean_lab):
    lab = clean_lab
    conn = lab_redis.client(lab)
    key = flags.KEY_PREFIX + "platform_x"
    # Redis says off, both Deployments on: the stand-ins act on Redis.
    conn.set(key, "false", ex=flags.ttl_seconds())
    for version in ("stable", "canary"):
        wait_until(lambda v=version: health(lab, v)["flags"]["platform_x"] is False, 10, interval=0.2, what=f"{version} reading Redis")
    conn.delete(key)
    for version in ("stable", "canary"):
        wait_until(lambda v=version: health(lab, v)["flags"]["platform_x"] is True, 10, interval=0.2,
                   what=f"{version} reading platform_x from its Deployment's FEATURE_FLAGS")
    assert conn.get(key) == "true"
    assert 0 < conn.ttl(key) <= flags.ttl_seconds()


def test_the_api_answers_with_the_last_known_flags_while_redis_is_down(clean_lab):
    lab = clean_lab
    known = health(lab, "canary")["flags"]
    with stopped(lab, Redis()):
        wait_until(lambda: "redis" in health(lab, "canary")["flag_problems"], 15, interval=0.2, what="the canary noticing Redis down")
        assert health(lab, "canary")["flags"] == known
        posts = lab_call(f"{lab.url('ofm_api_canary')}/api/posts")
        assert isinstance(posts, list) and posts
        assert "cannot read redis" in lab.path("logs", "ofm-api-canary.log").read_text()
    wait_until(lambda: health(lab, "canary")["flag_problems"] == {}, 15, interval=0.2, what="the canary reading Redis again")
