"""The application's steady writes into the lab's "production" database."""
from __future__ import annotations

from lab.components.base import PythonService
from lab.components.postgres import APP_ROLE, DATABASE
from lab.config import HOST, LabConfig


class DbWriter(PythonService):
    name = "db-writer"
    module = "db_writer"
    ports = ()
    description = "a post and a webhook per second into the 'production' database, as the application role"

    def service_args(self, cfg: LabConfig) -> list[str]:
        return ["--host", HOST, "--port", str(cfg.ports["postgres"]), "--database", DATABASE, "--user", APP_ROLE,
                "--status-file", str(cfg.path("data", "db-writer-status.json"))]

    def env(self, cfg: LabConfig) -> dict[str, str]:
        return {"OFM_LAB_DB_PASSWORD": cfg.credentials().db_app_password}

    def ready(self, cfg: LabConfig) -> bool:
        return self.pid(cfg) is not None
