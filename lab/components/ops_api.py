"""The internal ops API stand-in."""
from __future__ import annotations

import json
import os

from lab.components.base import PythonService, lab_json
from lab.components.ofm_api import app_log_file
from lab.config import LabConfig


class OpsApi(PythonService):
    name = "ops-api"
    module = "ops_api"
    ports = ("ops_api",)
    description = "internal ops API stand-in (canary rollback/promote, audit, the OFM API's application log)"
    stand_in = "https://internal.ofm.social (private service; same routes, auth model and error bodies)"

    def prepare(self, cfg: LabConfig) -> None:
        path = cfg.path("data", "ops-api-credentials.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cfg.credentials().ops_api_credentials(), indent=2))
        os.chmod(path, 0o600)

    def service_args(self, cfg: LabConfig) -> list[str]:
        return [
            "--port", str(cfg.ports["ops_api"]),
            "--credentials-file", str(cfg.path("data", "ops-api-credentials.json")),
            "--haproxy-socket", str(cfg.path("run", "haproxy.sock")),
            "--audit-file", str(cfg.path("data", "ops-api-audit.jsonl")),
            "--log-file", str(cfg.path("logs", "ops-api-requests.log")),
            *[argument for version in ("stable", "canary") for argument in ("--app-log", str(app_log_file(cfg, version)))],
        ]

    def reset(self, cfg: LabConfig) -> None:
        lab_json(cfg, "ops_api", "/__lab/faults", "DELETE")
