# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot kind ``platform_apps``: the webhook subscriptions and OAuth app settings of OFM's Meta and TikTok apps.

The section is ``{"meta <app-id>" | "tiktok <client-key>": {setting: value}}`` (``redirect_uris``, ``scopes``, and
``subscriptions`` for Meta, ``webhook_url`` for TikTok), never a secret: the app secrets are options of the kind, and
putting back the previous platform secrets is the ``secrets`` kind (Secret ofm-social-os-secrets). A restore writes each
app that differs with the fewest requests its API allows: one PUT for TikTok; for Meta one POST of the OAuth settings and,
per subscription object, a DELETE of the fields it must lose and a POST of its callback URL and the fields it must gain
(that POST needs ``verify_token``: Meta never returns it).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.config.external import ExternalKind
from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import REMOVE, Change
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.apps import Client, client_from_params

NAME = "platform_apps"
APP_OPTIONS: dict[str, dict[str, Any]] = {
    "app_id": {"type": "str", "required": True},
    "app_secret": {"type": "str", "required": True, "no_log": True},
    "api_url": {"type": "str"},
}
OPTIONS: dict[str, dict[str, Any]] = {
    "meta": {"type": "dict", "options": {**APP_OPTIONS, "verify_token": {"type": "str", "no_log": True}}},
    "tiktok": {"type": "dict", "options": dict(APP_OPTIONS)},
    "timeout": {"type": "float", "default": 30.0},
    "validate_certs": {"type": "bool", "default": True},
}
DOC = r"""
description:
  - The webhook subscriptions and OAuth app settings (redirect URIs, requested scopes, webhook URL) of OFM's Meta (Instagram)
    and TikTok apps. The app secrets are never in the snapshot; the platform secrets OFM uses are the C(secrets) kind.
  - A restore writes one PUT for TikTok; for Meta one POST of the OAuth settings and, per webhook subscription that differs,
    a DELETE of the fields it loses and a POST of its callback URL and the fields it gains.
type: dict
suboptions:
  meta:
    description:
      - OFM's Meta app.
    type: dict
    suboptions:
      app_id:
        description:
          - The app's ID.
        type: str
        required: true
      app_secret:
        description:
          - The app secret (the app access token is C(app_id|app_secret)).
          - This value is a secret and is never logged.
        type: str
        required: true
      verify_token:
        description:
          - The verify token of the webhook endpoint, needed when a subscription is made again (Meta never returns it).
          - This value is a secret and is never logged.
        type: str
      api_url:
        description:
          - The Graph API's URL.
        type: str
  tiktok:
    description:
      - OFM's TikTok app.
    type: dict
    suboptions:
      app_id:
        description:
          - The app's client key.
        type: str
        required: true
      app_secret:
        description:
          - The app's client secret.
          - This value is a secret and is never logged.
        type: str
        required: true
      api_url:
        description:
          - The Open API's URL.
        type: str
  timeout:
    description:
      - Seconds to wait for each answer.
    type: float
    default: 30.0
  validate_certs:
    description:
      - Verify the platforms' TLS certificates.
    type: bool
    default: true
"""


class PlatformAppsApplier:
    """The ``Applier`` (``plan.py``) of the kind ``platform_apps``."""

    kind = NAME

    def __init__(self, clients: Sequence[Client]) -> None:
        if not clients:
            raise InputError("neither meta nor tiktok is set", option="platform_apps", accepted=["meta", "tiktok"])
        self.clients = {f"{client.platform} {client.app_id}": client for client in clients}
        self.current: dict[str, dict[str, Any]] = {}

    @property
    def round_trips(self) -> int:
        return sum(client.round_trips for client in self.clients.values())

    def read(self) -> dict[str, Any]:
        self.current = {target: client.read_app() for target, client in self.clients.items()}
        return {target: dict(values) for target, values in self.current.items()}

    def entries(self, section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The section's apps, each checked as its platform's settings; an app the options do not name is refused."""
        entries = {}
        for target, values in (section or {}).items():
            client = self.clients.get(str(target))
            if client is None:
                raise NotFoundError(f"the snapshot holds {target}, which the options do not name (they name {', '.join(self.clients)})",
                                    system="ofm.rollback platform_apps", operation="restore plan", target=str(target),
                                    hint="Set platform_apps.meta/tiktok app_id to the app of the snapshot. Nothing was changed.")
            entries[str(target)] = client.check(values, f"{NAME} {target}")
        return entries

    def apply(self, changes: Sequence[Change]) -> None:
        target = changes[0].target
        client = self.clients[target]
        client.write_app(self.current.get(target) or {}, {change.key: change.after for change in changes if change.action != REMOVE})


def build(params: Mapping[str, Any]) -> PlatformAppsApplier:
    settings = params.get(NAME) or {}
    common = {"timeout": settings.get("timeout") or 30.0, "validate_certs": settings.get("validate_certs", True) is not False, "retries": 3,
              "ca_path": None}
    clients = [client_from_params({**common, **(settings.get(platform) or {}), "platform": platform},
                                  (settings.get(platform) or {}).get("verify_token"))
               for platform in ("meta", "tiktok") if settings.get(platform)]
    return PlatformAppsApplier(clients)


def scope(params: Mapping[str, Any]) -> str:
    """Which apps, where."""
    settings = params.get(NAME) or {}
    apps = [f"{platform} {(settings.get(platform) or {}).get('api_url') or 'default API'} app {settings[platform].get('app_id')}"
            for platform in ("meta", "tiktok") if settings.get(platform)]
    return "platforms " + ", ".join(apps)


KIND = ExternalKind(name=NAME, options=OPTIONS, build=build, scope=scope, systems=("platforms",), doc=DOC,
                    description="Meta and TikTok app webhook subscriptions and OAuth settings")
