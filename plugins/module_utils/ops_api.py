# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client for the OFM Social OS internal ops API (only a client: the canary rollback workflow is ``canary.py``).

Every ``/internal/ops/*`` and ``/internal/audit`` route needs the ``admin`` role; a refusal's body names the role required
and the caller's roles (``refusal_roles``, handed to the HTTP client so its AuthorizationError carries them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional
from urllib.parse import urljoin

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import DEFAULT_OPS_API_URL, http_client_kwargs, validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError,
    AuthorizationError,
    DataError,
    InputError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.http import BearerAuth, ClientAuth, HttpClient, Response, SessionCookieAuth

SYSTEM = "ops API"
REQUIRED_ROLE = "admin"
ROLLBACK_PATH = "internal/ops/canary/rollback"
PROMOTE_PATH = "internal/ops/canary/promote"
EXECUTE_PATH = "internal/ops/execute"
LOGS_PATH = "internal/ops/logs"
AUDIT_PATH = "internal/audit"
HEALTH_PATH = "health"
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_PREFIX = "ofm-rollback-canary-"
ROLLBACK_REASONS = ("EMERGENCY_SLO_VIOLATION", "PLANNED", "MANUAL", "FAILED_VALIDATION")
OPERATIONS = ("canary-pause", "canary-resume", "canary-rollback", "health-check", "slo-status", "db-backup")
MAX_LOG_LINES = 10000
MAX_AUDIT_ROWS = 1000
ADMIN_LOGIN_HINT = (f"The ops API needs a logged-in caller with role '{REQUIRED_ROLE}': pass the connect.sid session cookie "
                    "(ops_api_session_cookie) or a bearer token (ops_api_token) of an admin account. "
                    "Session cookies expire, so log in again for a fresh one.")

_INCIDENT_ID = re.compile(r"INC-[0-9]+")
_PROMOTE_STEP = re.compile(r"^(?:auto|[1-9][0-9]?|100)$")


@dataclass(frozen=True)
class Identity:
    """Who the ops API takes the caller for; ``None`` fields could not be told (an IP allow-list refused the probe)."""

    authenticated: Optional[bool]
    is_admin: bool
    roles: Optional[list[str]]
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RollbackRequest:
    """What a canary rollback sends: ``reason`` (read by the server) plus the incident id and detail (kept for the audit trail)."""

    reason: str
    incident_id: str
    reason_detail: Optional[str] = None

    def __post_init__(self) -> None:
        if self.reason not in ROLLBACK_REASONS:
            raise InputError(f"{self.reason!r} is not a rollback reason", option="reason", accepted=ROLLBACK_REASONS)
        if not isinstance(self.incident_id, str) or not _INCIDENT_ID.fullmatch(self.incident_id):
            raise InputError(f"{self.incident_id!r} is not an incident id", option="incident_id", accepted="INC- followed by digits, such as INC-1234")

    @property
    def idempotency_key(self) -> str:
        return IDEMPOTENCY_PREFIX + self.incident_id

    def body(self) -> dict[str, Any]:
        body = {"reason": self.reason, "incident_id": self.incident_id}
        if self.reason_detail:
            body["reason_detail"] = self.reason_detail
        return body

    def headers(self) -> dict[str, str]:
        return {IDEMPOTENCY_HEADER: self.idempotency_key}


class OpsApiClient:
    """The ops API routes; ``/internal/ops/*`` and ``/internal/audit`` need an admin's session cookie or token."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        # The ops API's 403 body names the role required and the caller's: its refusals say so (AuthorizationError).
        http.refusal_roles = refusal_roles

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "OpsApiClient":
        """A client from the module's ``OPS_API_SPEC`` and ``HTTP_CLIENT_SPEC`` options (``argspec.py``), validated."""
        auth: Optional[ClientAuth] = None
        if params.get("ops_api_token"):
            auth = BearerAuth(params["ops_api_token"])
        elif params.get("ops_api_session_cookie"):
            auth = SessionCookieAuth(params["ops_api_session_cookie"])
        url = validated_url(params["ops_api_url"], "ops_api_url", example=DEFAULT_OPS_API_URL)
        return cls(HttpClient(url, auth=auth, system=SYSTEM, **http_client_kwargs(params, "ops_api_url")))

    def url(self, path: str) -> str:
        """The redacted absolute URL of ``path``."""
        return self.http.redact(urljoin(self.http.base_url, path))

    def canary_rollback(self, request: RollbackRequest, *, deadline: Optional[float] = None) -> Any:
        """``POST /internal/ops/canary/rollback``, within ``deadline`` seconds; only HTTP 429 and connect errors are retried.

        5xx answers and timeouts are not retried: the server has no idempotency, so ``canary.CanaryRollback`` decides.
        """
        response = self._admin_request("POST", ROLLBACK_PATH, json=request.body(), headers=request.headers(), deadline=deadline)
        if isinstance(response.body, dict) and response.body.get("ok") is False:
            raise DataError(f"HTTP {response.status} with ok=false: {self.http.redact(str(response.body))[:500]}", system=SYSTEM,
                            operation=f"POST /{ROLLBACK_PATH}", target=response.url, status=response.status,
                            hint="The ops API did not confirm the rollback: check the Argo Rollout and the ops API's logs.")
        return response.body

    def canary_promote(self, step: str) -> Any:
        """``POST /internal/ops/canary/promote`` with ``step`` ``auto`` or a percentage."""
        if not _PROMOTE_STEP.match(str(step)):
            raise InputError(f"{step!r} is not a promote step", option="step", accepted="auto, or a canary percentage from 1 to 100")
        return self._admin_request("POST", PROMOTE_PATH, json={"step": str(step)}).body

    def execute(self, operation: str) -> Any:
        """``POST /internal/ops/execute`` with one of ``OPERATIONS``."""
        if operation not in OPERATIONS:
            raise InputError(f"{operation!r} is not an ops API operation", option="operation", accepted=OPERATIONS)
        return self._admin_request("POST", EXECUTE_PATH, json={"operation": operation}).body

    def audit(self, limit: int = 100, action: Optional[str] = None, resource: Optional[str] = None) -> list[dict[str, Any]]:
        """Rows of the ``audit_logs`` table, newest first, optionally only one ``action`` or ``resource``."""
        _check_range(limit, "limit", MAX_AUDIT_ROWS)
        params: dict[str, Any] = {"limit": limit}
        params.update({name: value for name, value in (("action", action), ("resource", resource)) if value})
        response = self._admin_request("GET", AUDIT_PATH, params=params)
        rows = response.body.get("logs") if isinstance(response.body, dict) else None
        if not isinstance(rows, list):
            raise DataError("the answer has no 'logs' list", system=SYSTEM, operation=f"GET /{AUDIT_PATH}", target=response.url,
                            status=response.status)
        return rows

    def write_audit(self, action: str, resource: str, meta: Mapping[str, Any]) -> Any:
        """``POST /internal/audit`` with ``{action, resource, meta}``: one row of the ``audit_logs`` table, written by the server.

        OFM's ops API only lists audit rows (``GET``) today: this route is the collection's convention (the README says so),
        served by the lab's stand-in, for the audit callback's anchors.
        """
        body = {"action": action, "resource": resource, "meta": dict(meta)}
        return self._admin_request("POST", AUDIT_PATH, json=body, expected=(200, 201)).body

    def logs(self, lines: int = 100) -> list[str]:
        """The last ``lines`` lines of the ops API's request log."""
        _check_range(lines, "lines", MAX_LOG_LINES)
        return str(self._admin_request("GET", LOGS_PATH, params={"lines": lines}).body).splitlines()

    def health(self) -> dict[str, Any]:
        """``GET /health``, which needs no credentials."""
        response = self.http.request("GET", HEALTH_PATH)
        if not isinstance(response.body, dict):
            raise DataError("the answer is not a JSON object", system=SYSTEM, operation=f"GET /{HEALTH_PATH}", target=response.url,
                            status=response.status)
        return response.body

    def whoami(self) -> Identity:
        """The caller's identity, from the admin-only ``GET /internal/ops/logs?lines=1`` probe, which changes nothing."""
        try:
            self.http.request("GET", LOGS_PATH, params={"lines": 1})
        except AuthenticationError as exc:
            return Identity(False, False, [], f"not authenticated: {exc.reason}")
        except AuthorizationError as exc:
            if exc.current_roles is None:
                return Identity(None, False, None, f"refused before the roles were checked: {exc.reason}{_refusal_reason(exc)}")
            return Identity(True, False, exc.current_roles, f"lacks role '{exc.required_role or REQUIRED_ROLE}': {exc.reason}")
        return Identity(True, True, [REQUIRED_ROLE], f"the {REQUIRED_ROLE}-only logs probe answered")

    def _admin_request(self, method: str, path: str, **kwargs: Any) -> Response:
        try:
            return self.http.request(method, path, **kwargs)
        except AuthenticationError as exc:
            exc.hint = ADMIN_LOGIN_HINT
            raise


def _refusal_reason(error: AuthorizationError) -> str:
    body = error.details.get("body")
    reason = body.get("reason") if isinstance(body, dict) else None
    return f" ({reason})" if isinstance(reason, str) and reason else ""


def _check_range(value: int, option: str, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InputError(f"{value!r} is out of range", option=option, accepted=f"an integer from 1 to {maximum}")


def refusal_roles(body: Any) -> tuple[Optional[str], Optional[list[str]]]:
    """The role a 403 of the ops API requires and the caller's roles (``{"required": "admin", "current": ["viewer"]}``)."""
    if not isinstance(body, dict):
        return None, None
    required, current = body.get("required"), body.get("current")
    if isinstance(required, list):
        required = ", ".join(str(role) for role in required)
    required_role = required if isinstance(required, str) else None
    current_roles = [str(role) for role in current] if isinstance(current, list) else None
    return required_role, current_roles
