"""pg_validate and pg_rollback_report through the real ``ansible`` command, against the lab's PostgreSQL.

The lab's cluster is the source and is only read. Each sandbox is a real point-in-time recovery of it: ``pgbackrest restore``
of the lab's stanza to the end of its first backup (``--type=immediate``, promoted, ``archive_mode`` off so it never archives
into the lab's repository), started on a free port as the OS user postgres. The broken sandbox is then damaged for real:
a table dropped, constraints added NOT VALID, the latest migration removed, and a page of an index overwritten.
"""
from __future__ import annotations

import json
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
from labtest import Secrets, run_module
from unithelpers import free_port

from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate import options as vo
from lab.components.postgres import APP_ROLE, DATABASE, PG_BIN, SCHEMA_VERSION, STANZA, Postgres, chown_to_postgres, run_as_postgres
from lab.config import HOST, LabConfig

TABLES = ["creators", "posts", "media_files", "webhooks", "platform_tokens", "platform_rate_limits", "audit_logs", "schema_migrations"]


@dataclass
class Sandbox:
    port: int
    data: Path

    def connection(self, secrets: Secrets) -> dict[str, Any]:
        return {"host": HOST, "port": self.port, "database": DATABASE, "user": "ofm_admin", "password": secrets["db_admin_password"]}

    def sql(self, secrets: Secrets, *statements: str) -> list[Any]:
        with psycopg.connect(host=HOST, port=self.port, dbname=DATABASE, user="ofm_admin", password=secrets["db_admin_password"],
                             autocommit=True) as conn:
            return [conn.execute(statement).fetchall() if statement.lstrip().upper().startswith("SELECT") else conn.execute(statement)
                    for statement in statements]


def pg_ctl(lab: LabConfig, data: Path, *args: str) -> None:
    run_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "server.log"), "-w", "-t", "60", *args], lab)


@pytest.fixture(name="restore_sandbox")
def fixture_restore_sandbox(lab: LabConfig) -> Iterator[Any]:
    """Makes sandboxes restored from the lab's stanza; stops and removes them afterwards."""
    made: list[Sandbox] = []

    def restore() -> Sandbox:
        root = Path(tempfile.mkdtemp(prefix="ofm-validate-sandbox-"))
        chown_to_postgres(root)
        data, port = root / "data", free_port()
        run_as_postgres(["pgbackrest", f"--config={Postgres.pgbackrest_conf(lab)}", f"--stanza={STANZA}", f"--pg1-path={data}",
                         "--type=immediate", "--target-action=promote", "--archive-mode=off", "--log-level-file=off", "restore"], lab)
        with (data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {port}\nunix_socket_directories = '{root}'\nlisten_addresses = '{HOST}'\n")
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host replication all {HOST}/32 scram-sha-256\n")
        pg_ctl(lab, data, "start")
        sandbox = Sandbox(port, data)
        made.append(sandbox)
        return sandbox

    yield restore
    for sandbox in made:
        run_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(sandbox.data), "-m", "immediate", "-w", "stop"], lab)
        shutil.rmtree(sandbox.data.parent, ignore_errors=True)


def wait_promoted(sandbox: Sandbox, secrets: Secrets) -> None:
    for _attempt in range(100):
        if sandbox.sql(secrets, "SELECT pg_is_in_recovery()")[0] == [(False,)]:
            return
        time.sleep(0.1)
    pytest.fail(f"the sandbox on port {sandbox.port} was not promoted")


def source(lab: LabConfig, secrets: Secrets) -> dict[str, Any]:
    return {"host": HOST, "port": lab.ports["postgres"], "database": DATABASE, "user": "ofm_admin", "password": secrets["db_admin_password"]}


def base_args(lab: LabConfig, secrets: Secrets, sandbox: Sandbox, stanza: str = STANZA) -> dict[str, Any]:
    return {
        "sandbox": sandbox.connection(secrets), "source": source(lab, secrets), "app": {"user": APP_ROLE, "password": secrets["db_app_password"]},
        "schema_version": {"expected": SCHEMA_VERSION},
        "data_integrity": {
            "tables": TABLES,
            "row_counts": [{"table": "creators", "min": 50, "max": 50}, {"table": "platform_rate_limits", "compare_to_source": True}],
            "amcheck_create_extension": True,
            "assertions": [{"name": "rate limits", "query": "SELECT count(*) FROM platform_rate_limits", "expected": 4},
                           {"name": "no orphan posts", "query": "SELECT p.id FROM posts p LEFT JOIN creators c ON c.id = p.creator_id "
                                                                "WHERE c.id IS NULL", "expected_rows": 0}]},
        "application_compatibility": {"smoke_queries": [{"name": "recent posts", "query": "SELECT id FROM posts ORDER BY created_at DESC LIMIT 20"},
                                                        {"name": "queue a post", "query": "INSERT INTO posts (creator_id, platform, status, body) "
                                                                                          "VALUES (1, 'x', 'draft', 'smoke')"}]},
        "performance": {"queries": [{"name": "posts by creator", "query": "SELECT * FROM posts WHERE creator_id = 7 ORDER BY created_at LIMIT 50",
                                     "budget": "250ms", "runs": 5}]},
        "backup_status": {"pgbackrest_stanza": stanza, "pgbackrest_config": str(Postgres.pgbackrest_conf(lab))},
    }


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in result["checks"]}


def assert_no_secret(run: Any, secrets: Secrets) -> None:
    for key in ("db_admin_password", "db_app_password"):
        assert secrets[key] not in run.output


def test_a_good_sandbox_passes_check_mode_writes_nothing_and_the_report_is_written_once(lab, secrets, restore_sandbox, tmp_path):
    sandbox = restore_sandbox()
    wait_promoted(sandbox, secrets)
    args = base_args(lab, secrets, sandbox)

    check = run_module("pg_validate", args, tmp_path, check=True)
    assert not check.failed, check.output
    checks = by_name(check.result)
    assert checks["amcheck"]["status"] == "skipped" and checks["amcheck"]["detail"].startswith("check mode: would run CREATE EXTENSION")
    assert checks["new_backup"]["status"] == "skipped" and checks["new_backup"]["detail"].startswith("check mode")
    assert check.result["changed"] is False and sandbox.sql(secrets, "SELECT extname FROM pg_extension WHERE extname = 'amcheck'")[0] == []

    run = run_module("pg_validate", args, tmp_path)
    assert not run.failed, run.output
    checks = by_name(run.result)
    assert {name: check["status"] for name, check in checks.items() if check["status"] != "ok"} == {}
    assert run.result["passed"] is True and run.result["changed"] is True
    assert set(run.result["summary"]) == set(vo.CATEGORIES) and all(row["status"] == "ok" for row in run.result["summary"].values())
    assert checks["schema_version"]["measured"]["version"] == SCHEMA_VERSION
    assert checks["row_count:creators"]["measured"]["rows"] == 50
    expected_counts = {"rows": 4, "min": None, "max": None, "source_rows": 4, "difference": 0, "allowed_difference": 0}
    assert checks["row_count:platform_rate_limits"]["measured"] == expected_counts
    assert checks["amcheck"]["measured"]["indexes_checked"] >= 10 and checks["amcheck"]["measured"]["failures"] == []
    assert checks["constraints_valid"]["measured"]["foreign_keys"] == 3
    assert checks["app_connect"]["measured"]["user"] == APP_ROLE
    assert checks["latency:posts by creator"]["measured"]["runs"] == 5
    assert checks["new_backup"]["measured"]["bytes"] > 10_000_000
    assert checks["source_archiver"]["measured"]["archive_mode"] == "on"
    assert all(query["query"].upper().startswith("SELECT") for query in run.result["queries"] if query["target"] == "source")
    assert sandbox.sql(secrets, "SELECT count(*) FROM posts WHERE body = 'smoke'")[0] == [(0,)], "smoke queries are rolled back"
    assert_no_secret(run, secrets)

    again = run_module("pg_validate", args, tmp_path)
    assert not again.failed and again.result["changed"] is False and again.result["passed"] is True

    results = tmp_path / "results"
    report_args = {"results_dir": str(results), "restore_started_at": run.result["started_at"], "validation": run.result,
                   "target_time": "2026-11-28 03:00:00", "reached_time": "2026-11-28 02:59:58", "context": {"incident_id": "INC-5"}}
    report = run_module("pg_rollback_report", report_args, tmp_path)
    assert not report.failed, report.output
    assert report.result["changed"] is True and report.result["targets_met"] is True and report.result["rpo_seconds"] == 2.0
    written = json.loads((results / "db-rollback-report.json").read_text())
    assert written["validation"]["passed"] is True and len(written["validation"]["checks"]) == len(run.result["checks"])
    assert "| backup_status | pgbackrest_check | ok |" in (results / "db-rollback-report.md").read_text()
    assert stat.S_IMODE(results.stat().st_mode) == 0o700
    assert stat.S_IMODE((results / "db-rollback-report.md").stat().st_mode) == 0o600
    assert not run_module("pg_rollback_report", report_args, tmp_path).result["changed"]
    assert_no_secret(report, secrets)


def break_sandbox(lab: LabConfig, sandbox: Sandbox, secrets: Secrets) -> None:
    """Drop a table, leave two constraints NOT VALID, remove the latest migration, and overwrite a page of an index."""
    sandbox.sql(secrets, "DROP TABLE media_files",
                "ALTER TABLE posts ADD CONSTRAINT posts_body_not_blank CHECK (length(body) > 0) NOT VALID",
                "ALTER TABLE platform_tokens ADD CONSTRAINT platform_tokens_creator_again FOREIGN KEY (creator_id) REFERENCES creators(id) NOT VALID",
                f"DELETE FROM schema_migrations WHERE version = '{SCHEMA_VERSION}'", "CHECKPOINT")
    index_file = sandbox.data / sandbox.sql(secrets, "SELECT pg_relation_filepath('posts_creator_idx')")[0][0][0]
    pg_ctl(lab, sandbox.data, "-m", "fast", "stop")
    # Every page but the metapage: which leaf a query reads depends on how many rows the lab has written by now.
    with index_file.open("r+b") as index:
        for block in range(1, index_file.stat().st_size // 8192):
            index.seek(block * 8192 + 64)
            index.write(b"\xde\xad\xbe\xef" * 32)
    pg_ctl(lab, sandbox.data, "start")


def test_a_broken_sandbox_fails_each_damaged_check_and_every_check_still_runs(lab, secrets, restore_sandbox, tmp_path):
    sandbox = restore_sandbox()
    wait_promoted(sandbox, secrets)
    break_sandbox(lab, sandbox, secrets)
    args = base_args(lab, secrets, sandbox, stanza="no-such-stanza")
    args["data_integrity"]["row_counts"].append({"table": "posts", "compare_to_source": True, "source_tolerance": 0.0})
    args["data_integrity"]["assertions"][0]["expected"] = 5
    args["application_compatibility"]["smoke_queries"].append({"name": "read role passwords", "query": "SELECT rolpassword FROM pg_authid"})
    args["performance"]["queries"].append({"name": "slow report", "query": "SELECT pg_sleep(0.12)", "budget": "50ms", "runs": 2})

    run = run_module("pg_validate", args, tmp_path)
    assert run.failed
    checks = by_name(run.result)
    failed = {name for name, check in checks.items() if check["status"] == "failed"}
    assert failed == {"schema_version", "tables_present", "row_count:posts", "amcheck", "constraints_valid", "assertion:rate limits",
                      "smoke:read role passwords", "latency:slow report", "new_backup", "pgbackrest_check",
                      # the overwritten index page also breaks what reads or updates that index
                      "smoke:queue a post", "latency:posts by creator"}
    for name in ("smoke:queue a post", "latency:posts by creator"):
        assert re.match(r"DataCorrupted \(XX001\): invalid page in block \d+", checks[name]["detail"]), checks[name]["detail"]
    assert "checksum error occurred" in checks["new_backup"]["detail"]
    assert run.result["failed_checks"] == [check["name"] for check in run.result["checks"] if check["status"] == "failed"]
    assert checks["schema_version"]["detail"] == f"schema version is 20261015_002, expected {SCHEMA_VERSION}"
    assert checks["tables_present"]["measured"]["missing"] == ["media_files"]
    # The sandbox holds the posts of the newest backup (500 seed rows, more when other tests took backups since); the
    # source has gone on writing.
    assert 500 <= checks["row_count:posts"]["measured"]["rows"] < checks["row_count:posts"]["measured"]["source_rows"]
    assert [failure["index"] for failure in checks["amcheck"]["measured"]["failures"]] == ["posts_creator_idx"]
    assert {item["constraint"] for item in checks["constraints_valid"]["measured"]["not_valid"]} == {
        "posts_body_not_blank", "platform_tokens_creator_again"}
    assert "InsufficientPrivilege" in checks["smoke:read role passwords"]["detail"]
    assert checks["latency:slow report"]["measured"]["p50"] >= 0.12
    assert checks["pgbackrest_check"]["detail"].startswith("pgbackrest exited 37:") and "does this stanza exist?" in checks["pgbackrest_check"]["detail"]
    for name in ("row_count:creators", "row_count:platform_rate_limits", "assertion:no orphan posts", "app_connect", "smoke:recent posts",
                 "source_archiver"):
        assert checks[name]["status"] == "ok", checks[name]
    assert run.result["summary"]["application_compatibility"] == {"status": "failed", "ok": 2, "failed": 2, "skipped": 0}
    assert_no_secret(run, secrets)

    with psycopg.connect(**{"dbname" if key == "database" else key: value for key, value in source(lab, secrets).items()}) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'").fetchone() == (0,), "the source is only read"
        assert conn.execute("SELECT to_regclass('media_files') IS NOT NULL").fetchone() == (True,)


def test_a_wrong_application_password_fails_the_connection_and_skips_its_smoke_queries(lab, secrets, tmp_path):
    args = {"sandbox": source(lab, secrets), "only": ["application_compatibility"],
            "app": {"user": APP_ROLE, "password": "not-" + secrets["db_app_password"]},
            "application_compatibility": {"smoke_queries": [{"query": "SELECT 1"}]}, "fail_on_failed": False}
    run = run_module("pg_validate", args, tmp_path)
    assert not run.failed, run.output
    checks = by_name(run.result)
    assert checks["app_connect"]["status"] == "failed" and "password authentication failed" in checks["app_connect"]["detail"]
    assert (checks["smoke:smoke_query_1"]["status"], checks["smoke:smoke_query_1"]["detail"]) == ("skipped", "not run: app_connect is failed")
    assert run.result["passed"] is False and checks["schema_version"]["status"] == "skipped"
    assert_no_secret(run, secrets)
