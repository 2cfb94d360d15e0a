# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client for the Unleash admin API (only a client): a project's toggles and their state in one environment, turning a
toggle (or many at once, with the bulk endpoint of Unleash 5 and newer) on or off there, and creating a toggle.

Authentication is an admin API token sent as ``Authorization: <token>`` (no scheme), as Unleash expects. Turning a toggle
on or off is idempotent on the server, so those POSTs are retried after a 5xx or a missing answer like a GET.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import quote

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError, AuthorizationError, DataError, InputError, NotFoundError)
from ansible_collections.ofm.rollback.plugins.module_utils.http import HeaderAuth, HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.tls import TlsOptions

SYSTEM = "Unleash"
URL_EXAMPLE = "https://unleash.example.com"
TIMEOUT = 30.0
RETRIES = 3
TOGGLE_TYPE = "kill-switch"
# Unleash's own rule for project, environment and toggle names: URL-friendly characters.
_URL_FRIENDLY = re.compile(r"[A-Za-z0-9~._-]+")
_MISSING_TOGGLE = re.compile(r'no feature named "([^"]+)"')
_TOKEN_HINT = "Set unleash_token (or UNLEASH_TOKEN) to an admin API token (Unleash > Admin > API access), sent as the Authorization header."


class AdminTokenAuth(HeaderAuth):
    """``Authorization: <token>``, as the Unleash admin API expects (no ``Bearer``)."""

    def __init__(self, token: str) -> None:
        super().__init__("Authorization", token)


class UnleashClient:
    """The toggles of one Unleash project, in one environment."""

    def __init__(self, http: HttpClient, project: str = "default", environment: str = "production") -> None:
        self.http = http
        self.project = _url_friendly(project, "unleash_project")
        self.environment = _url_friendly(environment, "unleash_environment")
        self._features = f"api/admin/projects/{quote(self.project, safe='')}/features"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "UnleashClient":
        """A client from the ``UNLEASH_SPEC`` options."""
        url = validated_url(params.get("unleash_url") or "", "unleash_url", example=URL_EXAMPLE)
        token = params.get("unleash_token")
        if not token:
            raise InputError("no Unleash API token is set", option="unleash_token", system=SYSTEM, hint=_TOKEN_HINT)
        http = HttpClient(url, auth=AdminTokenAuth(token), system=SYSTEM, verify=params.get("unleash_validate_certs", True),
                          ca_path=params.get("unleash_ca_path"), read_timeout=TIMEOUT, retries=RETRIES,
                          tls_options=TlsOptions("unleash_ca_path", "unleash_validate_certs", "unleash_url"))
        return cls(http, params.get("unleash_project") or "default", params.get("unleash_environment") or "production")

    @property
    def scope(self) -> str:
        return f"project {self.project}, environment {self.environment}"

    def toggles(self) -> dict[str, bool]:
        """Every toggle of the project, in the order Unleash lists them, and whether it is on in the environment.

        A toggle without the environment is an ``InputError`` naming ``unleash_environment`` and the environments it has.
        """
        body = self._request("GET", self._features).body
        features = body.get("features") if isinstance(body, dict) else None
        if not isinstance(features, list):
            raise DataError(f"expected an object with a 'features' list, got {self.http.redact(str(body))[:300]}", system=SYSTEM,
                            operation=f"GET /{self._features}", target=self.scope,
                            hint=f"Check that unleash_url points at the Unleash server, such as {URL_EXAMPLE}.")
        states: dict[str, bool] = {}
        for feature in features:
            if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
                continue
            environments = {env.get("name"): env for env in feature.get("environments") or [] if isinstance(env, dict)}
            if self.environment not in environments:
                raise InputError(f"toggle {feature['name']!r} has no environment {self.environment!r}", option="unleash_environment",
                                 system=SYSTEM, target=self.scope, accepted=sorted(str(name) for name in environments))
            states[feature["name"]] = bool(environments[self.environment].get("enabled"))
        return states

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Turn toggle ``name`` on or off in the environment; a ``NotFoundError`` naming it when the project has no such toggle."""
        toggle = quote(_url_friendly(name, "names"), safe="")
        path = f"{self._features}/{toggle}/environments/{quote(self.environment, safe='')}/{'on' if enabled else 'off'}"
        try:
            self._request("POST", path, idempotent=True, expected=(200, 202, 204))
        except NotFoundError as exc:
            if "environment" in exc.reason.lower():
                raise InputError(f"toggle {name!r} has no environment {self.environment!r}", option="unleash_environment", system=SYSTEM,
                                 operation=exc.operation, target=self.scope, status=exc.status,
                                 hint="Check unleash_environment against the project's environments.") from exc
            raise NotFoundError(f"there is no toggle {name!r} in {self.scope}", system=SYSTEM, operation=exc.operation, target=self.scope,
                                status=exc.status, details={"toggle": name},
                                hint="Check the toggle's name and unleash_project.") from exc

    def set_many(self, names: Sequence[str], enabled: bool) -> None:
        """Turn the toggles ``names`` on or off in the environment in one request (Unleash's bulk endpoint,
        ``POST .../bulk_features/environments/<env>/on|off``). Unleash checks every name before it changes any: an unknown one
        is a ``NotFoundError`` naming it, and nothing was changed."""
        if not names:
            return
        features = [_url_friendly(name, "names") for name in names]
        path = f"api/admin/projects/{quote(self.project, safe='')}/bulk_features/environments/{quote(self.environment, safe='')}/"
        try:
            self._request("POST", path + ("on" if enabled else "off"), json={"features": features}, idempotent=True, expected=(200, 202, 204))
        except NotFoundError as exc:
            missing = _MISSING_TOGGLE.search(exc.reason)
            if "environment" in exc.reason.lower() and not missing:
                raise InputError(f"the toggles have no environment {self.environment!r}", option="unleash_environment", system=SYSTEM,
                                 operation=exc.operation, target=self.scope, status=exc.status,
                                 hint="Check unleash_environment against the project's environments.") from exc
            name = missing.group(1) if missing else None
            raise NotFoundError(f"there is no toggle {name!r} in {self.scope}" if name else exc.reason, system=SYSTEM, operation=exc.operation,
                                target=self.scope, status=exc.status, details={"toggle": name},
                                hint="Check the toggle's name and unleash_project; no toggle was changed.") from exc

    def create(self, name: str, description: str = "Created by ofm.rollback") -> None:
        """Create toggle ``name`` (type kill-switch, off in every environment) in the project."""
        body = {"name": _url_friendly(name, "names"), "type": TOGGLE_TYPE, "description": description}
        self._request("POST", self._features, json=body, expected=(200, 201))

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.http.request(method, path, **kwargs)
        except AuthenticationError as exc:
            exc.hint = _TOKEN_HINT
            raise
        except AuthorizationError as exc:
            exc.hint = (f"The token of unleash_token may not do this in {self.scope}: use an admin token, or a personal access "
                        "token of a user allowed to change toggles in this project and environment.")
            raise


def _url_friendly(value: Optional[str], option: str) -> str:
    if not isinstance(value, str) or not _URL_FRIENDLY.fullmatch(value):
        raise InputError(f"{value!r} is not a valid Unleash name", option=option, system=SYSTEM,
                         accepted="letters, digits and ~ . _ -")
    return value
