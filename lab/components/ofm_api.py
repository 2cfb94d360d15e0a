"""The OFM Social OS API stand-in, stable and canary."""
from __future__ import annotations

from lab.components.base import PythonService, http_json
from lab.config import LabConfig


class OfmApi(PythonService):
    module = "ofm_api"
    stand_in = "the OFM Social OS API (the real application is not public; the stand-in serves its metrics and faults)"

    def __init__(self, version: str):
        self.version = version
        self.name = f"ofm-api-{version}"
        self.ports = (f"ofm_api_{version}",)
        self.description = f"OFM API stand-in, {version} version"

    def service_args(self, cfg: LabConfig) -> list[str]:
        creds = cfg.credentials()
        return [
            "--port", str(cfg.ports[self.ports[0]]),
            "--version-name", self.version,
            "--webhook-secret", creds.webhook_secret,
            "--state-file", str(cfg.path("data", f"{self.name}-faults.json")),
        ]

    def reset(self, cfg: LabConfig) -> None:
        http_json(f"{cfg.url(self.ports[0])}/__lab/faults", "PUT", {"faults": []})
