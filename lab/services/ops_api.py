"""Stand-in for the OFM internal ops API (``https://internal.ofm.social``).

The real service runs inside the production cluster behind OIDC login and drives Argo
Rollouts; neither can run on a lab machine, so this stand-in reproduces its HTTP contract
(routes, bodies, the admin > operator > viewer role model, the IP allow-list, the missing
idempotency, the audit table) and shifts traffic the lab's way instead: through the runtime
API of the real HAProxy that splits lab traffic between the stable and the canary API.

``GET /internal/ops/logs?lines=N`` serves the last N lines of the OFM API's application log, both versions merged by
time (``--app-log``, repeatable; lab/services/ofm_api.py writes them), as production serves the application's log. Without
``--app-log`` it serves this stand-in's own request log, which ``/__lab/requests`` always reads.

``POST /internal/audit`` (admin, ``{action, resource, meta}``) is not a route of OFM's ops API, which only lists audit rows:
it is the collection's convention for the audit callback's chain anchors (the README names it), limited to actions under
``rollback.`` so a client cannot write rows that look like the server's own (``canary.rollback``, ``ops.execute``).

It also offers ``/__lab/*`` routes (loopback only, no auth) so tests can inject faults and
count the requests they caused. Credentials come from a JSON file; Authorization headers and
cookies are never logged or stored.
"""
from __future__ import annotations

import argparse
import heapq
import ipaddress
import json
import os
import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Optional, Protocol, Sequence, Union
from urllib.parse import unquote

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient, ServerWeight, check_name

from lab.services.common import IP_NOT_ALLOWED, LAB_PREFIX, FaultInjector, JsonlFile, build_or_exit, iso_now
from lab.services.httpbase import HTTPError, Request, Response, Router, base_parser, make_handler, serve, tls_context

SERVICE_NAME = "ofm-internal-ops"
ROLE_RANK = {"viewer": 1, "operator": 2, "admin": 3}
REQUIRED_ROLE = "admin"
DEFAULT_ALLOWED_NETWORKS = ("127.0.0.0/8", "::1/128")
DEFAULT_PROMOTE_STEPS = "10,25,50,75,100"
OPERATIONS = ("canary-pause", "canary-resume", "canary-rollback", "health-check", "slo-status", "db-backup")
UNAVAILABLE_OPERATIONS = ("slo-status", "db-backup")
MAX_LOG_LINES = 10000
MAX_AUDIT_ROWS = 1000
# The collection's convention: clients write audit rows of their own namespace only.
CLIENT_AUDIT_ACTION = re.compile(r"rollback(\.[a-z0-9_]+)+")
MAX_AUDIT_RESOURCE = 200
MAX_AUDIT_META = 65536

AUTH_REQUIRED = {"error": "Authentication required"}

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def int_query(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise HTTPError(400, {"error": f"query parameter {name!r} must be an integer from 1 to {maximum}"})
    return int(raw)


@dataclass(frozen=True)
class Principal:
    sub: str
    email: str
    roles: tuple[str, ...]

    def has_role(self, required: str) -> bool:
        return max((ROLE_RANK.get(role, 0) for role in self.roles), default=0) >= ROLE_RANK[required]


def _principal(entry: Any, where: str) -> Principal:
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object with sub, email and roles")
    sub, email, roles = entry.get("sub"), entry.get("email"), entry.get("roles")
    if not isinstance(sub, str) or not isinstance(email, str):
        raise ValueError(f"{where} needs string fields 'sub' and 'email'")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise ValueError(f"{where} needs 'roles' as a list of strings")
    return Principal(sub, email, tuple(roles))


def _principals(data: dict[str, Any], section: str, path: str) -> dict[str, Principal]:
    entries = data.get(section, {})
    if not isinstance(entries, dict):
        raise ValueError(f"credentials file {path}: {section!r} must be an object keyed by {section[:-1]} id")
    return {secret: _principal(entry, f"credentials file {path}: {section} entry #{index}")
            for index, (secret, entry) in enumerate(entries.items(), start=1)}


def cookie_value(header: str, name: str) -> Optional[str]:
    for part in header.split(";"):
        key, _sep, value = part.strip().partition("=")
        if key == name:
            return unquote(value.strip().strip('"'))
    return None


def session_id(cookie: str) -> Optional[str]:
    """The session id of a ``connect.sid`` value, plain or Express-signed ``s:<sid>.<signature>``.

    The lab does not know the production cookie secret, so the signature is not verified.
    """
    if not cookie.startswith("s:"):
        return cookie or None
    sid, dot, _signature = cookie[2:].rpartition(".")
    return sid if dot and sid else None


class Authenticator:
    """Maps a session cookie or a bearer token to a Principal, the way production does."""

    def __init__(self, sessions: dict[str, Principal], tokens: dict[str, Principal]):
        self._sessions = sessions
        self._tokens = tokens

    @classmethod
    def from_file(cls, path: str) -> Authenticator:
        try:
            with open(path, encoding="utf-8") as stream:
                data = json.load(stream)
        except (OSError, ValueError) as exc:
            raise ValueError(f"credentials file {path} cannot be read as JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"credentials file {path} must hold an object with 'sessions' and 'tokens'")
        return cls(_principals(data, "sessions", path), _principals(data, "tokens", path))

    def identify(self, headers: Any) -> Optional[Principal]:
        scheme, _sep, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() in self._tokens:
            return self._tokens[token.strip()]
        cookie = cookie_value(headers.get("Cookie") or "", "connect.sid")
        sid = session_id(cookie) if cookie else None
        return self._sessions.get(sid) if sid else None

    def require(self, headers: Any, role: str) -> Principal:
        principal = self.identify(headers)
        if principal is None:
            raise HTTPError(401, AUTH_REQUIRED)
        if not principal.has_role(role):
            raise HTTPError(403, {"error": "Insufficient permissions", "required": role, "current": list(principal.roles)})
        return principal


class AuditLog:
    """The ``audit_logs`` table: rows kept in memory and appended to a JSONL file."""

    def __init__(self, store: JsonlFile):
        self._store = store
        self._lock = threading.Lock()
        self._rows = store.load()
        self._next_id = max((row["id"] for row in self._rows), default=0) + 1

    def write(self, actor: Principal, action: str, resource: str, meta: dict[str, Any], ip: str, ua: Optional[str]) -> dict[str, Any]:
        with self._lock:
            row = {"id": self._next_id, "created_at": iso_now(), "actor_sub": actor.sub, "actor_email": actor.email,
                   "action": action, "resource": resource, "meta": meta, "ip": ip, "ua": ua}
            self._next_id += 1
            self._rows.append(row)
            self._store.append(row)
            return row

    def query(self, limit: int, action: Optional[str] = None, resource: Optional[str] = None) -> list[dict[str, Any]]:
        with self._lock:
            rows = [row for row in reversed(self._rows)
                    if (action is None or row["action"] == action) and (resource is None or row["resource"] == resource)]
        return rows[:limit]


class WeightControl(Protocol):
    """What ``CanaryOps`` needs of HAProxy's runtime API: the collection's ``HaproxyRuntimeClient``, or a test's fake."""

    def get_weight(self, backend: str, server: str) -> ServerWeight:
        ...

    def set_weight(self, backend: str, server: str, weight: int) -> None:
        ...


class CanaryOps:
    """Canary traffic control over two HAProxy servers whose weights add up to 100."""

    def __init__(self, runtime: WeightControl, backend: str, stable_server: str, canary_server: str, promote_steps: list[int]):
        check_name("backend", backend)
        check_name("server", stable_server)
        check_name("server", canary_server)
        self.runtime = runtime
        self.backend = backend
        self.stable_server = stable_server
        self.canary_server = canary_server
        self.promote_steps = sorted(set(promote_steps))
        self.paused = False
        self._lock = threading.Lock()

    def accepted_steps(self) -> list[str]:
        return ["auto"] + [str(step) for step in self.promote_steps]

    def weights(self) -> dict[str, int]:
        return {"canary_weight": self.runtime.get_weight(self.backend, self.canary_server).current,
                "stable_weight": self.runtime.get_weight(self.backend, self.stable_server).current}

    def rollback(self) -> dict[str, int]:
        """Send all traffic to stable; returns the weights before."""
        return self.set_canary(0)

    def set_canary(self, canary: int) -> dict[str, int]:
        """Give the canary ``canary`` percent and stable the rest; returns the weights before."""
        with self._lock:
            previous = self.weights()
            self._apply(previous, canary)
            return previous

    def promote(self, step: Any) -> tuple[dict[str, int], dict[str, int]]:
        """Move the canary to ``step`` percent (``auto``: the next step); returns (before, after)."""
        if isinstance(step, bool) or str(step) not in self.accepted_steps():
            accepted = self.accepted_steps()
            raise HTTPError(400, {"error": f"Invalid step {step!r}: accepted values are {', '.join(accepted)}", "accepted": accepted})
        with self._lock:
            if self.paused:
                raise HTTPError(409, {"error": "Canary is paused", "details": "run operation canary-resume before promoting"})
            previous = self.weights()
            canary = self._target(str(step), previous["canary_weight"])
            self._apply(previous, canary)
            return previous, {"canary_weight": canary, "stable_weight": 100 - canary}

    def _target(self, step: str, current: int) -> int:
        if step != "auto":
            return int(step)
        following = [value for value in self.promote_steps if value > current]
        if not following:
            raise HTTPError(409, {"error": "Canary already fully promoted", "canary_weight": current})
        return following[0]

    def _apply(self, previous: dict[str, int], canary: int) -> None:
        """Set both weights, raising one before lowering the other so the backend never has none."""
        targets = {self.canary_server: canary, self.stable_server: 100 - canary}
        before = {self.canary_server: previous["canary_weight"], self.stable_server: previous["stable_weight"]}
        for server in sorted(targets, key=lambda name: targets[name] - before[name], reverse=True):
            self.runtime.set_weight(self.backend, server, targets[server])


class RequestJournal:
    """What this server received: records for ``/__lab/requests`` and the request log lines."""

    def __init__(self, log_path: Optional[str]):
        self._log_path = log_path
        self._lock = threading.Lock()
        self._records: deque[dict[str, Any]] = deque(maxlen=MAX_LOG_LINES)
        self._lines: deque[str] = deque(self._read_log(log_path), maxlen=MAX_LOG_LINES)

    @staticmethod
    def _read_log(log_path: Optional[str]) -> list[str]:
        if not log_path or not os.path.exists(log_path):
            return []
        with open(log_path, encoding="utf-8") as stream:
            return [line.rstrip("\n") for line in deque(stream, maxlen=MAX_LOG_LINES)]

    def record(self, request: Request, response: Response, seconds: float) -> None:
        now = iso_now()
        line = (f'{now} {request.client_ip} "{request.method} {request.path}" {response.status} '
                f'{seconds * 1000:.0f}ms ua="{request.headers.get("User-Agent") or "-"}"')
        with self._lock:
            self._records.append({"method": request.method, "path": request.path, "time": now, "status": response.status,
                                  "idempotency_key": request.headers.get("Idempotency-Key")})
            self._lines.append(line)
            if self._log_path:
                with open(self._log_path, "a", encoding="utf-8") as stream:
                    stream.write(line + "\n")

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records)

    def clear_records(self) -> None:
        with self._lock:
            self._records.clear()

    def tail(self, count: int) -> list[str]:
        with self._lock:
            return list(self._lines)[-count:]


def tail_lines(path: str, count: int, block: int = 65536) -> list[str]:
    """The last ``count`` lines of the file at ``path`` (none when it does not exist), read backwards from its end."""
    try:
        with open(path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            position, data = stream.tell(), b""
            while position > 0 and data.count(b"\n") <= count:
                step = min(block, position)
                position -= step
                stream.seek(position)
                data = stream.read(step) + data
    except FileNotFoundError:
        return []
    return [line.decode("utf-8", errors="replace") for line in data.splitlines()[-count:] if line]


def _line_time(line: str) -> float:
    """The leading ISO time of an application log line as epoch seconds (0 when it has none: sorted first)."""
    try:
        return datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()
    except ValueError:
        return 0.0


class ApplicationLog:
    """The application's log files (one per version), read as one log ordered by time."""

    def __init__(self, paths: Sequence[str]):
        self.paths = list(paths)

    def tail(self, count: int) -> list[str]:
        per_file = [[(_line_time(line), line) for line in tail_lines(path, count)] for path in self.paths]
        return [line for _time, line in list(heapq.merge(*per_file, key=lambda item: item[0]))[-count:]]


class OpsApi:
    """The HTTP surface of the stand-in; every ``/internal/ops/*`` and ``/internal/audit`` route needs admin.

    Audit actions: ``canary.rollback`` (also for ``execute`` canary-rollback, reason ``execute``),
    ``canary.promote``, and ``ops.execute`` for the other operations that ran; clients add ``rollback.*`` rows through
    ``POST /internal/audit`` (the collection's convention).
    """

    def __init__(self, auth: Authenticator, canary: CanaryOps, audit: AuditLog, journal: RequestJournal,
                 allowed_networks: list[IPNetwork], faults: Optional[FaultInjector] = None, app_log: Optional[ApplicationLog] = None):
        self.auth = auth
        self.app_log = app_log
        self.canary = canary
        self.audit = audit
        self.journal = journal
        self.allowed_networks = allowed_networks
        self.faults = faults or FaultInjector()

    def handler(self) -> type:
        return make_handler(self.router(), "ofm-internal-ops-lab", self.before, self.after)

    def router(self) -> Router:
        router = Router()
        router.add("GET", "/health", self._health)
        router.add("POST", "/internal/ops/canary/rollback", self._rollback)
        router.add("POST", "/internal/ops/canary/promote", self._promote)
        router.add("POST", "/internal/ops/execute", self._execute)
        router.add("GET", "/internal/ops/logs", self._logs)
        router.add("GET", "/internal/audit", self._audit_rows)
        router.add("POST", "/internal/audit", self._add_audit_row)
        router.add("GET", "/__lab/requests", self._requests)
        router.add("DELETE", "/__lab/requests", self._clear_requests)
        self.faults.add_routes(router)
        return router

    def before(self, request: Request) -> Optional[Response]:
        intercepted = self.faults.intercept(request)
        if intercepted is None and request.path.startswith("/internal") and not self._ip_allowed(request.client_ip):
            return Response(403, IP_NOT_ALLOWED)
        return intercepted

    def after(self, request: Request, response: Response, seconds: float) -> None:
        if not request.path.startswith(LAB_PREFIX):
            self.journal.record(request, response, seconds)

    def _ip_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        candidates = [ip] + ([ip.ipv4_mapped] if getattr(ip, "ipv4_mapped", None) else [])
        return any(candidate in network for candidate in candidates for network in self.allowed_networks)

    def _admin(self, request: Request) -> Principal:
        return self.auth.require(request.headers, REQUIRED_ROLE)

    def _write_audit(self, request: Request, actor: Principal, action: str, resource: str, meta: dict[str, Any]) -> None:
        self.audit.write(actor, action, resource, meta, request.client_ip, request.headers.get("User-Agent"))

    @staticmethod
    def _health(_request: Request) -> Response:
        return Response(200, {"ok": True, "timestamp": iso_now(), "service": SERVICE_NAME})

    def _rollback(self, request: Request) -> Response:
        actor = self._admin(request)
        reason = request.json_object().get("reason")
        if reason is not None and not isinstance(reason, str):
            raise HTTPError(400, {"error": "'reason' must be a string"})
        return self._run_rollback(request, actor, reason)

    def _run_rollback(self, request: Request, actor: Principal, reason: Optional[str]) -> Response:
        try:
            previous = self.canary.rollback()
        except OfmRollbackError as exc:
            self._write_audit(request, actor, "canary.rollback", "canary", {"reason": reason, "result": "failure", "error": str(exc)})
            return Response(500, {"error": "Canary rollback failed", "details": str(exc)})
        self._write_audit(request, actor, "canary.rollback", "canary", {"reason": reason, "previous": previous, "result": "success"})
        return Response(200, {"ok": True, "message": "Canary rollback initiated", "timestamp": iso_now(), "previous": previous})

    def _promote(self, request: Request) -> Response:
        actor = self._admin(request)
        step = request.json_object().get("step")
        try:
            previous, current = self.canary.promote(step)
        except OfmRollbackError as exc:
            self._write_audit(request, actor, "canary.promote", "canary", {"step": step, "result": "failure", "error": str(exc)})
            return Response(500, {"error": "Canary promote failed", "details": str(exc)})
        self._write_audit(request, actor, "canary.promote", "canary", {"step": step, "previous": previous, "current": current, "result": "success"})
        return Response(200, {"ok": True, "message": "Canary promoted", "timestamp": iso_now(), "previous": previous, "current": current})

    def _execute(self, request: Request) -> Response:
        actor = self._admin(request)
        operation = request.json_object().get("operation")
        if operation not in OPERATIONS:
            raise HTTPError(400, {"error": f"Unknown operation {operation!r}: accepted values are {', '.join(OPERATIONS)}",
                                  "accepted": list(OPERATIONS)})
        if operation in UNAVAILABLE_OPERATIONS:
            return Response(501, {"error": "Not available in the lab", "operation": operation})
        if operation == "canary-rollback":
            return self._run_rollback(request, actor, "execute")
        handlers: dict[str, Callable[[], tuple[int, dict[str, Any]]]] = {
            "canary-pause": lambda: self._set_paused(True),
            "canary-resume": lambda: self._set_paused(False),
            "health-check": self._health_check,
        }
        status, body = handlers[operation]()
        resource = "canary" if operation.startswith("canary-") else "ops"
        self._write_audit(request, actor, "ops.execute", resource, {"operation": operation, "result": "success" if body["ok"] else "failure"})
        return Response(status, dict(body, operation=operation, timestamp=iso_now()))

    def _set_paused(self, paused: bool) -> tuple[int, dict[str, Any]]:
        self.canary.paused = paused
        return 200, {"ok": True, "paused": paused}

    def _health_check(self) -> tuple[int, dict[str, Any]]:
        try:
            haproxy = dict(self.canary.weights(), ok=True, paused=self.canary.paused)
        except OfmRollbackError as exc:
            return 503, {"ok": False, "checks": {"haproxy": {"ok": False, "error": str(exc)}}}
        return 200, {"ok": True, "checks": {"haproxy": haproxy}}

    def _logs(self, request: Request) -> Response:
        self._admin(request)
        count = int_query(request, "lines", 100, MAX_LOG_LINES)
        lines = self.app_log.tail(count) if self.app_log else self.journal.tail(count)
        return Response(200, "".join(line + "\n" for line in lines), content_type="text/plain; charset=utf-8")

    def _audit_rows(self, request: Request) -> Response:
        self._admin(request)
        limit = int_query(request, "limit", 100, MAX_AUDIT_ROWS)
        return Response(200, {"logs": self.audit.query(limit, request.query.get("action"), request.query.get("resource"))})

    def _add_audit_row(self, request: Request) -> Response:
        """``POST /internal/audit``: one row written by a client (the collection's convention, see the module docstring)."""
        actor = self._admin(request)
        body = request.json_object()
        action, resource, meta = body.get("action"), body.get("resource"), body.get("meta", {})
        if not isinstance(action, str) or not CLIENT_AUDIT_ACTION.fullmatch(action):
            raise HTTPError(400, {"error": f"'action' must be a client action under 'rollback.', such as rollback.audit_anchor, not {action!r}"})
        if not isinstance(resource, str) or not 0 < len(resource) <= MAX_AUDIT_RESOURCE:
            raise HTTPError(400, {"error": f"'resource' must be a string of 1 to {MAX_AUDIT_RESOURCE} characters"})
        if not isinstance(meta, dict) or len(json.dumps(meta)) > MAX_AUDIT_META:
            raise HTTPError(400, {"error": f"'meta' must be a JSON object of at most {MAX_AUDIT_META} bytes"})
        row = self.audit.write(actor, action, resource, meta, request.client_ip, request.headers.get("User-Agent"))
        return Response(201, {"ok": True, "id": row["id"], "created_at": row["created_at"]})

    def _requests(self, _request: Request) -> Response:
        return Response(200, {"requests": self.journal.records()})

    def _clear_requests(self, _request: Request) -> Response:
        self.journal.clear_records()
        return Response(200, {"requests": []})


def _steps(value: str) -> list[int]:
    try:
        steps = sorted({int(part) for part in value.split(",")})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"promote steps {value!r} must be comma-separated integers") from exc
    if not steps or steps[0] < 1 or steps[-1] > 100:
        raise argparse.ArgumentTypeError(f"promote steps {value!r} must lie between 1 and 100")
    return steps


def _network(value: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = base_parser("Lab stand-in for the OFM internal ops API, shifting canary traffic through HAProxy's runtime API.")
    parser.add_argument("--credentials-file", required=True, help="JSON file with 'sessions' and 'tokens' -> {sub, email, roles}")
    parser.add_argument("--haproxy-socket", required=True, help="HAProxy stats socket: a UNIX socket path or host:port")
    parser.add_argument("--backend", default="ofm_api", help="HAProxy backend holding the stable and canary servers")
    parser.add_argument("--stable-server", default="stable", help="HAProxy server name of the stable API")
    parser.add_argument("--canary-server", default="canary", help="HAProxy server name of the canary API")
    parser.add_argument("--audit-file", help="JSONL audit table, appended to and reloaded at start")
    parser.add_argument("--log-file", help="this stand-in's request log, appended to and reloaded at start (served by "
                        "/internal/ops/logs when no --app-log is given)")
    parser.add_argument("--app-log", action="append", default=[], metavar="PATH",
                        help="an application log file served by /internal/ops/logs (repeatable: merged by time)")
    parser.add_argument("--allow-cidr", action="append", type=_network,
                        help="network allowed to call /internal routes (repeatable; default loopback only)")
    parser.add_argument("--promote-steps", type=_steps, default=_steps(DEFAULT_PROMOTE_STEPS),
                        help=f"canary weights that promote 'auto' walks through (default {DEFAULT_PROMOTE_STEPS})")
    return parser.parse_args(argv)


def build_app(args: argparse.Namespace) -> OpsApi:
    canary = CanaryOps(HaproxyRuntimeClient(args.haproxy_socket), args.backend, args.stable_server, args.canary_server, args.promote_steps)
    networks = args.allow_cidr or [ipaddress.ip_network(network) for network in DEFAULT_ALLOWED_NETWORKS]
    return OpsApi(Authenticator.from_file(args.credentials_file), canary, AuditLog(JsonlFile(args.audit_file)),
                  RequestJournal(args.log_file), networks, app_log=ApplicationLog(args.app_log) if args.app_log else None)


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    app = build_or_exit("ops API stand-in", lambda: build_app(args), args.audit_file)
    serve(args.host, args.port, app.handler(), tls=tls_context(args))


if __name__ == "__main__":
    main()
