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

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import TLS_SPEC
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
    **TLS_SPEC,
}


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
              "ca_path": settings.get("ca_path")}
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


KIND = ExternalKind(name=NAME, options=OPTIONS, build=build, scope=scope, systems=("platforms",),
                    description="Meta and TikTok app webhook subscriptions and OAuth settings")
