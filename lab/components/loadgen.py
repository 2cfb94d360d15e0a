"""The bounded load generator."""
from __future__ import annotations

from lab.components.base import PythonService
from lab.config import LabConfig


class LoadGen(PythonService):
    name = "loadgen"
    module = "loadgen"
    ports = ()
    description = "steady load through HAProxy (stops by itself after load_max_seconds)"

    def service_args(self, cfg: LabConfig) -> list[str]:
        return [
            "--target", cfg.url("haproxy"),
            "--rate", str(cfg.load_rate),
            "--max-seconds", str(cfg.load_max_seconds),
            "--webhook-secret", cfg.credentials().webhook_secret,
            "--status-file", str(cfg.path("data", "loadgen-status.json")),
        ]

    def ready(self, cfg: LabConfig) -> bool:
        return self.pid(cfg) is not None
