"""Crash-safe re-runs of the planned, database and configuration procedures: the real ``ansible-playbook`` killed with SIGKILL
(its whole process group) at a chosen step, then run again with the same incident id. The re-run finishes the job without
doing a step twice and its summary says which run it resumed.

Each test works on systems of its own (a Kubernetes API test server and a Helm release of its own, a Slack stand-in of its
own, a sandbox of its own, a rate limits table of its own), so none is a shared-lab test (the emergency one is:
test_resume_emergency.py).
"""
from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
from helmtest import BROKEN_IMAGE, Helm, helm_binary
from kubelab import KubeServer, deployment_ready, free_port, kube_apiserver, listening
from kubernetes import config as kube_config
from kubernetes.dynamic import DynamicClient
from labtest import flat, lab_call, run_module, run_play, switch_and_wait_archived, wait_until
from resumetest import audit_records, finish, journal, journal_task, kill_after, kill_when, no_process_left, start
from test_config_restore import API, CANARY, DEPLOYMENT, KEY_NOW, KEY_THEN, OBJECTS, b64

from lab.components.postgres import DATABASE
from lab.config import HOST, REPO_ROOT

pytestmark = pytest.mark.lab

ALWAYS = {"days": ["all"], "start": "00:00", "end": "24:00", "timezone": "UTC"}
SLACK_TOKEN = "xoxb-resume-test-5a1c"
_incidents = itertools.count(int(time.time()) % 10**6 * 100)
RESUMED = r"Resumed run {run} \(the run of \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\+00:00\) stopped after '{step}'\)"


def incident_id() -> str:
    return f"INC-{next(_incidents)}"


def resumed_line(summary: str, run: str, step: str) -> bool:
    return re.search(RESUMED.format(run=re.escape(run), step=re.escape(step)), summary) is not None


@pytest.fixture(scope="module", name="kube")
def fixture_kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeServer]:
    with kube_apiserver(tmp_path_factory.mktemp("kube"), "--broken-image", BROKEN_IMAGE) as (_url, kubeconfig):
        yield KubeServer(kubeconfig, DynamicClient(kube_config.new_client_from_config(str(kubeconfig))))


@pytest.fixture(scope="module", name="slack")
def fixture_slack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Slack stand-in of this module's own (the lab's is cleared by the shared-lab tests); its Web API base URL."""
    port, log = free_port(), tmp_path_factory.mktemp("slack") / "slack.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "lab.services.comms", "--kind", "slack", "--port", str(port), "--token", SLACK_TOKEN],
                                   cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: listening(port) or process.poll() is not None, 15, interval=0.1, what="the Slack stand-in listening")
        assert process.poll() is None, log.read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def messages_about(slack: str, incident: str) -> list[dict[str, Any]]:
    return [message for message in lab_call(f"{slack}/__lab/messages")["messages"] if incident in json.dumps(message)]


# --- planned: killed after the helm rollback, before its verification ------------------------------------------------------

@pytest.mark.reliability("resume", procedure="planned", case="killed after the helm rollback, before verify",
                         expected="resumed, no step twice")
def test_planned_killed_after_the_helm_rollback_resumes_to_the_same_revision(kube, slack, tmp_path, reliability):
    helm = Helm(helm_binary("v3"), kube, tmp_path / "helm-home")
    helm.install("resume")
    helm.upgrade("resume", "message=two")
    incident, records, audit = incident_id(), tmp_path / "incidents", tmp_path / "audit.jsonl"
    # No revision given: the first run resolves "previous" (revision 1). After its rollback "previous" is revision 2, the bad one.
    extra = {"rollback_incident_id": incident, "rollback_reason": "resume test", "planned_rollback_window": ALWAYS,
             "ofm_kubeconfig": str(kube.kubeconfig), "ofm_namespace": kube.namespace, "planned_rollback_method": "helm",
             "ofm_helm_release": "resume", "ofm_helm_binary": str(helm.binary), "planned_rollback_health_name": "resume-api",
             "helm_rollback_timeout": 60, "ofm_incident_record_dir": str(records), "planned_rollback_slack_api_url": f"{slack}/api",
             "planned_rollback_slack_bot_token": SLACK_TOKEN, "planned_rollback_registry_url": ""}

    first = start("planned-rollback.yml", extra, audit)
    killed = kill_after(first, audit, journal_task("helm.rollback"))
    assert no_process_left(first)
    # Killed after the helm rollback and before the end of the run (its verification may have begun: the kill polls).
    assert "Outcome:" not in killed.stdout
    assert helm.statuses("resume") == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    stopped = journal(records, incident, "planned")
    assert stopped["steps"]["helm.target"]["data"]["revision"] == 1

    again = finish(start("planned-rollback.yml", extra, audit))
    summary = flat(again.stdout)
    assert again.returncode == 0, again.stdout[-5000:]
    first_run = stopped["runs"][0]["run_id"]
    assert resumed_line(summary, first_run, "helm.rollback"), summary[-4000:]
    # One rollback revision: the re-run neither rolled back to "previous" (the bad revision 2) nor to revision 1 again.
    history = helm.history("resume")
    assert [(entry["revision"], entry["status"]) for entry in history] == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    assert [entry["description"] for entry in history].count("Rollback to 1") == 1
    assert f"Helm release default/resume: revision 2 -> revision 3 (rollback to 1, ofm-mini-0.1.0) (by run {first_run})" in summary
    assert "Outcome:   rolled back and validated" in summary
    announced = [message for message in messages_about(slack, incident) if "planned rollback starting" in json.dumps(message)]
    assert len(announced) == 1, announced
    runs = journal(records, incident, "planned")["runs"]
    assert [run["outcome"] for run in runs][0] is None and runs[1]["outcome"] == "rolled back and validated"
    reliability.observed("killed after the journal's helm.rollback step; the re-run kept the target revision 1, did not roll back "
                         "again (helm history: one rollback revision), announced once, validated")


# --- database: killed during the point-in-time restore --------------------------------------------------------------------

def connect(lab: Any, secrets: dict[str, Any], port: int | None = None) -> psycopg.Connection:
    return psycopg.connect(host=HOST, port=port or lab.ports["postgres"], dbname=DATABASE, user="ofm_admin",
                           password=secrets["db_admin_password"], autocommit=True, connect_timeout=5)


def point_between_two_rows(lab: Any, secrets: dict[str, Any]) -> tuple[str, str, str]:
    """Commit row A, take the point in time (UTC), commit row B, archive the WAL."""
    marker = f"resume-{uuid.uuid4().hex[:8]}-"
    with connect(lab, secrets) as conn:
        conn.execute("INSERT INTO posts (creator_id, platform, status, body) VALUES (1, 'x', 'draft', %s)", (marker + "A",))
        time.sleep(0.3)
        point = conn.execute("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')").fetchone()[0]
        time.sleep(0.3)
        conn.execute("INSERT INTO posts (creator_id, platform, status, body) VALUES (1, 'x', 'draft', %s)", (marker + "B",))
        switch_and_wait_archived(conn)
    return point, marker + "A", marker + "B"


def sandbox_state(sandbox: Path) -> str:
    """Where a restore into ``sandbox`` is: claimed (its command fills the directory), restored (replaying), ready, or none."""
    marker = sandbox / "ofm_pitr_restore.json"
    try:
        return json.loads(marker.read_text())["status"]
    except (OSError, ValueError, KeyError):
        return "claimed" if (sandbox.parent / f".{sandbox.name}.ofm_pitr_restore.json").exists() else "none"


KILL_POINTS = {"claimed": "killed while pgbackrest restore fills the sandbox",
               "restored": "killed while the sandbox replays the WAL"}


@pytest.mark.parametrize("point", [pytest.param(point, marks=pytest.mark.reliability(
    "resume", procedure="database", case=case, expected="resumed, no step twice")) for point, case in KILL_POINTS.items()])
def test_database_killed_during_the_restore_is_redone_into_the_same_sandbox(lab, secrets, tmp_path, point, reliability):
    target, before, after = point_between_two_rows(lab, secrets)
    environment = f"resume-{uuid.uuid4().hex[:6]}"
    sandbox = lab.state_dir / "dr-sandboxes" / environment
    incident, records, audit, results = incident_id(), tmp_path / "incidents", tmp_path / "audit.jsonl", tmp_path / "results"
    port = free_port()
    extra = {"rollback_incident_id": incident, "rollback_db_pitr_target": target, "db_pitr_environment": environment,
             "db_pitr_sandbox_port": port, "db_pitr_results_dir": str(results), "db_pitr_cleanup": False,
             "ofm_incident_record_dir": str(records)}
    try:
        first = start("database-rollback.yml", extra, audit)
        kill_when(first, lambda: sandbox_state(sandbox) == point, 240, f"the restore {point}")
        assert no_process_left(first)
        stopped = journal(records, incident, "database")
        assert stopped["steps"]["restore"]["status"] == "started" and stopped["steps"]["plan"]["data"]["environment"] == environment
        assert not results.exists(), "killed before the validation and the report"

        # The re-run without --environment: the journal gives it the first run's sandbox.
        again = finish(start("database-rollback.yml", {key: value for key, value in extra.items() if key != "db_pitr_environment"}, audit))
        summary = flat(again.stdout)
        assert again.returncode == 0, again.stdout[-6000:]
        first_run = stopped["runs"][0]["run_id"]
        assert re.search(RESUMED.format(run=re.escape(first_run), step="plan")[:-2] + r", during 'restore'\)", summary), summary[-4000:]
        assert sandbox_state(sandbox) == "ready" and not (sandbox.parent / f".{sandbox.name}.ofm_pitr_restore.json").exists()
        with connect(lab, secrets, port=port) as conn:
            bodies = {row[0] for row in conn.execute("SELECT body FROM posts WHERE body IN (%s, %s)", (before, after))}
        assert bodies == {before}
        # Validated and reported once, by the run that finished; the RTO counts from the first run's start.
        tasks = [record for record in audit_records(audit) if record.get("type") == "task" and record.get("status") != "skipped"]
        assert [record["module"] for record in tasks].count("ofm.rollback.pg_validate") == 1
        assert [record["module"] for record in tasks].count("ofm.rollback.pg_rollback_report") == 1
        report = json.loads((results / f"dr-{environment}.json").read_text())
        assert report["rto"]["restore_started_at"].startswith(stopped["steps"]["plan"]["data"]["started_at"][:19])
        assert report["validation_passed"] is True
        postmasters = subprocess.run(["pgrep", "-f", f"postgres.*-D {sandbox}"], capture_output=True, text=True, check=False).stdout.split()
        assert len(postmasters) <= 1, f"the killed run's server was not stopped: {postmasters}"
    finally:
        if sandbox.exists() or (sandbox.parent / f".{sandbox.name}.ofm_pitr_restore.json").exists():
            run = run_module("pg_pitr_restore", {"state": "absent", "sandbox_data_dir": str(sandbox)}, tmp_path)
            assert not run.failed, run.stdout[-2000:]
    reliability.observed(f"killed {'during the restore command' if point == 'claimed' else 'during the WAL replay'}; the re-run found "
                         "the sandbox by its claim or marker, redid the restore into it, validated and reported once")


# --- config: killed between two systems (Kubernetes done, PostgreSQL not) ------------------------------------------------

CONFIG_THEN = {"LOG_LEVEL": "info", "PUBLISH_TIMEOUT_MS": "30000", "WEBHOOK_URL_TIKTOK": "https://hooks.ofm.social/tiktok",
               "WEBHOOK_URL_META": "https://hooks.ofm.social/meta"}
RATE_LIMITS_THEN = {"instagram": (60, 1000), "tiktok": (30, 600)}


@pytest.fixture(name="config_systems")
def fixture_config_systems(lab, secrets, kube) -> Iterator[dict[str, Any]]:
    """The OFM ConfigMap, Secret and API Deployments on this module's Kubernetes server, a rate limits table of the test's own."""
    kube.apply(OBJECTS)
    for name in (API, CANARY):
        kube.apply(DEPLOYMENT.replace("NAME", name))
    for name in (API, CANARY):
        kube.wait_for(deployment_ready(kube, name), f"{name} ready")
    table = f"cfg_resume_{uuid.uuid4().hex[:8]}"
    with connect(lab, secrets) as db:
        db.execute(f"CREATE TABLE {table} (platform text PRIMARY KEY, per_minute int NOT NULL, per_hour int NOT NULL)")
        for platform, row in RATE_LIMITS_THEN.items():
            db.execute(f"INSERT INTO {table} VALUES (%s, %s, %s)", (platform, *row))
    yield {"kube": kube, "table": table}
    with connect(lab, secrets) as db:
        db.execute(f"DROP TABLE IF EXISTS {table}")
    for api_version, kind, name in (("apps/v1", "Deployment", API), ("apps/v1", "Deployment", CANARY), ("v1", "ConfigMap", "ofm-social-os-config"),
                                    ("v1", "Secret", "ofm-social-os-secrets")):
        kube.resource(api_version, kind).delete(name=name, namespace=kube.namespace)


def rate_limits(lab: Any, secrets: dict[str, Any], table: str) -> dict[str, tuple[int, int]]:
    with connect(lab, secrets) as db:
        return {row[0]: (row[1], row[2]) for row in db.execute(f"SELECT platform, per_minute, per_hour FROM {table} ORDER BY 1").fetchall()}


@pytest.mark.reliability("resume", procedure="config", case="killed between two systems of a restore (Kubernetes done, PostgreSQL not)",
                         expected="resumed, no step twice")
def test_config_killed_between_two_systems_restores_only_the_rest_and_still_restarts(lab, secrets, config_systems, vault, tmp_path, reliability):
    kube, table = config_systems["kube"], config_systems["table"]
    snapshots, records, audit = tmp_path / "snapshots", tmp_path / "incidents", tmp_path / "audit.jsonl"
    database = {"host": HOST, "port": lab.ports["postgres"], "database": DATABASE, "user": "ofm_admin",
                "password": "{{ lookup('env', 'CFG_DB_PASSWORD') }}", "sslmode": "disable"}
    env = {"CFG_DB_PASSWORD": secrets["db_admin_password"]}
    snap = run_play([{"name": "Snapshot", "register": "snap", "ofm.rollback.config_snapshot": {
        **kube.connection, "environment": "lab", "kinds": ["configmaps", "secrets", "env", "rate_limits"], "database": database,
        "rate_limits_table": table,
        "snapshot_dir": str(snapshots)}}], tmp_path, env, options=["--vault-password-file", str(vault)])
    assert not snap.failed, snap.output[-3000:]
    snapshot_id = snap.result["snap"]["snapshot"]["id"]

    # The bad release's configuration, in both systems.
    kube.patch("v1", "ConfigMap", "ofm-social-os-config", {"data": {"LOG_LEVEL": "debug", "WEBHOOK_URL_TIKTOK": "https://evil.example/hook"}})
    kube.patch("v1", "Secret", "ofm-social-os-secrets", {"data": {"TIKTOK_API_KEY": b64(KEY_NOW)}})
    kube.patch("apps/v1", "Deployment", API, [{"op": "replace", "path": "/spec/template/spec/containers/0/env/2/value", "value": "staging"}],
               content_type="application/json-patch+json")
    with connect(lab, secrets) as db:
        db.execute(f"UPDATE {table} SET per_minute = 600 WHERE platform = 'tiktok'")

    incident = incident_id()
    extra = {"rollback_incident_id": incident, "ofm_incident_record_dir": str(records), "rollback_config_snapshot": snapshot_id,
             "ofm_config_snapshot_dir": str(snapshots), "ofm_kubeconfig": str(kube.kubeconfig), "ofm_namespace": kube.namespace,
             "ofm_config_database": database, "config_rollback_rollout_timeout": int(kube.patience)}
    options = ("--vault-password-file", str(vault))
    # The table's writes wait for this transaction's lock (its reads do not): the run is killed while PostgreSQL is its next system.
    with connect(lab, secrets) as holder:
        holder.autocommit = False
        holder.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        first = start("config-rollback.yml", extra, audit, *options, env=env)
        kill_when(first, lambda: (journal(records, incident, "config")["steps"].get("restore:rate_limits") or {}).get("status") == "started"
                  if journal(records, incident, "config") else None, 180, "the rate limits' turn")
        holder.rollback()
    assert no_process_left(first)
    stopped = journal(records, incident, "config")
    first_run = stopped["runs"][0]["run_id"]
    assert {kind: stopped["steps"][f"restore:{kind}"]["status"] for kind in ("configmaps", "secrets", "env", "rate_limits")} == {
        "configmaps": "done", "secrets": "done", "env": "done", "rate_limits": "started"}
    assert "restore:rollouts" not in stopped["steps"], "killed before the rollouts"
    assert kube.get("v1", "ConfigMap", "ofm-social-os-config")["data"] == CONFIG_THEN
    assert rate_limits(lab, secrets, table)["tiktok"] == (600, 600), "the killed run's transaction did not commit"
    written = {kind: kube.get("v1", kind, name)["metadata"]["resourceVersion"]
               for kind, name in (("ConfigMap", "ofm-social-os-config"), ("Secret", "ofm-social-os-secrets"))}

    again = finish(start("config-rollback.yml", extra, audit, *options, env=env))
    summary = flat(again.stdout)
    assert again.returncode == 0, again.stdout[-5000:]
    assert re.search(RESUMED.format(run=re.escape(first_run), step="restore:env")[:-2] + r", during 'restore:rate_limits'\)", summary), summary[-4000:]
    assert "restored: rate_limits" in summary and f"restored before by run {first_run}: configmaps, secrets, env" in summary
    # Each kind restored once: the Kubernetes objects were not written again, the rate limits were, by the second run.
    assert {kind: kube.get("v1", kind, name)["metadata"]["resourceVersion"]
            for kind, name in (("ConfigMap", "ofm-social-os-config"), ("Secret", "ofm-social-os-secrets"))} == written
    assert rate_limits(lab, secrets, table) == RATE_LIMITS_THEN
    # The rollouts the killed run owed: the canary reads the restored ConfigMap and Secret at start and is restarted.
    assert re.search(rf"Rollout:\s+{CANARY}: restart", summary), summary[-4000:]
    steps = journal(records, incident, "config")["steps"]
    second_run = journal(records, incident, "config")["runs"][1]["run_id"]
    assert (steps["restore:rate_limits"]["status"], steps["restore:rate_limits"]["run_id"]) == ("done", second_run)
    assert steps["restore:rollouts"]["status"] == "done" and steps["restore:configmaps"]["run_id"] == first_run
    for text in (again.stdout, audit.read_text(), json.dumps(steps)):
        assert KEY_THEN not in text and KEY_NOW not in text and secrets["db_admin_password"] not in text
    reliability.observed("killed while the rate limits waited for PostgreSQL; the re-run found the Kubernetes kinds unchanged (not "
                         "written again), restored the rate limits and restarted the canary the killed run owed")
