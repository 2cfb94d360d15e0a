"""playbooks/config-snapshot.yml and config-rollback.yml on the lab, as the README runs them: a snapshot before the change,
`lab config bad` (the bad release's configuration change), then the rollback puts every value back; check mode changes
nothing; a second rollback changes nothing; no secret value in the output or the audit trail; the emergency rollback
restores the configuration too when told to."""
from __future__ import annotations

import json
from typing import Any

import pytest
from labtest import admin_connection, flat, lab_call, run_lab, run_playbook

from lab.components.redis import client as redis_client
from lab.config import LabConfig

pytestmark = pytest.mark.shared_lab


def configuration(lab: LabConfig) -> dict[str, Any]:
    """What the lab's systems hold now, of what `lab config bad` changes."""
    creds = json.loads(lab.credentials_file.read_text())
    canary = lab_call(f"{lab.url('kube_apiserver')}/apis/apps/v1/namespaces/ofm-production/deployments/ofm-social-os-api-canary")
    env = canary["spec"]["template"]["spec"]["containers"][0]["env"]
    configmap = lab_call(f"{lab.url('kube_apiserver')}/api/v1/namespaces/ofm-production/configmaps/ofm-social-os-config")
    with admin_connection(lab) as conn:
        per_minute = conn.execute("SELECT per_minute FROM platform_rate_limits WHERE platform = 'tiktok'").fetchone()[0]
    toggles = lab_call(f"{lab.url('unleash')}/api/admin/projects/default/features/publish_v2", headers={"Authorization": creds["unleash_admin_token"]})
    return {"canary_flags": next(entry["value"] for entry in env if entry["name"] == "FEATURE_FLAGS"),
            "cache": redis_client(lab).get("feature_flags:publish_v2"),
            "webhook": configmap["data"]["WEBHOOK_URL_TIKTOK"], "per_minute": per_minute,
            "unleash": next(e["enabled"] for e in toggles["environments"] if e["name"] == "production")}


def secret_values(lab: LabConfig) -> list[str]:
    creds = json.loads(lab.credentials_file.read_text())
    return [value for value in (creds.get("ofm_api_secrets") or {}).values() if value] + [creds["redis_password"], creds["unleash_admin_token"]]


def test_snapshot_bad_change_then_rollback_restores_everything(good_config, tmp_path, vault):
    lab = good_config
    snapshot_dir = tmp_path / "snapshots"
    extra = {"ofm_config_snapshot_dir": str(snapshot_dir), "rollback_change_id": "CHG-42"}
    taken = run_playbook("config-snapshot.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=tmp_path / "audit.jsonl")
    assert taken.returncode == 0, taken.stdout[-4000:]
    files = list(snapshot_dir.glob("cfg-*.json"))
    assert len(files) == 1
    snapshot = json.loads(files[0].read_text())
    assert snapshot["change_id"] == "CHG-42" and set(snapshot["kinds"]) >= {"flags", "unleash", "configmaps", "secrets", "env", "rate_limits"}
    good = configuration(lab)

    run_lab("config", "bad")
    bad = configuration(lab)
    assert bad != good

    checked = run_playbook("config-rollback.yml", "--check", "--diff", "--vault-password-file", str(vault), extra_vars=extra,
                           audit_log=tmp_path / "audit.jsonl")
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert "CHECK MODE" in checked.stdout
    assert configuration(lab) == bad, "check mode changed something"

    restored = run_playbook("config-rollback.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=tmp_path / "audit.jsonl")
    output = flat(restored.stdout)
    assert restored.returncode == 0, restored.stdout[-4000:]
    assert configuration(lab) == good
    for title in ("Feature Flags", "Environment Variables", "API Keys", "Rate Limits", "Webhook URLs"):
        assert f"[ok    ] {title}:" in output, title
    assert "WEBHOOK_URL_TIKTOK" in output and snapshot["id"] in output

    again = run_playbook("config-rollback.yml", "--vault-password-file", str(vault), extra_vars=extra, audit_log=tmp_path / "audit.jsonl")
    assert again.returncode == 0, again.stdout[-4000:]
    assert "changed=0" in again.stdout

    audit = (tmp_path / "audit.jsonl").read_text()
    for secret in secret_values(lab):
        for text in (taken.stdout, checked.stdout, restored.stdout, again.stdout, audit, files[0].read_text()):
            assert secret not in text


def test_a_rollback_without_a_snapshot_is_refused_and_says_how_to_take_one(good_config, tmp_path, vault):
    run = run_playbook("config-rollback.yml", "--vault-password-file", str(vault),
                       extra_vars={"ofm_config_snapshot_dir": str(tmp_path / "empty")})
    assert run.returncode != 0
    assert "snapshot" in flat(run.stdout).lower()


def test_the_planned_rollback_restores_the_configuration_too_when_told_to(good_config, tmp_path, vault):
    lab = good_config
    extra = {"ofm_config_snapshot_dir": str(tmp_path / "snapshots")}
    run_lab("reset")
    try:
        taken = run_playbook("config-snapshot.yml", "--vault-password-file", str(vault), extra_vars=extra)
        assert taken.returncode == 0, taken.stdout[-4000:]
        good = configuration(lab)
        run_lab("config", "bad")
        run = run_playbook("planned-rollback.yml", "--vault-password-file", str(vault), audit_log=tmp_path / "audit.jsonl",
                           extra_vars={**extra, "rollback_reason": "2.4.0 and its configuration", "planned_rollback_method": "kubectl",
                                       "rollback_config": True})
        summary = flat(run.stdout)
        assert run.returncode == 0, run.stdout[-5000:]
        assert configuration(lab) == good
        for title in ("Feature Flags", "Rate Limits", "Webhook URLs"):
            assert f"[ok    ] {title}: restored" in summary, title
        for secret in secret_values(lab):
            assert secret not in run.stdout and secret not in (tmp_path / "audit.jsonl").read_text()
    finally:
        run_lab("reset")
