# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""connections_operator (roles/connections/defaults/main.yml), the operator the database, configuration and external
playbooks journal: in an AWX job its user alone (none for a scheduled launch, whatever rollback_operator says), else
rollback_operator."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def operator(tmp_path: Path, extra_vars: dict) -> str:
    out = tmp_path / "operator.txt"
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{"name": "Who runs it", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Settings", "ansible.builtin.import_role": {"name": "ofm.rollback.connections", "public": True}},
        {"name": "Save", "ansible.builtin.copy": {"dest": str(out), "mode": "0600", "content": "[{{ connections_operator }}]"}}]}]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "OFM_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    run = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", json.dumps(extra_vars), str(play)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    return out.read_text()


@pytest.mark.parametrize("extra_vars, expected", [
    ({"rollback_operator": "bob"}, "[bob]"),
    ({}, "[]"),
    ({"rollback_operator": "lab-admin", "awx_job_id": 9, "awx_user_name": "carol"}, "[carol]"),
    ({"rollback_operator": "lab-admin", "tower_job_id": 9, "tower_user_name": "dave"}, "[dave]"),
    ({"rollback_operator": "lab-admin", "awx_job_id": 10, "awx_job_launch_type": "scheduled"}, "[]"),
], ids=["operator", "nobody", "awx-user", "tower-user", "awx-schedule"])
def test_the_operator_is_the_awx_user_in_an_awx_job_else_rollback_operator(tmp_path, extra_vars, expected):
    assert operator(tmp_path, extra_vars) == expected
