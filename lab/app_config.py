"""The OFM API's configuration in the lab: ``lab config bad`` makes a configuration change the canary suffers from, ``lab config
good`` (and ``lab reset``) puts every value back as seeded.

The bad change touches each system a configuration rollback restores, as a careless release might:

- the canary Deployment's ``FEATURE_FLAGS`` turns ``publish_v2`` on, and so does its Redis cache key (the canary build has the
  new publish pipeline: about half its publish jobs then fail, and its success-rate SLI breaches);
- the ConfigMap ofm-social-os-config points ``WEBHOOK_URL_TIKTOK`` at a wrong URL;
- ``platform_rate_limits`` lowers tiktok's ``per_minute`` to 1;
- Unleash turns ``publish_v2`` on in production.

``good`` reuses the seeding code of each system (lab/services/kube/seed.py ``seed_config``, lab/components/redis.py
``seed_flags``, lab/components/postgres.py ``seed_rate_limits``, lab/components/unleash.py ``seed_toggles``).
"""
from __future__ import annotations

from typing import Any

from lab import flags
from lab.components import redis, unleash
from lab.components.kube_apiserver import KubeApiServer, kube_call
from lab.components.postgres import RATE_LIMIT_COLUMNS, RATE_LIMITS, Postgres
from lab.config import LabConfig
from lab.process import LabError
from lab.services.kube import seed

FLAG = "publish_v2"
WEBHOOK_KEY = "WEBHOOK_URL_TIKTOK"
BAD_WEBHOOK_URL = "https://hooks-staging.ofm.social/tiktok-v2"
RATE_LIMIT = ("tiktok", "per_minute", 1)
CANARY_PATH = f"/apis/apps/v1/namespaces/{seed.NAMESPACE}/deployments/{seed.CANARY}"
CONFIGMAP_PATH = f"/api/v1/namespaces/{seed.NAMESPACE}/configmaps/{seed.CONFIGMAP}"


def _feature_flags(deployment: dict[str, Any]) -> str:
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        if container["name"] == seed.CONTAINER:
            return next((entry.get("value", "") for entry in container.get("env") or [] if entry["name"] == "FEATURE_FLAGS"), "")
    raise LabError(f"Deployment {seed.NAMESPACE}/{seed.CANARY} has no container {seed.CONTAINER}; `lab reset` seeds it again")


def make_bad(cfg: LabConfig) -> list[str]:
    """Apply the bad configuration change; what changed, one line per system."""
    canary = kube_call(cfg, "GET", CANARY_PATH)
    if canary is None:
        raise LabError(f"Deployment {seed.NAMESPACE}/{seed.CANARY} does not exist; `lab reset` seeds it again")
    before = flags.parse(_feature_flags(canary))
    value = flags.render({**before, FLAG: True})
    patch = {"spec": {"template": {"spec": {"containers": [{"name": seed.CONTAINER, "env": [{"name": "FEATURE_FLAGS", "value": value}]}]}}}}
    kube_call(cfg, "PATCH", CANARY_PATH, patch, "application/strategic-merge-patch+json")
    redis.set_flag(cfg, FLAG, True)
    kube_call(cfg, "PATCH", CONFIGMAP_PATH, {"data": {WEBHOOK_KEY: BAD_WEBHOOK_URL}}, "application/merge-patch+json")
    platform, column, limit = RATE_LIMIT
    Postgres().set_rate_limit(cfg, platform, column, limit)
    unleash.set_toggle(cfg, FLAG, True)
    state = "true" if before.get(FLAG) else "false"
    return [f"Deployment {seed.NAMESPACE}/{seed.CANARY}: FEATURE_FLAGS {FLAG} {state} -> true",
            f"Redis {flags.KEY_PREFIX}{FLAG}: true (TTL {flags.ttl_seconds()} s)",
            f"ConfigMap {seed.NAMESPACE}/{seed.CONFIGMAP}: {WEBHOOK_KEY} -> {BAD_WEBHOOK_URL}",
            f"PostgreSQL platform_rate_limits {platform}: {column} {RATE_LIMITS[platform][RATE_LIMIT_COLUMNS.index(column)]} -> {limit}",
            f"Unleash {FLAG} ({flags.UNLEASH_ENVIRONMENT}): on"]


def make_good(cfg: LabConfig) -> list[str]:
    """Put the configuration back as seeded; what was put back, one line per system."""
    KubeApiServer.seed_config(cfg)
    redis.seed_flags(cfg)
    Postgres().seed_rate_limits(cfg)
    unleash.seed_toggles(cfg)
    return [f"Kubernetes {seed.NAMESPACE}: ConfigMap {seed.CONFIGMAP}, Secret {seed.SECRET}, env of Deployments {seed.STABLE} and {seed.CANARY}",
            f"Redis {flags.KEY_PREFIX}*: {flags.render(flags.FLAGS)} (TTL {flags.ttl_seconds()} s)",
            "PostgreSQL platform_rate_limits: " + ", ".join(f"{platform} {limits[0]}/min" for platform, limits in RATE_LIMITS.items()),
            f"Unleash ({flags.UNLEASH_ENVIRONMENT}): " + ", ".join(f"{name} {'on' if on else 'off'}" for name, on in flags.UNLEASH_TOGGLES.items())]
