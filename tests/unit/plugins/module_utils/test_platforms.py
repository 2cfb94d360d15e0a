# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Meta and TikTok clients, their settings and tokens, and the snapshot kind ``platform_apps`` against the platforms
stand-in seeded as the lab seeds it (in a thread, or as the lab's process for the stopped and frozen faults)."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest
from platformstest import lab_seed, stand_in
from unithelpers import LabService, free_port

from ansible_collections.ofm.rollback.plugins.module_utils.config import kinds, plan
from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, InputError, NotFoundError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.apps import client_from_params, set_app
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.common import TokenInfo
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.kind import KIND
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.tokens import token_report
from lab.components.platforms import META_APP_ID, META_SCOPES, META_WEBHOOK_FIELDS, TIKTOK_CLIENT_KEY, TIKTOK_SCOPES
from lab.services.kube.seed import CONFIG
from lab.services.platforms import SEED_VARIABLE

VERIFY = "unit-verify-token-5e1f"


@pytest.fixture(name="stand")
def fixture_stand():
    with stand_in() as stand:
        yield stand


def test_the_seeded_apps_match_the_labs_configmap(stand):
    meta = client_from_params(stand.options("meta")).read_app()
    assert meta["subscriptions"] == {"instagram": {"callback_url": CONFIG["WEBHOOK_URL_META"], "fields": sorted(META_WEBHOOK_FIELDS)}}
    assert meta["scopes"] == sorted(META_SCOPES)
    tiktok = client_from_params(stand.options("tiktok")).read_app()
    assert tiktok["webhook_url"] == CONFIG["WEBHOOK_URL_TIKTOK"] and tiktok["scopes"] == sorted(TIKTOK_SCOPES)


def test_meta_subscriptions_are_set_exactly_and_a_second_run_writes_nothing(stand):
    client = client_from_params(stand.options("meta"), VERIFY)
    wanted = {"subscriptions": {"instagram": {"callback_url": "https://hooks-staging.ofm.social/meta", "fields": ["comments", "messages"]},
                                "page": {"callback_url": "https://hooks.ofm.social/meta", "fields": ["feed"]}},
              "redirect_uris": ["https://app.ofm.social/oauth/instagram/callback", "https://staging.ofm.social/cb"]}
    change = set_app(client, wanted)
    assert change.changed and change.after["subscriptions"] == {
        "instagram": {"callback_url": "https://hooks-staging.ofm.social/meta", "fields": ["comments", "messages"]},
        "page": {"callback_url": "https://hooks.ofm.social/meta", "fields": ["feed"]}}
    assert [call["call"] for call in client.calls] == ["POST oauth_settings", "DELETE subscriptions", "POST subscriptions", "POST subscriptions"]
    assert change.after["scopes"] == change.before["scopes"]
    again = client_from_params(stand.options("meta"), VERIFY)
    assert not set_app(again, wanted).changed and again.calls == []
    back = client_from_params(stand.options("meta"), VERIFY)
    set_app(back, change.before)
    assert [call["call"] for call in back.calls] == ["POST oauth_settings", "DELETE subscriptions", "DELETE subscriptions", "POST subscriptions"]
    assert client_from_params(stand.options("meta")).read_app() == change.before


def test_check_mode_sends_no_write(stand):
    change = set_app(client_from_params(stand.options("tiktok")), {"webhook_url": "https://hooks-staging.ofm.social/tiktok"}, check_mode=True)
    assert change.changed and change.after["webhook_url"] == "https://hooks-staging.ofm.social/tiktok"
    assert [entry["path"] for entry in stand.writes()] == ["/v2/oauth/token/"]
    assert stand.state()["tiktok"]["settings"]["webhook_url"] == CONFIG["WEBHOOK_URL_TIKTOK"]


def test_a_subscription_without_the_verify_token_is_refused_before_any_write(stand):
    client = client_from_params(stand.options("meta"))
    with pytest.raises(InputError) as caught:
        set_app(client, {"scopes": ["instagram_basic"], "subscriptions": {"page": {"callback_url": "https://h.ofm.social/m", "fields": ["feed"]}}})
    assert caught.value.option == "verify_token" and client.calls == [] and stand.writes() == []


@pytest.mark.parametrize("platform, settings, option", [
    ("meta", {"webhook_url": "https://x"}, "settings"), ("tiktok", {"subscriptions": {}}, "settings"),
    ("tiktok", {"redirect_uris": ["http://plain.example/cb"]}, "settings.redirect_uris"), ("meta", {"scopes": "instagram_basic"}, "settings.scopes"),
    ("meta", {"subscriptions": {"page": {"callback_url": "https://h/m", "fields": []}}}, "settings.subscriptions")])
def test_bad_settings_name_the_option_before_anything_is_sent(stand, platform, settings, option):
    with pytest.raises(InputError) as caught:
        set_app(client_from_params(stand.options(platform), VERIFY), settings)
    assert caught.value.option == option and stand.writes() == []


@pytest.mark.parametrize("platform, app_id, option", [("meta", "ofm-app", "app_id"), ("tiktok", "bad key!", "app_id")])
def test_a_malformed_app_id_is_refused(stand, platform, app_id, option):
    with pytest.raises(InputError) as caught:
        client_from_params(stand.options(platform, app_id=app_id))
    assert caught.value.option == option


@pytest.mark.parametrize("platform", ["meta", "tiktok"])
def test_a_refused_app_secret_is_an_authentication_error_without_the_secret(stand, platform):
    with pytest.raises(AuthenticationError) as caught:
        client_from_params(stand.options(platform, app_secret="wrong-secret-4a4a")).read_app()
    assert "wrong-secret-4a4a" not in json.dumps(caught.value.to_result(), default=str) and not stand.leaks(caught.value.to_result())


def test_token_reports_list_invalid_expired_soon_and_missing_scopes(stand):
    now = time.time()
    stand.token("meta", "ig-narrow", scopes=["instagram_basic"], expires_at=int(now + 30 * 86400))
    stand.token("meta", "ig-soon", scopes=list(META_SCOPES), expires_at=int(now + 3600))
    stand.token("meta", "ig-revoked", scopes=list(META_SCOPES), valid=False)
    tokens = [{"name": "main", "token": stand.instagram_token}, {"name": "narrow", "token": "ig-narrow"}, {"name": "soon", "token": "ig-soon"},
              {"name": "revoked", "token": "ig-revoked"}, {"name": "unknown", "token": "ig-never-issued"}]
    report = token_report(client_from_params(stand.options("meta")), tokens, None, 1.0)
    assert report["required_from"] == "the app's requested scopes" and report["failing"] == ["narrow", "soon", "revoked", "unknown"]
    lines = {line["name"]: line for line in report["tokens"]}
    assert lines["main"]["ok"] and lines["main"]["days_left"] > 59
    assert lines["narrow"]["missing_scopes"] == sorted(set(META_SCOPES) - {"instagram_basic"})
    assert "expires in" in lines["soon"]["problems"][0] and not lines["revoked"]["valid"]
    assert not stand.leaks(report)


def test_tiktok_tokens_are_introspected_against_the_scopes_asked_for(stand):
    stand.token("tiktok", "act.expired", scopes=list(TIKTOK_SCOPES), expires_at=int(time.time()) - 10)
    report = token_report(client_from_params(stand.options("tiktok")), [{"name": "main", "token": stand.tiktok_token},
                                                                        {"name": "old", "token": "act.expired"}], ["video.publish", "video.list"], 0)
    main, old = report["tokens"]
    assert main["valid"] and main["missing_scopes"] == ["video.list"] and not old["valid"] and report["failing"] == ["main", "old"]
    assert not stand.leaks(report)


@pytest.mark.parametrize("tokens", [[], [{"name": "a", "token": "x"}, {"name": "a", "token": "y"}], [{"name": "a", "token": ""}]])
def test_bad_token_lists_are_refused_before_anything_is_sent(stand, tokens):
    with pytest.raises(InputError) as caught:
        token_report(client_from_params(stand.options("meta")), tokens, None, 1)
    assert caught.value.option == "accounts"


def test_a_token_report_line_judges_expiry_against_the_minimum():
    line = TokenInfo(True, ("a",), expires_at=1000 + 86400).report("t", ["a"], 2, now=1000)
    assert line["days_left"] == 1 and line["problems"] == ["expires in 1 days (minimum 2)"]
    assert TokenInfo(True, ("a",), 0).report("t", ["a"], 2, now=1000)["ok"]


def kind_params(stand, **meta):
    return {"platform_apps": {"meta": {"app_id": META_APP_ID, "app_secret": stand.meta_secret, "api_url": stand.url, "verify_token": VERIFY, **meta},
                              "tiktok": {"app_id": TIKTOK_CLIENT_KEY, "app_secret": stand.tiktok_secret, "api_url": stand.url},
                              "timeout": 5.0, "validate_certs": True}}


def test_the_kind_is_registered_and_scoped(stand):
    assert kinds.EXTERNAL["platform_apps"] is KIND and "platform_apps" in kinds.EXTERNAL_SPEC
    assert KIND.scope(kind_params(stand)) == f"platforms meta {stand.url} app {META_APP_ID}, tiktok {stand.url} app {TIKTOK_CLIENT_KEY}"


def change_both(stand):
    moved = {"instagram": {"callback_url": "https://evil.example/m", "fields": ["comments"]}}
    set_app(client_from_params(stand.options("meta"), VERIFY), {"subscriptions": moved, "scopes": ["instagram_basic"]})
    set_app(client_from_params(stand.options("tiktok")), {"webhook_url": "https://hooks-staging.ofm.social/tiktok", "redirect_uris": []})


def test_snapshot_change_restore_equal_then_nothing_to_restore(stand):
    section = KIND.build(kind_params(stand)).read()
    assert not stand.leaks(section) and set(section) == {f"meta {META_APP_ID}", f"tiktok {TIKTOK_CLIENT_KEY}"}
    change_both(stand)
    applier = KIND.build(kind_params(stand))
    report = plan.restore(plan.make_plan({"platform_apps": applier}, {"platform_apps": section}), {"platform_apps": applier})
    assert report.result("platform_apps").restored == (f"meta {META_APP_ID}", f"tiktok {TIKTOK_CLIENT_KEY}")
    assert KIND.build(kind_params(stand)).read() == section
    again = KIND.build(kind_params(stand))
    second = plan.restore(plan.make_plan({"platform_apps": again}, {"platform_apps": section}), {"platform_apps": again})
    assert not second.changed and again.clients[f"tiktok {TIKTOK_CLIENT_KEY}"].calls == [] and again.clients[f"meta {META_APP_ID}"].calls == []


def test_check_mode_restore_writes_nothing(stand):
    section = KIND.build(kind_params(stand)).read()
    change_both(stand)
    http_writes = len(stand.writes())
    applier = KIND.build(kind_params(stand))
    report = plan.restore(plan.make_plan({"platform_apps": applier}, {"platform_apps": section}), {"platform_apps": applier}, check_mode=True)
    assert report.result("platform_apps").status == plan.PLANNED
    assert [entry["path"] for entry in stand.writes()[http_writes:]] == ["/v2/oauth/token/"]


def test_a_restore_that_fails_half_way_says_what_was_restored_and_a_rerun_completes_it(stand):
    section = KIND.build(kind_params(stand)).read()
    change_both(stand)
    applier = KIND.build(kind_params(stand))
    made = plan.make_plan({"platform_apps": applier}, {"platform_apps": section})
    stand.fault(status=400, count=1, paths=[f"/v2/apps/{TIKTOK_CLIENT_KEY}/settings/"])
    failed = plan.restore(made, {"platform_apps": applier}).result("platform_apps")
    assert failed.status == plan.FAILED and failed.restored == (f"meta {META_APP_ID}",) and failed.not_restored == (f"tiktok {TIKTOK_CLIENT_KEY}",)
    assert not stand.leaks(failed.as_dict())
    rerun = KIND.build(kind_params(stand))
    assert plan.restore(plan.make_plan({"platform_apps": rerun}, {"platform_apps": section}), {"platform_apps": rerun}).result(
        "platform_apps").restored == (f"tiktok {TIKTOK_CLIENT_KEY}",)
    assert KIND.build(kind_params(stand)).read() == section


def test_a_snapshot_of_another_app_is_refused_before_anything_is_written(stand):
    section = KIND.build(kind_params(stand)).read()
    other = {"meta 2000000000000002": section[f"meta {META_APP_ID}"]}
    with pytest.raises(NotFoundError):
        plan.make_plan({"platform_apps": KIND.build(kind_params(stand))}, {"platform_apps": other})
    assert stand.writes() == [] or all(entry["path"] == "/v2/oauth/token/" for entry in stand.writes())


@pytest.fixture(name="process")
def fixture_process(tmp_path, monkeypatch):
    seeded = lab_seed()
    monkeypatch.setenv(SEED_VARIABLE, json.dumps(seeded))
    service = LabService("platforms", log=tmp_path / "platforms.log")
    yield service, seeded
    if service.process.poll() is None:
        os.kill(service.process.pid, signal.SIGCONT)
    service.stop()


def process_options(service, seeded, **extra):
    return {"platform": "meta", "api_url": service.url, "app_id": META_APP_ID, "app_secret": seeded["meta"]["app_secret"], "validate_certs": True,
            "ca_path": None, "retries": 1, "timeout": 1.0, **extra}


def test_a_stopped_stand_in_is_unavailable_and_nothing_was_sent(process):
    service, seeded = process
    client = client_from_params(process_options(service, seeded))
    assert client.read_app()["scopes"]
    service.stop()
    with pytest.raises(UnavailableError) as caught:
        client_from_params(process_options(service, seeded)).read_app()
    assert caught.value.sent is False and seeded["meta"]["app_secret"] not in json.dumps(caught.value.to_result(), default=str)


def test_a_frozen_stand_in_times_out(process):
    service, seeded = process
    os.kill(service.process.pid, signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(UnavailableError) as caught:
        client_from_params(process_options(service, seeded, retries=0)).read_app()
    assert time.monotonic() - started < 10 and caught.value.sent is True
    assert seeded["meta"]["app_secret"] not in json.dumps(caught.value.to_result(), default=str)


def test_an_unreachable_platform_is_unavailable():
    with pytest.raises(UnavailableError):
        client_from_params({"platform": "tiktok", "api_url": f"http://127.0.0.1:{free_port()}", "app_id": TIKTOK_CLIENT_KEY, "app_secret": "s",
                            "validate_certs": True, "ca_path": None, "retries": 0, "timeout": 1.0}).read_app()
