"""No secret in any output: every procedure, on its success path and on its failure path, run with -vvv.

- Failure paths: a copy of the lab's state directory whose credentials.json holds a unique marker in place of every secret
  (ops API tokens and sessions, Slack bot token and webhook path, Statuspage key, database passwords, Redis password, Unleash
  token, PowerDNS key and TSIG secret, AWS keys, platform app secrets and tokens, SMTP password), a kubeconfig whose token is
  a marker, a vault password that is a marker, and markers in every credential environment variable the modules and roles
  read (OFM_OPS_API_TOKEN, PROMETHEUS_TOKEN, SLACK_BOT_TOKEN, K8S_AUTH_API_KEY, OFM_AUDIT_DB_PASSWORD, AWS_SECRET_ACCESS_KEY,
  ...). The lab inventory reads that copy, so every procedure talks to the real lab services, which refuse the markers: the
  refused login, the 401, Slack's invalid_auth are the paths under test (each run asserts the ones it reached).
- Success paths: the lab's own credentials, which its services accept, for the procedures that change no shared state
  (a configuration snapshot into a directory of the test, the configuration and external-service rollbacks in check mode
  from it, the database rollback as a dry run, the post-rollback validation's immediate phase, the planned rollback in check
  mode). The emergency rollback, the incident communications and the report run on their success paths in
  test_incident_comms_report.py (the shared lab's emergency), which scans them the same way.

Scanned: stdout and stderr, the audit log, and every file the runs wrote (incident records, ledgers, reports, snapshots,
DR results, JUnit and Markdown summaries, and each member of an evidence bundle), for each secret as it is and URL-encoded.
The lab is only read (and asked with wrong credentials): this module runs beside the shared-lab tests.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest
from labtest import ansible_bin, artefacts, flat, leaks, secret_values

from lab.config import HOST, REPO_ROOT, LabConfig

INCIDENT = "INC-8811"
EXPECTED = "no secret in any output"
# The credential environment variables the modules (env fallbacks) and roles (env lookups) read, and the audit callback's.
# (OFM_OPS_API_SESSION is left out: a session and a token exclude each other, and the lab inventory sets the token.)
SECRET_ENVIRONMENT = ("OFM_OPS_API_TOKEN", "PROMETHEUS_TOKEN", "ALERTMANAGER_TOKEN", "K8S_AUTH_API_KEY",
                      "SLACK_BOT_TOKEN", "STATUSPAGE_API_KEY", "REDIS_PASSWORD", "UNLEASH_TOKEN", "OFM_REGISTRY_PASSWORD",
                      "OFM_REGISTRY_TOKEN", "OFM_DB_ADMIN_PASSWORD", "OFM_DB_APP_PASSWORD", "OFM_DB_CONFIG_PASSWORD",
                      "OFM_DB_READONLY_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "OFM_AUDIT_DB_PASSWORD")


@dataclass
class Run:
    """One procedure run of the matrix: its playbook, -e, options, and the words that show the credential path it took."""

    procedure: str
    path: str  # success | failure
    playbook: str
    extra: dict[str, Any]
    case: str
    reached: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    returncode: Optional[int] = None
    after: Optional[str] = None  # a run whose output this one reads (the snapshot, the incident)


@dataclass
class Side:
    """The credentials of one path: the state directory the inventory reads, the secrets to look for, the environment."""

    state_dir: Path
    secrets: dict[str, str]
    env: dict[str, str]
    vault: Path
    workdir: Path
    done: dict[str, str] = field(default_factory=dict)


def minutes_ago(minutes: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(fmt, time.gmtime(time.time() - minutes * 60))


RUNS: dict[str, Run] = {
    "snapshot-success": Run("config", "success", "config-snapshot.yml", {"rollback_change_id": "CHG-8811"},
                            "success path: a configuration snapshot read from every system that holds configuration", ("Snapshot:  cfg-",),
                            ("--vault-password-file", "{vault}"), 0),
    "config-success": Run("config", "success", "config-rollback.yml", {}, "success path: configuration rollback in check mode from it",
                          ("configuration rollback · lab · CHECK MODE",), ("--check", "--diff", "--vault-password-file", "{vault}"), 0,
                          after="snapshot-success"),
    "external-success": Run("external", "success", "external-rollback.yml", {},
                            "success path: external-service rollback in check mode from it (DNS, HAProxy, Route, ALB, CDN, platform apps)",
                            ("external-service rollback · lab · CHECK MODE",), ("--check", "--diff", "--vault-password-file", "{vault}"), 0,
                            after="snapshot-success"),
    "database-success": Run("database", "success", "database-rollback.yml",
                            {"rollback_db_pitr_target": "{archived}", "db_pitr_dry_run": True, "db_pitr_environment": "rollback-secrets"},
                            "success path: point-in-time recovery planned as a dry run (backups, archive, the source read)", ("DRY RUN",),
                            returncode=0),
    "validation-success": Run("validation", "success", "post-rollback-validation.yml",
                              {"validation_since": "{since}", "validation_phases": ["immediate"]},
                              "success path: the immediate validation (ops API logs, database, Prometheus, status page)",
                              ("Application Logs",)),
    "planned-success": Run("planned", "success", "planned-rollback.yml", {"rollback_reason": "secret matrix", "rollback_incident_id": "INC-8812"},
                           "success path: planned rollback in check mode (the operator authorized by the ops API)",
                           ("(check mode: nothing was changed)",), ("--check",), 0),
    "emergency-failure": Run("emergency", "failure", "emergency-rollback.yml",
                             {"rollback_incident_id": INCIDENT, "rollback_force": True, "rollback_force_reason": "secret matrix"},
                             "failure path: forced rollback refused (ops API 401, Kubernetes 401, Slack invalid_auth, audit table login)",
                             ("HTTP 401", "invalid_auth"), returncode=2),
    "comms-failure": Run("comms", "failure", "incident-comms.yml", {"incident_id": INCIDENT, "comms_send_customer_emails": True},
                         "failure path: Slack, Statuspage and the customer database refuse the credentials (lines MANUAL/UNKNOWN)",
                         ("invalid_auth", "refused the login of ofm_app"), returncode=0, after="emergency-failure"),
    "report-failure": Run("report", "failure", "incident-report.yml", {"incident_id": INCIDENT},
                          "failure path: ops API, Kubernetes and the audit and customer databases refuse the credentials",
                          ("HTTP 401", "password authentication failed for user \"ofm_audit\""), returncode=2, after="emergency-failure"),
    "validation-failure": Run("validation", "failure", "post-rollback-validation.yml", {"incident_id": INCIDENT, "validation_phases": ["immediate"]},
                              "failure path: the ops API and the database refuse the credentials (lines UNKNOWN)",
                              ("HTTP 401", "refused the login of ofm_monitor"), returncode=2, after="emergency-failure"),
    "planned-failure": Run("planned", "failure", "planned-rollback.yml", {"rollback_reason": "secret matrix", "rollback_incident_id": "INC-8813"},
                           "failure path: the ops API refuses the operator's token", ("HTTP 401",), returncode=2),
    "database-failure": Run("database", "failure", "database-rollback.yml",
                            {"rollback_db_pitr_target": "{now}", "db_pitr_dry_run": True, "db_pitr_environment": "rollback-secrets"},
                            "failure path: the source refuses the login that proves the archive covers the target",
                            ("password authentication failed",), returncode=2),
    "snapshot-failure": Run("config", "failure", "config-snapshot.yml", {"rollback_change_id": "CHG-8813"},
                            "failure path: a configuration snapshot refused by Kubernetes, Redis, Unleash and PostgreSQL",
                            ("No snapshot was written",), ("--vault-password-file", "{vault}"), 2),
    "config-failure": Run("config", "failure", "config-rollback.yml", {}, "failure path: configuration rollback with a wrong vault secret "
                          "and credentials", ("Nothing was changed",), ("--vault-password-file", "{vault}"), 2, after="snapshot-success"),
    "external-failure": Run("external", "failure", "external-rollback.yml", {}, "failure path: external-service rollback with a wrong "
                            "vault secret and credentials", ("Nothing was changed",), ("--vault-password-file", "{vault}"), 2,
                            after="snapshot-success"),
}


def marked(lab: LabConfig, directory: Path) -> Side:
    """A copy of the lab's state whose every secret is a unique marker (``ofm-secret-<field>-<random>``)."""
    markers: dict[str, str] = {}

    def mark(name: str) -> str:
        markers[name] = f"ofm-secret-{re.sub(r'[^a-z0-9]+', '-', name.lower())}-{secrets.token_hex(6)}"
        return markers[name]

    def replace(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {key: item if key in ("sub", "email", "roles", "statuspage_page_id") else replace(item, f"{path}.{key}".lstrip("."))
                    for key, item in value.items()}
        if path == "slack_webhook_path":
            return "/services/TLAB0000/BLAB0000/" + mark(path)
        if path == "powerdns_tsig_secret":  # a TSIG secret is base64: the marker is the secret's text
            markers[path] = "ofmSecretTsig" + secrets.token_hex(16)[:31]
            return markers[path]
        return mark(path) if isinstance(value, str) else value

    directory.mkdir()
    (directory / "lab.json").write_text(lab.config_file.read_text())
    (directory / "credentials.json").write_text(json.dumps(replace(json.loads(lab.credentials_file.read_text()), "")))
    kubeconfig = json.loads(lab.path("kubeconfig").read_text())
    for user in kubeconfig["users"]:
        user["user"] = {"token": mark("kubeconfig token")}
    (directory / "kubeconfig").write_text(json.dumps(kubeconfig))
    for shared in ("tls", "pgbackrest"):  # the lab CA and the backup repository's configuration: no secret in them
        (directory / shared).symlink_to(lab.path(shared))
    vault = directory / "vault-password"
    vault.write_text(mark("vault password") + "\n")
    env = {name: mark(name) for name in SECRET_ENVIRONMENT}
    env["SLACK_WEBHOOK_URL"] = f"https://{HOST}:{lab.ports['slack']}/services/TLAB0000/BLAB0000/{mark('SLACK_WEBHOOK_URL')}"
    # Each marker's base64 too (a secret sent encoded, e.g. in a header, that found its way into an output).
    markers.update({f"{name} (base64)": base64.b64encode(value.encode()).decode().rstrip("=") for name, value in list(markers.items())})
    return Side(directory, markers, env, vault, directory.parent / "failure")


@pytest.fixture(name="sides", scope="module")
def fixture_sides(lab: LabConfig, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Side]:
    root = tmp_path_factory.mktemp("secrets")
    vault = root / "vault-password"
    vault.write_text(f"success-path-vault-{secrets.token_hex(12)}\n")
    own = secret_values(json.loads(lab.credentials_file.read_text()))
    own["vault password"] = vault.read_text().strip()
    # The success path writes no audit_logs rows (the shared lab's table); the failure path's audit writer logs in with a marker.
    sides = {"success": Side(lab.state_dir, own, {}, vault, root / "success"), "failure": marked(lab, root / "marked-lab")}
    sides["failure"].env["OFM_AUDIT_DB_DSN"] = f"host={HOST} port={lab.ports['postgres']} dbname=ofm user=ofm_audit sslmode=disable"
    for side in sides.values():
        side.workdir.mkdir()
    return sides


def run(sides: dict[str, Side], name: str) -> str:
    """The output of run ``name`` (once per module: a later row reads the same run); the runs it reads come first."""
    spec = RUNS[name]
    side = sides[spec.path]
    if name in side.done:
        return side.done[name]
    if spec.after:
        run(sides, spec.after)
    work = side.workdir
    # {now}: after the newest archived commit, so the restore logs into the source to prove the archive covers it; {archived}:
    # a moment the archive holds.
    values = {"{now}": minutes_ago(0), "{archived}": minutes_ago(2), "{since}": minutes_ago(5, "%Y-%m-%dT%H:%M:%S+00:00"), "{vault}": str(side.vault)}
    extra = {key: values.get(value, value) if isinstance(value, str) else value for key, value in spec.extra.items()}
    extra.update({"ofm_incident_record_dir": str(work / "incidents"), "ofm_config_snapshot_dir": str(sides["success"].workdir / "snapshots"),
                  "db_pitr_results_dir": str(work / "dr-results"), "ofm_db_sandbox_root": str(work / "sandboxes"),
                  "validation_junit": str(work / f"{name}.xml"), "validation_markdown": str(work / f"{name}.md")})
    env = {key: value for key, value in os.environ.items() if key not in SECRET_ENVIRONMENT}
    env.update({"ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                "OFM_LAB_STATE_DIR": str(side.state_dir), "OFM_AUDIT_LOG": str(work / f"audit-{name}.jsonl"), **side.env})
    options = [values.get(option, option) for option in spec.options]
    done = subprocess.run([ansible_bin("ansible-playbook"), str(REPO_ROOT / "playbooks" / spec.playbook), "-vvv", *options,
                           "-e", json.dumps(extra)], cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=600, check=False)
    output = done.stdout + done.stderr
    (work / f"{name}.out").write_text(output)
    if spec.returncode is not None:
        assert done.returncode == spec.returncode, flat(output)[-4000:]
    side.done[name] = output
    return output


@pytest.mark.parametrize("name", [
    pytest.param(name, id=name, marks=pytest.mark.reliability("secret", procedure=spec.procedure, case=f"{spec.case}; -vvv", expected=EXPECTED))
    for name, spec in RUNS.items()])
def test_no_secret_in_any_output(sides, reliability, name):
    spec = RUNS[name]
    output = flat(run(sides, name))
    missing = [words for words in spec.reached if words not in output]
    assert not missing, f"the run did not reach {missing}:\n{output[-4000:]}"
    if spec.path == "success":
        assert not re.search(r"HTTP 401|invalid_auth|refused the login", output), "a lab credential was refused on the success path"
    side = sides[spec.path]
    scanned = list(artefacts(side.workdir))
    found = leaks(side.secrets, iter(scanned))
    assert found == [], f"secrets found: {found}"
    assert any(where.startswith(f"audit-{name}.jsonl") for where, _data in scanned), "the run's audit log was scanned"
    reliability.observed(f"reached: {', '.join(spec.reached)}; no secret in the output, the audit log or any file written")
