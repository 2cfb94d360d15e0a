# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""alb_forward_weights against moto's server seeded as the lab seeds it (both runners): change, diff, idempotence, check
mode, bad input before any write, and the AWS keys never in the result."""
from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from unithelpers import MOTO_SERVER, documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import aws as aws_fragment
from ansible_collections.ofm.rollback.plugins.modules import alb_forward_weights
from lab.components.aws import ALB_NAME, REGION, seed_elbv2

pytestmark = [pytest.mark.usefixtures("module_runner"),
              pytest.mark.skipif(not MOTO_SERVER.exists(), reason="moto_server is not installed (requirements-dev.txt)")]
KEY, SECRET = "AKIDALBMODULE", "alb-module-secret-key-0123456789"


@pytest.fixture(name="moto")
def fixture_moto(moto_url: str) -> str:
    with urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST", data=b""), timeout=10):
        pass
    seed_elbv2(lambda service: boto3.client(service, region_name=REGION, endpoint_url=moto_url, aws_access_key_id=KEY, aws_secret_access_key=SECRET))
    return moto_url


def args(url: str, **extra):
    return {"load_balancer": ALB_NAME, "aws_access_key": KEY, "aws_secret_key": SECRET, "aws_region": REGION, "aws_endpoint_url": url,
            "aws_retries": 1, "timeout": 5, **extra}


def test_docs_match_the_argument_spec():
    assert mismatches(alb_forward_weights.ARGUMENT_SPEC, documented_options(alb_forward_weights, aws_fragment)) == []


def test_weights_change_with_a_diff_and_a_second_run_changes_nothing(moto):
    failed, result, _warnings = run_module(alb_forward_weights, args(moto, listener_port=80, weights={"ofm-api-canary": 0, "ofm-api-stable": 100}))
    assert not failed and result["changed"] is True
    assert result["diff"]["before"]["listener 80 rule 10"] == {"ofm-api-stable": 90, "ofm-api-canary": 10}
    assert result["diff"]["after"]["listener 80 rule 10"] == {"ofm-api-stable": 100, "ofm-api-canary": 0}
    assert [call["call"] for call in result["calls"]] == ["modify_listener", "modify_rule"]
    assert result["forwards"][1]["conditions"] == ["path-pattern /api/*"]

    failed, again, _warnings = run_module(alb_forward_weights, args(moto, weights={"ofm-api-canary": 0, "ofm-api-stable": 100}))
    assert not failed and again["changed"] is False and again["calls"] == [] and again["diff"] == {"before": {}, "after": {}}
    for secret in (KEY, SECRET):
        assert secret not in json.dumps(result) + json.dumps(again)


def test_check_mode_writes_nothing(moto):
    failed, result, _warnings = run_module(alb_forward_weights, args(moto, weights={"ofm-api-canary": 0}), check_mode=True)
    assert not failed and result["changed"] and result["calls"] == []
    _failed, now, _warnings = run_module(alb_forward_weights, args(moto))
    assert now["current"]["listener 80 default"] == {"ofm-api-stable": 90, "ofm-api-canary": 10}


@pytest.mark.parametrize("extra, option", [({"weights": {"ofm-api-canary": 1000}}, "weights.ofm-api-canary"),
                                           ({"weights": {"ofm-api-nope": 1}}, "weights"), ({"rules": ["99"]}, "rules"),
                                           ({"listener_port": 8443}, "listener_port"), ({"timeout": -1}, "timeout")])
def test_bad_input_fails_naming_the_option(moto, extra, option):
    failed, result, _warnings = run_module(alb_forward_weights, args(moto, **extra))
    assert failed and result["error"]["option"] == option and result["changed"] is False and result["calls"] == []
    assert SECRET not in json.dumps(result)
