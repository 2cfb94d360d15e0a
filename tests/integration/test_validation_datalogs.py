"""pg_stat_info and ops_api_logs_info through the real ``ansible`` command against the lab: healthy, a slow query (``lab
validation slow-query on``), a new error signature (the canary's ``signature`` fault), the ops API stopped and PostgreSQL
unreachable."""
from __future__ import annotations

import os
import signal
import socket
import urllib.request
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
from labtest import credentials, lab_call, lab_context, run_lab, run_module, tls, wait_until

from lab.components.ops_api import OpsApi
from lab.components.postgres import DATABASE, MONITOR_ROLE, Postgres
from lab.config import HOST, LabConfig

# Switches the lab's query speed and the canary's faults, and `lab reset`s: runs in the one process of such modules.
pytestmark = pytest.mark.shared_lab

RECENT_POSTS = "ofm_recent_posts"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def database(lab: LabConfig, **fields: Any) -> dict[str, Any]:
    return {"host": HOST, "port": lab.ports["postgres"], "database": DATABASE, "user": MONITOR_ROLE,
            "password": credentials(lab)["db_monitor_password"], **fields}


def ops_env(lab: LabConfig) -> dict[str, str]:
    return {"OFM_OPS_API_SESSION": credentials(lab)["identities"]["admin"]["session"]}


def recent_posts_calls(lab: LabConfig) -> int:
    return int(Postgres().psql(lab, f"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '%{RECENT_POSTS}%'",
                               database=DATABASE).strip() or 0)


@pytest.fixture(name="fresh")
def fixture_fresh(clean_lab: LabConfig) -> Iterator[LabConfig]:
    """After `lab reset`: fast queries with a baseline of real calls (the db-writer's reads), no fault."""
    wait_until(lambda: recent_posts_calls(clean_lab) >= 20, 60, interval=0.5, what="20 calls of ofm_recent_posts after the reset")
    yield clean_lab


def pg_stat(lab: LabConfig, tmp_path, **args: Any):
    run = run_module("pg_stat_info", {"database": database(lab), "sample": "3s", **args}, tmp_path)
    assert credentials(lab)["db_monitor_password"] not in run.stdout + run.stderr
    return run


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["status"] for check in result["checks"]}


def test_healthy_database_is_ok(fresh, tmp_path):
    run = pg_stat(fresh, tmp_path)
    assert not run.failed, run.output
    assert statuses(run.result) == {"queries": "ok", "connection_pool": "ok"}
    recent = [row for row in run.result["queries"] if RECENT_POSTS in row["query"]]
    assert recent and recent[0]["calls"] >= 5 and recent[0]["baseline_mean_ms"] is not None and not recent[0]["slower"]
    assert "$1" in recent[0]["query"] and not any("ofm.rollback pg_stat_info" in row["query"] for row in run.result["queries"])
    assert 0 < run.result["pool"]["connections"] < run.result["pool"]["max_connections"] == 50


def test_slow_query_fails_exactly_the_queries_check_and_reset_restores(fresh, tmp_path):
    run_lab("validation", "slow-query", "on")
    run = pg_stat(fresh, tmp_path)
    assert not run.failed, run.output
    assert (run.result["status"], statuses(run.result)) == ("failed", {"queries": "failed", "connection_pool": "ok"})
    [slower] = [row for row in run.result["queries"] if row["slower"]]
    assert RECENT_POSTS in slower["query"] and slower["mean_ms"] >= 50 > 3 * slower["baseline_mean_ms"]
    assert RECENT_POSTS in run.result["checks"][0]["detail"]

    run_lab("reset")
    assert Postgres().recent_posts_state(fresh) == "fast"
    wait_until(lambda: recent_posts_calls(fresh) >= 20, 60, interval=0.5, what="20 calls of ofm_recent_posts after the reset")
    assert statuses(pg_stat(fresh, tmp_path).result) == {"queries": "ok", "connection_pool": "ok"}


def test_postgres_unreachable_is_unknown(lab, tmp_path):
    run = run_module("pg_stat_info", {"database": database(lab, port=free_port(), connect_timeout=2), "unavailable_is": "unknown"},
                     tmp_path)
    assert not run.failed, run.output
    assert (run.result["status"], run.result["unknown_checks"]) == ("unknown", ["queries", "connection_pool"])
    assert credentials(lab)["db_monitor_password"] not in run.stdout + run.stderr
    wrong = run_module("pg_stat_info", {"database": database(lab, password="not-the-password"), "unavailable_is": "unknown"}, tmp_path)
    assert wrong.failed and "database.user and database.password" in wrong.result["msg"]


def test_bad_input_names_the_option(lab, tmp_path):
    run = run_module("pg_stat_info", {"database": database(lab), "max_pool_use": 2}, tmp_path)
    assert run.failed and run.result["error"]["option"] == "max_pool_use"
    run = run_module("ops_api_logs_info", {"ops_api_url": lab.url("ops_api"), "levels": ["error", "loud"], **tls(lab)}, tmp_path, env=ops_env(lab))
    assert run.failed and run.result["error"]["option"] == "levels"


def logs_info(lab: LabConfig, tmp_path, **args: Any):
    run = run_module("ops_api_logs_info", {"ops_api_url": lab.url("ops_api"), "lines": 5000, "window": "20s", **tls(lab), **args}, tmp_path,
                     env=ops_env(lab))
    assert ops_env(lab)["OFM_OPS_API_SESSION"] not in run.stdout + run.stderr
    return run


def canary_faults(lab: LabConfig, faults: list[str]) -> None:
    lab_call(f"{lab.url('ofm_api_canary')}/__lab/faults", "PUT", {"faults": faults})


def app_log_has(lab: LabConfig, text: str) -> bool:
    """Whether the last 2000 lines the ops API serves hold ``text``."""
    session = credentials(lab)["identities"]["admin"]["session"]
    request = urllib.request.Request(f"{lab.url('ops_api')}/internal/ops/logs?lines=2000", headers={"Cookie": f"connect.sid={session}"})
    with urllib.request.urlopen(request, timeout=10, context=lab_context()) as response:
        return text in response.read().decode()


def test_healthy_logs_are_ok(clean_lab, tmp_path):
    run = logs_info(clean_lab, tmp_path)
    assert not run.failed, run.output
    assert (run.result["status"], run.result["new_signatures"]) == ("ok", [])
    assert run.result["counts"]["current_lines"] > 0 and run.result["counts"]["unparsed"] == 0


def test_signature_fault_finds_exactly_the_new_signature(clean_lab, tmp_path):
    # `lab reset` emptied the application log: the baseline is what was logged since, before the fault.
    wait_until(lambda: app_log_has(clean_lab, "version=canary"), 30, interval=0.2, what="a canary line after the reset")
    started = datetime.now(timezone.utc).astimezone()
    canary_faults(clean_lab, ["signature"])
    wait_until(lambda: app_log_has(clean_lab, "CdnSigningError"), 60, interval=0.5, what="the canary logging CdnSigningError")
    run = logs_info(clean_lab, tmp_path, since=started.isoformat(), baseline_until=started.isoformat())
    assert not run.failed, run.output
    assert (run.result["status"], run.result["failed_checks"]) == ("failed", ["signatures"])
    assert [new["signature"] for new in run.result["new_signatures"]] == [
        "CdnSigningError: signing key kid-<n> rejected for media <n> (request <uuid>)"]
    assert "version=canary" in run.result["new_signatures"][0]["example"]

    # Once the baseline holds it, the same signature is known (since given as a local time without offset: the shell's zone).
    seen = datetime.now().replace(microsecond=0)

    def known_run():
        known = logs_info(clean_lab, tmp_path, since=seen.strftime("%Y-%m-%d %H:%M:%S"), window="10m")
        return known if known.result["checks"][0]["data"].get("current_signatures") else None

    known = wait_until(known_run, 60, interval=0.5, what="a CdnSigningError line after the baseline")
    assert (known.result["status"], known.result["new_signatures"]) == ("ok", []), known.output
    canary_faults(clean_lab, [])


def test_ops_api_stopped_is_unknown(lab, tmp_path):
    pid = OpsApi().pid(lab)
    os.kill(pid, signal.SIGSTOP)
    try:
        run = logs_info(lab, tmp_path, timeout=1, retries=1, unavailable_is="unknown")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert not run.failed, run.output
    assert (run.result["status"], run.result["unknown_checks"], run.result["available"]) == ("unknown", ["signatures"], False)
    assert "could not be asked" in run.result["checks"][0]["detail"]
