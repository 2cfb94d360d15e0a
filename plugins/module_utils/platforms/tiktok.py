# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TikTok's Open API v2 over ``http.py``: the app's OAuth settings and webhook URL, token checks.

- ``POST /v2/oauth/token/`` with ``grant_type=client_credentials``, ``client_key`` and ``client_secret`` (TikTok's client
  access token call): a client token (``clt.``), sent as ``Authorization: Bearer`` on the calls below, fetched once.
- ``GET/PUT /v2/apps/{client-key}/settings/``: the app's ``redirect_uris``, ``scopes`` and ``webhook_url`` in TikTok's v2
  envelope (``{"data": ..., "error": {"code": "ok"}}``). TikTok keeps these in its developer portal with no public API:
  this path is the lab stand-in's shape (lab/services/platforms.py).
- ``POST /v2/oauth/token/introspect/`` (form ``token``): RFC 7662's ``active``, with TikTok's ``scope`` (comma-separated,
  as the token endpoint gives it), ``exp`` and ``open_id``. TikTok publishes no introspection endpoint (a token's scopes
  come with the token endpoint's answer when it is issued or refreshed, and a refresh changes the stored token): this is
  the stand-in's shape, for a deployment whose token broker serves it (``api_url``).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import http_client_kwargs, validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, DataError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.http import BearerAuth, HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.common import SettingsCheck, TokenInfo, normalized

SYSTEM = "TikTok Open API"
DEFAULT_API_URL = "https://open.tiktokapis.com"
SETTINGS = ("redirect_uris", "scopes", "webhook_url")


class TikTokClient:
    """One TikTok app (client key, client secret) through one ``HttpClient``; ``calls`` lists the writes sent."""

    platform = "tiktok"

    def __init__(self, http: HttpClient, client_key: str, client_secret: str) -> None:
        self.http = http
        self.client_key = client_key
        self.app_id = client_key
        self._client_secret = client_secret
        self._auth: Optional[BearerAuth] = None
        self.calls: list[dict[str, Any]] = []

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "TikTokClient":
        client_key = params.get("app_id") or ""
        if not client_key or not client_key.isalnum():
            raise InputError(f"app_id {client_key!r} is not a TikTok client key", option="app_id", accepted="the app's client key (letters and digits)",
                             system=SYSTEM)
        if not params.get("app_secret"):
            raise InputError("app_secret is empty", option="app_secret", accepted="the app's client secret", system=SYSTEM)
        url = validated_url(params.get("api_url") or DEFAULT_API_URL, "api_url", example=DEFAULT_API_URL)
        return cls(HttpClient(url, system=SYSTEM, secrets=[params["app_secret"]], **http_client_kwargs(params, "api_url")), client_key, params["app_secret"])

    @property
    def target(self) -> str:
        return f"tiktok app {self.client_key}"

    @property
    def round_trips(self) -> int:
        return len(self.http.requests)

    def _client_auth(self) -> BearerAuth:
        if self._auth is None:
            body = self.http.request("POST", "v2/oauth/token/", data={"client_key": self.client_key, "client_secret": self._client_secret,
                                                                      "grant_type": "client_credentials"},
                                     headers={"Content-Type": "application/x-www-form-urlencoded"}, idempotent=True).body
            if isinstance(body, dict) and body.get("error"):
                raise AuthenticationError(f"TikTok refused the client key and secret: {body.get('error')}", system=SYSTEM,
                                          operation="POST /v2/oauth/token/", target=self.target, hint="Check app_id (client key) and app_secret.")
            token = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise DataError("the token endpoint's answer has no access_token", system=SYSTEM, operation="POST /v2/oauth/token/", target=self.target)
            self.http.add_secrets(token)
            self._auth = BearerAuth(token)
        return self._auth

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        auth = self._client_auth()
        headers = {"Authorization": f"Bearer {auth.secrets()[0]}", **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, idempotent=True, **kwargs).body

    def settings_path(self) -> str:
        return f"v2/apps/{self.client_key}/settings/"

    def read_app(self) -> dict[str, Any]:
        body = self._request("GET", self.settings_path())
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise DataError("the settings answer has no data", system=SYSTEM, operation="GET settings", target=self.target)
        return {key: normalized(key, data.get(key) if key == "webhook_url" else data.get(key) or []) for key in SETTINGS}

    @staticmethod
    def check(wanted: Any, option: str = "settings") -> dict[str, Any]:
        return SettingsCheck(SETTINGS, option).check(wanted)

    @staticmethod
    def plan_writes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """One PUT of the settings that differ (keys ``wanted`` lacks are left alone)."""
        changed = {key: value for key, value in wanted.items() if current.get(key) != value}
        return [("PUT settings", changed)] if changed else []

    def write_app(self, current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[dict[str, Any]]:
        made = []
        for call, args in self.plan_writes(current, wanted):
            self.calls.append({"call": call, **args})
            made.append(self.calls[-1])
            self._request("PUT", self.settings_path(), json=args)
        return made

    def token_info(self, token: str) -> TokenInfo:
        self.http.add_secrets(token)
        body = self._request("POST", "v2/oauth/token/introspect/", data={"token": token},
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        if not isinstance(body, dict) or "active" not in body:
            raise DataError("the introspection answer has no 'active'", system=SYSTEM, operation="POST introspect", target=self.target)
        scopes = tuple(scope for scope in str(body.get("scope") or "").split(",") if scope)
        return TokenInfo(bool(body["active"]), scopes, int(body.get("exp") or 0), "" if body["active"] else "inactive (revoked, expired or unknown)",
                         body.get("open_id"))
