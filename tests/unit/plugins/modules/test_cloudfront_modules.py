# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cloudfront_distribution and cloudfront_invalidation against moto's server seeded with the lab's distribution (both runners):
read, set with a diff, second run unchanged, check mode, ETag refusal and force, invalidation, bad input, no key in output."""
from __future__ import annotations

import json

import pytest
from cloudfronttest import DISTRIBUTION_ALIAS, DISTRIBUTION_COMMENT, KEY, SECRET, boto, config_of, edit, params, reseed
from unithelpers import MOTO_SERVER, documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import aws as aws_fragment
from ansible_collections.ofm.rollback.plugins.modules import cloudfront_distribution, cloudfront_invalidation

pytestmark = [pytest.mark.usefixtures("module_runner"),
              pytest.mark.skipif(not MOTO_SERVER.exists(), reason="moto_server is not installed (requirements-dev.txt)")]


@pytest.fixture(name="cdn")
def fixture_cdn(moto_url: str, tmp_path) -> dict:
    return {"url": moto_url, "id": reseed(moto_url, tmp_path)}


def args(cdn: dict, **extra):
    return params(cdn["url"], **{"distribution": DISTRIBUTION_ALIAS, "timeout": 5, **extra})


def no_keys(*results) -> bool:
    text = json.dumps(results)
    return KEY not in text and SECRET not in text


@pytest.mark.parametrize("module", [cloudfront_distribution, cloudfront_invalidation])
def test_docs_match_the_argument_spec(module):
    assert mismatches(module.ARGUMENT_SPEC, documented_options(module, aws_fragment)) == []


def test_read_then_restore_with_a_diff_and_a_second_run_changes_nothing(cdn):
    failed, before, _warnings = run_module(cloudfront_distribution, args(cdn))
    assert not failed and not before["changed"] and before["config"]["Comment"] == DISTRIBUTION_COMMENT and before["calls"] == []
    edit(cdn["url"], cdn["id"], Enabled=False)
    changed_etag = boto(cdn["url"]).get_distribution_config(Id=cdn["id"])["ETag"]
    restore = args(cdn, config=before["config"], expected_etag=changed_etag, invalidate_paths=["/*"])
    failed, restored, _warnings = run_module(cloudfront_distribution, restore)
    assert not failed and restored["changed"] and restored["diff"] == {"before": {"Enabled": False}, "after": {"Enabled": True}}
    assert restored["invalidation"]["status"].lower() == "completed"
    assert config_of(cdn["url"], cdn["id"]) == before["config"]
    failed, again, _warnings = run_module(cloudfront_distribution, args(cdn, config=before["config"], invalidate_paths=["/*"]))
    assert not failed and not again["changed"] and again["calls"] == [] and again["diff"] == {"before": {}, "after": {}}
    assert no_keys(before, restored, again)


def test_check_mode_sends_nothing(cdn):
    failed, result, _warnings = run_module(cloudfront_distribution, args(cdn, config={"Enabled": False}, invalidate_paths=["/*"]), check_mode=True)
    assert not failed and result["changed"] and result["calls"] == [] and result["config"]["Enabled"] is False
    assert config_of(cdn["url"], cdn["id"])["Enabled"] is True
    failed, planned, _warnings = run_module(cloudfront_invalidation, args(cdn, paths=["/*"]), check_mode=True)
    assert not failed and planned["changed"] and planned["calls"] == [] and planned["id"] == cdn["id"]
    assert boto(cdn["url"]).list_invalidations(DistributionId=cdn["id"])["InvalidationList"].get("Quantity", 0) == 0


def test_an_etag_changed_since_is_refused_with_the_diff_and_force_restores(cdn):
    failed, refused, _warnings = run_module(cloudfront_distribution, args(cdn, config={"Enabled": False}, expected_etag="E3STALE"))
    assert failed and refused["error"]["type"] == "ConflictError" and not refused["changed"] and refused["calls"] == []
    assert refused["error"]["details"]["diff"] == {"before": {"Enabled": True}, "after": {"Enabled": False}}
    failed, forced, _warnings = run_module(cloudfront_distribution, args(cdn, config={"Enabled": False}, expected_etag="E3STALE", force=True))
    assert not failed and forced["changed"] and config_of(cdn["url"], cdn["id"])["Enabled"] is False
    assert no_keys(refused, forced)


def test_an_invalidation_is_created_and_completes(cdn):
    failed, result, _warnings = run_module(cloudfront_invalidation, args(cdn, paths=["/index.html", "/api/*"], caller_reference="unit-1"))
    assert not failed and result["changed"] and result["invalidation"]["status"].lower() == "completed"
    listed = boto(cdn["url"]).list_invalidations(DistributionId=cdn["id"])["InvalidationList"]["Items"]
    assert [item["Id"] for item in listed] == [result["invalidation"]["id"]] and no_keys(result)


@pytest.mark.parametrize("module, extra, option", [
    (cloudfront_distribution, {"config": {"Colour": "blue"}}, "config"),
    (cloudfront_distribution, {"wait_timeout": 0}, "wait_timeout"),
    (cloudfront_distribution, {"timeout": -1}, "timeout"),
    (cloudfront_invalidation, {"paths": ["no-slash"]}, "paths"),
    (cloudfront_invalidation, {"paths": []}, "paths"),
])
def test_bad_input_fails_naming_the_option(cdn, module, extra, option):
    failed, result, _warnings = run_module(module, args(cdn, **{**({"paths": ["/*"]} if module is cloudfront_invalidation else {}), **extra}))
    assert failed and result["error"]["option"] == option and not result["changed"] and result["calls"] == [] and no_keys(result)


def test_an_unknown_distribution_fails_and_names_the_ones_there_are(cdn):
    failed, result, _warnings = run_module(cloudfront_distribution, args(cdn, distribution="cdn.example.org"))
    assert failed and result["error"]["type"] == "NotFoundError" and DISTRIBUTION_ALIAS in result["msg"]
