# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ALB forward weights and the snapshot kind ``alb`` against moto's server (the AWS stand-in) seeded as the lab seeds it:
the load balancer ofm-api-alb, listener :80 whose default action and rule /api/* (priority 10) forward 90/10."""
from __future__ import annotations

import urllib.request
from typing import Any

import boto3
import pytest
from unithelpers import MOTO_SERVER

from ansible_collections.ofm.rollback.plugins.module_utils.alb import AlbClient, rewritten_actions, set_weights
from ansible_collections.ofm.rollback.plugins.module_utils.alb_kind import KIND, AlbApplier
from ansible_collections.ofm.rollback.plugins.module_utils.config import kinds, plan
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, NotFoundError, UnavailableError
from lab.components.aws import ALB_NAME, REGION, seed_elbv2

pytestmark = pytest.mark.skipif(not MOTO_SERVER.exists(), reason="moto_server is not installed (requirements-dev.txt)")

DEFAULT, RULE = "listener 80 default", "listener 80 rule 10"
SEEDED = {DEFAULT: {"ofm-api-stable": 90, "ofm-api-canary": 10}, RULE: {"ofm-api-stable": 90, "ofm-api-canary": 10}}
KEY, SECRET = "AKIDALBUNIT", "alb-unit-secret-key-0123456789"


def params(url: str, **extra: Any) -> dict[str, Any]:
    return {"aws_access_key": KEY, "aws_secret_key": SECRET, "aws_region": REGION, "aws_endpoint_url": url, "aws_retries": 1, **extra}


@pytest.fixture(name="alb")
def fixture_alb(moto_url: str) -> dict[str, Any]:
    """moto wiped and the lab's ALB seeded again; the boto3 ELBv2 client and what the seed made."""
    with urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST", data=b""), timeout=10):
        pass

    def make(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=moto_url, aws_access_key_id=KEY, aws_secret_access_key=SECRET)

    seeded = seed_elbv2(make)
    return {**seeded, "elbv2": make("elbv2"), "url": moto_url}


def client(alb: dict[str, Any]) -> AlbClient:
    return AlbClient.from_params(params(alb["url"]), ALB_NAME, timeout=5)


def weights_now(alb: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {forward.key: forward.weights for forward in client(alb).read()}


def test_forwards_are_read_by_listener_port_and_rule_priority_with_target_group_names(alb):
    forwards = client(alb).read()
    assert [forward.key for forward in forwards] == [DEFAULT, RULE]
    assert {forward.key: forward.weights for forward in forwards} == SEEDED
    assert forwards[1].summary() == {"listener": 80, "rule": "10", "conditions": ["path-pattern /api/*"],
                                     "weights": {"ofm-api-stable": 90, "ofm-api-canary": 10}}


def test_weights_are_set_with_one_call_per_listener_or_rule_and_again_change_nothing(alb):
    alb_client = client(alb)
    change = set_weights(alb_client, weights={"ofm-api-stable": 100, "ofm-api-canary": 0})
    assert change.changed and [call["call"] for call in change.calls] == ["modify_listener", "modify_rule"]
    assert weights_now(alb) == {key: {"ofm-api-stable": 100, "ofm-api-canary": 0} for key in SEEDED}
    assert change.result()["diff"]["before"] == SEEDED

    again = set_weights(client(alb), weights={"ofm-api-stable": 100, "ofm-api-canary": 0})
    assert not again.changed and again.calls == ()


def test_rules_select_what_changes(alb):
    set_weights(client(alb), rules=["10"], weights={"ofm-api-canary": 0})
    assert weights_now(alb) == {DEFAULT: SEEDED[DEFAULT], RULE: {"ofm-api-stable": 90, "ofm-api-canary": 0}}


def test_check_mode_writes_nothing(alb):
    alb_client = client(alb)
    change = set_weights(alb_client, weights={"ofm-api-canary": 0}, check_mode=True)
    assert change.changed and change.calls == () and weights_now(alb) == SEEDED
    assert alb_client.round_trips == 4, "describe load balancer, listeners, rules, target groups"


@pytest.mark.parametrize("kwargs, option", [
    ({"weights": {"ofm-api-canary": 1000}}, "weights.ofm-api-canary"), ({"weights": {"ofm-api-canary": -1}}, "weights.ofm-api-canary"),
    ({"weights": {"ofm-api-v3": 5}}, "weights"), ({"rules": ["20"], "weights": {"ofm-api-canary": 0}}, "rules"),
    ({"port": 443, "weights": {"ofm-api-canary": 0}}, "listener_port"), ({"weights": {}}, "weights")])
def test_bad_input_is_refused_before_any_change(alb, kwargs, option):
    alb_client = client(alb)
    with pytest.raises(InputError) as refused:
        set_weights(alb_client, **kwargs)
    assert refused.value.option == option and alb_client.calls == [] and weights_now(alb) == SEEDED


def test_an_unknown_load_balancer_is_not_found(alb):
    with pytest.raises(NotFoundError):
        AlbClient.from_params(params(alb["url"]), "ofm-nope", timeout=5).read()


def test_the_whole_action_list_goes_back_with_only_the_weights_changed():
    actions = [{"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {"Issuer": "https://id.example", "ClientId": "c"}},
               {"Type": "forward", "Order": 2, "TargetGroupArn": "arn:a",
                "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "arn:a", "Weight": 1}], "TargetGroupStickinessConfig": {"Enabled": True}}}]
    sent = rewritten_actions(actions, {"arn:a": 5, "arn:b": 7})
    assert sent[0]["AuthenticateOidcConfig"]["UseExistingClientSecret"] is True and sent[0]["Order"] == 1
    assert sent[1] == {"Type": "forward", "Order": 2, "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": "arn:a", "Weight": 5}, {"TargetGroupArn": "arn:b", "Weight": 7}],
        "TargetGroupStickinessConfig": {"Enabled": True}}}
    assert "UseExistingClientSecret" not in actions[0]["AuthenticateOidcConfig"], "the described actions are not changed"


def test_an_unreachable_endpoint_is_a_clear_error():
    with pytest.raises(UnavailableError) as failed:
        AlbClient.from_params(params("http://127.0.0.1:9"), ALB_NAME, timeout=2).read()
    assert "cannot connect" in str(failed.value) and SECRET not in str(failed.value)


# --- the snapshot kind ------------------------------------------------------------------------

def restore(alb: dict[str, Any], section: dict[str, Any], check_mode: bool = False) -> plan.RestoreReport:
    applier = AlbApplier(client(alb))
    return plan.restore(plan.make_plan({"alb": applier}, {"alb": section}), {"alb": applier}, check_mode)


def test_the_kind_is_registered():
    assert kinds.EXTERNAL["alb"] is KIND and kinds.EXTERNAL_SPEC["alb"] == {"type": "dict", "options": KIND.options}


def test_snapshot_change_restore_equal_then_nothing_left(alb):
    snapshot = AlbApplier(client(alb)).read()
    assert snapshot == SEEDED
    groups = alb["target_groups"]
    alb["elbv2"].modify_listener(ListenerArn=alb["listener"], DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": groups["ofm-api-canary"], "Weight": 100}]}}])
    set_weights(client(alb), rules=["10"], weights={"ofm-api-canary": 50})
    assert weights_now(alb) == {DEFAULT: {"ofm-api-canary": 100}, RULE: {"ofm-api-stable": 90, "ofm-api-canary": 50}}

    report = restore(alb, snapshot)

    assert report.restored_targets("alb") == [DEFAULT, RULE] and weights_now(alb) == SEEDED
    assert report.result("alb").round_trips == 4 + 2, "the reads, then one call per listener and rule"
    assert not restore(alb, snapshot).changed


def test_a_target_group_no_longer_forwarded_to_is_found_by_name_and_put_back(alb):
    only_canary = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": alb["target_groups"]["ofm-api-canary"], "Weight": 1}]}}]
    alb["elbv2"].modify_listener(ListenerArn=alb["listener"], DefaultActions=only_canary)
    rule = [r for r in alb["elbv2"].describe_rules(ListenerArn=alb["listener"])["Rules"] if not r["IsDefault"]][0]
    alb["elbv2"].modify_rule(RuleArn=rule["RuleArn"], Actions=only_canary)

    report = restore(alb, SEEDED)

    assert weights_now(alb) == SEEDED and report.result("alb").round_trips == 4 + 1 + 2


def test_a_restore_in_check_mode_writes_nothing(alb):
    set_weights(client(alb), weights={"ofm-api-canary": 0})
    report = restore(alb, SEEDED, check_mode=True)
    assert report.result("alb").status == plan.PLANNED and weights_now(alb)[RULE]["ofm-api-canary"] == 0


def test_a_restore_that_fails_half_way_reports_it_and_a_rerun_completes_it(alb):
    set_weights(client(alb), weights={"ofm-api-canary": 0})
    applier = AlbApplier(client(alb))
    planned = plan.make_plan({"alb": applier}, {"alb": SEEDED})

    def rule_gone(**_kwargs: Any) -> None:
        raise NotFoundError("rule gone", target=RULE)

    applier.client.elbv2.modify_rule = rule_gone
    report = plan.restore(planned, {"alb": applier})
    result = report.result("alb")
    assert result.status == plan.FAILED and result.restored == (DEFAULT,) and result.not_restored == (RULE,)
    assert restore(alb, SEEDED).restored_targets("alb") == [RULE] and weights_now(alb) == SEEDED


@pytest.mark.parametrize("section, error", [
    ({"listener 81 default": {"ofm-api-stable": 1}}, NotFoundError), ({DEFAULT: {"ofm-api-gone": 1}}, InputError),
    ({DEFAULT: {"ofm-api-stable": 1000}}, InputError)])
def test_a_snapshot_that_cannot_be_restored_is_refused_before_any_write(alb, section, error):
    set_weights(client(alb), weights={"ofm-api-canary": 0})
    with pytest.raises(error):
        restore(alb, {**SEEDED, **section})
    assert weights_now(alb)[DEFAULT]["ofm-api-canary"] == 0
