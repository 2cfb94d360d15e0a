"""Unleash (npm ``unleash-server``, installed by scripts/install-unleash.sh): the self-hosted flag service, the second flag
provider of the configuration rollback. It keeps its data in database ``unleash`` of a PostgreSQL 15 cluster of its own
(component ``unleash-db``, as Unleash has its own database in production): Unleash commits a few transactions a second,
which would end every idle tail of the lab's "production" cluster that the point-in-time recovery tests need. Its admin
API token is generated with the lab's credentials. ``started``/``reset`` put the lab's toggles (lab/flags.py) in place."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from typing import Any, Optional

from lab import flags
from lab.components.base import Component, http_json, repo_file
from lab.components.postgres import PG_BIN, PostgresCluster, chown_to_postgres, run_as_postgres
from lab.config import HOST, LabConfig

PACKAGE = repo_file(".tools", "unleash", "node_modules", "unleash-server")
ROLE = DATABASE = "unleash"

UNLEASH_DB_CONF = """\
# Written by `lab up` (lab/components/unleash.py); edits are lost on the next start.
listen_addresses = '{host}'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 30
shared_buffers = 32MB
wal_level = minimal
max_wal_senders = 0
fsync = off
log_destination = 'stderr'
log_min_messages = warning
"""
UNLEASH_DB_HBA = """\
local   all             postgres                                peer
host    all             all             127.0.0.1/32            scram-sha-256
"""


class UnleashDb(PostgresCluster):
    """The PostgreSQL 15 cluster of Unleash alone (its database ``unleash``, role ``unleash``)."""

    name = "unleash-db"
    ports = ("unleash_db",)
    description = "PostgreSQL 15 cluster of Unleash (its own, apart from the lab's production cluster)"
    start_timeout = 60.0
    stop_signal = signal.SIGINT

    def available(self) -> Optional[str]:
        return None if (PG_BIN / "postgres").exists() else f"PostgreSQL 15 is not installed in {PG_BIN} (apt-get install postgresql-15)"

    @staticmethod
    def data_dir(cfg: LabConfig):
        return cfg.path("unleash-db", "data")

    @staticmethod
    def socket_dir(cfg: LabConfig):
        return cfg.path("unleash-db", "run")

    def prepare(self, cfg: LabConfig) -> None:
        data = self.data_dir(cfg)
        chown_to_postgres(cfg.path("unleash-db"), self.socket_dir(cfg))
        if not (data / "PG_VERSION").exists():
            run_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256",
                             "--encoding=UTF8", "--locale=C.UTF-8"], cfg)
        (data / "postgresql.conf").write_text(UNLEASH_DB_CONF.format(host=HOST, port=cfg.ports["unleash_db"], socket_dir=self.socket_dir(cfg)))
        (data / "pg_hba.conf").write_text(UNLEASH_DB_HBA)
        chown_to_postgres(data)
        os.chmod(data, 0o700)

    def psql(self, cfg: LabConfig, sql: str) -> str:
        return run_as_postgres([str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir(cfg)),
                                "-p", str(cfg.ports["unleash_db"]), "-d", "postgres"], cfg, stdin=sql)

    def started(self, cfg: LabConfig) -> None:
        creds = cfg.credentials()
        if self.psql(cfg, f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'").strip() != "1":
            self.psql(cfg, f"CREATE ROLE {ROLE} LOGIN PASSWORD '{creds.unleash_db_password}'")
        if self.psql(cfg, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'").strip() != "1":
            self.psql(cfg, f"CREATE DATABASE {DATABASE} OWNER {ROLE}")


START_SCRIPT = """\
// Written by lab/components/unleash.py. Secrets come from the environment, never the command line.
const unleash = require('module').createRequire(%(package)s)('unleash-server');
unleash.start({
  db: {host: %(host)s, port: %(db_port)d, user: %(role)s, password: process.env.UNLEASH_DB_PASSWORD, database: %(database)s,
       ssl: false},
  server: {port: %(port)d, host: %(host)s},
  authentication: {initApiTokens: [{environment: '*', project: '*', secret: process.env.UNLEASH_ADMIN_TOKEN,
                                    type: 'admin', tokenName: 'ofm-lab-admin'}]},
  versionCheck: {enable: false},
  sendTelemetry: false,
}).catch((error) => { console.error(error); process.exit(1); });
"""


def node_version() -> Optional[int]:
    node = shutil.which("node")
    if not node:
        return None
    done = subprocess.run([node, "-p", "process.versions.node"], capture_output=True, text=True, check=False, timeout=20)
    return int(done.stdout.split(".")[0]) if done.returncode == 0 and done.stdout.strip() else None


def admin(cfg: LabConfig, method: str, path: str, body: Any = None) -> Optional[Any]:
    """Call the admin API with the lab's admin token; the JSON answer, or None when unreachable or refused."""
    import urllib.request  # pylint: disable=import-outside-toplevel
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{cfg.url('unleash')}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", "Authorization": cfg.credentials().unleash_admin_token})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # nosec - loopback lab URL
            payload = response.read()
    except OSError:
        return None
    return json.loads(payload) if payload.strip() else {}


def seed_toggles(cfg: LabConfig) -> None:
    """The lab's toggles exist in project default, each on or off in production as lab/flags.py says; others archived."""
    base = f"/api/admin/projects/{flags.UNLEASH_PROJECT}/features"
    listed = admin(cfg, "GET", base) or {}
    existing = {feature["name"] for feature in listed.get("features", [])}
    for name in existing - set(flags.UNLEASH_TOGGLES):
        admin(cfg, "DELETE", f"{base}/{name}")
    for name, enabled in flags.UNLEASH_TOGGLES.items():
        if name not in existing:
            if admin(cfg, "POST", base, {"name": name, "type": "kill-switch", "description": "OFM lab toggle"}) is None:
                raise RuntimeError(f"unleash: could not create the toggle {name}")
        set_toggle(cfg, name, enabled)


def set_toggle(cfg: LabConfig, name: str, enabled: bool) -> None:
    """Turn a toggle of project default on or off in the production environment."""
    switch = "on" if enabled else "off"
    path = f"/api/admin/projects/{flags.UNLEASH_PROJECT}/features/{name}/environments/{flags.UNLEASH_ENVIRONMENT}/{switch}"
    if admin(cfg, "POST", path) is None:
        raise RuntimeError(f"unleash: could not turn {name} {switch} in {flags.UNLEASH_ENVIRONMENT}")


class Unleash(Component):
    name = "unleash"
    ports = ("unleash",)
    description = "Unleash feature-flag service (npm unleash-server) on the lab's PostgreSQL, toggles in project default"
    start_timeout = 120.0

    def available(self) -> Optional[str]:
        version = node_version()
        if version is None or version < 20:
            return "Node.js 20 or newer is needed (apt-get install nodejs)"
        if not (PACKAGE / "package.json").exists():
            return "unleash-server is not installed (scripts/install-unleash.sh)"
        return None

    def script(self, cfg: LabConfig):
        return cfg.path("etc", "unleash.js")

    def prepare(self, cfg: LabConfig) -> None:
        cfg.path("etc").mkdir(parents=True, exist_ok=True)
        self.script(cfg).write_text(START_SCRIPT % {
            "package": json.dumps(str(PACKAGE.parent.parent) + "/"), "host": json.dumps(HOST), "db_port": cfg.ports["unleash_db"], "role": json.dumps(ROLE),
            "database": json.dumps(DATABASE), "port": cfg.ports["unleash"]})

    def env(self, cfg: LabConfig) -> dict[str, str]:
        creds = cfg.credentials()
        return {"UNLEASH_DB_PASSWORD": creds.unleash_db_password, "UNLEASH_ADMIN_TOKEN": creds.unleash_admin_token,
                "NODE_ENV": "production", "LOG_LEVEL": "warn"}

    def argv(self, cfg: LabConfig) -> list[str]:
        return [shutil.which("node") or "node", str(self.script(cfg))]

    def marker(self, cfg: LabConfig) -> Optional[str]:
        return str(self.script(cfg))

    def ready(self, cfg: LabConfig) -> bool:
        health = http_json(f"{cfg.url('unleash')}/health")
        return bool(health) and health.get("health") == "GOOD"

    def started(self, cfg: LabConfig) -> None:
        seed_toggles(cfg)

    def reset(self, cfg: LabConfig) -> None:
        seed_toggles(cfg)

    def endpoints(self, cfg: LabConfig) -> dict[str, str]:
        return {"unleash": cfg.url("unleash")}
