# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration rollback's lines judged from config_restore's result: ok, failed, MANUAL, and in the other procedures."""
from __future__ import annotations

import copy

from ansible_collections.ofm.rollback.plugins.action.checklist_report import report

LINES = ["config.feature-flags", "config.environment-variables", "config.api-keys", "config.rate-limits", "config.webhook-urls",
         "prevention.configuration-management"]


def kind(name, status="restored", error=None):
    return {"kind": name, "status": status, "restored": ["x"] if status == "restored" else [], "not_restored": [], "error": error}


RESTORED = {"config_rollback": {"status": "ok", "evidence": {
    "snapshot": {"id": "cfg-20261204T073900Z-1a2b3c", "taken_at": "2026-12-04T07:39:00+00:00", "taken_by": "ci", "source": "snapshot"},
    "report": {"kinds": [kind("flags"), kind("configmaps"), kind("secrets"), kind("env", "unchanged"), kind("rate_limits")],
               "changed": True, "check_mode": False, "failed": None, "message": "restored: flags, configmaps, secrets, rate_limits"},
    "changes": {"flags": [{"target": "ofm-social-os-api", "key": "publish_v2", "action": "change", "before": True, "after": False}],
                "configmaps": [{"target": "ofm-social-os-config", "key": "WEBHOOK_URL_TIKTOK", "action": "change", "before": "https://bad",
                                "after": "https://hooks.ofm.social/tiktok"}],
                "secrets": [{"target": "ofm-social-os-secrets", "key": "TIKTOK_API_KEY", "action": "change", "value": "<changed>"}],
                "rate_limits": [{"target": "platform_rate_limits", "key": "tiktok", "action": "change", "before": {"per_minute": 1},
                                 "after": {"per_minute": 30}}]},
    "verified": {"flags": True, "configmaps": True, "secrets": True, "env": True, "rate_limits": True}}}}


def judged(results, procedure="config"):
    return {line["id"]: line for line in report(procedure, copy.deepcopy(results))["lines"]}


def test_a_full_restore_makes_every_line_ok_with_what_changed():
    lines = judged(RESTORED)
    assert [line_id for line_id in LINES if lines[line_id]["status"] != "ok"] == []
    assert "restored 1 key(s) from snapshot cfg-20261204T073900Z-1a2b3c: ofm-social-os-api/publish_v2" in lines["config.feature-flags"]["evidence"]
    assert "ofm-social-os-config/WEBHOOK_URL_TIKTOK" in lines["config.webhook-urls"]["evidence"]
    # The webhook URL is not counted as an environment variable; the env kind itself was unchanged.
    assert lines["config.environment-variables"]["evidence"] == "env+configmaps (other than webhook keys) already as in snapshot cfg-20261204T073900Z-1a2b3c"
    assert "taken 2026-12-04T07:39:00+00:00 by ci" in lines["prevention.configuration-management"]["evidence"]


def test_a_kind_the_snapshot_does_not_hold_is_manual_with_how_to_automate_it():
    lines = judged(RESTORED)
    assert lines["config.feature-flags"]["status"] == "ok"
    results = copy.deepcopy(RESTORED)
    results["config_rollback"]["evidence"]["report"]["kinds"] = [kind("configmaps")]
    lines = judged(results)
    assert lines["config.api-keys"]["status"] == "manual"
    assert "kind secrets" in lines["config.api-keys"]["instruction"] and lines["config.api-keys"]["evidence"] == "not in the snapshot (it held configmaps)"
    assert lines["config.rate-limits"]["status"] == "manual"


def test_a_failed_kind_fails_its_lines_and_says_why_while_the_others_stay_ok():
    results = copy.deepcopy(RESTORED)
    results["config_rollback"]["status"] = "failed"
    kinds = results["config_rollback"]["evidence"]["report"]["kinds"]
    kinds[-1] = kind("rate_limits", "failed", {"msg": "PostgreSQL: restore rate limits failed: permission denied"})
    lines = judged(results)
    assert lines["config.rate-limits"]["status"] == "failed"
    assert "permission denied" in lines["config.rate-limits"]["evidence"]
    assert lines["config.feature-flags"]["status"] == "ok"
    assert report("config", results)["outcome"]["state"] == "failed"


def test_a_value_that_reads_back_different_fails_the_line():
    results = copy.deepcopy(RESTORED)
    results["config_rollback"]["evidence"]["verified"]["secrets"] = False
    line = judged(results)["config.api-keys"]
    assert line["status"] == "failed" and "reads back different" in line["evidence"]


def test_check_mode_says_would_restore_and_the_outcome_is_planned():
    results = copy.deepcopy(RESTORED)
    evidence = results["config_rollback"]["evidence"]
    evidence["report"]["check_mode"] = True
    for entry in evidence["report"]["kinds"]:
        entry["status"] = "planned"
    lines = judged(results)
    assert lines["config.feature-flags"]["evidence"].startswith("would restore 1 key(s)")
    assert report("config", results)["outcome"]["state"] == "planned"


def test_values_from_the_previous_release_make_the_snapshot_line_manual():
    results = copy.deepcopy(RESTORED)
    results["config_rollback"]["evidence"]["snapshot"] = {"source": "helm", "revision": 5}
    line = judged(results)["prevention.configuration-management"]
    assert line["status"] == "manual" and "config-snapshot.yml" in line["instruction"] and "helm release" in line["evidence"]


def test_the_other_procedures_print_the_lines_as_manual_until_they_restore_configuration():
    planned = judged({}, "planned")
    assert planned["config.api-keys"]["status"] == "manual"
    assert "rollback_config: true" in planned["config.api-keys"]["evidence"]
    emergency = judged(RESTORED, "emergency")
    assert emergency["config.rate-limits"]["status"] == "ok"
