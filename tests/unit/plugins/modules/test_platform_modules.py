# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""platform_app and platform_token_info against the platforms stand-in (both runners): read, restore with a diff, second
run unchanged, check mode, bad input, a refused app secret, failing tokens listed, and no secret or token in any result."""
from __future__ import annotations

import pytest
from platformstest import stand_in
from unithelpers import documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client, platform
from ansible_collections.ofm.rollback.plugins.modules import platform_app, platform_token_info
from lab.services.kube.seed import CONFIG

pytestmark = pytest.mark.usefixtures("module_runner")
VERIFY = "module-verify-token-77c1"


@pytest.fixture(name="stand")
def fixture_stand():
    with stand_in() as stand:
        yield stand


def args(stand, platform_name, **extra):
    options = stand.options(platform_name, **extra)
    options.pop("ca_path")
    return options


@pytest.mark.parametrize("module", [platform_app, platform_token_info])
def test_docs_match_the_argument_spec(module):
    assert mismatches(module.ARGUMENT_SPEC, documented_options(module, platform, http_client)) == []


def test_read_change_restore_and_a_second_run_changes_nothing(stand):
    failed, before, _warnings = run_module(platform_app, args(stand, "tiktok"))
    assert not failed and not before["changed"] and before["settings"]["webhook_url"] == CONFIG["WEBHOOK_URL_TIKTOK"]
    failed, changed, _warnings = run_module(platform_app, args(stand, "tiktok", settings={"webhook_url": "https://hooks-staging.ofm.social/tiktok"}))
    assert not failed and changed["changed"] and changed["diff"] == {"before": {"webhook_url": CONFIG["WEBHOOK_URL_TIKTOK"]},
                                                                     "after": {"webhook_url": "https://hooks-staging.ofm.social/tiktok"}}
    failed, restored, _warnings = run_module(platform_app, args(stand, "tiktok", settings=before["settings"]))
    assert not failed and restored["changed"] and restored["settings"] == before["settings"]
    failed, again, _warnings = run_module(platform_app, args(stand, "tiktok", settings=before["settings"]))
    assert not failed and not again["changed"] and again["calls"] == []
    assert not stand.leaks(before, changed, restored, again)


def test_meta_restore_with_the_verify_token_and_check_mode_sends_nothing(stand):
    failed, before, _warnings = run_module(platform_app, args(stand, "meta"))
    assert not failed
    moved = {"subscriptions": {"instagram": {"callback_url": "https://hooks-staging.ofm.social/meta", "fields": ["comments"]}}}
    failed, checked, _warnings = run_module(platform_app, args(stand, "meta", settings=moved, verify_token=VERIFY), check_mode=True)
    assert not failed and checked["changed"] and checked["calls"] == [] and stand.writes() == []
    assert checked["planned"][0] == {"call": "DELETE subscriptions", "object": "instagram", "fields": ["mentions", "story_insights"]}
    failed, moved_result, _warnings = run_module(platform_app, args(stand, "meta", settings=moved, verify_token=VERIFY))
    assert not failed and moved_result["settings"]["subscriptions"] == moved["subscriptions"]
    failed, restored, _warnings = run_module(platform_app, args(stand, "meta", settings=before["settings"], verify_token=VERIFY))
    assert not failed and restored["settings"] == before["settings"]
    assert not stand.leaks(before, checked, moved_result, restored) and VERIFY not in str(restored)


@pytest.mark.parametrize("extra, option", [({"settings": {"colour": "blue"}}, "settings"), ({"timeout": 0}, "timeout"),
                                           ({"api_url": "ftp://graph.example"}, "api_url"), ({"app_id": "not-numeric"}, "app_id")])
def test_bad_input_fails_naming_the_option(stand, extra, option):
    failed, result, _warnings = run_module(platform_app, args(stand, "meta", **extra))
    assert failed and result["error"]["option"] == option and not result["changed"] and stand.writes() == [] and not stand.leaks(result)


def test_a_refused_app_secret_fails_without_the_secret(stand):
    failed, result, _warnings = run_module(platform_token_info, args(stand, "meta", app_secret="refused-secret-0b0b",
                                                                     accounts=[{"name": "main", "token": stand.instagram_token}]))
    assert failed and result["error"]["type"] == "AuthenticationError" and "refused-secret-0b0b" not in str(result) and not stand.leaks(result)


def test_tokens_with_problems_fail_the_task_and_are_listed(stand):
    stand.token("tiktok", "act.narrow", scopes=["user.info.basic"], expires_at=2_000_000_000)
    tokens = [{"name": "main", "token": stand.tiktok_token}, {"name": "narrow", "token": "act.narrow"}]
    failed, result, _warnings = run_module(platform_token_info, args(stand, "tiktok", accounts=tokens))
    assert failed and result["failing"] == ["narrow"] and "narrow" in result["msg"]
    assert result["tokens"][1]["missing_scopes"] == ["video.publish", "video.upload"] and not stand.leaks(result)
    failed, relaxed, _warnings = run_module(platform_token_info, args(stand, "tiktok", accounts=tokens, fail_on_problem=False))
    assert not failed and not relaxed["changed"] and relaxed["failing"] == ["narrow"] and relaxed["tokens"][0]["ok"]
    failed, scoped, _warnings = run_module(platform_token_info, args(stand, "tiktok", accounts=tokens, required_scopes=["user.info.basic"]))
    assert not failed and scoped["failing"] == [] and scoped["required_from"] == "required_scopes"
    assert "act.narrow" not in str(relaxed) + str(scoped)
