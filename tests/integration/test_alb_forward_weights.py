"""alb_forward_weights and the snapshot kind alb against the lab's AWS stand-in (moto's server mode): the ALB ofm-api-alb,
listener :80 whose default action and rule /api/* (priority 10) forward to ofm-api-stable 90 / ofm-api-canary 10.

Not shared_lab: every test puts the listener's and the rule's actions back as it found them (other tests run in parallel in
the same lab); the lab's AWS keys are passed in the environment and never appear in the output.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from external_lb import closed_port, hanging_listener, lab_with
from labtest import AnsibleRun, run_module, run_play

from lab.components import aws
from lab.config import LabConfig

SEEDED = {"listener 80 default": {"ofm-api-stable": 90, "ofm-api-canary": 10}, "listener 80 rule 10": {"ofm-api-stable": 90, "ofm-api-canary": 10}}


@pytest.fixture(scope="module", name="aws_lab")
def fixture_aws_lab() -> LabConfig:
    return lab_with("aws")


@pytest.fixture(name="elbv2")
def fixture_elbv2(aws_lab: LabConfig) -> Iterator[Any]:
    """The lab's ELBv2; the ALB's listeners and rules get back the actions they had before the test."""
    client = aws.client(aws_lab, "elbv2")
    arn = client.describe_load_balancers(Names=[aws.ALB_NAME])["LoadBalancers"][0]["LoadBalancerArn"]
    listeners = client.describe_listeners(LoadBalancerArn=arn)["Listeners"]
    rules = {listener["ListenerArn"]: client.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"] for listener in listeners}
    yield client
    for listener in listeners:
        client.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=listener["DefaultActions"])
        for rule in rules[listener["ListenerArn"]]:
            if not rule["IsDefault"]:
                client.modify_rule(RuleArn=rule["RuleArn"], Actions=rule["Actions"])


def env_of(lab: LabConfig) -> dict[str, str]:
    creds = lab.credentials()
    return {"AWS_ACCESS_KEY_ID": creds.aws_access_key_id, "AWS_SECRET_ACCESS_KEY": creds.aws_secret_access_key, "AWS_REGION": aws.REGION}


def options(lab: LabConfig, **extra: Any) -> dict[str, Any]:
    return {"aws_endpoint_url": lab.url("aws"), "load_balancer": aws.ALB_NAME, **extra}


def module(lab: LabConfig, tmp_path: Path, *, check: bool = False, diff: bool = False, **extra: Any) -> AnsibleRun:
    run = run_module("alb_forward_weights", options(lab, **extra), tmp_path, check=check, diff=diff, env=env_of(lab))
    assert lab.credentials().aws_secret_access_key not in run.output + json.dumps(run.result)
    return run


def weights_now(lab: LabConfig, tmp_path: Path) -> dict[str, dict[str, int]]:
    run = module(lab, tmp_path)
    assert not run.failed, run.output
    return run.result["current"]


def test_weights_change_with_a_diff_and_a_second_run_changes_nothing(aws_lab, elbv2, tmp_path):
    assert weights_now(aws_lab, tmp_path) == SEEDED
    run = module(aws_lab, tmp_path, diff=True, listener_port=80, weights={"ofm-api-stable": 100, "ofm-api-canary": 0})
    assert not run.failed and run.result["changed"] is True, run.output
    assert [call["call"] for call in run.result["calls"]] == ["modify_listener", "modify_rule"]
    assert "--- before" in run.output and re.search(r'^\+\s+"ofm-api-canary": 0,?$', run.output, re.M), run.output
    assert weights_now(aws_lab, tmp_path) == {key: {"ofm-api-stable": 100, "ofm-api-canary": 0} for key in SEEDED}

    again = module(aws_lab, tmp_path, listener_port=80, weights={"ofm-api-stable": 100, "ofm-api-canary": 0})
    assert not again.failed and again.result["changed"] is False and again.result["calls"] == []


def test_check_mode_writes_nothing(aws_lab, elbv2, tmp_path):
    run = module(aws_lab, tmp_path, check=True, rules=["10"], weights={"ofm-api-canary": 0})
    assert not run.failed and run.result["changed"] is True and run.result["calls"] == []
    assert weights_now(aws_lab, tmp_path) == SEEDED


@pytest.mark.parametrize("extra, option", [({"weights": {"ofm-api-canary": 1000}}, "weights.ofm-api-canary"),
                                           ({"weights": {"ofm-api-gone": 1}}, "weights"), ({"rules": ["20"], "weights": {"ofm-api-canary": 0}}, "rules"),
                                           ({"listener_port": 443, "weights": {"ofm-api-canary": 0}}, "listener_port")])
def test_bad_input_is_a_clear_error_before_any_change(aws_lab, elbv2, tmp_path, extra, option):
    run = module(aws_lab, tmp_path, **extra)
    assert run.failed and run.result["error"]["option"] == option and run.result["changed"] is False and run.result["calls"] == []
    assert weights_now(aws_lab, tmp_path) == SEEDED


def test_an_unknown_load_balancer_is_not_found(aws_lab, tmp_path):
    run = module(aws_lab, tmp_path, load_balancer="ofm-nope")
    assert run.failed and run.result["error"]["type"] == "NotFoundError"


@pytest.mark.reliability("fault", procedure="external", case="AWS endpoint (moto server) unreachable or hanging",
                         expected="failed clearly, nothing changed")
def test_an_unreachable_endpoint_and_a_hanging_one_are_clear_errors(aws_lab, tmp_path):
    run = module(aws_lab, tmp_path, aws_endpoint_url=f"http://127.0.0.1:{closed_port()}", aws_retries=1, timeout=2)
    assert run.failed and run.result["error"]["type"] == "UnavailableError" and "cannot connect" in run.result["msg"], run.output
    with hanging_listener() as address:
        started = time.monotonic()
        run = module(aws_lab, tmp_path, aws_endpoint_url=f"http://{address}", aws_retries=1, timeout=1)
        elapsed = time.monotonic() - started
    assert run.failed and run.result["error"]["type"] == "UnavailableError" and "read timeout" in run.result["msg"], run.output
    assert elapsed < 60


def test_config_snapshot_and_restore_of_the_alb_kind(aws_lab, elbv2, tmp_path):
    """snapshot -> change -> restore -> equal; check mode writes nothing; the second restore changes nothing."""
    common = {"aws_endpoint_url": aws_lab.url("aws"), "kinds": ["alb"], "snapshot_dir": str(tmp_path / "snapshots"),
              "alb": {"load_balancer": aws.ALB_NAME, "listener_port": 80}}
    env = env_of(aws_lab)
    taken = run_play([{"name": "Snapshot", "ofm.rollback.config_snapshot": common, "register": "snap"}], tmp_path, env)
    assert not taken.failed, taken.output
    changed = module(aws_lab, tmp_path, weights={"ofm-api-stable": 0, "ofm-api-canary": 999})
    assert changed.result["changed"], changed.output

    restore = {"name": "Restore", "ofm.rollback.config_restore": {**common, "latest": True}, "register": "restored"}
    checked = run_play([restore], tmp_path, env, options=["--check"])
    assert not checked.failed and checked.result["restored"]["changed"] is True, checked.output
    assert weights_now(aws_lab, tmp_path)["listener 80 default"] == {"ofm-api-stable": 0, "ofm-api-canary": 999}

    done = run_play([restore], tmp_path, env, diff=True)
    assert not done.failed and done.result["restored"]["changed"] is True, done.output
    assert weights_now(aws_lab, tmp_path) == SEEDED
    assert done.result["restored"]["round_trips"]["aws"] == 4 + 2

    again = run_play([restore], tmp_path, env)
    assert not again.failed and again.result["restored"]["changed"] is False, again.output
    secret = aws_lab.credentials().aws_secret_access_key
    for run in (taken, checked, done, again):
        assert secret not in run.output + json.dumps(run.result)
