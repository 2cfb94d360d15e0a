# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``molecule test --all`` (extensions/molecule) against the lab, as a developer runs it from the checkout.

Each role scenario prepares the lab (breaks what its roles put right), converges, converges again (molecule's idempotence:
the second converge changes nothing), verifies the lab's state with the collection's info modules and cleans up; the
check_mode scenario runs every changing role with --check on a broken lab and verifies that all of it is still broken.
Molecule's exit status and its per-step report are asserted, and the output, as every other run's, must hold no secret of
the lab.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from labtest import BIN_DIR, leaks, secret_values

from lab.config import REPO_ROOT, LabConfig

pytestmark = pytest.mark.shared_lab

MOLECULE = REPO_ROOT / "extensions" / "molecule"
SCENARIOS = sorted(path.parent.name for path in MOLECULE.glob("*/molecule.yml"))
# The roles with a scenario of their own (issue 19 names all but argo_rollback).
ROLES = {"slo_gate", "canary_rollback", "argo_rollback", "k8s_rollback", "helm_rollback", "db_pitr", "config_rollback", "external_rollback"}
STEP = re.compile(r"^INFO\s+\[(?P<scenario>[\w/]+) > (?P<step>\w+)\] Executing$")
RECAP = re.compile(r"^localhost\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=0\s+failed=(?P<failed>\d+)")


def sequence(scenario: str) -> list[str]:
    base = yaml.safe_load((MOLECULE / "config.yml").read_text())["scenario"]["test_sequence"]
    own = (yaml.safe_load((MOLECULE / scenario / "molecule.yml").read_text()).get("scenario") or {}).get("test_sequence")
    return own or base


def steps(output: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (scenario, step): the changed count of its ansible-playbook run (summed over its plays' recaps) and its end."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    current = None
    for line in output.splitlines():
        line = line.strip()
        started = STEP.match(line)
        if started:
            current = (started["scenario"], started["step"])
            found[current] = {"changed": 0, "failed": 0, "result": None}
            continue
        recap = RECAP.match(line)
        if recap and current:
            found[current]["changed"] += int(recap["changed"])
            found[current]["failed"] += int(recap["failed"])
        ended = re.match(r"^(?:INFO|ERROR|WARNING)\s+\[(?P<scenario>[\w/]+) > (?P<step>\w+)\] Executed: (?P<result>.+)$", line)
        if ended and (ended["scenario"], ended["step"]) in found:
            found[(ended["scenario"], ended["step"])]["result"] = ended["result"]
    return found


@pytest.fixture(scope="module", name="molecule_run")
def fixture_molecule_run(lab: LabConfig, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    work = tmp_path_factory.mktemp("molecule")
    env = {**os.environ, "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "OFM_AUDIT_LOG": str(work / "audit.jsonl"), "MOLECULE_NO_LOG": "false"}
    # One stream: molecule's own lines (its stderr) between the ansible-playbook output (its stdout) of each step.
    run = subprocess.run([str(BIN_DIR / "molecule"), "test", "--all"], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=1500, check=False)
    return run, work


def test_the_scenarios_cover_the_roles_and_check_mode():
    assert ROLES <= set(SCENARIOS) and "check_mode" in SCENARIOS, SCENARIOS
    checked = {role["name"] for role in yaml.safe_load((MOLECULE / "check_mode" / "vars.yml").read_text())["ofm_molecule_roles"]}
    # every scenario whose roles change the lab has its roles run in check mode too (the gate and the recovery read only,
    # or restore into a sandbox of their own)
    assert checked == ROLES - {"slo_gate", "db_pitr"}, checked


def test_every_scenario_converges_changes_nothing_the_second_time_and_verifies(molecule_run):
    run, _work = molecule_run
    output = run.stdout
    assert run.returncode == 0, output[-6000:]
    found = steps(output)
    for scenario in SCENARIOS:
        for step in sequence(scenario):
            assert found.get((scenario, step), {}).get("result") == "Successful", (scenario, step, found.get((scenario, step)))
    for scenario in sorted(ROLES):
        # idempotence: molecule fails the step on a changed task; its recap must also say 0 changed
        assert found[(scenario, "idempotence")]["changed"] == 0, scenario
        assert found[(scenario, "converge")]["failed"] == 0, scenario
    # The converge of each changing role did change the lab that prepare broke (verify then finds it put right).
    for scenario in ROLES - {"slo_gate", "db_pitr"}:
        assert found[(scenario, "converge")]["changed"] > 0, f"{scenario}: the first converge changed nothing"
    # Check mode reports what it would change, and verify found all of it still broken.
    assert found[("check_mode", "check")]["changed"] >= 5


def test_no_secret_of_the_lab_in_molecules_output_or_the_audit_trail(lab: LabConfig, molecule_run):
    run, work = molecule_run
    secrets = secret_values(yaml.safe_load(Path(lab.credentials_file).read_text()))
    secrets["lab vault password"] = (MOLECULE / "shared" / "lab-vault-pass").read_text().strip()
    sources = [("molecule output", run.stdout.encode())]
    if (work / "audit.jsonl").exists():
        sources.append(("audit trail", (work / "audit.jsonl").read_bytes()))
    assert len(sources) == 2, "the scenarios' runs wrote no audit trail"
    assert leaks(secrets, iter(sources)) == []
