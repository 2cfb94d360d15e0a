# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudFront configs, ETags, invalidations and the snapshot kind ``cdn`` against moto's server seeded with the lab's distribution.

moto keeps one ETag per distribution and ignores If-Match, so the refusal of an edit between the plan and the write comes
from the client's own read before the write, which these tests exercise."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from cloudfronttest import (DISTRIBUTION_ALIAS, DISTRIBUTION_COMMENT, SECRET, add_distribution, boto, config_of, edit, params, reseed)
from unithelpers import MOTO_SERVER, FakeClock, free_port, http_call

from ansible_collections.ofm.rollback.plugins.module_utils.cloudfront import CloudFrontClient, merged, set_config
from ansible_collections.ofm.rollback.plugins.module_utils.cloudfront_kind import KIND, CdnApplier
from ansible_collections.ofm.rollback.plugins.module_utils.config import kinds, plan
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (ConflictError, DataError, DeadlineExceeded, InputError, NotFoundError,
                                                                          UnavailableError)
from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller

pytestmark = pytest.mark.skipif(not MOTO_SERVER.exists(), reason="moto_server is not installed (requirements-dev.txt)")


@pytest.fixture(name="cdn")
def fixture_cdn(moto_url: str, tmp_path) -> dict:
    return {"url": moto_url, "id": reseed(moto_url, tmp_path)}


def client(cdn: dict) -> CloudFrontClient:
    return CloudFrontClient.from_params(params(cdn["url"]), timeout=5)


@pytest.mark.parametrize("selector", ["id", DISTRIBUTION_ALIAS, DISTRIBUTION_COMMENT])
def test_a_distribution_is_found_by_id_alias_or_comment_with_its_config_and_etag(cdn, selector):
    found = client(cdn).read(cdn["id"] if selector == "id" else selector)
    assert found.id == cdn["id"] and found.etag and found.config["Comment"] == DISTRIBUTION_COMMENT


def test_an_unknown_distribution_names_those_there_are_and_a_shared_comment_is_refused(cdn):
    with pytest.raises(NotFoundError) as caught:
        client(cdn).read("cdn.example.org")
    assert DISTRIBUTION_ALIAS in str(caught.value)
    add_distribution(cdn["url"], DISTRIBUTION_COMMENT, "cdn2.ofm.social")
    with pytest.raises(InputError) as ambiguous:
        client(cdn).read(DISTRIBUTION_COMMENT)
    assert ambiguous.value.option == "distribution" and cdn["id"] in str(ambiguous.value)


def test_fields_are_set_by_merging_and_a_second_run_changes_nothing(cdn):
    first = client(cdn)
    change = set_config(first, DISTRIBUTION_ALIAS, {"Enabled": False, "DefaultCacheBehavior": {"MinTTL": 5}})
    assert change.changed and change.result(first.calls)["changed_fields"] == ["DefaultCacheBehavior", "Enabled"]
    assert [entry["call"] for entry in first.calls] == ["update_distribution"] and first.calls[0]["if_match"] == change.distribution.etag
    now = config_of(cdn["url"], cdn["id"])
    assert now["Enabled"] is False and now["DefaultCacheBehavior"]["MinTTL"] == 5
    assert now["DefaultCacheBehavior"]["TargetOriginId"] == "ofm-api-alb"
    again = client(cdn)
    assert not set_config(again, DISTRIBUTION_ALIAS, {"Enabled": False, "DefaultCacheBehavior": {"MinTTL": 5}}).changed
    assert again.calls == []


def test_check_mode_writes_nothing(cdn):
    checking = client(cdn)
    change = set_config(checking, DISTRIBUTION_ALIAS, {"Comment": "elsewhere"}, invalidate_paths=["/*"], check_mode=True)
    assert change.changed and change.result(checking.calls)["diff"] == {"before": {"Comment": DISTRIBUTION_COMMENT}, "after": {"Comment": "elsewhere"}}
    assert checking.calls == [] and config_of(cdn["url"], cdn["id"])["Comment"] == DISTRIBUTION_COMMENT
    assert boto(cdn["url"]).list_invalidations(DistributionId=cdn["id"])["InvalidationList"].get("Quantity", 0) == 0


def test_an_expected_etag_that_is_not_the_distributions_refuses_with_the_diff_unless_forced(cdn):
    with pytest.raises(ConflictError) as caught:
        set_config(client(cdn), DISTRIBUTION_ALIAS, {"Enabled": False}, expected_etag="E2OTHERETAG")
    assert caught.value.details["diff"] == {"before": {"Enabled": True}, "after": {"Enabled": False}}
    assert config_of(cdn["url"], cdn["id"])["Enabled"] is True
    forced = client(cdn)
    set_config(forced, DISTRIBUTION_ALIAS, {"Enabled": False}, expected_etag="E2OTHERETAG", force=True)
    assert config_of(cdn["url"], cdn["id"])["Enabled"] is False
    current = client(cdn).read(DISTRIBUTION_ALIAS).etag
    assert set_config(client(cdn), DISTRIBUTION_ALIAS, {"Enabled": True}, expected_etag=current).changed


def test_an_edit_between_the_plan_and_the_write_is_refused_with_what_it_changed(cdn):
    cf = client(cdn)
    planned = cf.read(DISTRIBUTION_ALIAS)
    edit(cdn["url"], cdn["id"], PriceClass="PriceClass_100")
    with pytest.raises(ConflictError) as caught:
        cf.update(planned, merged(planned.config, {"Enabled": False}))
    assert caught.value.details["diff"] == {"before": {"PriceClass": "PriceClass_All"}, "after": {"PriceClass": "PriceClass_100"}}
    assert cf.calls == [] and config_of(cdn["url"], cdn["id"])["Enabled"] is True


def test_an_invalidation_is_created_and_waited_for(cdn):
    cf = client(cdn)
    change = set_config(cf, cdn["id"], {"Comment": "purged"}, invalidate_paths=["/*", "/api/*"])
    assert change.invalidation["status"].lower() == "completed" and change.invalidation["paths"] == ["/*", "/api/*"]
    assert [entry["call"] for entry in cf.calls] == ["update_distribution", "create_invalidation"]


def test_a_wait_for_an_invalidation_that_stays_in_progress_ends_at_its_deadline():
    class Stuck(CloudFrontClient):
        def invalidation(self, distribution_id, invalidation_id):
            return {"id": invalidation_id, "status": "InProgress", "paths": ["/*"]}

    clock = FakeClock()
    with pytest.raises(DeadlineExceeded) as caught:
        Stuck(None).wait_invalidation("E1", "I1", 30, Poller(timeout=30, interval=5, clock=lambda: clock.now, sleep=clock.sleep))
    assert "InProgress" in str(caught.value) and sum(clock.sleeps) == 30


@pytest.mark.parametrize("fields, paths, option", [({"Nope": 1}, None, "config"), ({"CallerReference": "other"}, None, "config.CallerReference"),
                                                   ({}, ["index.html"], "invalidate_paths"), ({}, ["/a*b"], "invalidate_paths")])
def test_bad_input_is_refused_before_anything_is_sent(cdn, fields, paths, option):
    cf = client(cdn)
    with pytest.raises(InputError) as caught:
        set_config(cf, DISTRIBUTION_ALIAS, fields, invalidate_paths=paths)
    assert caught.value.option == option and cf.calls == []


def test_an_unreachable_endpoint_is_unavailable_and_nothing_was_sent():
    with pytest.raises(UnavailableError) as caught:
        CloudFrontClient.from_params(params(f"http://127.0.0.1:{free_port()}"), timeout=2).read(DISTRIBUTION_ALIAS)
    assert caught.value.sent is False and SECRET not in str(caught.value)


def test_a_frozen_endpoint_times_out_without_the_keys(tmp_path):
    port = free_port()
    process = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                http_call(f"{url}/moto-api/")
                break
            except OSError:
                time.sleep(0.1)
        reseed(url, tmp_path)
        os.kill(process.pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(UnavailableError) as caught:
            CloudFrontClient.from_params(params(url), timeout=2).read(DISTRIBUTION_ALIAS)
        assert time.monotonic() - started < 20 and caught.value.sent is True and SECRET not in str(caught.value.to_result())
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(10)


def test_merged_follows_items_with_quantity():
    assert merged({"Aliases": {"Quantity": 1, "Items": ["a"]}, "Enabled": True}, {"Aliases": {"Items": ["a", "b"]}}) == {
        "Aliases": {"Quantity": 2, "Items": ["a", "b"]}, "Enabled": True}


def applier(cdn: dict, **settings) -> CdnApplier:
    return KIND.build({**params(cdn["url"]), "cdn": {"distributions": [DISTRIBUTION_ALIAS], "timeout": 5, **settings}})


def test_the_kind_is_registered_and_scoped():
    assert kinds.EXTERNAL["cdn"] is KIND and "cdn" in kinds.EXTERNAL_SPEC
    assert KIND.scope({"aws_endpoint_url": "http://h:1", "cdn": {"distributions": ["a", "b"]}}) == "aws http://h:1 cloudfront a, b"


def test_snapshot_change_restore_equal_then_nothing_to_restore(cdn):
    section = applier(cdn).read()
    assert section[DISTRIBUTION_ALIAS]["id"] == cdn["id"] and section[DISTRIBUTION_ALIAS]["etag"]
    json.dumps(section)
    edit(cdn["url"], cdn["id"], Enabled=False, Comment="changed")
    restorer = applier(cdn, invalidate_paths=["/*"])
    made = plan.make_plan({"cdn": restorer}, {"cdn": section})
    assert {change.key for change in made.kind("cdn").changes if change.changed} == {"Enabled", "Comment"}
    report = plan.restore(made, {"cdn": restorer})
    assert report.restored_kinds == ["cdn"] and report.result("cdn").restored == (DISTRIBUTION_ALIAS,)
    assert config_of(cdn["url"], cdn["id"]) == section[DISTRIBUTION_ALIAS]["config"]
    assert restorer.invalidations[0]["status"].lower() == "completed"
    again = applier(cdn)
    second = plan.restore(plan.make_plan({"cdn": again}, {"cdn": section}), {"cdn": again})
    assert second.changed is False and second.result("cdn").status == plan.UNCHANGED_KIND


def test_check_mode_restore_writes_nothing(cdn):
    section = applier(cdn).read()
    edit(cdn["url"], cdn["id"], Enabled=False)
    checking = applier(cdn)
    report = plan.restore(plan.make_plan({"cdn": checking}, {"cdn": section}), {"cdn": checking}, check_mode=True)
    assert report.result("cdn").status == plan.PLANNED and checking.client.calls == []
    assert config_of(cdn["url"], cdn["id"])["Enabled"] is False


def test_a_restore_that_fails_half_way_says_what_was_restored_and_a_rerun_completes_it(cdn):
    other = add_distribution(cdn["url"], "ofm-social-cdn-static", "static.ofm.social")
    settings = {"distributions": [DISTRIBUTION_ALIAS, "static.ofm.social"]}
    section = applier(cdn, **settings).read()
    edit(cdn["url"], cdn["id"], Enabled=False)
    edit(cdn["url"], other, Enabled=False)
    restorer = applier(cdn, **settings)
    made = plan.make_plan({"cdn": restorer}, {"cdn": section})
    edit(cdn["url"], other, PriceClass="PriceClass_100")
    report = plan.restore(made, {"cdn": restorer})
    failed = report.result("cdn")
    assert failed.status == plan.FAILED and failed.restored == (DISTRIBUTION_ALIAS,) and failed.not_restored == ("static.ofm.social",)
    assert failed.error["type"] == "ConflictError" and "PriceClass" in json.dumps(failed.error["details"])
    rerun = applier(cdn, **settings)
    assert plan.restore(plan.make_plan({"cdn": rerun}, {"cdn": section}), {"cdn": rerun}).result("cdn").restored == ("static.ofm.social",)
    assert config_of(cdn["url"], other) == section["static.ofm.social"]["config"]


def test_a_snapshot_entry_without_a_config_is_refused():
    with pytest.raises(DataError):
        CdnApplier.entries({"cdn.ofm.social": {"etag": "E1"}})
