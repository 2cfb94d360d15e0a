# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident role's open.yml (a play without a procedure's preflight): the incident opened by input_check, as the
preflight opens it - an id given or generated, the operator (in an AWX job its user alone), a bad id refused."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def open_incident(tmp_path: Path, extra_vars: dict) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "incident.json"
    play = tmp_path / "play.yml"
    saved = ("{{ {'id': incident_id, 'generated': incident_id_generated, 'operator': incident_operator, "
             "'started': incident_started_iso} | to_json }}")
    play.write_text(yaml.safe_dump([{"name": "Open an incident", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Open", "ansible.builtin.include_role": {"name": "ofm.rollback.incident"}},
        {"name": "Save", "ansible.builtin.copy": {"dest": str(out), "mode": "0600", "content": saved}}]}]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "OFM_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    run = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", json.dumps(extra_vars), str(play)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=120)
    return run, (json.loads(out.read_text()) if out.exists() else {})


def test_an_id_is_generated_and_announced_and_the_operator_kept(tmp_path):
    run, incident = open_incident(tmp_path, {"rollback_operator": "bob"})
    assert run.returncode == 0, run.stdout[-2000:]
    assert incident["id"].startswith("INC-") and incident["generated"] is True and incident["operator"] == "bob"
    assert f"No rollback_incident_id given: this rollback is incident {incident['id']}." in run.stdout
    assert incident["started"].endswith("Z")


def test_in_an_awx_job_the_operator_is_its_user_and_a_schedule_has_none(tmp_path):
    run, incident = open_incident(tmp_path, {"rollback_incident_id": "INC-42", "rollback_operator": "lab-admin", "awx_job_id": 9,
                                             "awx_user_name": "carol", "awx_job_launch_type": "manual"})
    assert run.returncode == 0 and incident == {**incident, "id": "INC-42", "generated": False, "operator": "carol"}
    run, incident = open_incident(tmp_path, {"rollback_operator": "lab-admin", "awx_job_id": 10, "awx_job_launch_type": "scheduled"})
    assert run.returncode == 0 and incident["operator"] == ""


def test_a_bad_id_is_refused_naming_the_option_and_the_format(tmp_path):
    run, incident = open_incident(tmp_path, {"rollback_incident_id": "INC-1; rm -rf /"})
    assert run.returncode != 0 and incident == {}
    flat = " ".join(run.stdout.split())
    assert "rollback_incident_id" in flat and "Accepted: INC-<digits>" in flat
