"""playbooks/external-rollback.yml on the lab, as the README runs it: a snapshot before the change (config-snapshot.yml),
a change to what the external-service rollback restores, then the rollback puts it back while leaving the configuration
kinds alone (they are config-rollback.yml's); check mode changes nothing; a second run changes nothing; the certificate
line fails on an expired, a wrong-host and an untrusted certificate; no secret value in the output or the audit trail."""
from __future__ import annotations

import base64
import re

import pytest
from labtest import flat, lab_call, run_lab, run_playbook

from lab.config import LabConfig

pytestmark = pytest.mark.shared_lab

SECRET_PATH = "/api/v1/namespaces/ofm-production/secrets/ofm-social-os-secrets"
CONFIGMAP_PATH = "/api/v1/namespaces/ofm-production/configmaps/ofm-social-os-config"
LEAKED_KEY = "tiktok-key-pasted-from-the-staging-console"


def tiktok_key(lab: LabConfig) -> str:
    secret = lab_call(lab.url("kube_apiserver") + SECRET_PATH)
    return base64.b64decode(secret["data"]["TIKTOK_API_KEY"]).decode()


def set_tiktok_key(lab: LabConfig, value: str) -> None:
    lab_call(lab.url("kube_apiserver") + SECRET_PATH, "PATCH", {"data": {"TIKTOK_API_KEY": base64.b64encode(value.encode()).decode()}},
             headers={"Content-Type": "application/merge-patch+json"})


def webhook(lab: LabConfig) -> str:
    return lab_call(lab.url("kube_apiserver") + CONFIGMAP_PATH)["data"]["WEBHOOK_URL_TIKTOK"]


def verdict(output: str, title: str) -> str:
    """The summary's line of ``title``: its status label and evidence (up to the next line of the summary)."""
    found = re.search(r"\[(ok    |FAILED|MANUAL)\] " + re.escape(title) + r": (.*?)(?= - \[|\n|$)", output)
    assert found, f"no line {title} in the summary"
    return f"{found.group(1).strip()}: {found.group(2)}"


def test_snapshot_change_then_external_rollback_restores_its_kinds_only(good_config, tmp_path, vault):
    lab = good_config
    extra = {"ofm_config_snapshot_dir": str(tmp_path / "snapshots")}
    audit = tmp_path / "audit.jsonl"
    taken = run_playbook("config-snapshot.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
    assert taken.returncode == 0, taken.stdout[-4000:]
    good_key, good_webhook = tiktok_key(lab), webhook(lab)

    set_tiktok_key(lab, LEAKED_KEY)
    run_lab("config", "bad")  # a configuration change too: the external rollback must leave it to config-rollback.yml
    bad_webhook = webhook(lab)
    assert bad_webhook != good_webhook

    checked = run_playbook("external-rollback.yml", "--check", "--diff", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert "CHECK MODE" in checked.stdout
    assert tiktok_key(lab) == LEAKED_KEY, "check mode changed the Secret"

    restored = run_playbook("external-rollback.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
    output = flat(restored.stdout)
    assert restored.returncode == 0, restored.stdout[-4000:]
    assert tiktok_key(lab) == good_key
    assert webhook(lab) == bad_webhook, "the external rollback restored a configuration kind"
    assert "[ok    ] API Credentials:" in output
    assert "ofm-social-os-secrets/TIKTOK_API_KEY: <changed>" in output
    assert "[ok    ] SSL Certificates: 1 endpoint(s) trusted" in output

    again = run_playbook("external-rollback.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=audit)
    assert again.returncode == 0, again.stdout[-4000:]
    assert "changed=0" in again.stdout

    everything = "\n".join((taken.stdout, checked.stdout, restored.stdout, again.stdout, audit.read_text()))
    assert LEAKED_KEY not in everything and good_key not in everything


@pytest.mark.parametrize("case, endpoint, ca, problem", [
    ("expired", "expired.ofm.social", True, "expired"),
    ("wrong host", "wrong.ofm.social", True, "hostname"),
    ("untrusted", "api.ofm.social", False, "untrusted"),
])
def test_the_certificate_line_fails_on_a_bad_certificate(good_config, tmp_path, vault, case, endpoint, ca, problem):
    lab = good_config
    extra = {"ofm_config_snapshot_dir": str(tmp_path / "snapshots")}
    taken = run_playbook("config-snapshot.yml", "--vault-password-file", str(vault), extra_vars={**extra, "rollback_config_kinds": ["secrets"]})
    assert taken.returncode == 0, taken.stdout[-4000:]
    tls = {"ofm_tls_endpoints": [{"host": "127.0.0.1", "port": lab.ports["haproxy_tls"], "server_name": endpoint}]}
    if not ca:
        tls["ofm_tls_ca_path"] = ""
    run = run_playbook("external-rollback.yml", "--check", "--vault-password-file", str(vault), extra_vars={**extra, **tls})
    output = flat(run.stdout)
    assert run.returncode != 0, f"{case}: {output[-3000:]}"
    shown = verdict(output, "SSL Certificates")
    assert shown.startswith("FAILED: ") and f"({endpoint}): " in shown and problem in shown.split(f"({endpoint}): ", 1)[1], shown
    assert "Failed lines: SSL Certificates" in output
