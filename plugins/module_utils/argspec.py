# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by modules, and the validation their clients share (``http_client_kwargs``, ``validated_url``,
``checked_weight``, ``checked_timeout``).

Each client is built from a module's options by its own ``from_params`` (``PrometheusClient``, ``OpsApiClient``, ...).
Each spec has a doc fragment of the same name in ``plugins/doc_fragments/`` (kept in step by a unit test):
``HTTP_CLIENT_SPEC`` -> ``ofm.rollback.http_client``, ``PROMETHEUS_SPEC`` -> ``ofm.rollback.prometheus``,
``OPS_API_SPEC`` -> ``ofm.rollback.ops_api``, ``REDIS_SPEC`` -> ``ofm.rollback.redis``, ``UNLEASH_SPEC`` -> ``ofm.rollback.unleash``,
``ALERTMANAGER_SPEC`` -> ``ofm.rollback.alertmanager``.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.tls import TlsOptions

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_OPS_API_URL = "https://internal.ofm.social"

# How a client trusts a server's certificate: verified by default, against ca_path when set. Part of HTTP_CLIENT_SPEC, and of
# the settings of clients that keep their own timeouts (the platform_apps kind of the configuration snapshot).
TLS_SPEC: dict[str, dict[str, Any]] = {
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
}

HTTP_CLIENT_SPEC: dict[str, dict[str, Any]] = {
    **TLS_SPEC,
    "timeout": {"type": "float", "default": 30.0},
    "retries": {"type": "int", "default": 3},
}

PROMETHEUS_SPEC: dict[str, dict[str, Any]] = {
    "prometheus_url": {"type": "str", "required": True, "fallback": (env_fallback, ["PROMETHEUS_URL"])},
    "prometheus_username": {"type": "str"},
    "prometheus_password": {"type": "str", "no_log": True},
    "prometheus_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["PROMETHEUS_TOKEN"])},
}
PROMETHEUS_MUTUALLY_EXCLUSIVE = [("prometheus_token", "prometheus_username")]
PROMETHEUS_REQUIRED_TOGETHER = [("prometheus_username", "prometheus_password")]

ALERTMANAGER_SPEC: dict[str, dict[str, Any]] = {
    "alertmanager_url": {"type": "str", "required": True, "fallback": (env_fallback, ["ALERTMANAGER_URL"])},
    "alertmanager_username": {"type": "str"},
    "alertmanager_password": {"type": "str", "no_log": True},
    "alertmanager_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["ALERTMANAGER_TOKEN"])},
}
ALERTMANAGER_MUTUALLY_EXCLUSIVE = [("alertmanager_token", "alertmanager_username")]
ALERTMANAGER_REQUIRED_TOGETHER = [("alertmanager_username", "alertmanager_password")]

OPS_API_SPEC: dict[str, dict[str, Any]] = {
    "ops_api_url": {"type": "str", "default": DEFAULT_OPS_API_URL, "fallback": (env_fallback, ["OFM_OPS_API_URL"])},
    "ops_api_session_cookie": {"type": "str", "no_log": True, "fallback": (env_fallback, ["OFM_OPS_API_SESSION"])},
    "ops_api_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["OFM_OPS_API_TOKEN"])},
}
OPS_API_MUTUALLY_EXCLUSIVE = [("ops_api_session_cookie", "ops_api_token")]

# The Redis that caches OFM's feature flags (module_utils/flags.py: RedisFlagCache.from_params).
REDIS_SPEC: dict[str, dict[str, Any]] = {
    "redis_url": {"type": "str", "fallback": (env_fallback, ["REDIS_URL"])},
    "redis_username": {"type": "str"},
    "redis_password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["REDIS_PASSWORD"])},
    "redis_ca_path": {"type": "path"},
    "redis_validate_certs": {"type": "bool", "default": True},
}

# The Unleash admin API (module_utils/unleash.py: UnleashClient.from_params).
UNLEASH_SPEC: dict[str, dict[str, Any]] = {
    "unleash_url": {"type": "str", "fallback": (env_fallback, ["UNLEASH_URL"])},
    "unleash_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["UNLEASH_TOKEN"])},
    "unleash_project": {"type": "str", "default": "default"},
    "unleash_environment": {"type": "str", "default": "production"},
    "unleash_ca_path": {"type": "path"},
    "unleash_validate_certs": {"type": "bool", "default": True},
}


def http_client_kwargs(params: Mapping[str, Any], url_option: str = "the URL") -> dict[str, Any]:
    """``HttpClient`` keyword arguments from the ``HTTP_CLIENT_SPEC`` options, validated; ``url_option`` is the option holding
    the URL, which a TLS error names when the certificate is for another host."""
    timeout = params["timeout"]
    if timeout <= 0:
        raise InputError(f"timeout must be more than 0 seconds, got {timeout:g}", option="timeout", accepted="a number of seconds above 0")
    if params["retries"] < 0:
        raise InputError(f"retries must not be negative, got {params['retries']}", option="retries", accepted="0 or more")
    return {
        "verify": params["validate_certs"],
        "ca_path": params.get("ca_path"),
        "connect_timeout": min(DEFAULT_CONNECT_TIMEOUT, timeout),
        "read_timeout": timeout,
        "retries": params["retries"],
        "tls_options": TlsOptions(url=url_option),
    }


def validated_url(url: str, option: str, *, example: str) -> str:
    """``url`` if it is an absolute http(s) URL, else an ``InputError`` naming ``option`` that shows ``example``."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{option} must be an absolute http(s) URL, got scheme {parts.scheme!r} and host {parts.hostname!r}", option=option,
                         accepted=f"a URL such as {example}")
    return url


def checked_weight(value: Any, option: str, *, maximum: int, what: str, system: str) -> int:
    """``value`` as a weight from 0 to ``maximum`` (an integer, or its digits as text), else an ``InputError`` naming ``option``."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InputError(f"{what} {value!r} is not valid", system=system, option=option, accepted=f"an integer from 0 to {maximum}")
    return value


def checked_timeout(timeout: float, option: str, *, system: str) -> float:
    """``timeout`` if it is more than 0 seconds, else an ``InputError`` naming ``option``."""
    if timeout <= 0:
        raise InputError(f"{option} must be more than 0 seconds, got {timeout:g}", system=system, option=option, accepted="seconds > 0")
    return timeout
