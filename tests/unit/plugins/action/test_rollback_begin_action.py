# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ofm.rollback.rollback_begin through ansible-playbook: each part gets the module_defaults its module's task would get (the
ops API's connection from its action group, the journal's from the module's name), a part's null option is left to them,
in the worker (threads) and as module processes (ofm_in_process=false) alike, and no credential reaches the output."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.ofm.rollback.plugins.modules import rollback_lease
from ansible_collections.ofm.rollback.plugins.plugin_utils.in_process import run_in_process
from unithelpers import ADMIN_SESSION, VIEWER_TOKEN

REPO_ROOT = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent


def playbook(tmp_path: Path, ops_url: str, credential: dict, operator: str = "alice", admins: tuple = ()) -> Path:
    play = {
        "hosts": "localhost", "gather_facts": False,
        "module_defaults": {
            "group/ofm.rollback.ops_api": {"ops_api_url": ops_url, "validate_certs": False, **credential},
            "ofm.rollback.run_journal": {"record_dir": str(tmp_path / "records"), "incident_id": "INC-7", "procedure": "emergency"},
        },
        "tasks": [{
            "name": "Begin",
            "ofm.rollback.rollback_begin": {
                "lease": {"name": "ofm-rollback-test", "incident_id": "INC-7", "operator": operator, "procedure": "emergency",
                          "backend": "file", "lock_dir": str(tmp_path / "locks"), "namespace": None},
                "journal": {"operator": operator},
                "authorize": {"operator": operator, "admins": list(admins), "timeout": 5, "retries": 0},
            },
            "register": "begun",
        }, {"name": "Show", "ansible.builtin.debug": {"var": "begun"}}],
    }
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([play]))
    return path


def run(tmp_path: Path, play: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "OFM_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                           f"ansible_python_interpreter={sys.executable}", str(play), *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False, timeout=180)


@pytest.mark.parametrize("in_process", ["true", "false"])
def test_each_part_gets_its_modules_defaults_and_no_secret_is_shown(tmp_path, ops, in_process):
    result = run(tmp_path, playbook(tmp_path, ops.url, {"ops_api_session_cookie": ADMIN_SESSION}), "-v", "-e", f"ofm_in_process={in_process}")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # The admin probe went to the ops API of group/ofm.rollback.ops_api, with its session: the ops API's admin role authorized.
    assert ("GET", "/internal/ops/logs?lines=1") in ops.seen
    assert '"authority": "ops API (admin role)"' in output
    # The journal of the module's own module_defaults, opened by the lease holder; the lease a file (namespace null: left out).
    journal = json.loads((tmp_path / "records" / "INC-7" / "journal-emergency.json").read_text())
    assert [run_["operator"] for run_ in journal["runs"]] == ["alice"]
    assert list((tmp_path / "locks").iterdir())
    assert ADMIN_SESSION not in output and ADMIN_SESSION not in (tmp_path / "audit.jsonl").read_text()


def test_a_refused_operator_fails_the_task_with_the_refusal(tmp_path, ops):
    result = run(tmp_path, playbook(tmp_path, ops.url, {"ops_api_token": VIEWER_TOKEN}, operator="bob"))
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "bob" in output and "Nothing was changed." in output, output
    assert VIEWER_TOKEN not in output


def test_a_lease_held_by_another_run_stops_it_before_the_journal(tmp_path, ops):
    # The other run is this test's process (alive): its lease on the same target, in the same lock dir.
    held = run_in_process(rollback_lease.main, {"name": "ofm-rollback-test", "incident_id": "INC-6", "operator": "bob",
                                                "procedure": "emergency", "backend": "file", "lock_dir": str(tmp_path / "locks")}, False)
    assert held.get("acquired") is True, held
    result = run(tmp_path, playbook(tmp_path, ops.url, {"ops_api_session_cookie": ADMIN_SESSION}, admins=("alice",)))
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0 and "bob" in output and "INC-6" in output, output
    assert not (tmp_path / "records").exists()  # the journal belongs to the run that holds the lease


def test_bad_options_are_refused_naming_the_option(tmp_path):
    play = tmp_path / "bad.yml"
    play.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "No part", "ofm.rollback.rollback_begin": {}},
    ]}]))
    result = run(tmp_path, play)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "one of the following is required: lease, journal, gate, authorize" in output, output
