# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the unit tests: running a module's main(), checking its docs, local fake HTTP services,
the lab's stand-ins served from a thread or a process, and HAProxy's runtime API.

Fixtures built on them are in conftest.py beside this file.
"""
from __future__ import annotations

import base64
import contextlib
import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator, Optional
from unittest import mock

import pytest
import yaml
from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args: Optional[dict[str, Any]] = None) -> Iterator[None]:
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()):
            yield

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET_SENTENCE = "This value is a secret and is never logged."
HAPROXY_BACKEND = "ofm_api"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- a module's main() ---------------------------------------------------------------------------

class ModuleExit(Exception):
    """What exit_json or fail_json was called with."""

    def __init__(self, result: dict[str, Any], failed: bool):
        super().__init__(result.get("msg"))
        self.result = result
        self.failed = failed


def _exit_json(_module: Any, **kwargs: Any) -> None:
    raise ModuleExit(kwargs, failed=False)


def _fail_json(_module: Any, msg: Any = None, **kwargs: Any) -> None:
    raise ModuleExit({"msg": msg, **kwargs}, failed=True)


# How run_module runs a module: "module" (AnsibleModule, as in a module process) or "in_process" (the action
# plugin's stand-in, see plugins/plugin_utils/in_process.py). The fixture ``module_runner`` sets it per test.
RUNNER = {"mode": "module"}


def run_module(module: Any, args: dict[str, Any], check_mode: bool = False) -> tuple[bool, dict[str, Any], list[str]]:
    """Run ``module.main()`` with ``args``; return whether it failed, its result, and the warnings it gave."""
    if RUNNER["mode"] == "in_process":
        return _run_in_process(module, args, check_mode)
    warnings: list[str] = []
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)), \
            mock.patch.multiple(basic.AnsibleModule, exit_json=_exit_json, fail_json=_fail_json,
                                warn=lambda _module, warning: warnings.append(warning)):
        with pytest.raises(ModuleExit) as caught:
            module.main()
    return caught.value.failed, caught.value.result, warnings


def _run_in_process(module: Any, args: dict[str, Any], check_mode: bool) -> tuple[bool, dict[str, Any], list[str]]:
    """``run_module`` through the in-process path; the result without the keys AnsibleModule adds on exit."""
    from ansible_collections.ofm.rollback.plugins.plugin_utils.in_process import run_in_process  # pylint: disable=import-outside-toplevel

    result = run_in_process(module.main, args, check_mode)
    failed = bool(result.pop("failed", False))
    warnings = result.pop("warnings", [])
    result.pop("invocation", None)
    return failed, result, warnings


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A local port that accepts connections and never answers (a hung service)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


def exits_within(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` has exited (is gone or a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[-1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


class FakeClock:
    """A monotonic clock that moves only when something sleeps; remembers each sleep."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# --- documentation against argument specs --------------------------------------------------------

def doc_options(documentation: str) -> dict[str, Any]:
    return yaml.safe_load(documentation).get("options") or {}


def documented_options(module: Any, *fragments: Any) -> dict[str, Any]:
    """The options a module's docs show: those of its doc fragments, each overlaid by what the module itself says of it."""
    docs: dict[str, Any] = {}
    for fragment in fragments:
        docs.update(doc_options(fragment.ModuleDocFragment.DOCUMENTATION))
    for name, option in doc_options(module.DOCUMENTATION).items():
        docs[name] = {**docs.get(name, {}), **option}
    return docs


def _description(doc: dict[str, Any]) -> str:
    text = doc["description"]
    return " ".join(text) if isinstance(text, list) else text


def mismatches(spec: dict[str, Any], docs: dict[str, Any], path: str = "") -> list[str]:
    """Where an argument spec and the documented options disagree (names, types, defaults, secrecy, environment)."""
    problems = [f"{path}{name}: in the spec, not documented" for name in spec if name not in docs]
    problems += [f"{path}{name}: documented, not in the spec" for name in docs if name not in spec]
    for name in sorted(set(spec) & set(docs)):
        option, doc = spec[name], docs[name]
        for key, default in (("type", "str"), ("default", None), ("required", False), ("choices", None), ("elements", None)):
            if option.get(key, default) != doc.get(key, default):
                problems.append(f"{path}{name}: {key} is {option.get(key, default)!r} in the spec, {doc.get(key, default)!r} in the docs")
        if option.get("no_log", False) != (SECRET_SENTENCE in _description(doc)):
            problems.append(f"{path}{name}: no_log={option.get('no_log', False)} but the docs {'do not ' * option.get('no_log', False)}say it is secret")
        env = sorted(option["fallback"][1]) if "fallback" in option else []
        if env != sorted(re.findall(r"E\((\w+)\)", _description(doc))):
            problems.append(f"{path}{name}: environment fallback {env} is not what the docs name")
        if "options" in option or "suboptions" in doc:
            problems += mismatches(option.get("options", {}), doc.get("suboptions", {}), f"{path}{name}.")
    return problems


# --- local fake HTTP services --------------------------------------------------------------------

@dataclass
class Reply:
    """What a fake service answers: dict or list bodies as JSON, anything else as text, unless ``content_type`` says otherwise."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: Optional[str] = None


@dataclass
class Received:
    """A request a fake service received; a body that looks like JSON is parsed, any other is kept as text; ``raw`` is the text sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: str = ""

    @property
    def form(self) -> dict[str, str]:
        """The body as an HTML form (the last value of each field)."""
        return {key: values[-1] for key, values in urllib.parse.parse_qs(self.body).items()}

    @property
    def path_only(self) -> str:
        """The path without its query string."""
        return urllib.parse.urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        """The fields of the query string, each with all its values."""
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)


class FakeService:
    """A local HTTP service served from a thread: answers scripted replies first, then ``answer()``; records every request.

    With ``tls_context`` it serves HTTPS.
    """

    def __init__(self, tls_context: Optional[ssl.SSLContext] = None) -> None:
        self.received: list[Received] = []
        self.scripted: list[Reply] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"{'https' if tls_context else 'http'}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def forms(self) -> list[dict[str, str]]:
        """The form (query string or urlencoded body) of every request received, in order."""
        return [request.form for request in self.received]

    def answer(self, request: Received) -> Reply:
        raise NotImplementedError

    def script(self, *replies: Reply) -> None:
        self.scripted = list(replies)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _reply(self, request: Received) -> Reply:
        self.received.append(request)
        return self.scripted.pop(0) if self.scripted else self.answer(request)

    def _handler_class(self) -> type:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                body = json.loads(raw) if raw.startswith(("{", "[")) else raw
                reply = service._reply(Received(self.command, self.path, dict(self.headers), body, raw))
                if reply.delay:
                    time.sleep(reply.delay)
                is_json = isinstance(reply.body, (dict, list))
                payload = (json.dumps(reply.body) if is_json else str(reply.body or "")).encode()
                content_type = reply.content_type or ("application/json; charset=utf-8" if is_json else "text/plain; charset=utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_HEAD = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


REGISTRY_DIGEST = "sha256:" + "ab" * 32
REGISTRY_PASSWORD = "pull-SECRET-9a7f"
REGISTRY_TOKEN = "token-SECRET-1c2d"
REGISTRY_MANIFEST_TYPE = "application/vnd.oci.image.index.v1+json"


class FakeRegistry(FakeService):
    """Holds ``ofm/api:1``; ``mode`` is none, basic (user ``bot``) or bearer (token from ``/token`` with basic credentials)."""

    def __init__(self, mode: str = "none") -> None:
        self.mode = mode
        super().__init__()

    def authorized(self, request: Received) -> bool:
        given = request.headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(f"bot:{REGISTRY_PASSWORD}".encode()).decode()
        return {"none": True, "basic": given == basic, "bearer": given == f"Bearer {REGISTRY_TOKEN}"}[self.mode]

    def answer(self, request: Received) -> Reply:
        if request.path_only == "/token":
            ok = request.headers.get("Authorization") == "Basic " + base64.b64encode(f"bot:{REGISTRY_PASSWORD}".encode()).decode()
            return Reply(200, {"token": REGISTRY_TOKEN, "scope": request.query.get("scope")}) if ok else Reply(401, {"errors": []})
        if not self.authorized(request):
            challenge = (f'Bearer realm="{self.url}/token",service="registry.test",scope="repository:ofm/api:pull"'
                         if self.mode == "bearer" else 'Basic realm="registry"')
            return Reply(401, {"errors": [{"code": "UNAUTHORIZED"}]}, headers={"WWW-Authenticate": challenge})
        if request.path == "/v2/ofm/api/manifests/1" and REGISTRY_MANIFEST_TYPE in request.headers.get("Accept", ""):
            return Reply(200, "", headers={"Docker-Content-Digest": REGISTRY_DIGEST}, content_type=REGISTRY_MANIFEST_TYPE)
        return Reply(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})


class ScriptedService(FakeService):
    """Answers the scripted replies in order, the last one repeating; before any script, 200 ``{"ok": true}``."""

    def __init__(self, tls_context: Optional[ssl.SSLContext] = None) -> None:
        self.last = Reply(200, {"ok": True})
        super().__init__(tls_context)

    def script(self, *replies: Reply) -> None:
        super().script(*replies[:-1])
        self.last = replies[-1]

    def answer(self, request: Received) -> Reply:
        return self.last


class FakePrometheus(FakeService):
    """Prometheus' instant query API answering per-version request rates, one vector per query (the last repeats)."""

    def __init__(self, *vectors: dict[str, float]) -> None:
        self.vectors: list[dict[str, float]] = list(vectors) or [{"stable": 9.0, "canary": 1.0}]
        self.queries: list[str] = []
        super().__init__()

    def answer(self, request: Received) -> Reply:
        self.queries.append(request.form["query"])
        rates = self.vectors.pop(0) if len(self.vectors) > 1 else self.vectors[0]
        result = [{"metric": {"version": version}, "value": [1700000000, str(rate)]} for version, rate in rates.items()]
        return Reply(200, {"status": "success", "data": {"resultType": "vector", "result": result}})


SLACK_TOKEN = "xoxb-unit-7f3a9c1e5d"
SLACK_WEBHOOK_SECRET = "hookSecretZ9y8x7w6"
SLACK_WEBHOOK_PATH = f"/services/TUNIT000/BUNIT000/{SLACK_WEBHOOK_SECRET}"
SLACK_CHANNEL_ID = "C0OPSALRT"


class FakeSlack(FakeService):
    """Slack's incoming webhook at ``SLACK_WEBHOOK_PATH`` and the Web API's chat.postMessage / chat.update for ``SLACK_TOKEN``."""

    def __init__(self) -> None:
        self._ts = 1700000000_000000
        super().__init__()

    @property
    def webhook_url(self) -> str:
        return self.url + SLACK_WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def answer(self, request: Received) -> Reply:
        if request.path == SLACK_WEBHOOK_PATH:
            return Reply(200, "ok")
        if request.path.startswith("/services/"):
            return Reply(404, "no_service")
        if request.headers.get("Authorization") != f"Bearer {SLACK_TOKEN}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        if request.path == "/api/chat.update":
            return Reply(200, {"ok": True, "channel": SLACK_CHANNEL_ID, "ts": request.body["ts"], "text": request.body.get("text")})
        self._ts += 1
        ts = f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"
        message = {"type": "message", "text": request.body.get("text"), "ts": ts}
        if request.body.get("thread_ts"):
            message["thread_ts"] = request.body["thread_ts"]
        return Reply(200, {"ok": True, "channel": SLACK_CHANNEL_ID, "ts": ts, "message": message})


STATUSPAGE_API_KEY = "sp-key-31c0ffee77aa"
STATUSPAGE_PAGE = "unitpage01"


class FakeStatuspage(FakeService):
    """The v1 incidents API of page ``STATUSPAGE_PAGE`` for ``STATUSPAGE_API_KEY``: create, list, get and patch, kept in memory."""

    def __init__(self) -> None:
        self.incidents: dict[str, dict[str, Any]] = {}
        self._clock = 0
        super().__init__()

    @property
    def api_url(self) -> str:
        return self.url + "/v1"

    def add(self, name: str, status: str = "investigating", body: str = "", **fields: Any) -> dict[str, Any]:
        self._clock += 1
        incident_id = f"inc{len(self.incidents) + 1:03d}"
        stamp = f"2025-01-01T00:00:{self._clock:02d}Z"
        incident = {"id": incident_id, "name": name, "status": status, "impact": fields.pop("impact", "none"), "impact_override": None,
                    "shortlink": f"https://stspg.io/{incident_id}", "component_ids": [], "created_at": stamp, "updated_at": stamp,
                    "resolved_at": None, "incident_updates": [{"status": status, "body": body, "created_at": stamp}], **fields}
        self.incidents[incident_id] = incident
        return incident

    def writes(self) -> list[Received]:
        return [request for request in self.received if request.method != "GET"]

    def answer(self, request: Received) -> Reply:
        if request.headers.get("Authorization") != f"OAuth {STATUSPAGE_API_KEY}":
            return Reply(401, {"error": "Could not authenticate"})
        path = request.path_only
        base = f"/v1/pages/{STATUSPAGE_PAGE}/incidents"
        if path == base and request.method == "GET":
            return Reply(200, sorted(self.incidents.values(), key=lambda incident: incident["created_at"], reverse=True))
        if path == base and request.method == "POST":
            fields = dict(request.body["incident"])
            incident = self.add(fields.pop("name"), fields.pop("status", "investigating"), fields.pop("body", ""))
            return Reply(201, self._patch(incident, fields, add_update=False))
        incident = self.incidents.get(path[len(base) + 1:]) if path.startswith(base + "/") else None
        if incident is None:
            return Reply(404, {"error": "Not found"})
        if request.method == "GET":
            return Reply(200, incident)
        return Reply(200, self._patch(incident, dict(request.body["incident"]), add_update=True))

    def _patch(self, incident: dict[str, Any], fields: dict[str, Any], add_update: bool) -> dict[str, Any]:
        self._clock += 1
        stamp = f"2025-01-01T00:00:{self._clock:02d}Z"
        body = fields.pop("body", "")
        fields.pop("deliver_notifications", None)
        incident.update(fields, updated_at=stamp)
        incident["impact"] = incident["impact_override"] or incident["impact"]
        if add_update:
            incident["incident_updates"].insert(0, {"status": incident["status"], "body": body, "created_at": stamp})
        return incident


UNLEASH_TOKEN = "*:*.unit0unleash0admin0token0f00d"
UNLEASH_ENVIRONMENTS = ("development", "production")


class FakeUnleash(FakeService):
    """The Unleash admin API's project toggles for ``UNLEASH_TOKEN``: list them with their environments, turn one on or off in
    an environment, create one; answers and error bodies shaped as unleash-server 8 sends them."""

    def __init__(self, **toggles: bool) -> None:
        self.projects: dict[str, dict[str, dict[str, bool]]] = {
            "default": {name: {env: enabled and env == "production" for env in UNLEASH_ENVIRONMENTS} for name, enabled in toggles.items()}}
        super().__init__()

    def writes(self) -> list[Received]:
        return [request for request in self.received if request.method != "GET"]

    def state(self, name: str, environment: str = "production", project: str = "default") -> bool:
        return self.projects[project][name][environment]

    @staticmethod
    def _error(status: int, name: str, message: str) -> Reply:
        return Reply(status, {"name": name, "message": message, "details": [{"message": message}]})

    def answer(self, request: Received) -> Reply:
        if request.headers.get("Authorization") != UNLEASH_TOKEN:
            return self._error(401, "UnauthorizedError", "You must log in to use Unleash.")
        parts = request.path_only.strip("/").split("/")
        if parts[:3] == ["api", "admin", "projects"] and len(parts) == 8 and parts[4:6] == ["bulk_features", "environments"]:
            return self._bulk(self.projects.get(parts[3], {}), parts[3], parts[6], parts[7], request.body.get("features") or [])
        if parts[:3] != ["api", "admin", "projects"] or len(parts) < 5 or parts[4] != "features":
            return self._error(404, "NotFoundError", f"The path you were looking for ({request.path_only}) is not available.")
        project = self.projects.setdefault(parts[3], {}) if request.method == "POST" else self.projects.get(parts[3], {})
        if len(parts) == 5 and request.method == "GET":
            features = [{"name": name, "type": "kill-switch",
                         "environments": [{"name": env, "enabled": on, "type": env} for env, on in envs.items()]} for name, envs in project.items()]
            return Reply(200, {"version": 2, "features": features})
        if len(parts) == 5 and request.method == "POST":
            name = request.body["name"]
            if name in project:
                return self._error(409, "NameExistsError", f"There is already a feature called {name}")
            project[name] = {env: False for env in UNLEASH_ENVIRONMENTS}
            return Reply(201, {"name": name, "type": request.body.get("type"), "project": parts[3]})
        if len(parts) == 9 and parts[6] == "environments" and request.method == "POST" and parts[8] in ("on", "off"):
            name, env = parts[5], parts[7]
            if name not in project:
                return self._error(404, "NotFoundError", f'There\'s no feature named "{name}" in project "{parts[3]}".')
            if env not in project[name]:
                return self._error(404, "NotFoundError", f"Could not find environment {env} for feature: {name}")
            project[name][env] = parts[8] == "on"
            return Reply(200, "")
        return self._error(404, "NotFoundError", f"The path you were looking for ({request.path_only}) is not available.")

    def _bulk(self, project: dict[str, dict[str, bool]], name: str, env: str, switch: str, features: list[str]) -> Reply:
        """``POST .../bulk_features/environments/<env>/on|off``: every toggle checked before any changes, as Unleash 8 does."""
        for feature in features:
            if feature not in project:
                return self._error(404, "NotFoundError", f'There\'s no feature named "{feature}" in project "{name}".')
            if env not in project[feature]:
                return self._error(404, "NotFoundError", f"Could not find environment {env} for feature: {feature}")
        for feature in features:
            project[feature][env] = switch == "on"
        return Reply(200, "")


# --- the lab's stand-ins -------------------------------------------------------------------------

def http_call(url: str, method: str = "GET", body: Any = None, headers: Optional[dict[str, str]] = None,
              form: Optional[dict[str, str]] = None) -> tuple[int, Any]:
    """One request without proxies: the status and the answer, parsed when it is JSON; error answers included.

    ``body`` is sent as JSON unless it is bytes; ``form`` is sent form-encoded instead.
    """
    if form is not None:
        data, content_type = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    else:
        data, content_type = (body if isinstance(body, bytes) or body is None else json.dumps(body).encode()), "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type, **(headers or {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, _decode(response.read(), response.headers.get_content_type())
    except urllib.error.HTTPError as exc:
        return exc.code, _decode(exc.read(), exc.headers.get_content_type())


def _decode(payload: bytes, content_type: str) -> Any:
    return json.loads(payload) if content_type == "application/json" else payload.decode()


@contextlib.contextmanager
def serving(handler: type) -> Iterator[str]:
    """Serve ``handler`` from a thread on a free loopback port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class LabService:
    """``python -m lab.services.<module> --port <free port> <args>`` as the lab starts it, ready once /health answers."""

    def __init__(self, module: str, *args: str, log: Path, timeout: float = 15.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen([sys.executable, "-m", f"lab.services.{module}", "--port", str(self.port), *args],
                                            cwd=REPO_ROOT, stdout=output, stderr=output)
        self._wait_ready(module, timeout)

    def _wait_ready(self, module: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if http_call(f"{self.url}/health")[0] == 200:
                    return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"lab.services.{module} did not answer /health on port {self.port}; its log:\n{self.log.read_text()}")

    def stop(self) -> int:
        """SIGTERM, then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> LabService:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


# --- HAProxy ----------------------------------------------------------------------------------------

HAPROXY_CONFIG = """\
global
    stats socket {admin} level admin
    stats socket 127.0.0.1:{tcp_port} level admin
    stats socket {operator} level operator

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

backend ofm_api
    balance roundrobin
    server stable 127.0.0.1:{stable_port} weight 90
    server canary 127.0.0.1:{canary_port} weight 10

backend other
    server only 127.0.0.1:{stable_port} weight 1
"""


def haproxy_command(unix_socket: str, command: str) -> str:
    """One command on HAProxy's runtime API over a UNIX socket; its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(unix_socket)
        conn.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


@dataclass(frozen=True)
class Addresses:
    """Where a HAProxy's runtime API listens."""

    admin: str
    operator: str
    tcp: str
    process: Any = field(default=None, compare=False, repr=False)
    config: str = ""


@contextlib.contextmanager
def haproxy_running(workdir: Path, template: str = HAPROXY_CONFIG, **fields: Any) -> Iterator[Addresses]:
    """A real HAProxy with backend ``ofm_api`` (stable 90, canary 10) and ``other``; yields its runtime API addresses.

    ``admin`` and ``operator`` are UNIX sockets at those levels; ``tcp`` is ``127.0.0.1:<port>`` at admin level. Another
    ``template`` (with the fields ``admin``, ``operator``, ``tcp_port``, ``stable_port``, ``canary_port`` and ``fields``) gives
    another configuration; ``Addresses.process`` is the HAProxy process.
    """
    tcp_port = free_port()
    config, log = workdir / "haproxy.cfg", workdir / "haproxy.log"
    admin, operator = str(workdir / "admin.sock"), str(workdir / "operator.sock")
    config.write_text(template.format(admin=admin, operator=operator, tcp_port=tcp_port, stable_port=free_port(), canary_port=free_port(), **fields))
    with log.open("wb") as output, subprocess.Popen(["haproxy", "-f", str(config), "-db"], stdout=output, stderr=subprocess.STDOUT) as process:
        addresses = Addresses(admin=admin, operator=operator, tcp=f"127.0.0.1:{tcp_port}", process=process, config=str(config))
        try:
            _wait_for(lambda: process.poll() is None and "Name: HAProxy" in haproxy_command(addresses.admin, "show info"),
                      f"haproxy runtime API at {addresses.admin} (log: {log})")
            yield addresses
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
            process.wait(timeout=10)


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if predicate():
                return
        time.sleep(0.05)
    pytest.fail(f"{what} not ready within {timeout:.0f}s")


# --- Redis ------------------------------------------------------------------------------------------

REDIS_CONFIG = """\
bind 127.0.0.1
port {port}
requirepass {password}
dir {workdir}
save ""
appendonly no
daemonize no
"""


@dataclass
class RedisServer:
    """A real redis-server started for a test module: its URL (``redis://127.0.0.1:<port>/0``), password, and process."""

    url: str
    password: str
    process: subprocess.Popen
    port: int


@contextlib.contextmanager
def redis_running(workdir: Path, password: str) -> Iterator[RedisServer]:
    """A real ``redis-server`` on a free loopback port with ``requirepass``; stopped afterwards."""
    port = free_port()
    config, log = workdir / "redis.conf", workdir / "redis.log"
    config.write_text(REDIS_CONFIG.format(port=port, password=password, workdir=workdir))
    with log.open("wb") as output, subprocess.Popen(["redis-server", str(config)], stdout=output, stderr=subprocess.STDOUT) as process:
        try:
            _wait_for(lambda: process.poll() is None and _redis_ping(port, password), f"redis-server on port {port} (log: {log})")
            yield RedisServer(f"redis://127.0.0.1:{port}/0", password, process, port)
        finally:
            process.terminate()
            process.wait(timeout=10)


def _redis_ping(port: int, password: str) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
        conn.sendall(f"AUTH {password}\r\nPING\r\n".encode())
        return b"+PONG" in conn.recv(1024) or b"+PONG" in conn.recv(1024)


MOTO_SERVER = Path(sys.executable).parent / "moto_server"


@contextlib.contextmanager
def moto_running() -> Iterator[str]:
    """moto's server mode (the AWS stand-in) on a free port; its URL."""
    port = free_port()
    process = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                               stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: _accepting(port), "moto_server listening", timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _accepting(port: int) -> bool:
    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    return True


# The ops API's production auth answers (test_ops_api_info, test_rollback_authorize).
ADMIN_SESSION = "sid-admin-SECRET-0f3b"
VIEWER_TOKEN = "viewer-token-SECRET-77aa"


class FakeOpsApi(FakeService):
    """``/health`` and the admin-only ``/internal/ops/logs``; ``blocked`` answers /internal like an IP allow-list."""

    def __init__(self) -> None:
        self.blocked = False
        super().__init__()

    @property
    def seen(self) -> list[tuple[str, str]]:
        return [(request.method, request.path) for request in self.received]

    def answer(self, request: Received) -> Reply:
        if request.path == "/health":
            return Reply(200, {"ok": True, "timestamp": "2025-01-01T03:00:00.000Z", "service": "ofm-internal-ops"})
        if self.blocked:
            return Reply(403, {"error": "Forbidden", "reason": "IP not allowed"})
        if request.headers.get("Cookie") == f"connect.sid={ADMIN_SESSION}":
            return Reply(200, "2025-01-01T03:00:00.000Z 127.0.0.1 \"GET /health\" 200 1ms\n")
        if request.headers.get("Authorization") == f"Bearer {VIEWER_TOKEN}":
            return Reply(403, {"error": "Insufficient permissions", "required": "admin", "current": ["viewer"]})
        return Reply(401, {"error": "Authentication required"})
