"""Stand-ins for the Meta Graph API and TikTok's Open API: the OFM app's webhook subscriptions, OAuth app settings and tokens.

Meta and TikTok are SaaS platforms that cannot run on a lab machine (and the lab has no internet), so this one process
answers, on one port, the requests the collection makes to both, with the platforms' request and response shapes:

Meta (Graph API, the real shapes):

* ``GET/POST/DELETE /v19.0/{app-id}/subscriptions`` with the app access token ``{app-id}|{app-secret}`` (``access_token``
  in the query or the form): webhook subscriptions ``{"data": [{"object", "callback_url", "active", "fields": [{"name",
  "version"}]}]}``; POST (``object``, ``callback_url``, ``fields``, ``verify_token``, ``include_values``) adds the fields and
  sets the callback URL of the object's subscription, DELETE (``object``, ``fields``) removes fields, an object or all;
  both answer ``{"success": true}``. A GET never shows the ``verify_token``. (The real Graph API then calls the callback
  URL to verify it; the stand-in does not.)
* ``GET /debug_token`` and ``/v19.0/debug_token`` (``input_token``, ``access_token``): ``{"data": {"app_id", "type",
  "application", "expires_at", "is_valid", "issued_at", "scopes", "user_id"}}``; an unknown token is ``is_valid: false``
  with ``data.error``. Errors are Graph's ``{"error": {"message", "type": "OAuthException", "code", "fbtrace_id"}}``.
* ``GET/POST /v19.0/{app-id}/oauth_settings``: **a stand-in shape** (Meta keeps Facebook Login's redirect URIs and the
  permissions an app requests in the App Dashboard, with no public API): ``{"redirect_uris": [...], "scopes": [...]}``;
  POST (JSON) sets the keys it holds and answers ``{"success": true}``.

TikTok (Open API v2):

* ``POST /v2/oauth/token/`` with ``grant_type=client_credentials`` (the real client access token call: ``client_key``,
  ``client_secret``; answers ``{"access_token": "clt...", "expires_in", "token_type"}``, or ``{"error": "invalid_client",
  "error_description", "log_id"}``);
* ``POST /v2/oauth/token/introspect/``: **a stand-in shape**. TikTok publishes no introspection endpoint (a token's scopes
  are in the ``scope`` field of the token endpoint's answer when it is issued or refreshed, and refreshing changes the
  stored token). This one takes ``token`` (form) with the client access token as ``Authorization: Bearer`` and answers
  RFC 7662's shape with TikTok's field names: ``{"active", "scope" (comma-separated, as the token endpoint gives it),
  "exp", "open_id", "client_key"}``;
* ``GET/PUT /v2/apps/{client-key}/settings/``: **a stand-in shape** (TikTok keeps Login Kit's redirect URIs, the scopes and
  the webhook callback URL in the developer portal): ``{"data": {"redirect_uris", "scopes", "webhook_url"}, "error":
  {"code": "ok", "message", "log_id"}}``, TikTok's v2 envelope; errors ``{"error": {"code": "access_token_invalid", ...}}``.

The seed (the OFM app of each platform and OFM's stored platform tokens, secrets included) comes from the environment
variable ``OFM_LAB_PLATFORMS_SEED`` (JSON), never from the command line. Lab routes (loopback only): ``GET /__lab/state``
(without secrets), ``POST /__lab/reset`` (back to the seed), ``PUT /__lab/tokens`` (add or replace a token),
``GET/DELETE /__lab/requests`` (method and path of every platform request, no query strings), ``/__lab/faults``.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import secrets
import threading
import time
from typing import Any, Optional
from urllib.parse import parse_qs

from lab.services.common import FaultInjector, iso_now
from lab.services.httpbase import HTTPError, Request, Response, Router, base_parser, make_handler, serve, tls_context

SEED_VARIABLE = "OFM_LAB_PLATFORMS_SEED"
META_VERSION = "v19.0"
META_OBJECTS = ("user", "page", "permissions", "payments", "application", "instagram", "whatsapp_business_account")
CLIENT_TOKEN_SECONDS = 7200


def meta_error(message: str, code: int = 190, status: int = 400) -> HTTPError:
    return HTTPError(status, {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": secrets.token_hex(8)}})


def tiktok_error(code: str, message: str, status: int) -> HTTPError:
    return HTTPError(status, {"data": {}, "error": {"code": code, "message": message, "log_id": secrets.token_hex(10)}})


def tiktok_ok(data: dict[str, Any]) -> Response:
    return Response(200, {"data": data, "error": {"code": "ok", "message": "", "log_id": secrets.token_hex(10)}})


def form(request: Request) -> dict[str, str]:
    """Query parameters, overlaid with a form or JSON body's (Graph takes parameters in either)."""
    values = dict(request.query)
    content_type = request.headers.get("Content-Type") or ""
    if "application/json" in content_type and request.body:
        body = request.json_object()
        values.update({key: value if isinstance(value, str) else json.dumps(value) for key, value in body.items()})
    elif request.body:
        values.update({key: items[-1] for key, items in parse_qs(request.body.decode(errors="replace")).items()})
    return values


def field_names(raw: Optional[str]) -> list[str]:
    """Graph's ``fields``: a JSON array or a comma-separated list."""
    if not raw:
        return []
    if raw.strip().startswith("["):
        try:
            return [str(name) for name in json.loads(raw)]
        except ValueError as exc:
            raise meta_error(f"(#100) Param fields is not valid JSON: {exc}", code=100) from exc
    return [name.strip() for name in raw.split(",") if name.strip()]


class Platforms:
    """The state of both platforms, from the seed; ``reset`` puts the seed back."""

    def __init__(self, seed: dict[str, Any]) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.meta = copy.deepcopy(self._seed["meta"])
            self.tiktok = copy.deepcopy(self._seed["tiktok"])
            self.tokens = copy.deepcopy(self._seed.get("tokens") or {"meta": {}, "tiktok": {}})
            self.client_tokens: dict[str, float] = {}

    def state(self) -> dict[str, Any]:
        """Everything but the secrets."""
        with self._lock:
            subscriptions = [{key: value for key, value in item.items() if key != "verify_token"} for item in self.meta["subscriptions"]]
            return {"meta": {"app_id": self.meta["app_id"], "subscriptions": subscriptions,
                             "settings": copy.deepcopy(self.meta["settings"])},
                    "tiktok": {"client_key": self.tiktok["client_key"], "settings": copy.deepcopy(self.tiktok["settings"])},
                    "tokens": {platform: len(tokens) for platform, tokens in self.tokens.items()}}

    def routes(self, router: Router) -> None:
        for prefix in ("", f"/{META_VERSION}"):
            router.add("GET", f"{prefix}/debug_token", self.debug_token)
        router.add("GET", f"/{META_VERSION}/{{app_id}}/subscriptions", self.subscriptions)
        router.add("POST", f"/{META_VERSION}/{{app_id}}/subscriptions", self.subscribe)
        router.add("DELETE", f"/{META_VERSION}/{{app_id}}/subscriptions", self.unsubscribe)
        router.add("GET", f"/{META_VERSION}/{{app_id}}/oauth_settings", self.meta_settings)
        router.add("POST", f"/{META_VERSION}/{{app_id}}/oauth_settings", self.set_meta_settings)
        router.add("POST", "/v2/oauth/token/", self.client_token)
        router.add("POST", "/v2/oauth/token/introspect/", self.introspect)
        router.add("GET", "/v2/apps/{client_key}/settings/", self.tiktok_settings)
        router.add("PUT", "/v2/apps/{client_key}/settings/", self.set_tiktok_settings)

    # --- Meta -------------------------------------------------------------------------------------------------------

    def _app(self, request: Request, values: dict[str, str]) -> None:
        """The app access token of the app in the path (or, for debug_token, of the seeded app)."""
        token = values.get("access_token") or ""
        if not token:
            raise meta_error("An access token is required to request this resource.", code=104)
        app_id = request.params.get("app_id", self.meta["app_id"])
        if token != f"{self.meta['app_id']}|{self.meta['app_secret']}":
            raise meta_error("Invalid OAuth access token - Cannot parse access token")
        if app_id != self.meta["app_id"]:
            raise meta_error(f"(#803) Some of the aliases you requested do not exist: {app_id}", code=803, status=404)

    def subscriptions(self, request: Request) -> Response:
        self._app(request, form(request))
        with self._lock:
            return Response(200, {"data": [{key: value for key, value in item.items() if key != "verify_token"}
                                           for item in self.meta["subscriptions"]]})

    def subscribe(self, request: Request) -> Response:
        values = form(request)
        self._app(request, values)
        target = values.get("object") or ""
        if target not in META_OBJECTS:
            raise meta_error(f"(#100) Param object must be one of {{{', '.join(META_OBJECTS)}}}", code=100)
        callback = values.get("callback_url") or ""
        if not callback.startswith("https://"):
            raise meta_error("(#100) Param callback_url must be a valid https URL", code=100)
        if not values.get("verify_token"):
            raise meta_error("(#100) Param verify_token is required with callback_url", code=100)
        names = field_names(values.get("fields"))
        with self._lock:
            current = next((item for item in self.meta["subscriptions"] if item["object"] == target), None)
            if current is None:
                current = {"object": target, "callback_url": callback, "active": True, "fields": []}
                self.meta["subscriptions"].append(current)
            current.update(callback_url=callback, verify_token=values["verify_token"])
            held = [field["name"] for field in current["fields"]]
            current["fields"].extend({"name": name, "version": META_VERSION} for name in names if name not in held)
        return Response(200, {"success": True})

    def unsubscribe(self, request: Request) -> Response:
        values = form(request)
        self._app(request, values)
        target, names = values.get("object"), field_names(values.get("fields"))
        with self._lock:
            kept = []
            for item in self.meta["subscriptions"]:
                if target and item["object"] != target:
                    kept.append(item)
                elif names:
                    item["fields"] = [field for field in item["fields"] if field["name"] not in names]
                    if item["fields"]:
                        kept.append(item)
            self.meta["subscriptions"] = kept
        return Response(200, {"success": True})

    def meta_settings(self, request: Request) -> Response:
        self._app(request, form(request))
        with self._lock:
            return Response(200, copy.deepcopy(self.meta["settings"]))

    def set_meta_settings(self, request: Request) -> Response:
        values = form(request)
        self._app(request, values)
        body = request.json_object() if "application/json" in (request.headers.get("Content-Type") or "") else {}
        self._set_settings(self.meta["settings"], body, lambda message: meta_error(f"(#100) {message}", code=100))
        return Response(200, {"success": True})

    def debug_token(self, request: Request) -> Response:
        values = form(request)
        self._app(request, values)
        held = self.tokens.get("meta", {}).get(values.get("input_token") or "")
        now = int(time.time())
        if held is None or not held.get("valid", True):
            return Response(200, {"data": {"error": {"code": 190, "message": "Invalid OAuth access token."}, "is_valid": False, "scopes": []}})
        expires = int(held.get("expires_at") or 0)
        data = {"app_id": self.meta["app_id"], "type": "USER", "application": "OFM Social OS", "data_access_expires_at": expires,
                "expires_at": expires, "is_valid": expires == 0 or expires > now, "issued_at": int(held.get("issued_at") or now),
                "scopes": list(held.get("scopes") or []), "user_id": str(held.get("user_id") or "17841400000000000")}
        if not data["is_valid"]:
            data["error"] = {"code": 190, "message": "Error validating access token: Session has expired.", "subcode": 463}
        return Response(200, {"data": data})

    # --- TikTok -----------------------------------------------------------------------------------------------------

    def client_token(self, request: Request) -> Response:
        values = form(request)
        if values.get("grant_type") != "client_credentials":
            return Response(400, {"error": "invalid_request", "error_description": "The stand-in serves grant_type=client_credentials only.",
                                  "log_id": secrets.token_hex(10)})
        if values.get("client_key") != self.tiktok["client_key"] or values.get("client_secret") != self.tiktok["client_secret"]:
            return Response(401, {"error": "invalid_client", "error_description": "Client key or secret is incorrect.", "log_id": secrets.token_hex(10)})
        token = "clt." + secrets.token_urlsafe(24)
        with self._lock:
            self.client_tokens[token] = time.time() + CLIENT_TOKEN_SECONDS
        return Response(200, {"access_token": token, "expires_in": CLIENT_TOKEN_SECONDS, "token_type": "Bearer"})

    def _client(self, request: Request) -> None:
        scheme, _sep, token = (request.headers.get("Authorization") or "").partition(" ")
        with self._lock:
            expires = self.client_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expires is None or expires < time.time():
            raise tiktok_error("access_token_invalid", "The access token is invalid or not found in the request.", 401)
        if request.params.get("client_key", self.tiktok["client_key"]) != self.tiktok["client_key"]:
            raise tiktok_error("invalid_params", "Unknown client_key.", 404)

    def introspect(self, request: Request) -> Response:
        self._client(request)
        held = self.tokens.get("tiktok", {}).get(form(request).get("token") or "")
        now = int(time.time())
        if held is None or not held.get("valid", True) or (held.get("expires_at") and int(held["expires_at"]) <= now):
            return Response(200, {"active": False})
        return Response(200, {"active": True, "scope": ",".join(held.get("scopes") or []), "exp": int(held.get("expires_at") or 0),
                              "open_id": held.get("open_id") or "ofm-lab-open-id", "client_key": self.tiktok["client_key"]})

    def tiktok_settings(self, request: Request) -> Response:
        self._client(request)
        with self._lock:
            return tiktok_ok(copy.deepcopy(self.tiktok["settings"]))

    def set_tiktok_settings(self, request: Request) -> Response:
        self._client(request)
        self._set_settings(self.tiktok["settings"], request.json_object(), lambda message: tiktok_error("invalid_params", message, 400))
        with self._lock:
            return tiktok_ok(copy.deepcopy(self.tiktok["settings"]))

    def _set_settings(self, settings: dict[str, Any], body: dict[str, Any], error: Any) -> None:
        unknown = sorted(set(body) - set(settings))
        if unknown:
            raise error(f"unknown settings {', '.join(unknown)}; the app has {', '.join(sorted(settings))}")
        for key, value in body.items():
            if isinstance(settings[key], list) and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
                raise error(f"{key} must be a list of strings")
            if isinstance(settings[key], str) and not isinstance(value, str):
                raise error(f"{key} must be a string")
            if key in ("redirect_uris", "webhook_url") and any(not url.startswith("https://") for url in ([value] if isinstance(value, str) else value)):
                raise error(f"{key} must hold https URLs")
        with self._lock:
            settings.update(copy.deepcopy(body))

    # --- lab --------------------------------------------------------------------------------------------------------

    def put_token(self, request: Request) -> Response:
        body = request.json_object()
        platform, token = body.get("platform"), body.get("token")
        if platform not in ("meta", "tiktok") or not isinstance(token, str) or not token:
            raise HTTPError(400, {"error": "body must be {platform: meta|tiktok, token, scopes, expires_at, valid}"})
        with self._lock:
            self.tokens.setdefault(platform, {})[token] = {key: body[key] for key in ("scopes", "expires_at", "valid", "open_id") if key in body}
        return Response(200, {"ok": True})

    def put_settings(self, request: Request) -> Response:
        """A lab-made change of the apps' settings (``lab external bad``): ``{"meta_callback_url", "meta_redirect_uris",
        "tiktok_webhook_url", "tiktok_scopes"}``, each optional."""
        body = request.json_object()
        with self._lock:
            if "meta_callback_url" in body:
                for item in self.meta["subscriptions"]:
                    item["callback_url"] = body["meta_callback_url"]
            if "meta_redirect_uris" in body:
                self.meta["settings"]["redirect_uris"] = list(body["meta_redirect_uris"])
            if "tiktok_webhook_url" in body:
                self.tiktok["settings"]["webhook_url"] = body["tiktok_webhook_url"]
            if "tiktok_scopes" in body:
                self.tiktok["settings"]["scopes"] = list(body["tiktok_scopes"])
        return Response(200, {"ok": True})


class PlatformsApp:
    """The stand-in with the lab's control routes and fault injection."""

    def __init__(self, seed: dict[str, Any], faults: Optional[FaultInjector] = None) -> None:
        self.platforms = Platforms(seed)
        self.faults = faults or FaultInjector()

    def handler(self) -> type:
        router = Router()
        router.add("GET", "/health", lambda _request: Response(200, {"ok": True, "timestamp": iso_now(), "service": "platforms-lab"}))
        router.add("GET", "/__lab/state", lambda _request: Response(200, self.platforms.state()))
        router.add("POST", "/__lab/reset", self._reset)
        router.add("PUT", "/__lab/tokens", self.platforms.put_token)
        router.add("PUT", "/__lab/settings", self.platforms.put_settings)
        router.add("GET", "/__lab/requests", lambda _request: Response(200, {"requests": list(self.platforms.requests)}))
        router.add("DELETE", "/__lab/requests", self._forget_requests)
        self.faults.add_routes(router)
        self.platforms.routes(router)
        return make_handler(router, "platforms-lab", self.before)

    def before(self, request: Request) -> Optional[Response]:
        if not request.path.startswith("/__lab/") and request.path != "/health":
            self.platforms.requests.append({"method": request.method, "path": request.path, "at": iso_now()})
        return self.faults.intercept(request)

    def _reset(self, _request: Request) -> Response:
        self.platforms.reset()
        self.faults.clear()
        self.platforms.requests.clear()
        return Response(200, self.platforms.state())

    def _forget_requests(self, _request: Request) -> Response:
        self.platforms.requests.clear()
        return Response(200, {"requests": []})


def load_seed(text: Optional[str]) -> dict[str, Any]:
    if not text:
        raise SystemExit(f"platforms stand-in cannot start: the environment variable {SEED_VARIABLE} (the seed, JSON) is not set")
    seed = json.loads(text)
    for platform, keys in (("meta", ("app_id", "app_secret", "subscriptions", "settings")), ("tiktok", ("client_key", "client_secret", "settings"))):
        missing = [key for key in keys if key not in seed.get(platform, {})]
        if missing:
            raise SystemExit(f"platforms stand-in cannot start: the seed's {platform} lacks {', '.join(missing)}")
    return seed


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    return base_parser("Lab stand-in for the Meta Graph API and TikTok's Open API (webhook subscriptions, app settings, tokens).").parse_args(argv)


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    serve(args.host, args.port, PlatformsApp(load_seed(os.environ.get(SEED_VARIABLE))).handler(), tls=tls_context(args))


if __name__ == "__main__":
    main()
