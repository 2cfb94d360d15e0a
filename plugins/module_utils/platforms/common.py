# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What both platform clients share: the connection options, the settings' shape and checks, the token report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import HTTP_CLIENT_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

PLATFORMS = ("meta", "tiktok")
PLATFORM_SPEC: dict[str, dict[str, Any]] = {
    **HTTP_CLIENT_SPEC,
    "platform": {"type": "str", "required": True, "choices": list(PLATFORMS)},
    "api_url": {"type": "str"},
    "app_id": {"type": "str", "required": True},
    "app_secret": {"type": "str", "required": True, "no_log": True},
}
LIST_SETTINGS = ("redirect_uris", "scopes")


@dataclass(frozen=True)
class TokenInfo:
    """What a platform says about one token: valid or not, the scopes it holds, when it expires (epoch seconds, 0: never)."""

    valid: bool
    scopes: tuple[str, ...] = ()
    expires_at: int = 0
    reason: str = ""
    subject: Optional[str] = None

    def report(self, name: str, required: Sequence[str], min_days: float, now: Optional[float] = None) -> dict[str, Any]:
        """The token's line: valid, scopes held and missing, expiry, and its problems (none when it is fine)."""
        now = time.time() if now is None else now
        days_left = None if not self.expires_at else round((self.expires_at - now) / 86400, 2)
        missing = [scope for scope in required if scope not in self.scopes]
        problems = []
        if not self.valid:
            problems.append(f"not valid{': ' + self.reason if self.reason else ''}")
        if self.valid and missing:
            problems.append(f"lacks the scopes {', '.join(missing)}")
        if self.valid and days_left is not None and days_left < min_days:
            problems.append(f"expires in {days_left:g} days (minimum {min_days:g})")
        return {"name": name, "valid": self.valid, "scopes": list(self.scopes), "required_scopes": list(required), "missing_scopes": missing,
                "expires_at": self.expires_at or None, "days_left": days_left, "ok": not problems, "problems": problems}


@dataclass
class SettingsCheck:
    """The settings a task or snapshot wants, checked against what a platform's app has."""

    known: tuple[str, ...]
    option: str
    values: dict[str, Any] = field(default_factory=dict)

    def check(self, wanted: Any) -> dict[str, Any]:
        if not isinstance(wanted, Mapping):
            raise InputError(f"{self.option} must be a mapping of settings", option=self.option, accepted=list(self.known))
        unknown = sorted(set(wanted) - set(self.known))
        if unknown:
            raise InputError(f"{self.option} has settings the app does not: {', '.join(unknown)}", option=self.option, accepted=list(self.known))
        for key in LIST_SETTINGS:
            if key in wanted and not _strings(wanted[key]):
                raise InputError(f"{self.option}.{key} must be a list of strings", option=f"{self.option}.{key}", accepted="a list of strings")
        for key in ("redirect_uris", "webhook_url"):
            urls = wanted.get(key)
            urls = [urls] if isinstance(urls, str) else urls or []
            bad = [url for url in urls if not isinstance(url, str) or not url.startswith("https://")]
            if bad:
                raise InputError(f"{self.option}.{key} holds URLs that are not https: {', '.join(map(str, bad))}", option=f"{self.option}.{key}",
                                 accepted="https URLs")
        return {key: normalized(key, value) for key, value in wanted.items()}


def normalized(key: str, value: Any) -> Any:
    """Settings compared as sets where order means nothing (scopes, redirect URIs, webhook fields)."""
    if key in LIST_SETTINGS:
        return sorted(dict.fromkeys(value))
    if key == "subscriptions":
        return {str(name): {"callback_url": item.get("callback_url"), "fields": sorted(dict.fromkeys(item.get("fields") or []))}
                for name, item in sorted(value.items())}
    return value


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
