# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Meta Graph API (Instagram apps) over ``http.py``: webhook subscriptions, OAuth app settings, token checks.

- ``GET/POST/DELETE /{version}/{app-id}/subscriptions`` with the app access token ``{app-id}|{app-secret}``: the app's
  webhook subscriptions. POST (``object``, ``callback_url``, ``fields``, ``verify_token``) adds fields to an object's
  subscription and sets its callback URL; DELETE (``object``, ``fields``) removes fields or the object's subscription.
  Meta never returns the ``verify_token``, so a write that subscribes needs it again (option ``verify_token``).
- ``GET /{version}/debug_token?input_token=..`` with the app access token: a token's ``is_valid``, ``scopes``, ``expires_at``.
- ``GET/POST /{version}/{app-id}/oauth_settings``: the app's redirect URIs and requested scopes. Meta keeps these in the App
  Dashboard with no public API: this path is the lab stand-in's shape (lab/services/platforms.py); against a real
  deployment point ``api_url`` at a service that serves it, or leave the OAuth settings out.

Graph errors (``{"error": {"code", "message", "type"}}``, HTTP 400) with code 190, 102 or 104 (the token is invalid,
expired or missing) are ``AuthenticationError`` s.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional
from urllib.parse import quote

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import http_client_kwargs, validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, DataError, InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.common import SettingsCheck, TokenInfo, normalized

SYSTEM = "Meta Graph API"
DEFAULT_API_URL = "https://graph.facebook.com"
VERSION = "v19.0"
SETTINGS = ("redirect_uris", "scopes", "subscriptions")
OAUTH_SETTINGS = ("redirect_uris", "scopes")
TOKEN_ERRORS = (190, 102, 104)


class MetaClient:
    """One Meta app (``app_id``, app secret) through one ``HttpClient``; ``calls`` lists the writes sent."""

    platform = "meta"

    def __init__(self, http: HttpClient, app_id: str, app_secret: str, verify_token: Optional[str] = None) -> None:
        self.http = http
        self.app_id = app_id
        self._app_token = f"{app_id}|{app_secret}"
        self._verify_token = verify_token
        self.calls: list[dict[str, Any]] = []
        self._base = f"{VERSION}/{quote(app_id, safe='')}"

    @classmethod
    def from_params(cls, params: Mapping[str, Any], verify_token: Optional[str] = None) -> "MetaClient":
        app_id = params.get("app_id") or ""
        if not app_id.isdigit():
            raise InputError(f"app_id {app_id!r} is not a Meta app ID", option="app_id", accepted="the app's numeric ID", system=SYSTEM)
        if not params.get("app_secret"):
            raise InputError("app_secret is empty", option="app_secret", accepted="the app secret", system=SYSTEM)
        url = validated_url(params.get("api_url") or DEFAULT_API_URL, "api_url", example=DEFAULT_API_URL)
        secrets = [params["app_secret"], f"{app_id}|{params['app_secret']}", verify_token]
        return cls(HttpClient(url, system=SYSTEM, secrets=secrets, **http_client_kwargs(params, "api_url")), app_id, params["app_secret"], verify_token)

    @property
    def target(self) -> str:
        return f"meta app {self.app_id}"

    @property
    def round_trips(self) -> int:
        return len(self.http.requests)

    def _request(self, method: str, path: str, params: Optional[dict[str, Any]] = None, json_body: Any = None) -> Any:
        try:
            # Every write sets a value or adds what is then present: repeating one is harmless.
            response = self.http.request(method, path, params={**(params or {}), "access_token": self._app_token}, json=json_body, idempotent=True)
        except InputError as exc:
            raise _token_error(exc) from exc
        return response.body

    # --- webhook subscriptions and OAuth settings ------------------------------------------------------------------------

    def subscriptions(self) -> dict[str, dict[str, Any]]:
        body = self._request("GET", f"{self._base}/subscriptions")
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise DataError("the subscriptions answer has no data list", system=SYSTEM, operation="GET subscriptions", target=self.target)
        held = {item["object"]: {"callback_url": item.get("callback_url"), "fields": [_field_name(field) for field in item.get("fields") or []]}
                for item in body["data"] if isinstance(item, dict) and item.get("object")}
        return normalized("subscriptions", held)

    def oauth_settings(self) -> dict[str, Any]:
        body = self._request("GET", f"{self._base}/oauth_settings")
        if not isinstance(body, dict):
            raise DataError("the OAuth settings answer is not an object", system=SYSTEM, operation="GET oauth_settings", target=self.target)
        return {key: normalized(key, body.get(key) or []) for key in OAUTH_SETTINGS}

    def read_app(self) -> dict[str, Any]:
        return {**self.oauth_settings(), "subscriptions": self.subscriptions()}

    @staticmethod
    def check(wanted: Any, option: str = "settings") -> dict[str, Any]:
        checked = SettingsCheck(SETTINGS, option).check(wanted)
        for name, item in (checked.get("subscriptions") or {}).items():
            if not str(item.get("callback_url") or "").startswith("https://") or not item.get("fields"):
                raise InputError(f"{option}.subscriptions.{name} needs an https callback_url and fields", option=f"{option}.subscriptions",
                                 accepted="{object: {callback_url: https URL, fields: [names]}}", system=SYSTEM)
        return checked

    def plan_writes(self, current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The requests that make ``current`` ``wanted`` (keys ``wanted`` lacks are left alone): per subscription object a
        DELETE of the fields it loses (or of the object) and a POST of its callback URL and the fields it gains; one POST of
        the OAuth settings. An ``InputError`` when a POST needs the verify token and none was given."""
        writes: list[tuple[str, dict[str, Any]]] = []
        settings = {key: list(wanted[key]) for key in OAUTH_SETTINGS if key in wanted and wanted[key] != current.get(key)}
        if settings:
            writes.append(("POST oauth_settings", settings))
        if "subscriptions" in wanted:
            have, want = current.get("subscriptions") or {}, wanted["subscriptions"]
            for name in [name for name in have if name not in want]:
                writes.append(("DELETE subscriptions", {"object": name}))
            for name, item in want.items():
                held = have.get(name) or {"callback_url": None, "fields": []}
                lost = [field for field in held["fields"] if field not in item["fields"]]
                if lost:
                    writes.append(("DELETE subscriptions", {"object": name, "fields": lost}))
                if item["callback_url"] != held["callback_url"] or any(field not in held["fields"] for field in item["fields"]):
                    writes.append(("POST subscriptions", {"object": name, "callback_url": item["callback_url"], "fields": item["fields"]}))
        if any(call == "POST subscriptions" for call, _args in writes) and not self._verify_token:
            raise InputError("a webhook subscription must be (re)made and Meta needs its verify token for that", option="verify_token",
                             accepted="the verify token the webhook endpoint checks", system=SYSTEM, hint="Nothing was written.")
        return writes

    def write_app(self, current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Send the writes of ``plan_writes``; the calls made."""
        made = []
        for call, args in self.plan_writes(current, wanted):
            self.calls.append({"call": call, **args})
            made.append(self.calls[-1])
            if call == "POST oauth_settings":
                self._request("POST", f"{self._base}/oauth_settings", json_body=args)
            elif call == "DELETE subscriptions":
                self._request("DELETE", f"{self._base}/subscriptions", {**args, **({"fields": json.dumps(args["fields"])} if "fields" in args else {})})
            else:
                self._request("POST", f"{self._base}/subscriptions", {**args, "fields": ",".join(args["fields"]), "verify_token": self._verify_token})
        return made

    # --- tokens ------------------------------------------------------------------------------------------------------------

    def token_info(self, token: str) -> TokenInfo:
        self.http.add_secrets(token)
        body = self._request("GET", f"{VERSION}/debug_token", {"input_token": token})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise DataError("the debug_token answer has no data", system=SYSTEM, operation="GET debug_token", target=self.target)
        reason = str((data.get("error") or {}).get("message") or "") if isinstance(data.get("error"), dict) else ""
        return TokenInfo(bool(data.get("is_valid")), tuple(data.get("scopes") or ()), int(data.get("expires_at") or 0), reason,
                         str(data.get("user_id")) if data.get("user_id") else None)


def _field_name(field: Any) -> str:
    """A subscribed field: ``{"name", "version"}`` as Graph gives it, or a bare name."""
    return str(field["name"]) if isinstance(field, dict) else str(field)


def _token_error(exc: InputError) -> OfmRollbackError:
    body = (exc.details or {}).get("body")
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("code") in TOKEN_ERRORS:
        return AuthenticationError(f"Meta refused the app access token: {error.get('message')}", system=exc.system, operation=exc.operation,
                                   target=exc.target, status=exc.status, hint="Check app_id and app_secret (the app access token is app_id|app_secret).")
    return exc
