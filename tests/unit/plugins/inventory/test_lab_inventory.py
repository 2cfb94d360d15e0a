# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's inventory plugin (ofm.rollback.lab), through ansible-inventory and ansible as a user runs them."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent


def inventory(tmp_path: Path) -> Path:
    """A copy of the lab's inventory directory (the plugin file and its group_vars)."""
    target = tmp_path / "inventories" / "lab"
    shutil.copytree(REPO_ROOT / "inventories" / "lab", target)
    return target


def run(tool: str, *args: str, state_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "OFM_LAB_STATE_DIR": str(state_dir), "ANSIBLE_NOCOLOR": "1",
           "OFM_AUDIT_LOG": str(state_dir.parent / "audit.jsonl")}
    return subprocess.run([str(BIN / tool), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False, timeout=120)


def write_state(state_dir: Path, prometheus_port: int = 19090, token: str = "tok-{{ not_a_template }}") -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "lab.json").write_text(json.dumps({"ports": {"prometheus": prometheus_port}, "sli_window": "15s"}))
    (state_dir / "credentials.json").write_text(json.dumps({"identities": {"admin": {"token": token}}}))


def test_the_state_files_are_read_once_as_data_and_the_group_vars_build_on_them(tmp_path):
    inv, state = inventory(tmp_path), tmp_path / "state"
    write_state(state)
    host = run("ansible-inventory", "-i", str(inv), "--host", "localhost", state_dir=state)
    assert host.returncode == 0, host.stderr
    values = json.loads(host.stdout)
    assert values["ofm_lab_state_dir"] == str(state.resolve())
    assert values["ofm_lab"]["ports"]["prometheus"] == 19090 and values["ansible_connection"] == "local"
    # Templated by a task: the URL from the port, and a credential holding "{{ }}" kept as it is (data, not a template).
    shown = run("ansible", "localhost", "-i", str(inv), "-m", "ansible.builtin.debug",
                "-a", "msg={{ ofm_prometheus_url }}|{{ ofm_ops_api_token }}|{{ ansible_python_interpreter }}", state_dir=state)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"https://127.0.0.1:19090|tok-{{{{ not_a_template }}}}|{sys.executable}" in shown.stdout.replace("'", "")


def test_without_a_lab_a_task_that_needs_it_fails_naming_the_missing_file_and_others_run(tmp_path):
    inv, state = inventory(tmp_path), tmp_path / "absent"
    plain = run("ansible", "localhost", "-i", str(inv), "-m", "ansible.builtin.debug", "-a", "msg=no_lab_needed", state_dir=state)
    assert plain.returncode == 0 and "no_lab_needed" in plain.stdout, plain.stdout + plain.stderr
    needs = run("ansible", "localhost", "-i", str(inv), "-m", "ansible.builtin.debug", "-a", "var=ofm_prometheus_url", state_dir=state)
    assert needs.returncode != 0
    assert f"{state}/lab.json" in needs.stdout and "File not found" in " ".join(needs.stdout.split()), needs.stdout


def test_a_corrupt_state_file_is_refused_naming_it(tmp_path):
    inv, state = inventory(tmp_path), tmp_path / "state"
    write_state(state)
    (state / "credentials.json").write_text("{not json")
    listed = run("ansible-inventory", "-i", str(inv), "--list", state_dir=state)
    output = listed.stdout + listed.stderr
    assert "credentials.json cannot be read" in output, output
    assert listed.returncode != 0 or "localhost" not in json.loads(listed.stdout or "{}").get("_meta", {}).get("hostvars", {})


@pytest.mark.parametrize("variable", ["ofm_lab", "ofm_lab_credentials", "ofm_lab_state_dir"])
def test_the_group_vars_no_longer_look_the_state_files_up(variable):
    group_vars = (REPO_ROOT / "inventories" / "lab" / "group_vars" / "all" / "lab.yml").read_text()
    assert f"\n{variable}:" not in group_vars and "lookup('ansible.builtin.file'" not in group_vars
