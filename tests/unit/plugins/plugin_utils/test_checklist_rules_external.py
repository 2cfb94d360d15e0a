# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The external-service rollback's eight lines judged from its result: the restore's kinds, the TLS check and the permission
check; ok, failed and MANUAL, and the summary's texts."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.ofm.rollback.plugins.action.checklist_report import report

LINES = ["external.dns-records", "external.load-balancer", "external.ssl-certificates", "external.cdn-configuration",
         "integrations.webhook-endpoints", "integrations.api-credentials", "integrations.oauth-applications",
         "integrations.platform-permissions"]


def kind(name, status="restored", error=None):
    return {"kind": name, "status": status, "restored": ["x"] if status == "restored" else [], "not_restored": [], "error": error}


def endpoint(name, ok=True, problems=(), days=80, soon=False):
    return {"endpoint": name, "ok": ok, "problems": [{"kind": kind_, "message": kind_} for kind_ in problems], "error": None,
            "certificate": {"days_left": days}, "expires_soon": soon}


RESTORED = {"external_rollback": {"status": "ok", "evidence": {
    "snapshot": {"id": "cfg-20261204T073900Z-1a2b3c", "taken_at": "2026-12-04T07:39:00+00:00", "taken_by": "ci", "source": "snapshot"},
    "report": {"kinds": [kind("dns"), kind("haproxy", "unchanged"), kind("alb"), kind("cdn"), kind("platform_apps"), kind("secrets")],
               "changed": True, "check_mode": False, "failed": None, "message": "restored: dns, alb, cdn, platform_apps, secrets"},
    "changes": {"dns": [{"target": "ofm.social.", "key": "api.ofm.social. A", "action": "change", "before": {"ttl": 60, "records": ["203.0.113.9"]},
                         "after": {"ttl": 300, "records": ["192.0.2.10"]}}],
                "alb": [{"target": "ofm-api-alb:80/default", "key": "ofm-api-canary", "action": "change", "before": 50, "after": 10}],
                "cdn": [{"target": "E1LAB", "key": "DefaultCacheBehavior", "action": "change", "before": {"MinTTL": 0}, "after": {"MinTTL": 60}}],
                "platform_apps": [{"target": "meta", "key": "webhook_subscriptions", "action": "change", "before": [], "after": [{"object": "page"}]},
                                  {"target": "tiktok", "key": "redirect_uris", "action": "unchanged", "before": ["x"], "after": ["x"]}],
                "secrets": [{"target": "ofm-social-os-secrets", "key": "TIKTOK_API_KEY", "action": "change", "value": "<changed>"}]},
    "verified": {"dns": True, "haproxy": True, "alb": True, "cdn": True, "platform_apps": True, "secrets": True},
    "not_restorable": [{"kind": "routes", "reason": "snapshot cfg-20261204T073900Z-1a2b3c does not hold it"}],
    "checks": {"tls": {"endpoints": [endpoint("127.0.0.1:18445 (api.ofm.social)")]},
               "permissions": {"results": [{"item": 0, "platform": "meta", "failing": [],
                                            "tokens": [{"name": "ofm-instagram", "ok": True, "scopes": ["pages_show_list", "instagram_basic"],
                                                        "missing_scopes": [], "problems": []}]}]}}}}}


def judged(results):
    return {line["id"]: line for line in report("external", copy.deepcopy(results))["lines"]}


def test_a_full_restore_with_good_certificates_and_tokens_makes_every_line_ok():
    lines = judged(RESTORED)
    assert {line_id: lines[line_id]["status"] for line_id in LINES} == dict.fromkeys(LINES, "ok")
    assert "ofm.social./api.ofm.social. A" in lines["external.dns-records"]["evidence"]
    # The load balancer line covers haproxy (unchanged) and alb (restored): the ALB weight is what changed.
    assert "ofm-api-alb:80/default/ofm-api-canary" in lines["external.load-balancer"]["evidence"]
    # Webhook subscriptions belong to Webhook Endpoints, the redirect URIs to OAuth Applications.
    assert "meta/webhook_subscriptions" in lines["integrations.webhook-endpoints"]["evidence"]
    assert "already as in" in lines["integrations.oauth-applications"]["evidence"]
    assert "fewest days left 80" in lines["external.ssl-certificates"]["evidence"]


@pytest.mark.parametrize("problem", ["expired", "hostname", "untrusted"])
def test_an_expired_wrong_host_or_untrusted_certificate_fails_the_ssl_line(problem):
    results = copy.deepcopy(RESTORED)
    results["external_rollback"]["evidence"]["checks"]["tls"]["endpoints"].append(endpoint("127.0.0.1:18445 (bad.ofm.social)", False, [problem]))
    line = judged(results)["external.ssl-certificates"]
    assert line["status"] == "failed"
    assert line["evidence"] == f"127.0.0.1:18445 (bad.ofm.social): {problem}"


def test_a_certificate_that_only_expires_soon_is_ok_with_a_note():
    results = copy.deepcopy(RESTORED)
    results["external_rollback"]["evidence"]["checks"]["tls"]["endpoints"] = [endpoint("cdn:443", days=5, soon=True)]
    line = judged(results)["external.ssl-certificates"]
    assert line["status"] == "ok" and "expiring soon: cdn:443" in line["evidence"]


def test_no_endpoints_or_tokens_make_those_lines_manual_with_how_to_automate():
    results = copy.deepcopy(RESTORED)
    results["external_rollback"]["evidence"]["checks"] = {
        "tls": {"status": "skipped", "reason": "no endpoint to check"}, "permissions": {"status": "skipped", "reason": "no token to check"}}
    lines = judged(results)
    assert lines["external.ssl-certificates"]["status"] == "manual"
    assert "external_rollback_tls_endpoints" in lines["external.ssl-certificates"]["instruction"]
    assert lines["integrations.platform-permissions"]["status"] == "manual"


def test_a_token_missing_a_scope_fails_the_permissions_line_naming_it():
    results = copy.deepcopy(RESTORED)
    results["external_rollback"]["evidence"]["checks"]["permissions"]["results"].append(
        {"item": 1, "platform": "tiktok",
         "tokens": [{"name": "ofm-tiktok", "ok": False, "scopes": ["user.info.basic"], "missing_scopes": ["video.publish"], "problems": []}]})
    line = judged(results)["integrations.platform-permissions"]
    assert line["status"] == "failed" and line["evidence"] == "tiktok ofm-tiktok: missing scopes video.publish"


def test_a_platform_that_does_not_answer_fails_the_permissions_line():
    results = copy.deepcopy(RESTORED)
    results["external_rollback"]["evidence"]["checks"]["permissions"]["results"].append(
        {"item": 1, "invocation": {"module_args": {"platform": "tiktok"}}, "failed": True,
         "msg": "TikTok API: token introspection failed: connection refused"})
    line = judged(results)["integrations.platform-permissions"]
    assert line["status"] == "failed" and line["evidence"] == "tiktok: TikTok API: token introspection failed: connection refused"


def test_a_kind_the_snapshot_does_not_hold_is_manual_with_the_reason():
    results = copy.deepcopy(RESTORED)
    evidence = results["external_rollback"]["evidence"]
    evidence["report"]["kinds"] = [entry for entry in evidence["report"]["kinds"] if entry["kind"] != "dns"]
    evidence["not_restorable"].append({"kind": "dns", "reason": "snapshot cfg-20261204T073900Z-1a2b3c does not hold it"})
    line = judged(results)["external.dns-records"]
    assert line["status"] == "manual"
    assert line["evidence"] == "dns: snapshot cfg-20261204T073900Z-1a2b3c does not hold it"
    assert line["instruction"].startswith("Revert the DNS changes") and "To automate: snapshot the zone (config_snapshot option dns" in line["instruction"]


def test_a_half_way_failure_fails_the_lines_of_the_failed_and_unattempted_kinds_and_the_outcome():
    results = copy.deepcopy(RESTORED)
    evidence = results["external_rollback"]["evidence"]
    results["external_rollback"]["status"] = "failed"
    evidence["report"]["kinds"][2] = kind("alb", "failed", {"msg": "AWS: modify_listener failed: AccessDenied"})
    evidence["report"]["kinds"][3] = kind("cdn", "not restored")
    evidence["report"]["failed"] = "alb"
    judged_report = report("external", copy.deepcopy(results))
    lines = {line["id"]: line for line in judged_report["lines"]}
    assert lines["external.dns-records"]["status"] == "ok"
    assert lines["external.load-balancer"]["status"] == "failed" and "AccessDenied" in lines["external.load-balancer"]["evidence"]
    assert lines["external.cdn-configuration"]["status"] == "failed"
    assert judged_report["outcome"]["state"] == "failed"
    assert judged_report["outcome"]["failed_lines"] == ["Load Balancer", "CDN Configuration"]


def test_the_summary_texts_name_the_snapshot_the_changes_and_what_was_not_restored():
    texts = report("external", copy.deepcopy(RESTORED))["texts"]
    assert texts["source"] == "snapshot cfg-20261204T073900Z-1a2b3c taken 2026-12-04T07:39:00+00:00 by ci"
    # Two mappings show only their leaves that differ.
    assert 'dns ofm.social./api.ofm.social. A.ttl: 60 -> 300' in texts["changes"]
    assert 'dns ofm.social./api.ofm.social. A.records: ["203.0.113.9"] -> ["192.0.2.10"]' in texts["changes"]
    assert 'cdn E1LAB/DefaultCacheBehavior.MinTTL: 0 -> 60' in texts["changes"]
    assert 'alb ofm-api-alb:80/default/ofm-api-canary: 50 -> 10' in texts["changes"]
    assert "secrets ofm-social-os-secrets/TIKTOK_API_KEY: <changed>" in texts["changes"]
    assert "not restored: routes: snapshot cfg-20261204T073900Z-1a2b3c does not hold it" in texts["changes"]
