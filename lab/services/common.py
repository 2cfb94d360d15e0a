"""What the lab's services share besides HTTP plumbing: timestamps, JSONL stores, fault injection, a reader of the Kubernetes
API test server, start-up checks.

Every stand-in offers ``/__lab/*`` routes (loopback only, no auth) so tests can inject faults; ``FaultInjector``
answers them and fails the next matching requests before any route runs.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional, TypeVar

import requests

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

from lab.services.httpbase import HTTPError, Request, Response, Router

LAB_PREFIX = "/__lab/"
MAX_FAULT_DELAY_SECONDS = 300
IP_NOT_ALLOWED = {"error": "Forbidden", "reason": "IP not allowed"}

T = TypeVar("T")


def iso_now() -> str:
    """The current UTC time the way JavaScript's ``toISOString`` prints it."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


class JsonlFile:
    """An append-only JSON Lines file; ``None`` keeps everything in memory only."""

    def __init__(self, path: Optional[str]):
        self.path = path

    def load(self) -> list[dict[str, Any]]:
        if not self.path or not os.path.exists(self.path):
            return []
        rows = []
        with open(self.path, encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise ValueError(f"{self.path} line {number} is not JSON ({exc}); fix or remove that line") from exc
        return rows

    def append(self, row: dict[str, Any]) -> None:
        if self.path:
            with open(self.path, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(row, sort_keys=True) + "\n")

    def truncate(self) -> None:
        if self.path:
            with open(self.path, "w", encoding="utf-8"):
                pass


@dataclass
class Fault:
    status: int
    count: int
    delay_seconds: float
    paths: list[str]

    def matches(self, path: str) -> bool:
        return not self.paths or any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in self.paths)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "count": self.count, "delay_seconds": self.delay_seconds, "paths": self.paths}


def _parse_fault(body: dict[str, Any]) -> Fault:
    status = body.get("status", 503)
    count = body.get("count", 1)
    delay = body.get("delay_seconds", 0)
    paths = body.get("paths") or []
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise HTTPError(400, {"error": "fault 'status' must be an HTTP status from 100 to 599"})
    if not isinstance(count, int) or isinstance(count, bool) or (count < 1 and count != -1):
        raise HTTPError(400, {"error": "fault 'count' must be a positive integer, or -1 for until cleared"})
    if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not 0 <= delay <= MAX_FAULT_DELAY_SECONDS:
        raise HTTPError(400, {"error": f"fault 'delay_seconds' must be a number from 0 to {MAX_FAULT_DELAY_SECONDS}"})
    if not isinstance(paths, list) or not all(isinstance(path, str) and path.startswith("/") for path in paths):
        raise HTTPError(400, {"error": "fault 'paths' must be a list of absolute paths"})
    return Fault(status, count, float(delay), paths)


class FaultInjector:
    """Lab-only fault injection: the next matching requests fail before any route runs.

    A path in ``paths`` matches itself and everything below it; no ``paths`` matches every
    route outside ``/__lab/``. ``/__lab/`` routes answer loopback clients only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: Optional[Fault] = None

    def configure(self, body: dict[str, Any]) -> Fault:
        fault = _parse_fault(body)
        with self._lock:
            self._fault = fault
        return fault

    def clear(self) -> None:
        with self._lock:
            self._fault = None

    def current(self) -> Optional[Fault]:
        with self._lock:
            return Fault(**self._fault.as_dict()) if self._fault else None

    def take(self, path: str) -> Optional[Fault]:
        """Consume one injection for ``path`` if the active fault matches it."""
        with self._lock:
            fault = self._fault
            if fault is None or not fault.matches(path):
                return None
            if fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    self._fault = None
            return fault

    def intercept(self, request: Request) -> Optional[Response]:
        """The answer a request gets before routing: lab routes for loopback only, then faults."""
        if request.path.startswith(LAB_PREFIX):
            return None if is_loopback(request.client_ip) else Response(403, IP_NOT_ALLOWED)
        fault = self.take(request.path)
        if fault is None:
            return None
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        return Response(fault.status, {"error": "Injected fault", "status": fault.status})

    def add_routes(self, router: Router) -> None:
        router.add("GET", "/__lab/faults", self._show)
        router.add("PUT", "/__lab/faults", self._configure)
        router.add("DELETE", "/__lab/faults", self._clear)

    def _show(self, _request: Request) -> Response:
        fault = self.current()
        return Response(200, {"fault": fault.as_dict() if fault else None})

    def _configure(self, request: Request) -> Response:
        return Response(200, {"fault": self.configure(request.json_object()).as_dict()})

    def _clear(self, _request: Request) -> Response:
        self.clear()
        return Response(200, {"fault": None})


class KubeReadError(Exception):
    """The Kubernetes API could not be read."""


def kube_request(base_url: str, method: str, path: str, body: Any = None, content_type: str = "application/json",  # pylint: disable=too-many-arguments
                 timeout: float = 2.0, ca_file: Optional[str] = None) -> Optional[Any]:
    """One request to the lab's Kubernetes API test server, without a token (the cluster admin), trusting ``ca_file`` over
    HTTPS: the JSON answer, None for a 404; KubeReadError for any other failure."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, method=method, headers={"Content-Type": content_type})
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:  # nosec - loopback lab URL
            return json.load(answer)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise KubeReadError(f"{method} {path}: HTTP {exc.code} {exc.read().decode(errors='replace')[:300]}".rstrip()) from exc
    except (OSError, ValueError) as exc:
        raise KubeReadError(f"{method} {path}: {exc}") from exc


class KubeReader:
    """GETs objects from the lab's Kubernetes API test server as JSON (no token: the cluster admin, trusting ``ca_file`` over
    HTTPS); None for an object that does not exist. It polls: one kept-alive connection (a session), not a TLS handshake per
    read."""

    def __init__(self, url: str, timeout: float = 2.0, ca_file: Optional[str] = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.verify = ca_file or True
        self._session.trust_env = False

    def get(self, path: str) -> Optional[dict[str, Any]]:
        try:
            answer = self._session.get(self.url + path, timeout=self.timeout)
        except requests.RequestException as exc:
            raise KubeReadError(f"GET {path}: {exc}") from exc
        if answer.status_code == 404:
            return None
        if answer.status_code >= 400:
            raise KubeReadError(f"GET {path}: HTTP {answer.status_code} {answer.text[:300]}".rstrip())
        try:
            return answer.json()
        except ValueError as exc:
            raise KubeReadError(f"GET {path}: {exc}") from exc


def cli_number(convert: Callable[[str], T], accepts: Callable[[T], bool], requirement: str) -> Callable[[str], T]:
    """An argparse ``type``: ``convert`` the text, then refuse a value that ``accepts`` rejects, naming the ``requirement``."""

    def parse(text: str) -> T:
        value = convert(text)
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"{text} {requirement}")
        return value

    parse.__name__ = convert.__name__
    return parse


def build_or_exit(service: str, build: Callable[[], T], store: Optional[str]) -> T:
    """``build()`` the service's app, or exit saying why ``service`` cannot start (a stored record without a field names ``store``)."""
    try:
        return build()
    except (OSError, ValueError, OfmRollbackError) as exc:
        sys.exit(f"{service} cannot start: {exc}")
    except KeyError as exc:
        sys.exit(f"{service} cannot start: {store} holds a record without field {exc}; fix or remove that line")
