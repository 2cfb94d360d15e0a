# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The job templates of extensions/awx run as AWX runs them, against the lab.

AWX cannot run here; its job runner can. Each job goes through ansible-runner as AWX hands it over: the project checked out
(this repository, whose ansible.cfg applies), the inventory, the survey's answers and AWX's own variables (``awx_job_id``,
``awx_user_name``, ``awx_job_launch_type``, ... and their ``tower_`` twins) as extra vars, and the credentials of the
template injected by their types' injectors (extensions/awx/credential_types.yml, rendered with the lab's values) - the
environment variables in the environment, the extra vars in the extra vars, the vault secret answered at its prompt. The
inventory's own ops API URL and token are blanked, so the run can only reach the ops API with what the credential injects.
The jobs run as AWX's "check" job type (``--check``): they read every system and change nothing.
"""
from __future__ import annotations

import datetime
import itertools
import json
from pathlib import Path
from typing import Any, Optional

import ansible_runner
import jinja2
import pytest
import yaml

from awxsurvey import answer_errors, defaults_of
from lab.config import REPO_ROOT, LabConfig
from labtest import admin_connection, credentials, run_playbook, switch_and_wait_archived

pytestmark = pytest.mark.shared_lab

AWX = REPO_ROOT / "extensions" / "awx"
TEMPLATES = {template["name"]: template for template in yaml.safe_load((AWX / "job_templates.yml").read_text())["controller_templates"]}
CREDENTIAL_TYPES = {kind["name"]: kind for kind in yaml.safe_load((AWX / "credential_types.yml").read_text())["controller_credential_types"]}
CREDENTIALS = {credential["name"]: credential for credential in yaml.safe_load((AWX / "credentials.yml").read_text())["controller_credentials"]}
VAULT_PASSWORD = "awx-runner-test-vault"  # noqa: S105 - the test's own vault secret, for snapshots it takes itself
JOB_IDS = itertools.count(4711)


def credential_inputs(lab: LabConfig) -> dict[str, dict[str, str]]:
    """What an AWX admin would type into each credential of extensions/awx/credentials.yml, for the lab."""
    creds = credentials(lab)
    return {
        "OFM ops API token": {"url": lab.url("ops_api"), "token": creds["identities"]["admin"]["token"]},
        "OFM Prometheus": {"url": lab.url("prometheus"), "token": "lab-prometheus-asks-for-no-token"},
        "OFM Slack": {"webhook_url": f"{lab.url('slack')}{creds['slack_webhook_path']}", "bot_token": creds["slack_bot_token"]},
        "OFM Statuspage": {"api_key": creds["statuspage_api_key"], "page_id": creds["statuspage_page_id"]},
        "OFM SMTP": {"host": "127.0.0.1", "port": str(lab.ports["smtp"]), "username": creds.get("smtp_username", "ofm-mailer"),
                     "password": creds.get("smtp_password", "")},
    }


def injected(names: list[str], inputs: dict[str, dict[str, str]]) -> tuple[dict[str, str], dict[str, Any], Optional[str]]:
    """The environment, extra vars and vault id AWX injects for the credentials ``names``, rendered as AWX renders them."""
    env: dict[str, str] = {}
    extra_vars: dict[str, Any] = {}
    vault_id = None
    for name in names:
        credential = CREDENTIALS[name]
        if credential["credential_type"] == "Vault":
            vault_id = credential["inputs"]["vault_id"]
            continue
        if credential["credential_type"] not in CREDENTIAL_TYPES:
            continue  # AWX's built-in Kubernetes type: the lab's kubeconfig comes from the inventory
        injectors = CREDENTIAL_TYPES[credential["credential_type"]]["injectors"]
        values = inputs[name]
        env.update({key: jinja2.Template(value).render(**values) for key, value in injectors.get("env", {}).items()})
        extra_vars.update({key: jinja2.Template(value).render(**values) for key, value in injectors.get("extra_vars", {}).items()})
    return env, extra_vars, vault_id


def awx_variables(template: str, user: Optional[str], launch_type: str) -> dict[str, Any]:
    """AWX's own extra vars of a job (and their tower_ twins); a scheduled job has no user."""
    job = {"job_id": next(JOB_IDS), "job_launch_type": launch_type, "job_template_name": template, "inventory_name": "OFM production",
           "project_revision": "0000000", "execution_node": "awx-ee"}
    if user:
        job.update(user_name=user, user_id=7, user_email=f"{user}@ofm.social", user_first_name=user.title(), user_last_name="Responder")
    return {f"{prefix}_{key}": value for prefix in ("awx", "tower") for key, value in job.items()}


def awx_job(lab: LabConfig, tmp_path: Path, template_name: str, answers: dict[str, Any], *, user: Optional[str] = "alice",
            launch_type: str = "manual", job_type: str = "check", template_extra_vars: Optional[dict[str, Any]] = None,
            validate_survey: bool = True) -> tuple[Any, dict[str, Any]]:
    """Run ``template_name`` as an AWX job through ansible-runner; (the runner, the job's extra vars)."""
    template = TEMPLATES[template_name]
    survey = template["survey_spec"]
    if validate_survey:
        assert answer_errors(survey, answers) == [], "AWX would refuse these answers at launch"
    env, credential_vars, vault_id = injected(template["credentials"], credential_inputs(lab))
    awx_vars = awx_variables(template_name, user, launch_type)
    # Blank: the inventory's ops API settings, so that only the credential's environment can reach the ops API.
    extra_vars = {"ofm_ops_api_url": "", "ofm_ops_api_token": "", "ofm_incident_record_dir": str(tmp_path / "incidents"),
                  **(template_extra_vars or {}), **defaults_of(survey), **answers, **credential_vars, **awx_vars}
    env.update({"OFM_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"})
    cmdline = ["--check"] if job_type == "check" else []
    passwords = {}
    if vault_id:
        cmdline += ["--vault-id", f"{vault_id}@prompt"]
        passwords[rf"^Vault password \({vault_id}\):\s*?$"] = VAULT_PASSWORD
    (tmp_path / "job").mkdir()
    runner = ansible_runner.run(private_data_dir=str(tmp_path / "job"), project_dir=str(REPO_ROOT), playbook=template["playbook"],
                                inventory=str(REPO_ROOT / "inventories" / "lab" / "hosts.yml"), extravars=extra_vars, envvars=env,
                                cmdline=" ".join(cmdline), passwords=passwords, quiet=True, timeout=300)
    return runner, extra_vars


def stdout_of(runner: Any) -> str:
    return runner.stdout.read()


def audit_records(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines() if line.strip()]


def secrets_of(lab: LabConfig) -> list[str]:
    creds = credential_inputs(lab)
    return [creds["OFM ops API token"]["token"], creds["OFM Slack"]["bot_token"], creds["OFM Statuspage"]["api_key"],
            credentials(lab)["slack_webhook_path"], VAULT_PASSWORD]


@pytest.fixture(scope="module", name="snapshot_dir")
def fixture_snapshot_dir(lab: LabConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A configuration snapshot of the lab, sealed with the vault secret the template's Vault credential holds."""
    work = tmp_path_factory.mktemp("awx-snapshot")
    (work / "vault-pass").write_text(VAULT_PASSWORD)
    taken = run_playbook("config-snapshot.yml", "--vault-id", f"ofm-snapshots@{work / 'vault-pass'}",
                         extra_vars={"ofm_config_snapshot_dir": str(work / "snapshots")}, audit_log=work / "audit.jsonl")
    assert taken.returncode == 0, taken.stdout[-3000:]
    return work / "snapshots"


def _answers(lab: LabConfig, snapshot_dir: Path) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Per template: the survey's answers, and the template's own extra vars (what the job template sets for this inventory)."""
    # Now (to the second): after the lab's first backup, which a fresh lab may have ended a minute ago, so "two minutes ago"
    # could be a moment nothing can be restored to. The test switches the WAL after this, so the archive reaches past it.
    moment = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    snapshots = {"ofm_config_snapshot_dir": str(snapshot_dir)}
    return {
        "OFM emergency rollback": ({"rollback_incident_id": "INC-47110"}, {}),
        "OFM planned rollback": ({"rollback_incident_id": "INC-47111", "rollback_reason": "api 2.4.0 doubles the DB load"}, {}),
        "OFM database point-in-time recovery": ({"rollback_db_pitr_target": moment, "db_pitr_target_timezone": "UTC",
                                                 "rollback_incident_id": "INC-47112", "db_pitr_dry_run": "true"}, {}),
        "OFM configuration rollback": ({"rollback_incident_id": "INC-47113"}, snapshots),
        "OFM external service rollback": ({"rollback_incident_id": "INC-47114"}, snapshots),
        "OFM incident communications": ({"incident_id": "INC-47115"}, {}),
    }


@pytest.mark.parametrize("template_name", [name for name in TEMPLATES if name != "OFM post-rollback validation"])
def test_each_template_runs_through_awxs_job_runner_as_the_awx_user(lab, tmp_path, snapshot_dir, template_name):
    answers, template_vars = _answers(lab, snapshot_dir)[template_name]
    if "rollback_db_pitr_target" in answers:
        # The archive must reach past the answered moment: archive_timeout alone may not have switched the segment yet, and
        # the recovery refuses a moment that is not archived (as it should on the night).
        with admin_connection(lab, autocommit=True) as connection:
            switch_and_wait_archived(connection)
    runner, _extra = awx_job(lab, tmp_path, template_name, answers, template_extra_vars=template_vars)
    output = stdout_of(runner)
    assert runner.status == "successful" and runner.rc == 0, output[-4000:]
    records = audit_records(tmp_path)
    assert records and records[0]["check_mode"] is True, "the job did not run as AWX's check job type"
    # Every record names the AWX user and the job, not the lab inventory's rollback_operator or the OS user
    assert {(record["actor"]["name"], record["actor"]["source"]) for record in records if "actor" in record} == {("alice", "awx")}
    launch = records[0]["launch"]
    assert launch["source"] == "awx" and launch["awx_job_template_name"] == template_name and str(launch["awx_job_id"]).isdigit()
    text = output + (tmp_path / "audit.jsonl").read_text()
    assert [secret for secret in secrets_of(lab) if secret in text] == []


def test_the_validation_template_judges_the_incident_it_is_given(lab, tmp_path):
    """Post-rollback validation for an incident without a record: every check runs (Prometheus's through the injected
    credential), and Documentation complete fails for want of the record, as the summary says."""
    runner, _extra = awx_job(lab, tmp_path, "OFM post-rollback validation", {"incident_id": "INC-47116"})
    output = stdout_of(runner)
    assert runner.status == "failed", output[-3000:]
    flat = " ".join(output.split())
    assert "1 check(s) failed: Documentation complete" in flat
    # Prometheus answered through the URL the credential injected
    assert "[ok ] Monitoring Systems: targets_up: all" in flat and "[ok ] Business Metrics: publish_rate:" in flat, output[-4000:]
    assert {record["actor"]["name"] for record in audit_records(tmp_path) if "actor" in record} == {"alice"}


def test_a_scheduled_launch_is_refused_by_the_admin_rule(lab, tmp_path):
    """A schedule has no user: its extra vars cannot name one (the lab inventory's rollback_operator is an admin), and the
    forced rollback is refused before anything changes."""
    runner, extra = awx_job(lab, tmp_path, "OFM emergency rollback",
                            {"rollback_incident_id": "INC-47117", "rollback_force": "true", "rollback_force_reason": "nightly drill"},
                            user=None, launch_type="scheduled", job_type="run", template_extra_vars={"rollback_operator": "lab-admin"})
    output = " ".join(stdout_of(runner).split())
    assert "awx_user_name" not in extra
    assert runner.status == "failed"
    assert "Refused: the operator is unknown: an AWX job without a user (a scheduled launch" in output, output[-3000:]
    records = audit_records(tmp_path)
    assert records[0]["launch"]["source"] == "awx" and records[0]["launch"]["awx_job_launch_type"] == "scheduled"
    assert not any(str(record.get("module", "")).startswith("ofm.rollback.canary_rollback") for record in records)


def test_a_survey_answer_outside_its_choices_is_refused_by_the_playbook_too(lab, tmp_path):
    """AWX's API can launch a job without its survey: the playbook's preflight refuses what the survey would have."""
    answers = {"rollback_incident_id": "INC-47118", "planned_rollback_method": "ssh", "rollback_reason": "bypassing the survey"}
    assert answer_errors(TEMPLATES["OFM planned rollback"]["survey_spec"], answers), "the survey itself refuses it"
    runner, _extra = awx_job(lab, tmp_path, "OFM planned rollback", answers, validate_survey=False, job_type="run")
    output = " ".join(stdout_of(runner).split())
    assert runner.status == "failed"
    assert "planned_rollback_method" in output and "ops_api" in output and "helm" in output, output[-3000:]
    assert not any(record.get("status") == "changed" for record in audit_records(tmp_path))
