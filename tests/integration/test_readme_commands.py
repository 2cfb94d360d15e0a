"""Every procedure command of the README, run as written through bash against the lab (with the lab inventory).

The README's ``bash`` blocks are read from README.md itself, so a command that stops working on the lab, or a new one,
fails here. Two substitutions only, both said in the test's id: ``-i inventories/production`` becomes
``-i inventories/lab``, and the DR script's ``2 hours ago`` becomes ``1 minute ago`` (the lab's PostgreSQL history is
minutes long; test_database_rollback runs the checklist's own ``2 hours ago`` for the instant it names).
"""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
from labtest import flat, run_lab, run_module

from lab.config import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
BLOCKS = [block.strip() for block in re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)]
# Blocks that are not a procedure run on the lab, with why; every other block must be one of the procedures below.
NOT_PROCEDURES = {
    "./scripts/demo.sh": "sets everything up (bootstrap) and is the CI's own entry point",
    "kind create cluster": "needs a real Kubernetes cluster",
    "ansible-galaxy collection build --output-path extensions/ee/": (
        "builds the execution environment's image (a container engine); test_execution_environment creates its build context"),
    "ansible-playbook snapshot.yml": "a CI pipeline's own playbook, shown as an example (test_config_restore runs config_snapshot with a vault "
                                     "password file)",
    "ansible-playbook -i inventories/production playbooks/incident-comms.yml": (
        "needs the record of an emergency run first: test_incident_comms_report runs these after a real one"),
    "cat > rulebook-vars.yml": "starts the rulebook, which serves until stopped: test_eda_rulebook runs it against the lab",
    "lab up\nmolecule test --all": "runs the molecule scenarios, which test_molecule runs against the lab",
}


def procedure_of(block: str) -> str:
    for name, fqcn in (("emergency-rollback.yml", "ofm.rollback.emergency_rollback"), ("planned-rollback.yml", "ofm.rollback.planned_rollback"),
                       ("config-rollback.yml", "ofm.rollback.config_rollback"), ("external-rollback.yml", "ofm.rollback.external_rollback"),
                       ("post-rollback-validation.yml", "ofm.rollback.post_rollback_validation"),
                       ("dr-restore-sandbox.sh", "dr-restore-sandbox.sh")):
        if name in block or fqcn in block:
            return name
    raise AssertionError(f"a README bash block that is neither a procedure nor known: {block[:200]}")


def procedures() -> list:
    found = []
    for block in BLOCKS:
        if any(block.startswith(start) for start in NOT_PROCEDURES):
            continue
        name = procedure_of(block)
        # The DR restore uses the lab's PostgreSQL and its one sandbox port: it runs beside the database tests' process, not
        # in the shared one; the playbooks change the lab's shared state (the Helm release, the canary's traffic).
        marks = () if name == "dr-restore-sandbox.sh" else (pytest.mark.shared_lab,)
        found.append(pytest.param(block, id=f"{name}-{len(found)}", marks=marks))
    return found


def test_the_readme_has_a_command_for_each_procedure():
    names = [procedure_of(param.values[0]) for param in procedures()]
    assert set(names) == {"emergency-rollback.yml", "planned-rollback.yml", "config-rollback.yml", "external-rollback.yml",
                          "post-rollback-validation.yml", "dr-restore-sandbox.sh"}, names


@pytest.mark.parametrize("block", procedures())
def test_a_readme_command_runs_as_written_on_the_lab(lab, block, tmp_path):
    # The playbooks run in the process of the shared-lab modules and start from the after-up state; the DR restore runs
    # beside them and must not reset anything (a reset in the middle of an emergency test would undo its rollback).
    shared = "dr-restore-sandbox.sh" not in block
    if shared:
        run_lab("reset")
    if not shared:
        # The block's sandbox is named after today (rollback-YYYYMMDD): one left by an earlier run today is removed first, as a
        # responder would (the script refuses to restore over another restore).
        sandbox = lab.state_dir / "dr-sandboxes" / f"rollback-{time.strftime('%Y%m%d')}"
        if sandbox.exists():
            assert not run_module("pg_pitr_restore", {"state": "absent", "sandbox_data_dir": str(sandbox)}, tmp_path).failed
    command = block.replace("-i inventories/production", "-i inventories/lab").replace("'2 hours ago'", "'1 minute ago'")
    vault = tmp_path / "vault-password"
    vault.write_text("readme-test-vault-password")
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
           "OFM_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "OFM_VAULT_PASSWORD_FILE": str(vault)}
    try:
        run = subprocess.run(["bash", "-c", f"set -euo pipefail\n{command}"], cwd=REPO_ROOT, capture_output=True, text=True, env=env,
                             timeout=900, check=False)
    finally:
        if shared:
            run_lab("reset")
    summary = flat(run.stdout)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "Checklist: " in summary and " MANUAL" in summary, "the summary judges every line"
    if "planned-rollback.yml" in block:
        assert "helm rollback ofm-social-os 5 -n ofm-production: ofm-production/ofm-social-os to revision 5 (rolled back)" in summary
        assert "api 2.4.0 doubles the DB load" in summary, "the documented reason, whole"
    if "dr-restore-sandbox.sh" in block:
        assert "[ok    ] ./dr-restore-sandbox.sh: restored to " in summary
    if "config-rollback.yml" in block:
        assert "[ok    ] Configuration Management: snapshot cfg-" in summary and "[ok    ] Feature Flags:" in summary
    if "post-rollback-validation.yml" in block:
        for title in ("SLO Compliance", "Error Monitoring", "Application Logs", "Database Performance", "Queue Processing", "Integration Tests",
                      "End-to-End Tests", "Load Testing", "Business Metrics", "Monitoring Systems"):
            assert f"[ok    ] {title}:" in summary, title
    if "external-rollback.yml" in block:
        for title in ("DNS Records", "Load Balancer", "SSL Certificates", "CDN Configuration", "Webhook Endpoints", "Platform Permissions"):
            assert f"[ok    ] {title}:" in summary, title
