"""PostgreSQL 15 (Debian package) as the lab's "production" database, archiving its WAL into a pgBackRest repository.

The cluster lives in ``<state>/postgres/production`` and runs as the OS user ``postgres`` (PostgreSQL refuses to run
as root). Its WAL goes to the pgBackRest stanza ``ofm-social-os`` on a local repository (``<state>/pgbackrest/repo``;
S3 in production), with ``archive_timeout`` short so that a point in time a few seconds old is soon covered by the
archive. On first start the OFM schema is created with seed data, the stanza is created and a first full backup is
taken; the ``db-writer`` component then keeps a steady trickle of writes going, and reads through ``ofm_recent_posts``.

Query statistics: ``pg_stat_statements`` is preloaded and created in the database ``ofm`` on every start, with the
monitoring role ``ofm_monitor`` (member of ``pg_monitor``, so of ``pg_read_all_stats``) that ``ofm.rollback.pg_stat_info``
logs in as. ``lab validation slow-query on`` replaces the SQL function ``ofm_recent_posts(creator)`` by one that sleeps
``SLOW_QUERY_SECONDS`` per call (same name, same query text, only slower); ``off`` and ``lab reset`` put the fast one back
(only when it differs: no commit otherwise), and ``lab reset`` also empties the statistics (``pg_stat_statements_reset()``).
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Optional

from lab.components.base import Component
from lab.config import HOST, LabConfig
from lab.process import LabError

PG_BIN = Path(os.environ.get("OFM_LAB_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"
STANZA = "ofm-social-os"
DATABASE = "ofm"
ADMIN_ROLE = "ofm_admin"
APP_ROLE = "ofm_app"
MONITOR_ROLE = "ofm_monitor"
AUDIT_ROLE = "ofm_audit"
SLOW_QUERY_SECONDS = 0.05
SCHEMA_VERSION = "20261101_003"
# platform_rate_limits as seeded: platform -> (per_minute, per_hour, per_day, burst); `lab reset` and `lab config good` put it back.
RATE_LIMITS = {"instagram": (60, 1000, 10000, 10), "tiktok": (30, 600, 6000, 5), "reddit": (60, 1000, 10000, 10), "x": (50, 900, 9000, 10)}
RATE_LIMIT_COLUMNS = ("per_minute", "per_hour", "per_day", "burst")

POSTGRESQL_CONF = """\
# Written by `lab up` (lab/components/postgres.py); edits are lost on the next start.
listen_addresses = '{host}'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 50
shared_buffers = 64MB
wal_level = replica
archive_mode = on
archive_command = '{pgbackrest} --config={pgbackrest_conf} --stanza={stanza} archive-push %p'
archive_timeout = 10
max_wal_senders = 3
checkpoint_timeout = 5min
log_destination = 'stderr'
log_line_prefix = '%m [%p] '
log_min_messages = warning
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.max = 1000
"""

PG_HBA = """\
# Written by `lab up`: the OS user postgres over the socket (pgBackRest, the lab), passwords over TCP.
local   all             postgres                                peer
local   all             all                                     scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
# Base backups of a restored sandbox (pg_validate's backup check) stream over a replication connection.
local   replication     postgres                                peer
host    replication     all             127.0.0.1/32            scram-sha-256
"""

PGBACKREST_CONF = """\
# Written by `lab up`: the stanza of the lab's "production" cluster on a local repository (S3 in production).
[global]
repo1-path={repo}
repo1-retention-full=2
log-path={log}
lock-path={lock}
log-level-console=warn
log-level-file=info
start-fast=y
compress-type=lz4

[{stanza}]
pg1-path={data}
pg1-port={port}
pg1-socket-path={socket_dir}
"""

SCHEMA = """
CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE creators (id bigserial PRIMARY KEY, handle text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE posts (id bigserial PRIMARY KEY, creator_id bigint NOT NULL REFERENCES creators(id), platform text NOT NULL,
                    status text NOT NULL CHECK (status IN ('draft', 'scheduled', 'published', 'failed')), body text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX posts_creator_idx ON posts (creator_id, created_at);
CREATE TABLE media_files (id bigserial PRIMARY KEY, post_id bigint NOT NULL REFERENCES posts(id), url text NOT NULL,
                          bytes bigint NOT NULL CHECK (bytes >= 0), created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE webhooks (id bigserial PRIMARY KEY, platform text NOT NULL, event text NOT NULL, payload jsonb NOT NULL,
                       received_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE platform_tokens (id bigserial PRIMARY KEY, creator_id bigint NOT NULL REFERENCES creators(id), platform text NOT NULL,
                              token_hash text NOT NULL, expires_at timestamptz NOT NULL, UNIQUE (creator_id, platform));
CREATE TABLE platform_rate_limits (platform text PRIMARY KEY, per_minute int NOT NULL, per_hour int NOT NULL, per_day int NOT NULL,
                                   burst int NOT NULL);
CREATE TABLE audit_logs (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT clock_timestamp(), actor_sub text,
                         actor_email text, action text NOT NULL, resource text, meta jsonb, ip inet, ua text);
"""

SEED = """
INSERT INTO schema_migrations (version) VALUES ('20261001_001'), ('20261015_002'), ('{version}');
INSERT INTO creators (handle) SELECT 'creator_' || n FROM generate_series(1, 50) AS n;
INSERT INTO posts (creator_id, platform, status, body)
  SELECT 1 + n % 50, (ARRAY['instagram', 'tiktok', 'reddit', 'x'])[1 + n % 4], 'published', 'seed post ' || n
  FROM generate_series(1, 500) AS n;
INSERT INTO media_files (post_id, url, bytes) SELECT n, 'https://cdn.lab.ofm.social/media/' || n || '.jpg', 1000 * n
  FROM generate_series(1, 200) AS n;
INSERT INTO webhooks (platform, event, payload)
  SELECT 'tiktok', 'video.publish.complete', jsonb_build_object('seq', n) FROM generate_series(1, 100) AS n;
INSERT INTO platform_tokens (creator_id, platform, token_hash, expires_at)
  SELECT n, 'tiktok', md5('token' || n), now() + interval '30 days' FROM generate_series(1, 50) AS n;
INSERT INTO platform_rate_limits VALUES {rate_limits};
INSERT INTO audit_logs (actor_sub, actor_email, action, resource, meta)
  VALUES ('lab|admin', 'admin@lab.ofm.social', 'lab.seed', 'database', '{{"tables": 8}}');
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app};
"""


# The application's recent-posts read (the db-writer calls it), fast, and slow for `lab validation slow-query on`: the same
# function (CREATE OR REPLACE keeps its OID, so the caller's query and its pg_stat_statements queryid stay the same).
RECENT_POSTS_FAST = """
CREATE OR REPLACE FUNCTION ofm_recent_posts(creator bigint, max_rows int DEFAULT 20)
RETURNS TABLE (id bigint, platform text, status text, created_at timestamptz)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN QUERY SELECT p.id, p.platform, p.status, p.created_at FROM posts p
    WHERE p.creator_id = creator ORDER BY p.created_at DESC LIMIT max_rows;
END
$fn$;
"""
RECENT_POSTS_SLOW = """
CREATE OR REPLACE FUNCTION ofm_recent_posts(creator bigint, max_rows int DEFAULT 20)
RETURNS TABLE (id bigint, platform text, status text, created_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM pg_sleep({seconds});
  RETURN QUERY SELECT p.id, p.platform, p.status, p.created_at FROM posts p
    WHERE p.creator_id = creator ORDER BY p.created_at DESC LIMIT max_rows;
END
$fn$;
"""
# Every start (idempotent): query statistics, the monitoring role (pg_monitor holds pg_read_all_stats), the audit writer
# (INSERT and SELECT on audit_logs only), the creators' email addresses (the affected-customers query) and the read function.
STATISTICS = """
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
DO $do$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{monitor}') THEN
    CREATE ROLE {monitor} LOGIN PASSWORD '{password}' IN ROLE pg_monitor;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{audit}') THEN
    CREATE ROLE {audit} LOGIN PASSWORD '{audit_password}';
  END IF;
END $do$;
GRANT SELECT, INSERT ON audit_logs TO {audit};
GRANT USAGE ON SEQUENCE audit_logs_id_seq TO {audit};
ALTER TABLE creators ADD COLUMN IF NOT EXISTS email text;
UPDATE creators SET email = handle || '@creators.lab.ofm.social' WHERE email IS NULL;
"""


def rate_limit_rows() -> str:
    return ", ".join(f"('{platform}', {', '.join(map(str, limits))})" for platform, limits in RATE_LIMITS.items())


# The seeded rows back in one transaction: others deleted, changed ones updated, none written when nothing differs.
RESET_RATE_LIMITS = """
BEGIN;
DELETE FROM platform_rate_limits WHERE platform NOT IN ({platforms});
INSERT INTO platform_rate_limits AS current VALUES {rows}
  ON CONFLICT (platform) DO UPDATE SET {assignments}
  WHERE ({current_columns}) IS DISTINCT FROM ({excluded_columns});
COMMIT;
"""


def as_postgres() -> list[str]:
    """The argv prefix that runs a command as the OS user postgres (exec, no extra process)."""
    return ["setpriv", f"--reuid={OS_USER}", f"--regid={OS_USER}", "--init-groups", "--"]


def run_as_postgres(argv: list[str], cfg: LabConfig, *, stdin: Optional[str] = None, timeout: float = 300) -> str:
    """Run ``argv`` as the OS user postgres; its stdout, or a LabError with its output."""
    done = subprocess.run(as_postgres() + argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
                          cwd="/", env={**os.environ, "HOME": str(cfg.path("postgres"))})
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def chown_to_postgres(*paths: Path) -> None:
    user = pwd.getpwnam(OS_USER)
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        for root, dirs, files in os.walk(path):
            os.chown(root, user.pw_uid, user.pw_gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


class PostgresCluster(Component):
    """A PostgreSQL 15 cluster run as the OS user postgres: its data directory (``data_dir``) on the port ``ports[0]``."""

    @staticmethod
    def data_dir(cfg: LabConfig) -> Path:
        raise NotImplementedError

    def argv(self, cfg: LabConfig) -> list[str]:
        return as_postgres() + [str(PG_BIN / "postgres"), "-D", str(self.data_dir(cfg))]

    def marker(self, cfg: LabConfig) -> Optional[str]:
        return str(PG_BIN / "postgres")

    def ready(self, cfg: LabConfig) -> bool:
        done = subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", HOST, "-p", str(cfg.ports[self.ports[0]])], check=False,
                              capture_output=True, timeout=10)
        return done.returncode == 0


class Postgres(PostgresCluster):
    name = "postgres"
    ports = ("postgres",)
    description = "PostgreSQL 15 'production' cluster, WAL archived by pgBackRest (stanza ofm-social-os, local repository)"
    start_timeout = 90.0
    stop_signal = signal.SIGINT  # "fast" shutdown: the writer's open session would hold a "smart" one forever

    def available(self) -> Optional[str]:
        if not (PG_BIN / "postgres").exists():
            return f"PostgreSQL 15 is not installed in {PG_BIN} (apt-get install postgresql-15)"
        if shutil.which("pgbackrest") is None:
            return "pgBackRest is not installed (apt-get install pgbackrest)"
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"the OS user {OS_USER} does not exist (it comes with the postgresql-15 package)"
        return None

    # --- paths --------------------------------------------------------------------------------------------------------

    @staticmethod
    def data_dir(cfg: LabConfig) -> Path:
        return cfg.path("postgres", "production")

    @staticmethod
    def socket_dir(cfg: LabConfig) -> Path:
        return cfg.path("postgres", "run")

    @staticmethod
    def pgbackrest_conf(cfg: LabConfig) -> Path:
        return cfg.path("pgbackrest", "pgbackrest.conf")

    @staticmethod
    def repo_dir(cfg: LabConfig) -> Path:
        return cfg.path("pgbackrest", "repo")

    # --- lifecycle ----------------------------------------------------------------------------------------------------

    def prepare(self, cfg: LabConfig) -> None:
        data = self.data_dir(cfg)
        chown_to_postgres(cfg.path("postgres"), cfg.path("pgbackrest"))
        for sub in ("repo", "log", "lock"):
            chown_to_postgres(cfg.path("pgbackrest", sub))
        if subprocess.run(as_postgres() + ["test", "-x", str(cfg.path("postgres"))], check=False, cwd="/").returncode != 0:
            raise LabError(f"the OS user {OS_USER} cannot reach {cfg.path('postgres')}: every directory above the lab's "
                           "state directory must be traversable by others (chmod o+x), or set OFM_LAB_STATE_DIR elsewhere")
        self.pgbackrest_conf(cfg).write_text(PGBACKREST_CONF.format(
            repo=self.repo_dir(cfg), log=cfg.path("pgbackrest", "log"), lock=cfg.path("pgbackrest", "lock"), stanza=STANZA,
            data=data, port=cfg.ports["postgres"], socket_dir=self.socket_dir(cfg)))
        os.chmod(self.pgbackrest_conf(cfg), 0o644)
        if not (data / "PG_VERSION").exists():
            run_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", OS_USER, "--auth-local=peer", "--auth-host=scram-sha-256",
                             "--encoding=UTF8", "--locale=C.UTF-8", "--data-checksums"], cfg)
        (data / "postgresql.conf").write_text(POSTGRESQL_CONF.format(
            host=HOST, port=cfg.ports["postgres"], socket_dir=self.socket_dir(cfg), pgbackrest=shutil.which("pgbackrest"),
            pgbackrest_conf=self.pgbackrest_conf(cfg), stanza=STANZA))
        (data / "pg_hba.conf").write_text(PG_HBA)
        chown_to_postgres(data, self.socket_dir(cfg))
        os.chmod(data, 0o700)

    def started(self, cfg: LabConfig) -> None:
        """First start: roles, the OFM schema with seed data, the stanza and a first full backup."""
        if self.psql(cfg, "SELECT 1 FROM pg_database WHERE datname = 'ofm'").strip() != "1":
            creds = cfg.credentials()
            self.psql(cfg, f"CREATE ROLE {ADMIN_ROLE} LOGIN SUPERUSER PASSWORD '{creds.db_admin_password}';"
                           f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{creds.db_app_password}';"
                           f"CREATE DATABASE {DATABASE} OWNER {ADMIN_ROLE};")
            self.psql(cfg, SCHEMA + SEED.format(version=SCHEMA_VERSION, app=APP_ROLE, rate_limits=rate_limit_rows()), database=DATABASE)
        self.psql(cfg, STATISTICS.format(monitor=MONITOR_ROLE, password=cfg.credentials().db_monitor_password, audit=AUDIT_ROLE,
                                         audit_password=cfg.credentials().db_audit_password), database=DATABASE)
        if self.recent_posts_state(cfg) is None:
            self.psql(cfg, RECENT_POSTS_FAST, database=DATABASE)
        if not any(self.repo_dir(cfg).glob("backup/*/backup.info")):
            self.pgbackrest(cfg, "stanza-create")
            self.pgbackrest(cfg, "backup", "--type=full")

    def reset(self, cfg: LabConfig) -> None:
        self.seed_rate_limits(cfg)
        self.set_slow_query(cfg, False)
        self.psql(cfg, "SELECT pg_stat_statements_reset();", database=DATABASE)

    def recent_posts_state(self, cfg: LabConfig) -> Optional[str]:
        """``fast`` or ``slow``: which ofm_recent_posts the database holds (None: not created yet)."""
        found = self.psql(cfg, "SELECT prosrc LIKE '%pg_sleep%' FROM pg_proc WHERE proname = 'ofm_recent_posts'", database=DATABASE).strip()
        return {"t": "slow", "f": "fast"}.get(found)

    def set_slow_query(self, cfg: LabConfig, slow: bool) -> bool:
        """Make ofm_recent_posts sleep SLOW_QUERY_SECONDS per call (or not); False when it already was (nothing committed)."""
        wanted = "slow" if slow else "fast"
        if self.recent_posts_state(cfg) == wanted:
            return False
        self.psql(cfg, RECENT_POSTS_SLOW.format(seconds=SLOW_QUERY_SECONDS) if slow else RECENT_POSTS_FAST, database=DATABASE)
        return True

    def seed_rate_limits(self, cfg: LabConfig) -> None:
        """platform_rate_limits back to its seeded rows (RATE_LIMITS)."""
        self.psql(cfg, RESET_RATE_LIMITS.format(
            platforms=", ".join(f"'{platform}'" for platform in RATE_LIMITS), rows=rate_limit_rows(),
            assignments=", ".join(f"{column} = excluded.{column}" for column in RATE_LIMIT_COLUMNS),
            current_columns=", ".join(f"current.{column}" for column in RATE_LIMIT_COLUMNS),
            excluded_columns=", ".join(f"excluded.{column}" for column in RATE_LIMIT_COLUMNS)), database=DATABASE)

    def set_rate_limit(self, cfg: LabConfig, platform: str, column: str, value: int) -> None:
        """One limit of one platform's row (as an operator's UPDATE would)."""
        if column not in RATE_LIMIT_COLUMNS or platform not in RATE_LIMITS:
            raise ValueError(f"rate limit: platform one of {', '.join(RATE_LIMITS)}, column one of {', '.join(RATE_LIMIT_COLUMNS)}")
        self.psql(cfg, f"UPDATE platform_rate_limits SET {column} = {int(value)} WHERE platform = '{platform}'", database=DATABASE)

    def rate_limits(self, cfg: LabConfig) -> dict[str, tuple[int, ...]]:
        """platform_rate_limits now: platform -> (per_minute, per_hour, per_day, burst)."""
        rows = self.psql(cfg, f"SELECT platform, {', '.join(RATE_LIMIT_COLUMNS)} FROM platform_rate_limits ORDER BY platform", database=DATABASE)
        return {fields[0]: tuple(int(value) for value in fields[1:]) for fields in (line.split("|") for line in rows.splitlines() if line)}

    def psql(self, cfg: LabConfig, sql: str, database: str = "postgres") -> str:
        return run_as_postgres([str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir(cfg)),
                                "-p", str(cfg.ports["postgres"]), "-d", database], cfg, stdin=sql)

    def pgbackrest(self, cfg: LabConfig, *args: str) -> str:
        return run_as_postgres(["pgbackrest", f"--config={self.pgbackrest_conf(cfg)}", f"--stanza={STANZA}", *args], cfg, timeout=600)

    def endpoints(self, cfg: LabConfig) -> dict[str, str]:
        return {"postgres": f"postgresql://{ADMIN_ROLE}@{HOST}:{cfg.ports['postgres']}/{DATABASE}"}
