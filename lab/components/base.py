"""What a lab component is: a process with ports, files it needs, and a readiness check."""
from __future__ import annotations

import json
import signal
import sys
import urllib.request
from pathlib import Path
from typing import Any, Optional

from lab.config import HOST, REPO_ROOT, TLS_PORTS, LabConfig
from lab.process import port_open, read_pid
from lab.tls import client_context


class Component:
    """One lab process. Subclasses set ``name``, ``ports`` and ``description`` and build ``argv``.

    ``stand_in`` names what the component stands in for when it is not the real software.
    """

    name: str = ""
    description: str = ""
    ports: tuple[str, ...] = ()
    stand_in: Optional[str] = None
    start_timeout: float = 20.0
    stop_signal: int = signal.SIGTERM

    def argv(self, cfg: LabConfig) -> list[str]:
        raise NotImplementedError

    def marker(self, cfg: LabConfig) -> Optional[str]:
        """What the running process's command line contains (None: ``argv[0]``), to recognise it from the pid file."""
        return None

    def env(self, cfg: LabConfig) -> dict[str, str]:
        """Environment variables for the process (secrets go here, never on the command line)."""
        return {}

    def prepare(self, cfg: LabConfig) -> None:
        """Write the files the process needs before it starts (configs, credentials)."""

    def ready(self, cfg: LabConfig) -> bool:
        return all(port_open(HOST, cfg.ports[port]) for port in self.ports)

    def started(self, cfg: LabConfig) -> None:
        """Run once the freshly started process is ready (first-start bootstrapping, such as a schema or a backup)."""

    def reset(self, cfg: LabConfig) -> None:
        """Bring the running component back to its after-``up`` state, without a restart."""

    def available(self) -> Optional[str]:
        """None when the component can run here, else why not (e.g. a missing binary)."""
        return None

    def pid_file(self, cfg: LabConfig) -> Path:
        return cfg.path("run", f"{self.name}.pid")

    def log_file(self, cfg: LabConfig) -> Path:
        return cfg.path("logs", f"{self.name}.log")

    def pid(self, cfg: LabConfig) -> Optional[int]:
        return read_pid(self.pid_file(cfg))

    def endpoints(self, cfg: LabConfig) -> dict[str, str]:
        return {port: f"{HOST}:{cfg.ports[port]}" for port in self.ports}


class PythonService(Component):
    """A lab stand-in written in Python, run as ``python -m lab.services.<module>``; over HTTPS with the lab's services
    certificate when its first port is one of the TLS_PORTS (lab/config.py)."""

    module: str = ""

    def service_args(self, cfg: LabConfig) -> list[str]:
        raise NotImplementedError

    def argv(self, cfg: LabConfig) -> list[str]:
        return [sys.executable, "-m", f"lab.services.{self.module}", *self.service_args(cfg), *self.tls_args(cfg)]

    def tls_args(self, cfg: LabConfig) -> list[str]:
        if not self.ports or self.ports[0] not in TLS_PORTS:
            return []
        cert, key = cfg.service_cert()
        return ["--tls-cert", str(cert), "--tls-key", str(key)]

    def ready(self, cfg: LabConfig) -> bool:
        return lab_json(cfg, self.ports[0], "/health") is not None


def web_config(cfg: LabConfig) -> dict[str, Any]:
    """The ``--web.config.file`` of the Prometheus project's servers (Prometheus, Alertmanager): HTTPS with the lab's services
    certificate."""
    cert, key = cfg.service_cert()
    return {"tls_server_config": {"cert_file": str(cert), "key_file": str(key), "min_version": "TLS12"}}


def lab_json(cfg: LabConfig, port_name: str, path: str, method: str = "GET", body: Any = None, timeout: float = 2.0) -> Optional[Any]:
    """``http_json`` on the lab's port ``port_name``: over HTTPS trusting the lab CA for the TLS_PORTS."""
    return http_json(cfg.url(port_name) + path, method, body, timeout, ca_file=cfg.ca_file if port_name in TLS_PORTS else None)


def http_json(url: str, method: str = "GET", body: Any = None, timeout: float = 2.0, ca_file: Optional[Path] = None) -> Optional[Any]:
    """GET/PUT/POST/DELETE a lab control URL (an https one verified against ``ca_file``); the parsed JSON answer, or None when
    unreachable."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        context = client_context(ca_file) if ca_file else None
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # nosec - loopback lab URL
            payload = response.read()
    except (OSError, ValueError):
        return None
    try:
        return json.loads(payload) if payload else {}
    except ValueError:
        return {"text": payload.decode(errors="replace")}


def repo_file(*parts: str) -> Path:
    return REPO_ROOT.joinpath(*parts)
