# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``platform_app`` does: read an app's settings, and set the ones a task gives (check mode: nothing sent), with a diff."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

from ansible_collections.ofm.rollback.plugins.module_utils.diffs import field_diff
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.meta import MetaClient
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.tiktok import TikTokClient

Client = Union[MetaClient, TikTokClient]


def client_from_params(params: Mapping[str, Any], verify_token: Optional[str] = None) -> Client:
    """The client of ``params["platform"]`` from the ``PLATFORM_SPEC`` options."""
    if params["platform"] == "meta":
        return MetaClient.from_params(params, verify_token)
    return TikTokClient.from_params(params)


@dataclass
class AppChange:
    """An app's settings before and after (in check mode: as they would be), and the writes sent or planned."""

    platform: str
    app: str
    before: dict[str, Any]
    after: dict[str, Any]
    writes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.writes)

    def result(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        return {"changed": self.changed, "platform": self.platform, "app_id": self.app, "settings": self.after, "previous": self.before,
                "diff": field_diff(self.before, self.after), "planned": self.writes, "calls": calls}


def set_app(client: Client, settings: Optional[Mapping[str, Any]], check_mode: bool = False) -> AppChange:
    """Set ``settings`` (keys not given are left alone; ``subscriptions`` is the whole set), then read the app back."""
    wanted = client.check(settings) if settings is not None else {}
    current = client.read_app()
    planned = [{"call": call, **args} for call, args in client.plan_writes(current, wanted)]
    app_id = client.app_id
    if not planned:
        return AppChange(client.platform, app_id, current, current)
    if check_mode:
        return AppChange(client.platform, app_id, current, {**current, **wanted}, planned)
    client.write_app(current, wanted)
    return AppChange(client.platform, app_id, current, client.read_app(), planned)
