"""The OFM Social OS API stand-in, stable and canary."""
from __future__ import annotations

from pathlib import Path

from lab import flags
from lab.components.base import PythonService, lab_json
from lab.config import LabConfig
from lab.services.ofm_api import REDIS_PASSWORD_ENV


def app_log_file(cfg: LabConfig, version: str) -> Path:
    """The application log of one version (the ops API stand-in serves both at /internal/ops/logs)."""
    return cfg.path("logs", f"ofm-api-{version}-app.log")


class OfmApi(PythonService):
    module = "ofm_api"
    stand_in = "the OFM Social OS API (the real application is not public; the stand-in serves its metrics, faults and feature flags)"

    def __init__(self, version: str):
        self.version = version
        self.name = f"ofm-api-{version}"
        self.ports = (f"ofm_api_{version}",)
        self.description = f"OFM API stand-in, {version} version (flags from Redis, on a miss from its Deployment's FEATURE_FLAGS)"

    def service_args(self, cfg: LabConfig) -> list[str]:
        creds = cfg.credentials()
        return [
            "--port", str(cfg.ports[self.ports[0]]),
            "--version-name", self.version,
            "--webhook-secret", creds.webhook_secret,
            "--state-file", str(cfg.path("data", f"{self.name}-faults.json")),
            "--redis-port", str(cfg.ports["redis"]),
            "--kube-url", cfg.url("kube_apiserver"), "--kube-ca", str(cfg.ca_file),
            "--app-log", str(app_log_file(cfg, self.version)),
        ]

    def env(self, cfg: LabConfig) -> dict[str, str]:
        # The Redis password in the environment, never on the command line; the TTL of a flag cached again after a miss.
        return {REDIS_PASSWORD_ENV: cfg.credentials().redis_password, "OFM_LAB_FLAG_TTL": str(flags.ttl_seconds())}

    def reset(self, cfg: LabConfig) -> None:
        lab_json(cfg, self.ports[0], "/__lab/faults", "PUT", {"faults": []})
        # The application log starts again: what the faults before the reset logged is no baseline of the next test. The
        # process appends (O_APPEND), so its next line lands at the new end.
        log = app_log_file(cfg, self.version)
        if log.exists():
            log.write_text("")
