"""The lab's feature flags: OFM's own (Redis cache over the API Deployment's FEATURE_FLAGS) and Unleash's toggles.

OFM's flag system keeps its source of truth in the ``FEATURE_FLAGS`` environment value of the API Deployment
(``name=true|false`` pairs, comma-separated) and caches each flag in Redis as ``feature_flags:<name>`` with a TTL of
300 s; the OFM API stand-in reads a flag from Redis and, on a miss, from its Deployment, then caches it again.
``publish_v2`` is the 2.4.0 release's new publish pipeline: only the canary build has it, and ``lab config bad``
turns it on (the canary then fails publishes).
"""
from __future__ import annotations

import os

KEY_PREFIX = "feature_flags:"
FLAGS: dict[str, bool] = {
    "platform_instagram": True,
    "platform_tiktok": True,
    "platform_reddit": True,
    "platform_x": True,
    "publish_v2": False,
}
# Unleash, project "default", environment "production": toggle name -> enabled.
UNLEASH_PROJECT = "default"
UNLEASH_ENVIRONMENT = "production"
UNLEASH_TOGGLES: dict[str, bool] = {"publish_v2": False, "new_composer": True, "tiktok_direct_post": True}


def ttl_seconds() -> int:
    """The cache TTL: 300 s as in production, shorter with OFM_LAB_FLAG_TTL (tests wait past it)."""
    return int(os.environ.get("OFM_LAB_FLAG_TTL", "300"))


def render(flags: dict[str, bool]) -> str:
    """The FEATURE_FLAGS value for ``flags``."""
    return ",".join(f"{name}={'true' if enabled else 'false'}" for name, enabled in flags.items())


def parse(value: str) -> dict[str, bool]:
    flags = {}
    for pair in filter(None, (part.strip() for part in (value or "").split(","))):
        name, _equals, state = pair.partition("=")
        flags[name.strip()] = state.strip().lower() in ("true", "1", "on", "yes")
    return flags
