"""One rollback at a time for the planned, database, configuration and external procedures: each refuses to start while
another live run holds the lease of its target, names that run, and changes nothing.

A real `ansible-playbook` holds the four leases (the role ofm.rollback.rollback_lease, as the procedures take them) and
waits; each procedure's playbook is then run against the lab. The refusals come before any change, so this module does not
share the lab's state (it only adds Lease objects of its own targets).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from labtest import REPO_ROOT, ansible_bin, flat, run_playbook, wait_until

from lab.components.kube_apiserver import kube_call

DB_ENVIRONMENT = "rollback-lease-test"
LEASES = {"planned": "ofm-production", "config": "ofm-production", "external": "ofm-production", "database": DB_ENVIRONMENT}
PLAYBOOKS = {"planned": "planned-rollback.yml", "config": "config-rollback.yml", "external": "external-rollback.yml",
             "database": "database-rollback.yml"}


def lease_path(procedure: str) -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/ofm-production/leases/ofm-rollback-{procedure}-{LEASES[procedure]}"


def held_by(lab, procedure: str) -> str:
    found = kube_call(lab, "GET", lease_path(procedure)) or {}
    return (found.get("spec") or {}).get("holderIdentity") or ""


@pytest.fixture(scope="module")
def holder(lab, tmp_path_factory):
    """An ansible-playbook that takes the four leases as incident INC-9850 of operator lease-holder, then waits for a file."""
    workdir = tmp_path_factory.mktemp("lease-holder")
    release = workdir / "release"
    tasks = [{"name": f"take the {procedure} lease", "ansible.builtin.include_role": {"name": "ofm.rollback.rollback_lease"},
              "vars": {"rollback_lease_procedure": procedure, "rollback_lease_target": target, "rollback_lease_incident_id": "INC-9850",
                       "rollback_lease_operator": "lease-holder"}}
             for procedure, target in LEASES.items()]
    tasks.append({"name": "wait", "ansible.builtin.wait_for": {"path": str(release), "timeout": 600}})
    tasks += [{"name": f"let go of the {procedure} lease",
               "ansible.builtin.include_role": {"name": "ofm.rollback.rollback_lease", "tasks_from": "release"},
               "vars": {"rollback_lease_procedure": procedure, "rollback_lease_target": target}}
              for procedure, target in LEASES.items()]
    tasks.insert(0, {"name": "the connection settings", "ansible.builtin.import_role": {"name": "ofm.rollback.connections", "public": True}})
    playbook = workdir / "hold.yml"
    playbook.write_text(json.dumps([{"name": "hold the leases", "hosts": "localhost", "gather_facts": False,
                                     "module_defaults": {"group/ofm.rollback.k8s": "{{ connections_k8s }}"}, "tasks": tasks}]))
    for procedure in LEASES:
        kube_call(lab, "DELETE", lease_path(procedure))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "OFM_AUDIT_LOG": str(workdir / "audit.jsonl")}
    process = subprocess.Popen([ansible_bin("ansible-playbook"), str(playbook)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_until(lambda: all(held_by(lab, procedure) for procedure in LEASES) or process.poll() is not None, timeout=120,
                   interval=0.2, what="the four leases held")
        assert process.poll() is None, process.communicate()[0][-3000:]
        yield process
        release.write_text("done")
        out = process.communicate(timeout=120)[0]
        assert process.returncode == 0, out[-3000:]
        assert not any(held_by(lab, procedure) for procedure in LEASES), "the holder did not let go of its leases"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def changed_tasks(audit_log: Path) -> list[str]:
    records = [json.loads(line) for line in audit_log.read_text().splitlines() if line.strip()] if audit_log.exists() else []
    return [record["task"] for record in records if record.get("event") == "task" and record.get("status") == "changed"]


@pytest.mark.parametrize("procedure", [
    pytest.param(procedure, marks=pytest.mark.reliability(
        "lease", procedure=procedure, case="another live run holds the lease of the target",
        expected="refused before any change, naming the holder and since when"))
    for procedure in PLAYBOOKS])
def test_each_procedure_refuses_while_another_run_holds_its_target(lab, holder, tmp_path, procedure, reliability):
    extra = {"rollback_incident_id": "INC-9851", "ofm_incident_record_dir": str(tmp_path / "incidents"),
             "db_pitr_environment": DB_ENVIRONMENT, "rollback_db_pitr_target": "2026-12-04 00:00:00",
             "rollback_reason": "lease test", "rollback_operator": "second-operator"}
    run = run_playbook(PLAYBOOKS[procedure], extra_vars=extra, audit_log=tmp_path / "audit.jsonl")
    output = flat(run.stdout)
    assert run.returncode != 0, output[-3000:]
    name = f"ofm-rollback-{procedure}-{LEASES[procedure]}"
    assert f"another rollback holds the lease {name}" in output, output[-3000:]
    assert "lease-holder (INC-9850" in output and " since " in output and " UTC" in output and "Nothing was changed" in output
    assert changed_tasks(tmp_path / "audit.jsonl") == [], "the refused run changed something"
    assert holder.poll() is None and held_by(lab, procedure), "the holder's lease was touched"
    reliability.observed("refused naming lease-holder (INC-9850) and since when; no task changed anything")
