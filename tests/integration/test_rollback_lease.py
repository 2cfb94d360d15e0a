"""One rollback at a time, with two real `ansible-playbook` processes of the emergency rollback against the lab.

The lease is a coordination.k8s.io Lease in the lab's Kubernetes API test server. Forced runs (with a reason) need no sustained
breach, so these tests stay short; they change the canary, so they share the lab (one pytest process, in file order).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest
from labtest import REPO_ROOT, ansible_bin, emergency, flat, lab_call, run_lab, wait_until

from lab.components.haproxy import weights
from lab.components.kube_apiserver import kube_call

pytestmark = pytest.mark.shared_lab

LEASE = "ofm-rollback-emergency-ofm-production"
LEASE_PATH = f"/apis/coordination.k8s.io/v1/namespaces/ofm-production/leases/{LEASE}"
FORCED = {"rollback_force": True, "rollback_force_reason": "lease test", "incident_admins": ["lab-admin"],
          "rollback_validation_sustain": "2s", "rollback_comms": False}
ROLLED_BACK = {"stable": 100, "canary": 0}


def lease(lab) -> Optional[dict[str, Any]]:
    return kube_call(lab, "GET", LEASE_PATH)


def holder_incident(lab) -> str:
    found = lease(lab) or {}
    if not (found.get("spec") or {}).get("holderIdentity"):
        return ""
    return found["metadata"]["annotations"]["rollback.ofm.social/incident-id"]


def start_emergency(tmp_path: Path, incident: str) -> subprocess.Popen:
    """The emergency playbook in the background, in a session of its own (so that a test can kill it with its workers)."""
    extra = {"rollback_incident_id": incident, "ofm_incident_record_dir": str(tmp_path / "incidents"), **FORCED}
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "OFM_AUDIT_LOG": str(tmp_path / f"{incident}.jsonl")}
    return subprocess.Popen([ansible_bin("ansible-playbook"), str(REPO_ROOT / "playbooks" / "emergency-rollback.yml"), "-e", json.dumps(extra)],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def rollback_rows(lab, incident: str) -> list[dict[str, Any]]:
    """The rollback POSTs the ops API stand-in received for ``incident`` (the client's Idempotency-Key names it)."""
    rows = lab_call(f"{lab.url('ops_api')}/__lab/requests")["requests"]
    return [row for row in rows if row["method"] == "POST" and row["path"] == "/internal/ops/canary/rollback"
            and incident in (row.get("idempotency_key") or "")]


def changed_tasks(audit_log: Path) -> list[str]:
    if not audit_log.exists():
        return []
    records = [json.loads(line) for line in audit_log.read_text().splitlines() if line.strip()]
    return [record["task"] for record in records if record.get("event") == "task" and record.get("status") == "changed"]


@pytest.fixture
def clean_lease(lab):
    run_lab("reset")
    kube_call(lab, "DELETE", LEASE_PATH)
    yield
    kube_call(lab, "DELETE", LEASE_PATH)
    run_lab("reset")


@pytest.mark.reliability("lease", procedure="emergency", case="a second run starts while the first holds the lease",
                         expected="the second is refused, naming the holder and since when; nothing changed")
def test_a_second_emergency_run_is_refused_naming_the_first_and_the_first_finishes(lab, tmp_path, clean_lease, reliability):
    before = {key: len(rollback_rows(lab, key)) for key in ("INC-9801", "INC-9802")}
    first = start_emergency(tmp_path, "INC-9801")
    try:
        wait_until(lambda: holder_incident(lab) == "INC-9801" or first.poll() is not None, timeout=60, interval=0.1, what="the first run's lease")
        assert holder_incident(lab) == "INC-9801", "the first run ended before it held the lease"
        second = emergency(tmp_path, "INC-9802", **FORCED)
        output = flat(second.stdout)
        assert second.returncode != 0
        assert f"another rollback holds the lease {LEASE}" in output, output[-3000:]
        assert "lab-admin (INC-9801, emergency)" in output and " since " in output and " UTC" in output
        assert "Nothing was changed" in output
        assert changed_tasks(tmp_path / "audit.jsonl") == [], "the refused run changed something"
        assert not list((tmp_path / "incidents").glob("INC-9802-*")), "the refused run wrote an incident record"
        out = first.communicate(timeout=300)[0]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first.returncode == 0, out[-4000:]
    assert weights(lab) == ROLLED_BACK
    assert len(rollback_rows(lab, "INC-9801")) == before["INC-9801"] + 1, "the first run should have posted the rollback once"
    assert len(rollback_rows(lab, "INC-9802")) == before["INC-9802"], "the refused run posted a rollback"
    assert holder_incident(lab) == "", "the first run did not let go of its lease"
    reliability.observed("refused naming INC-9801, its operator and since when; no change, no record; the first run finished and released")


@pytest.mark.reliability("lease", procedure="emergency", case="the holder is killed (SIGKILL), its re-run starts at once",
                         expected="the re-run takes the dead run's lease over at once and finishes")
def test_a_killed_runs_lease_is_taken_over_by_its_rerun_at_once(lab, tmp_path, clean_lease, reliability):
    first = start_emergency(tmp_path, "INC-9803")
    try:
        wait_until(lambda: holder_incident(lab) == "INC-9803" or first.poll() is not None, timeout=60, interval=0.1, what="the first run's lease")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert holder_incident(lab) == "INC-9803", "the killed run's lease should be left behind (it expires on its own)"
    again = emergency(tmp_path, "INC-9803", **FORCED)
    output = flat(again.stdout + again.stderr)  # the takeover is a warning (stderr)
    assert again.returncode == 0, output[-4000:]
    assert "took over the lease" in output and "its process is gone" in output
    assert weights(lab) == ROLLED_BACK
    found = lease(lab)
    assert found["spec"]["leaseTransitions"] >= 1 and not found["spec"].get("holderIdentity")
    reliability.observed("took the lease over at once (its process is gone), finished, released")
