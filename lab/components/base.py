"""What a lab component is: a process with ports, files it needs, and a readiness check."""
from __future__ import annotations

import json
import signal
import sys
import urllib.request
from pathlib import Path
from typing import Any, Optional

from lab.config import HOST, REPO_ROOT, LabConfig
from lab.process import port_open, read_pid


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
    """A lab stand-in written in Python, run as ``python -m lab.services.<module>``."""

    module: str = ""

    def service_args(self, cfg: LabConfig) -> list[str]:
        raise NotImplementedError

    def argv(self, cfg: LabConfig) -> list[str]:
        return [sys.executable, "-m", f"lab.services.{self.module}", *self.service_args(cfg)]

    def ready(self, cfg: LabConfig) -> bool:
        return http_json(f"http://{HOST}:{cfg.ports[self.ports[0]]}/health") is not None


def http_json(url: str, method: str = "GET", body: Any = None, timeout: float = 2.0) -> Optional[Any]:
    """GET/PUT/POST/DELETE a lab control URL; the parsed JSON answer, or None when unreachable."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec - loopback lab URL
            payload = response.read()
    except (OSError, ValueError):
        return None
    try:
        return json.loads(payload) if payload else {}
    except ValueError:
        return {"text": payload.decode(errors="replace")}


def repo_file(*parts: str) -> Path:
    return REPO_ROOT.joinpath(*parts)
