# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``platform_token_info`` does: ask the platform about each stored token and compare its scopes with the ones needed."""

from __future__ import annotations

import time
from typing import Any, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.apps import Client


def check_tokens(tokens: Any) -> list[dict[str, str]]:
    """``[{name, token}]``: names unique and tokens set, checked before anything is sent."""
    if not isinstance(tokens, list) or not tokens:
        raise InputError("accounts is empty", option="accounts", accepted="a list of {name, token}")
    names = [str(item.get("name") or "") if isinstance(item, dict) else "" for item in tokens]
    if any(not name for name in names) or len(set(names)) != len(names):
        raise InputError(f"every token needs a name of its own, got {names}", option="accounts", accepted="a list of {name, token} with unique names")
    empty = [name for name, item in zip(names, tokens) if not item.get("token")]
    if empty:
        raise InputError(f"the tokens {', '.join(empty)} are empty", option="accounts", accepted="a list of {name, token} with the stored token")
    return [{"name": name, "token": item["token"]} for name, item in zip(names, tokens)]


def token_report(client: Client, tokens: Any, required_scopes: Optional[Sequence[str]], min_days_left: float,
                 now: Optional[float] = None) -> dict[str, Any]:
    """One line per token (valid, scopes held and missing, expiry, problems), the names of those with problems, and the scopes
    required: ``required_scopes``, else the scopes the app itself requests (its OAuth settings)."""
    checked = check_tokens(tokens)
    if min_days_left < 0:
        raise InputError(f"min_days_left is {min_days_left}", option="min_days_left", accepted="0 or more days")
    required = list(required_scopes) if required_scopes is not None else list(client.read_app()["scopes"])
    now = time.time() if now is None else now
    lines = [client.token_info(item["token"]).report(item["name"], required, min_days_left, now) for item in checked]
    return {"platform": client.platform, "app_id": client.app_id, "tokens": lines, "failing": [line["name"] for line in lines if not line["ok"]],
            "required_scopes": required, "required_from": "required_scopes" if required_scopes is not None else "the app's requested scopes"}
