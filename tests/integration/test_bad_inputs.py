"""Bad inputs to every procedure: each is refused by the procedure's preflight (roles/preflight/tasks/<procedure>.yml),
before anything changes, by a message that names the variable and what it accepts.

Each case is one real ``ansible-playbook`` run of a playbook of the collection with the repository's ansible.cfg and the lab
inventory, pointed at a lab that does not run: its state directory (lab.json, credentials.json) names ports nobody listens
on, so a run that got past its preflight could change nothing anywhere, and the test sees it by what ran. The run must end
in a preflight task; the audit log (the audit callback writes every task) holds preflight tasks only, none changed; no
incident record, report, ledger, snapshot, sandbox or result was written; and a value holding a newline or a carriage
return never starts a line of the output (it is shown escaped). No lab is needed: the module runs beside the shared-lab
tests.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from typing import Any

import pytest
from labtest import ansible_bin, flat

from lab.config import REPO_ROOT, LabConfig, resolve_ports

EXPECTED = "refused before any change"
# What each playbook needs so that the case's variable is the only thing wrong.
BASE: dict[str, dict[str, Any]] = {
    "emergency-rollback.yml": {"rollback_incident_id": "INC-8801"},
    "planned-rollback.yml": {"rollback_reason": "api 2.4.0 doubles the DB load"},
    "database-rollback.yml": {"rollback_db_pitr_target": "2026-11-28 03:00:00"},
    "config-rollback.yml": {},
    "config-snapshot.yml": {},
    "external-rollback.yml": {},
    "incident-comms.yml": {"incident_id": "INC-8801"},
    "incident-report.yml": {"incident_id": "INC-8801"},
    "post-rollback-validation.yml": {"validation_since": "2026-12-04T14:05:00+00:00"},
}
# The tasks a refusal may come from: the preflight's, and the database playbook's check of its reason (a play task before
# its role starts).
PREFLIGHT = "ofm.rollback.preflight : Preflight | "
DB_REASON = "Database rollback | the reason, when given, is one of the checklist's"


def shown(value: Any) -> str:
    """A value as the page shows it: Python's repr for text (a newline as \\n), JSON for the rest."""
    return repr(value) if isinstance(value, str) else json.dumps(value)


def case(procedure: str, playbook: str, variable: str, value: Any, named: str, accepted: str) -> Any:
    """One bad input: ``variable=value`` to ``playbook``; the refusal names ``named`` and shows ``accepted``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", shown(value)).strip("_")[:24]
    return pytest.param(playbook, {variable: value}, named, accepted, id=f"{procedure}-{variable}-{slug}",
                        marks=pytest.mark.reliability("bad-input", procedure=procedure, case=f"{variable}={shown(value)}", expected=EXPECTED))


CASES = [
    case("emergency", "emergency-rollback.yml", "rollback_incident_id", "INC-1; rm -rf /", "rollback_incident_id", "INC-<digits>"),
    case("emergency", "emergency-rollback.yml", "rollback_incident_id", "INC-12\r\nINC-13", "rollback_incident_id", "INC-<digits>"),
    case("emergency", "emergency-rollback.yml", "rollback_operator", "alice\nbob: approved", "rollback_operator", "one line of text"),
    case("emergency", "emergency-rollback.yml", "rollback_force", "maybe", "slo_gate_force", "Valid booleans include"),
    case("emergency", "emergency-rollback.yml", "canary_rollback_reason", "OOPS", "canary_rollback_reason",
         "EMERGENCY_SLO_VIOLATION, PLANNED, MANUAL, FAILED_VALIDATION"),
    case("emergency", "emergency-rollback.yml", "canary_rollback_deadline", -5, "canary_rollback_deadline", "an integer of 1 or more"),
    case("emergency", "emergency-rollback.yml", "ofm_slo_window", "-5m", "ofm_slo_window", "a Prometheus duration"),
    case("emergency", "emergency-rollback.yml", "ofm_namespace", "ofm-production/../kube-system", "ofm_namespace", "a Kubernetes name"),
    case("planned", "planned-rollback.yml", "rollback_method", "ftp", "planned_rollback_method", "ops_api, helm, kubectl, argo"),
    case("planned", "planned-rollback.yml", "rollback_incident_id", "../../etc/passwd", "rollback_incident_id", "INC-<digits>"),
    case("planned", "planned-rollback.yml", "planned_rollback_smoke_timeout", 0, "planned_rollback_smoke_timeout", "an integer of 1 or more"),
    case("database", "database-rollback.yml", "db_pitr_environment", "../../etc", "db_pitr_environment", "letters, digits"),
    case("database", "database-rollback.yml", "rollback_db_pitr_target", "2026-13-45 99:00:00", "rollback_db_pitr_target", "a time such as"),
    case("database", "database-rollback.yml", "db_pitr_target_timezone", "../../etc/passwd", "db_pitr_target_timezone", "IANA time zone"),
    case("database", "database-rollback.yml", "db_pitr_target_type", "epoch", "db_pitr_target_type", "time, lsn, name, xid, latest"),
    case("database", "database-rollback.yml", "ofm_db_sandbox_port", 70000, "ofm_db_sandbox_port", "an integer from 1 to 65535"),
    case("database", "database-rollback.yml", "rollback_db_reason", "boredom", "rollback_db_reason", "schema_change, data_corruption"),
    case("config", "config-rollback.yml", "rollback_config_kinds", ["flags", "nope"], "config_rollback_kinds", "flags, unleash, configmaps"),
    case("config", "config-rollback.yml", "config_rollback_rollout", "sometimes", "config_rollback_rollout", "auto, restart, none"),
    case("config", "config-snapshot.yml", "rollback_change_id", "CHG-1\nX-Injected: yes", "rollback_change_id", "one line of text"),
    case("external", "external-rollback.yml", "rollback_external_kinds", ["dns", "smtp"], "external_rollback_kinds", "dns, haproxy, routes"),
    case("external", "external-rollback.yml", "external_rollback_tls_min_days", -3, "external_rollback_tls_min_days", "an integer of 0 or more"),
    case("comms", "incident-comms.yml", "incident_id", "INC-1\r\nBcc: attacker@example.com", "incident_id", "INC-<digits>"),
    case("comms", "incident-comms.yml", "comms_state", "fixed", "incident_comms_state", "investigating, identified, monitoring, resolved"),
    case("comms", "incident-comms.yml", "ofm_comms_min_budget_percent", 150, "ofm_comms_min_budget_percent", "a number from 0 to 100"),
    case("comms", "incident-comms.yml", "ofm_smtp_port", 0, "ofm_smtp_port", "an integer from 1 to 65535"),
    case("report", "incident-report.yml", "incident_id", "../../etc/passwd", "incident_id", "INC-<digits>"),
    case("report", "incident-report.yml", "ofm_report_timezone", "Mars/Olympus", "ofm_report_timezone", "IANA time zone"),
    case("report", "incident-report.yml", "report_bundle", "perhaps", "incident_report_bundle", "Valid booleans include"),
    case("validation", "post-rollback-validation.yml", "validation_phases", ["immediate", "forever"], "post_rollback_validation_phases",
         "immediate, extended, success"),
    case("validation", "post-rollback-validation.yml", "validation_since", "yesterday-ish", "validation_since", "a time such as"),
    case("validation", "post-rollback-validation.yml", "validation_watch_wait", "-30m", "validation_watch_wait", "0 for none"),
]


@pytest.fixture(name="closed_lab", scope="module")
def fixture_closed_lab(tmp_path_factory: pytest.TempPathFactory) -> LabConfig:
    """A lab state directory whose every port was free a moment ago (bound, then closed) and whose credentials are new."""
    sockets = []
    for _name in resolve_ports():
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        sockets.append(probe)
    ports = {name: probe.getsockname()[1] for name, probe in zip(resolve_ports(), sockets)}
    for probe in sockets:
        probe.close()
    config = LabConfig(state_dir=tmp_path_factory.mktemp("closed-lab"), ports=ports, sli_window="15s")
    config.save()
    config.credentials()
    return config


def tasks_run(stdout: str) -> list[str]:
    return re.findall(r"^TASK \[(.*?)\]", stdout, re.MULTILINE)


@pytest.mark.parametrize("playbook, extra, named, accepted", CASES)
def test_a_bad_input_is_refused_before_anything_changes(closed_lab, tmp_path, reliability, playbook, extra, named, accepted):
    audit = tmp_path / "audit.jsonl"
    written = tmp_path / "written"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "OFM_AUDIT_LOG": str(audit), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "OFM_LAB_STATE_DIR": str(closed_lab.state_dir)}
    extra_vars = {**BASE[playbook], "ofm_incident_record_dir": str(written / "incidents"), "db_pitr_results_dir": str(written / "results"),
                  **extra}
    run = subprocess.run([ansible_bin("ansible-playbook"), str(REPO_ROOT / "playbooks" / playbook), "-e", json.dumps(extra_vars)],
                         cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=120, check=False)
    output = run.stdout + run.stderr
    message = flat(output)
    assert run.returncode != 0, message[-3000:]
    # Refused by the preflight (or the database's reason check), naming the variable and what it accepts.
    ran = tasks_run(run.stdout)
    assert ran and all(task.startswith(PREFLIGHT) or task == DB_REASON for task in ran), ran
    assert re.search(r"ok=\d+\s+changed=0\s+unreachable=0\s+failed=1", run.stdout), run.stdout[-2000:]
    assert "Refused, nothing was changed" in message or "Nothing was changed" in message, message[-3000:]
    assert named in message and accepted in message, message[-3000:]
    # A value with a line break is shown escaped: what follows the break never starts a line.
    for value in extra.values():
        if isinstance(value, str) and re.search(r"[\r\n]", value):
            tail = re.split(r"[\r\n]+", value)[-1]
            assert not [line for line in re.split(r"[\r\n]", output) if line.startswith(tail)], "a value forged a line of the output"
    # The audit log: the refused run's tasks are the preflight's (or the reason check), none changed anything.
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    tasks = [record for record in records if record.get("type") == "task"]
    assert tasks and all("/roles/preflight/" in task["task_path"] or task["task"] == DB_REASON for task in tasks), [t["task"] for t in tasks]
    assert not [task for task in tasks if task["changed"]] and tasks[-1]["status"] == "failed"
    # Nothing written: no record, report, ledger or DR result; nothing in the lab's state (snapshots, sandboxes).
    assert not written.exists()
    assert sorted(path.name for path in closed_lab.state_dir.iterdir()) == ["credentials.json", "lab.json"]
    reliability.observed(f"refused by '{ran[-1].replace(PREFLIGHT, '')}': names {named}, shows {accepted}")
