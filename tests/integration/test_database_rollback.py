"""The checklist's DR command, scripts/dr-restore-sandbox.sh -> playbooks/database-rollback.yml, against the lab's "production" database.

Row A is committed before the point in time, row B after it; the restored sandbox must hold A and not B, the five
validation items must pass, and the RTO/RPO report must be written. A missed target fails the run and says which.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from labtest import run_module, switch_and_wait_archived

from lab.components.postgres import DATABASE
from lab.config import HOST, REPO_ROOT, LabConfig

SCRIPT = REPO_ROOT / "marketing" / "dr" / "scripts" / "dr-restore-sandbox.sh"


def connect(lab: LabConfig, secrets: dict[str, Any], port: int | None = None) -> psycopg.Connection:
    return psycopg.connect(host=HOST, port=port or lab.ports["postgres"], dbname=DATABASE, user="ofm_admin",
                           password=secrets["db_admin_password"], autocommit=True, connect_timeout=5)


def dr_restore(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The DR script as the checklist runs it (from marketing/dr/scripts), with the lab inventory of ansible.cfg."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(["./dr-restore-sandbox.sh", *args], cwd=SCRIPT.parent, capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def point_between_two_rows(lab: LabConfig, secrets: dict[str, Any]) -> tuple[str, str, str]:
    """Commit row A, take the point in time (UTC, no offset, as the runbook writes it), commit row B, archive the WAL."""
    marker = f"dr-{uuid.uuid4().hex[:8]}-"
    with connect(lab, secrets) as conn:
        conn.execute("INSERT INTO posts (creator_id, platform, status, body) VALUES (1, 'x', 'draft', %s)", (marker + "A",))
        time.sleep(0.3)
        point = conn.execute("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')").fetchone()[0]
        time.sleep(0.3)
        conn.execute("INSERT INTO posts (creator_id, platform, status, body) VALUES (1, 'x', 'draft', %s)", (marker + "B",))
        switch_and_wait_archived(conn)
    return point, marker + "A", marker + "B"


def remove_sandbox(lab: LabConfig, data_dir: Path, workdir: Path) -> None:
    run = run_module("pg_pitr_restore", {"state": "absent", "sandbox_data_dir": str(data_dir)}, workdir)
    assert not run.failed, run.stdout[-2000:]


def test_dry_run_plans_and_creates_nothing(lab, secrets, tmp_path):
    point = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 5))
    with connect(lab, secrets) as conn:  # the archived WAL must reach past the point (archive_timeout alone may not yet)
        switch_and_wait_archived(conn)
    run = dr_restore("--environment", "rollback-dry", "--pitr-target", point, "--source", "production", "--dry-run",
                     "--results-dir", str(tmp_path / "results"))
    assert run.returncode == 0, run.stdout[-4000:]
    assert "DRY RUN" in run.stdout
    assert not (lab.state_dir / "dr-sandboxes" / "rollback-dry").exists()
    assert not (tmp_path / "results").exists()


def test_unknown_source_is_refused_before_anything(lab, tmp_path):
    run = dr_restore("--environment", "rollback-x", "--pitr-target", "2026-01-01 00:00:00", "--source", "staging")
    assert run.returncode != 0
    assert "Unknown source staging (--source): known sources are production" in run.stdout
    assert not (lab.state_dir / "dr-sandboxes" / "rollback-x").exists()


def test_restore_to_the_point_validates_and_reports(lab, secrets, tmp_path):
    point, before, after = point_between_two_rows(lab, secrets)
    environment = f"rollback-{uuid.uuid4().hex[:6]}"
    sandbox_dir = lab.state_dir / "dr-sandboxes" / environment
    results = tmp_path / "results"
    try:
        run = dr_restore("--environment", environment, "--pitr-target", point, "--source", "production", "--no-cleanup",
                         "--results-dir", str(results), "--reason", "data_corruption")
        assert run.returncode == 0, run.stdout[-6000:]
        marker = json.loads((sandbox_dir / "ofm_pitr_restore.json").read_text())
        with connect(lab, secrets, port=int(marker.get("port") or lab.ports["postgres"] + 100)) as conn:
            bodies = {row[0] for row in conn.execute("SELECT body FROM posts WHERE body IN (%s, %s)", (before, after))}
        assert bodies == {before}
        report = json.loads((results / f"dr-{environment}.json").read_text())
        assert report["rto"]["met"] is True and report["rpo"]["met"] is True and report["validation_passed"] is True
        for item in ("Schema Version", "Data Integrity", "Application Compatibility", "Performance", "Backup Status"):
            assert f"[ok    ] {item}" in run.stdout, run.stdout[-4000:]
        assert "[x] Data corruption detected" in run.stdout
    finally:
        if sandbox_dir.exists():
            remove_sandbox(lab, sandbox_dir, tmp_path)
    assert not sandbox_dir.exists()


def test_a_missed_target_fails_and_says_which(lab, secrets, tmp_path):
    point, _before, _after = point_between_two_rows(lab, secrets)
    environment = f"rollback-{uuid.uuid4().hex[:6]}"
    results = tmp_path / "results"
    run = dr_restore("--environment", environment, "--pitr-target", point, "--source", "production", "--rto-target", "1s",
                     "--results-dir", str(results))
    assert run.returncode != 0
    assert "Missed: rto" in run.stdout, run.stdout[-4000:]
    assert json.loads((results / f"dr-{environment}.json").read_text())["rto"]["met"] is False
    assert not (lab.state_dir / "dr-sandboxes" / environment).exists(), "the sandbox is removed even when a target is missed"
