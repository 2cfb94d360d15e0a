# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who is told what: the state from the record, the customer and public impact rules, the messages per audience, the status
page's components and the customer-email decision; bad input named before anything is planned."""
from __future__ import annotations

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.comms_plan import plan
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

TEMPLATES = {key: f"/t/{key}.j2" for key in ("ops", "engineering", "incident_response", "incident_response_update", "leadership",
                                             "leadership_blocks", "customer_success", "support")}
ROLLED_BACK = {"incident_id": "INC-42", "environment": "lab", "operator": {"name": "alice"}, "started_at": "2026-12-04T14:05:00Z",
               "trigger": {"breached": ["error_rate"], "slos": {"error_rate": {"current": 0.31, "threshold": 0.01, "line": "error_rate: BREACH 0.31"}}},
               "rollback": {"path": "ops_api"}, "traffic": {"all_on_stable": True}, "outcome": "rolled back",
               "announcement": {"channel": "#ops-alerts", "ts": "1.2", "delivered": True}}
IMPACT = {"requests_total": 10000, "requests_failed": 312, "error_budget_burned": {"error_rate": 4.1, "p95_latency": 0.2},
          "recovery": {"time_to_recover": "3m 10s"}}


def make(**params):
    base = {"incident_id": "INC-42", "record": ROLLED_BACK, "templates": TEMPLATES, "statuspage_configured": True,
            "statuspage_components": ["cmp-api"], "customer_email_configured": True}
    return plan({**base, **params})


def test_a_rolled_back_incident_is_monitoring_and_every_internal_audience_gets_its_state_message():
    decided = make(impact=IMPACT, customers={"count": 7, "platforms": ["tiktok"]})
    assert decided["state"] == "monitoring"
    keys = [message["key"] for message in decided["messages"]]
    assert keys == ["engineering.monitoring", "incident_response.root", "incident_response.monitoring", "leadership.monitoring",
                    "customer_success.monitoring", "support.monitoring"]
    update = next(message for message in decided["messages"] if message["key"] == "incident_response.monitoring")
    assert update["thread"] == "incident_response.root" and update["channel"] == "#incident-response"
    assert decided["audiences"]["leadership.monitoring"] == "leadership"
    assert next(m for m in decided["messages"] if m["key"] == "leadership.monitoring")["blocks_template"] == "/t/leadership_blocks.j2"
    # The emergency run announced it in #ops-alerts: not again.
    assert {"audience": "ops", "reason": "announced in #ops-alerts by the emergency run (ts 1.2)"} in decided["skipped"]


def test_an_announcement_that_was_not_delivered_is_caught_up_in_ops_alerts():
    record = {**ROLLED_BACK, "announcement": {"channel": "#ops-alerts", "delivered": False}}
    decided = make(record=record, impact=IMPACT)
    assert decided["messages"][0]["key"] == "ops.declared" and decided["messages"][0]["channel"] == "#ops-alerts"


def test_public_impact_from_failed_requests_or_burned_budget_and_its_reason():
    decided = make(impact=IMPACT, customers={"count": 0})
    assert decided["public_impact"] is True
    assert "312 failed requests (at least 100)" in decided["public_impact_reason"]
    assert "error_rate 4.10 %" in decided["public_impact_reason"] and "p95_latency" not in decided["public_impact_reason"]
    assert decided["statuspage"]["publish"] is True and decided["statuspage"]["components"] == {"cmp-api": "operational"}


def test_below_the_rule_there_is_no_public_impact_no_status_page_and_no_customer_success_note():
    small = {"requests_total": 10000, "requests_failed": 3, "error_budget_burned": {"error_rate": 0.05}}
    decided = make(impact=small, customers={"count": 0})
    assert decided["public_impact"] is False and decided["customer_impact"] is False
    assert "3 failed requests (< 100)" in decided["public_impact_reason"]
    assert decided["statuspage"]["publish"] is False
    assert not [m for m in decided["messages"] if m["key"].startswith(("customer_success", "support"))]
    assert decided["customer_email"]["action"] == "none" and "no customer" in decided["customer_email"]["reason"]


def test_an_unmeasured_impact_counts_as_public_so_the_status_page_speaks():
    decided = make(impact={}, customers={})
    assert decided["public_impact"] is True and "not measured" in decided["public_impact_reason"]
    assert decided["customer_impact"] is None
    assert decided["customer_email"]["action"] == "none" and "no answer" in decided["customer_email"]["reason"]


def test_a_persons_decision_overrides_the_rule_and_says_so():
    assert make(impact=IMPACT, public_impact="no")["public_impact"] is False
    assert "operator" in make(impact={}, public_impact="no")["public_impact_reason"]


def test_while_identified_the_components_are_degraded_or_in_partial_outage_by_the_failed_share():
    record = {**ROLLED_BACK, "traffic": {"all_on_stable": False}, "rollback": {}, "failure": {"task": "x"}}
    assert make(record=record, impact=IMPACT)["statuspage"]["components"] == {"cmp-api": "degraded_performance"}
    heavy = {**IMPACT, "requests_failed": 900}
    decided = make(record=record, impact=heavy)
    assert decided["state"] == "identified" and decided["statuspage"]["components"] == {"cmp-api": "partial_outage"}


def test_customer_emails_are_a_dry_run_until_sending_is_asked():
    decided = make(impact=IMPACT, customers={"count": 7})
    assert decided["customer_email"]["action"] == "dry_run" and "comms_send_customer_emails=true" in decided["customer_email"]["reason"]
    assert make(impact=IMPACT, customers={"count": 7}, send_customer_emails=True)["customer_email"]["action"] == "send"
    assert make(impact=IMPACT, customers={"count": 7}, customer_email_configured=False)["customer_email"]["action"] == "none"


def test_the_template_context_holds_what_the_templates_document():
    context = make(impact=IMPACT, customers={"count": 7, "platforms": ["tiktok"]}, eta="15:30 UTC", known_issue="publishing failed")["context"]
    assert context["incident_id"] == "INC-42" and context["operator"] == "alice" and context["state"] == "monitoring"
    assert context["breached"] == [{"name": "error_rate", "value": 0.31, "threshold": 0.01, "line": "error_rate: BREACH 0.31"}]
    assert context["impact"]["customers_affected"] == 7 and context["impact"]["platforms"] == ["tiktok"]
    assert context["impact"]["time_to_recover"] == "3m 10s" and context["rolled_back"] is True and context["eta"] == "15:30 UTC"


def test_an_audience_left_out_or_without_a_template_is_skipped_with_the_reason():
    decided = make(impact=IMPACT, audiences=["engineering"], templates={"engineering": "/t/e.j2"})
    assert [m["key"] for m in decided["messages"]] == ["engineering.monitoring"]
    reasons = {entry["audience"]: entry["reason"] for entry in decided["skipped"]}
    assert reasons["leadership"] == "not in audiences"


@pytest.mark.parametrize("params, words", [
    ({"incident_id": "INC-42; rm -rf /"}, "incident_id must look like INC-<digits>"),
    ({"state": "fixed"}, "state must be one of investigating, identified, monitoring, resolved"),
    ({"public_impact": "maybe"}, "public_impact must be one of auto, yes, no"),
    ({"audiences": ["press"]}, "audiences must be one of ops, engineering"),
    ({"channels": {"press": "#press"}}, "channels: unknown audience(s) press"),
    ({"templates": {"tweet": "/t.j2"}}, "templates: unknown template key(s) tweet"),
    ({"record": {**ROLLED_BACK, "incident_id": "INC-7"}}, "the record is of INC-7"),
])
def test_bad_input_names_the_option_and_the_accepted_values(params, words):
    with pytest.raises(InputError, match=None) as caught:
        make(**params)
    assert words in str(caught.value)
