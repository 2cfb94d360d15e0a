"""The checklist's DR command, scripts/dr-restore-sandbox.sh -> playbooks/database-rollback.yml, against the lab's "production" database.

Row A is committed before the point in time, row B after it; the restored sandbox must hold A and not B, the five
validation items must pass, and the RTO/RPO report must be written. A missed target fails the run and says which.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from labtest import admin_connection, flat, quiet_lab_source, run_module, switch_and_wait_archived

from lab.config import REPO_ROOT, LabConfig

SCRIPT = REPO_ROOT / "marketing" / "dr" / "scripts" / "dr-restore-sandbox.sh"


def dr_restore(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The DR script as the checklist runs it (from marketing/dr/scripts), with the lab inventory of ansible.cfg."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "TZ": "UTC"}  # the points are UTC
    return subprocess.run(["./dr-restore-sandbox.sh", *args], cwd=SCRIPT.parent, capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def point_between_two_rows(lab: LabConfig, secrets: dict[str, Any]) -> tuple[str, str, str]:
    """Commit row A, take the point in time (UTC, no offset, as the runbook writes it), commit row B, archive the WAL."""
    marker = f"dr-{uuid.uuid4().hex[:8]}-"
    with admin_connection(lab, autocommit=True) as conn:
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
    with admin_connection(lab, autocommit=True) as conn:  # the archived WAL must reach past the point (archive_timeout alone may not yet)
        switch_and_wait_archived(conn)
    run = dr_restore("--environment", "rollback-dry", "--pitr-target", point, "--source", "production", "--dry-run",
                     "--results-dir", str(tmp_path / "results"))
    assert run.returncode == 0, run.stdout[-4000:]
    assert "DRY RUN" in run.stdout
    assert not (lab.state_dir / "dr-sandboxes" / "rollback-dry").exists()
    assert not (tmp_path / "results").exists()


@pytest.mark.reliability("bad-input", procedure="database", case="--source staging (scripts/dr-restore-sandbox.sh)",
                         expected="refused before any change")
def test_unknown_source_is_refused_before_anything(lab, tmp_path, reliability):
    run = dr_restore("--environment", "rollback-x", "--pitr-target", "2026-01-01 00:00:00", "--source", "staging")
    assert run.returncode != 0
    assert "Unknown source staging (--source): known sources are production" in run.stdout
    assert not (lab.state_dir / "dr-sandboxes" / "rollback-x").exists()
    reliability.observed("refused, no sandbox created: names --source and the known sources (production)")


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
        with admin_connection(lab, int(marker.get("port") or lab.ports["postgres"] + 100), autocommit=True) as conn:
            bodies = {row[0] for row in conn.execute("SELECT body FROM posts WHERE body IN (%s, %s)", (before, after))}
        assert bodies == {before}
        report = json.loads((results / f"dr-{environment}.json").read_text())
        assert report["rto"]["met"] is True and report["rpo"]["met"] is True and report["validation_passed"] is True
        for item in ("Schema Version", "Data Integrity", "Application Compatibility", "Performance", "Backup Status"):
            assert f"[ok    ] {item}" in run.stdout, run.stdout[-4000:]
        assert "[ok    ] Data corruption detected: the reason for this rollback (--reason data_corruption)" in flat(run.stdout)
        assert "[ok    ] Schema changes causing application failures: not the reason given" in flat(run.stdout)
    finally:
        if sandbox_dir.exists():
            remove_sandbox(lab, sandbox_dir, tmp_path)
    assert not sandbox_dir.exists()


def test_a_missed_target_fails_and_says_which(lab, secrets, tmp_path):
    point, _before, _after = point_between_two_rows(lab, secrets)
    environment = f"rollback-{uuid.uuid4().hex[:6]}"
    results = tmp_path / "results"
    # Without an expected schema version the check cannot run: a MANUAL line that says what to set, never a silent skip.
    run = dr_restore("--environment", environment, "--pitr-target", point, "--source", "production", "--rto-target", "1s",
                     "--results-dir", str(results), "--", "-e", '{"ofm_db_schema_version": ""}')
    assert run.returncode != 0
    assert "Missed: rto" in run.stdout, run.stdout[-4000:]
    summary = flat(run.stdout)
    assert "[MANUAL] Schema Version: Confirm the schema version of the restored database by hand" in summary, run.stdout[-4000:]
    assert "(set ofm_db_schema_version (db_pitr_expected_schema_version) to the release's expected version to automate this)" in summary
    assert "[MANUAL] Schema changes causing application failures: Confirm which condition requires" in summary, "no --reason given"
    assert json.loads((results / f"dr-{environment}.json").read_text())["rto"]["met"] is False
    assert not (lab.state_dir / "dr-sandboxes" / environment).exists(), "the sandbox is removed even when a target is missed"


# --- the checklist's command, typed in a shell that is not in UTC ----------------------------------------------------------

def checklist_command(tz: str, ago: str, environment: str, *options: str) -> subprocess.CompletedProcess:
    """The checklist's command literally, `date` included, in a bash whose TZ is ``tz``."""
    command = (f"./dr-restore-sandbox.sh --environment {environment} "
               f"--pitr-target \"$(date -d '{ago}' '+%Y-%m-%d %H:%M:%S')\" --source production {' '.join(options)}")
    env = {**os.environ, "TZ": tz, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(["bash", "-c", command], cwd=SCRIPT.parent, capture_output=True, text=True, env=env, timeout=600, check=False)


def restoring_line(output: str) -> tuple[datetime, str, datetime]:
    """The script's first line: the local time, its zone and offset as printed, and the UTC instant."""
    match = re.search(r"^restoring to (\S+ \S+) (\S+) \(([+-]\d\d:\d\d)\) = (\S+ \S+) UTC$", output, re.MULTILINE)
    assert match, output[-3000:]
    local = datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(match.group(2)))
    assert match.group(3) == local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    return local, match.group(2), datetime.fromisoformat(match.group(4)).replace(tzinfo=timezone.utc)


def test_the_checklist_command_in_zones_west_and_east_of_utc_restores_the_moment_meant(lab, secrets, tmp_path):
    """Row A, 9 s, row B; the command's `date -d 'N seconds ago'` names the middle, read in the shell's zone."""
    marker = f"tz-{uuid.uuid4().hex[:8]}-"
    with admin_connection(lab, autocommit=True) as conn:
        conn.execute("INSERT INTO posts (creator_id, platform, status, body) VALUES (1, 'x', 'draft', %s)", (marker + "A",))
        first = time.time()
        time.sleep(9)
        conn.execute("INSERT INTO posts (creator_id, platform, status, body) VALUES (1, 'x', 'draft', %s)", (marker + "B",))
        middle = (first + time.time()) / 2
        switch_and_wait_archived(conn)
    for tz in ("America/New_York", "Asia/Kolkata"):
        environment = f"rollback-{uuid.uuid4().hex[:6]}"
        sandbox_dir = lab.state_dir / "dr-sandboxes" / environment
        try:
            run = checklist_command(tz, f"{round(time.time() - middle)} seconds ago", environment, "--no-cleanup",
                                    "--results-dir", str(tmp_path / environment))
            local, zone, utc = restoring_line(run.stdout)
            assert zone == tz and local.astimezone(timezone.utc) == utc
            assert abs(utc.timestamp() - middle) <= 2, "the point is the moment the shell's clock named"
            assert run.returncode == 0, run.stdout[-6000:]
            port = json.loads((sandbox_dir / "ofm_pitr_restore.json").read_text()).get("port") or lab.ports["postgres"] + 100
            with admin_connection(lab, int(port), autocommit=True) as conn:
                bodies = {row[0] for row in conn.execute("SELECT body FROM posts WHERE body LIKE %s", (marker + "%",))}
            assert bodies == {marker + "A"}, f"{tz}: the sandbox holds {bodies}"
            report = json.loads((tmp_path / environment / f"dr-{environment}.json").read_text())
            assert report["rpo"]["target_time"] == utc.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert f"({local.strftime('%z')[:3]}:{local.strftime('%z')[3:]}) = {utc.strftime('%Y-%m-%d %H:%M:%S')} UTC" in report["context"]["target"]
        finally:
            if sandbox_dir.exists():
                remove_sandbox(lab, sandbox_dir, tmp_path)


def test_the_checklist_command_as_written_names_the_right_utc_instant(lab):
    """'2 hours ago' is before the lab's first backup (taken at lab up): refused, but for the instant the shell meant."""
    for tz in ("America/New_York", "Asia/Tokyo"):
        run = checklist_command(tz, "2 hours ago", "rollback-2h", "--dry-run")
        local, zone, utc = restoring_line(run.stdout)
        assert zone == tz and abs(utc.timestamp() - (time.time() - 7200)) < 60
        assert run.returncode != 0
        assert f"target time {utc.isoformat()} is before the oldest usable backup" in run.stdout, run.stdout[-3000:]
        assert not (lab.state_dir / "dr-sandboxes" / "rollback-2h").exists()


@pytest.mark.parametrize("tz, local, fragment, candidates", [
    ("America/New_York", "2026-03-08 02:30:00", "does not exist in America/New_York", ("06:30:00 UTC", "07:30:00 UTC")),
    ("America/New_York", "2026-11-01 01:30:00", "is ambiguous in America/New_York", ("05:30:00 UTC", "06:30:00 UTC")),
    ("Europe/Berlin", "2026-10-25 02:30:00", "is ambiguous in Europe/Berlin", ("00:30:00 UTC", "01:30:00 UTC")),
])
def test_a_local_time_daylight_saving_skips_or_repeats_is_refused_before_anything(lab, tz, local, fragment, candidates):
    env = {**os.environ, "TZ": tz}
    run = subprocess.run(["./dr-restore-sandbox.sh", "--environment", "rollback-dst", "--pitr-target", local], cwd=SCRIPT.parent,
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert run.returncode == 2
    assert fragment in run.stderr and all(candidate in run.stderr for candidate in candidates), run.stderr
    assert "with its offset" in run.stderr
    assert "PLAY" not in run.stdout, "nothing started"
    assert not (lab.state_dir / "dr-sandboxes" / "rollback-dst").exists()


def test_the_dr_script_restores_a_target_in_an_idle_tail(lab, secrets, tmp_path):
    """Nobody writing: one row, the point in time a little later, the WAL switched later still. The role gives the module the
    source's login, so the restore proves the idle tail instead of failing in recovery."""
    marker = f"dr-idle-{uuid.uuid4().hex[:8]}"
    environment = f"rollback-{uuid.uuid4().hex[:6]}"
    with quiet_lab_source(lab), admin_connection(lab, autocommit=True) as conn:
        conn.execute("INSERT INTO posts (creator_id, platform, status, body) VALUES (1, 'x', 'draft', %s)", (marker,))
        time.sleep(1.2)
        point = conn.execute("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')").fetchone()[0]
        time.sleep(1.2)
        switch_and_wait_archived(conn)
        run = dr_restore("--environment", environment, "--pitr-target", point, "--source", "production", "--results-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout[-6000:]
    assert "target lies in an idle tail: last commit" in run.stdout and "restored state = target state" in run.stdout
    report = json.loads((tmp_path / f"dr-{environment}.json").read_text())
    assert report["restore"]["reached"]["idle_tail"]["proof"]["proven"] is True
    assert 1.0 < report["rpo"]["achieved_seconds"] < 3.0 and report["rpo"]["met"] is True
    assert "Idle tail: target lies in an idle tail" in (tmp_path / f"dr-{environment}.md").read_text()
    assert secrets["db_admin_password"] not in run.stdout
    assert not (lab.state_dir / "dr-sandboxes" / environment).exists()


def test_the_latest_state_is_restored_and_reported_against_the_restore_start(lab, tmp_path):
    environment = f"rollback-{uuid.uuid4().hex[:6]}"
    started = time.time()
    run = dr_restore("--environment", environment, "--pitr-target", "latest", "--results-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout[-6000:]
    assert "Target:    latest (the newest archived state)" in run.stdout
    report = json.loads((tmp_path / f"dr-{environment}.json").read_text())
    target_time = datetime.fromisoformat(report["rpo"]["target_time"].replace("Z", "+00:00")).timestamp()
    assert started - 1 <= target_time <= time.time(), "for latest the point asked for is when the restore started"
    assert report["context"]["target"] == "latest (the newest archived state)"
    assert not (lab.state_dir / "dr-sandboxes" / environment).exists()
