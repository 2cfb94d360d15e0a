# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Slack clients against a local fake Slack (webhooks and Web API) served from a thread."""
from __future__ import annotations

import json
from typing import Any

import pytest
from unithelpers import SLACK_CHANNEL_ID, SLACK_TOKEN, SLACK_WEBHOOK_PATH, SLACK_WEBHOOK_SECRET, FakeClock, FakeSlack, Reply, free_port

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError,
    AuthorizationError,
    InputError,
    NotFoundError,
    OfmRollbackError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.redact import REDACTED
from ansible_collections.ofm.rollback.plugins.module_utils.slack import (
    DEFAULT_API_URL,
    SlackMessage,
    SlackNotifier,
    normalize_ts,
    plan_delivery,
    resolve_method,
    split_webhook_url,
)


@pytest.fixture(name="clock")
def fixture_clock() -> FakeClock:
    return FakeClock()


def params(**overrides: Any) -> dict[str, Any]:
    """The notify module's connection options, as ``SlackNotifier.from_params`` reads them."""
    return {"method": "auto", "token": None, "webhook_url": None, "api_url": DEFAULT_API_URL, "validate_certs": True, "ca_path": None,
            "timeout": 5.0, "retries": 2, **overrides}


def api_notifier(slack: FakeSlack, clock: FakeClock, token: str = SLACK_TOKEN, **options: Any) -> SlackNotifier:
    return SlackNotifier.from_params(params(method="api", token=token, api_url=slack.api_url, **options), sleep=clock.sleep)


def webhook_notifier(url: str, clock: FakeClock, **options: Any) -> SlackNotifier:
    return SlackNotifier.from_params(params(method="webhook", webhook_url=url, **options), sleep=clock.sleep)


def post(notifier: SlackNotifier, **message: Any):
    return notifier.send(notifier.plan(SlackMessage(**message)))


def test_api_post_sends_token_and_json_and_returns_ts(slack, clock):
    delivery = post(api_notifier(slack, clock), channel="#ops-alerts", text="Rollback started", blocks=[{"type": "divider"}])
    request = slack.received[0]
    assert (request.method, request.path) == ("POST", "/api/chat.postMessage")
    assert request.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.body == {"channel": "#ops-alerts", "text": "Rollback started", "blocks": [{"type": "divider"}]}
    assert delivery.delivered is True
    assert delivery.ts == "1700000000.000001"
    assert delivery.channel == SLACK_CHANNEL_ID
    assert delivery.thread_ts is None


def test_api_thread_reply_and_update(slack, clock):
    notifier = api_notifier(slack, clock)
    reply = post(notifier, channel=SLACK_CHANNEL_ID, text="Traffic on stable", thread_ts="1700000000.1")
    assert slack.received[0].body["thread_ts"] == "1700000000.100000"
    assert reply.thread_ts == "1700000000.100000"
    edited = post(notifier, channel=SLACK_CHANNEL_ID, text="Done", update_ts=reply.ts)
    assert slack.received[1].path == "/api/chat.update"
    assert slack.received[1].body == {"channel": SLACK_CHANNEL_ID, "text": "Done", "ts": reply.ts}
    assert edited.ts == reply.ts and edited.operation == "chat.update"


@pytest.mark.parametrize("code, error_class, words", [
    ("invalid_auth", AuthenticationError, "Slack does not accept the token"),
    ("not_authed", AuthenticationError, "no token was sent"),
    ("channel_not_found", NotFoundError, "private channels need the bot invited"),
    ("thread_not_found", NotFoundError, "thread_ts is not the ts of a message"),
    ("not_in_channel", AuthorizationError, "/invite"),
])
def test_api_errors_map_to_clear_exceptions(slack, clock, code, error_class, words):
    slack.script(Reply(200, {"ok": False, "error": code}))
    with pytest.raises(error_class) as caught:
        post(api_notifier(slack, clock), channel="#ops-alerts", text="x")
    message = str(caught.value)
    assert message.startswith(f"Slack Web API: chat.postMessage on #ops-alerts failed: {code}: ")
    assert words in message
    assert caught.value.fields()["details"]["error"] == code
    assert len(slack.received) == 1


def test_wrong_token_is_never_shown(slack, clock):
    wrong = "xoxb-wrong-0a1b2c3d4e"
    notifier = api_notifier(slack, clock, token=wrong)
    with pytest.raises(AuthenticationError) as caught:
        post(notifier, channel="#ops-alerts", text=f"token is {wrong}")
    assert slack.received[0].headers["Authorization"] == f"Bearer {wrong}"
    shown = json.dumps([str(caught.value), caught.value.fields(), notifier.http.requests, notifier.http.redact(slack.received[0].body)])
    assert wrong not in shown


def test_missing_scope_names_the_scopes(slack, clock):
    slack.script(Reply(200, {"ok": False, "error": "missing_scope", "needed": "chat:write", "provided": "channels:read"}))
    with pytest.raises(AuthorizationError) as caught:
        post(api_notifier(slack, clock), channel="#ops-alerts", text="x")
    assert "(needs chat:write, has channels:read)" in str(caught.value)


def test_unknown_api_error_points_at_the_method_docs(slack, clock):
    slack.script(Reply(200, {"ok": False, "error": "brand_new_error"}))
    with pytest.raises(OfmRollbackError) as caught:
        post(api_notifier(slack, clock), channel="#ops-alerts", text="x")
    assert "brand_new_error: Slack refused the message" in str(caught.value)
    assert "https://api.slack.com/methods/chat.postMessage" in str(caught.value)


def test_429_waits_for_retry_after_then_posts_once(slack, clock):
    slack.script(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}))
    notifier = api_notifier(slack, clock)
    delivery = post(notifier, channel="#ops-alerts", text="x")
    assert delivery.delivered is True
    assert clock.sleeps == [3.0]
    assert [request.path for request in slack.received] == ["/api/chat.postMessage"] * 2
    assert [entry["status"] for entry in notifier.http.requests] == [429, 200]


def test_429_gives_up_after_the_retries(slack, clock):
    slack.script(*[Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})] * 3)
    notifier = api_notifier(slack, clock, retries=2)
    with pytest.raises(UnavailableError) as caught:
        post(notifier, channel="#ops-alerts", text="x")
    assert caught.value.attempts == 3 and caught.value.sent is False
    assert clock.sleeps == [1.0, 1.0]
    assert "refused the request without processing it" in str(caught.value)
    assert [entry["status"] for entry in notifier.http.requests] == [429, 429, 429]


def test_429_asking_for_a_long_wait_is_not_waited_for(slack, clock):
    slack.script(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "600"}))
    with pytest.raises(UnavailableError) as caught:
        post(api_notifier(slack, clock), channel="#ops-alerts", text="x")
    assert clock.sleeps == []
    assert "the server asked to retry after 600s" in str(caught.value)
    assert len(slack.received) == 1


def test_webhook_429_waits_for_retry_after_then_posts_once(slack, clock):
    slack.script(Reply(429, "rate_limited", {"Retry-After": "2"}))
    notifier = webhook_notifier(slack.webhook_url, clock)
    assert post(notifier, text="x").delivered is True
    assert clock.sleeps == [2.0]
    assert [request.path for request in slack.received] == [SLACK_WEBHOOK_PATH] * 2


def test_500_is_reported_not_retried(slack, clock):
    slack.script(Reply(500, {"ok": False, "error": "internal_error"}))
    notifier = api_notifier(slack, clock, retries=3)
    with pytest.raises(UnavailableError) as caught:
        post(notifier, channel="#ops-alerts", text="x")
    assert len(slack.received) == 1
    assert clock.sleeps == []
    assert caught.value.status == 500 and caught.value.sent is True
    assert "may have reached the server" in str(caught.value)


def test_read_timeout_on_a_post_is_not_retried(slack, clock):
    slack.script(Reply(200, {"ok": True, "ts": "1.000001"}, delay=1.0))
    with pytest.raises(UnavailableError) as caught:
        post(api_notifier(slack, clock, timeout=0.2, retries=3), channel="#ops-alerts", text="x")
    assert "no response within the read timeout" in str(caught.value)
    assert len(slack.received) == 1


def test_connect_refused_is_retried_then_reported(clock):
    notifier = SlackNotifier.from_params(params(method="api", token=SLACK_TOKEN, api_url=f"http://127.0.0.1:{free_port()}/api"),
                                         sleep=clock.sleep)
    with pytest.raises(UnavailableError) as caught:
        post(notifier, channel="#ops-alerts", text="x")
    assert caught.value.attempts == 3
    assert len(notifier.http.requests) == 3
    assert clock.sleeps == [0.5, 1.0]
    assert "could not connect" in str(caught.value)


def test_webhook_posts_payload_to_the_path(slack, clock):
    notifier = webhook_notifier(slack.webhook_url, clock)
    delivery = post(notifier, text="Rollback done", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}],
                    channel="#ops-alerts", username="ofm-rollback")
    request = slack.received[0]
    assert (request.method, request.path) == ("POST", SLACK_WEBHOOK_PATH)
    assert "Authorization" not in request.headers
    assert request.body == {"text": "Rollback done", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}],
                            "channel": "#ops-alerts", "username": "ofm-rollback"}
    assert delivery.delivered is True and delivery.ts is None and delivery.method == "webhook"
    assert notifier.http.requests[0]["url"] == f"{slack.url}/services/{REDACTED}"


@pytest.mark.parametrize("reply, error_class, words", [
    (Reply(404, "no_service"), NotFoundError, "Create a new incoming webhook"),
    (Reply(400, "invalid_payload"), InputError, "Slack cannot read the message"),
    (Reply(410, "channel_is_archived"), OfmRollbackError, "the channel is archived"),
    (Reply(403, "something_else"), OfmRollbackError,
     "something_else: Slack refused the message. See the list of errors at https://api.slack.com/messaging/webhooks#handling_errors"),
])
def test_webhook_errors_hide_the_url_secret(slack, clock, reply, error_class, words):
    slack.script(reply)
    notifier = webhook_notifier(slack.webhook_url, clock)
    with pytest.raises(error_class) as caught:
        post(notifier, text="x")
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"Slack webhook: POST on {slack.url}/services/{REDACTED} failed")
    shown = json.dumps([str(caught.value), caught.value.fields(), notifier.http.requests])
    assert SLACK_WEBHOOK_SECRET not in shown and "TUNIT000" not in shown


def test_webhook_refuses_thread_replies_with_a_warning():
    delivery = plan_delivery(SlackMessage(text="x", thread_ts="1700000000.000001", channel="#ops-alerts"), "webhook")
    assert "thread_ts" not in delivery.payload
    assert len(delivery.warnings) == 1
    assert "incoming webhooks cannot reply in a thread" in delivery.warnings[0]


def test_webhook_cannot_edit():
    with pytest.raises(InputError) as caught:
        plan_delivery(SlackMessage(text="x", update_ts="1700000000.000001"), "webhook")
    assert caught.value.option == "update_ts"


def test_api_needs_a_channel():
    with pytest.raises(InputError) as caught:
        plan_delivery(SlackMessage(text="x"), "api")
    assert caught.value.option == "channel"


def test_blocks_must_be_block_objects():
    with pytest.raises(InputError) as caught:
        plan_delivery(SlackMessage(channel="#a", blocks=[{"type": "divider"}, {"text": "no type"}]), "api")
    assert "blocks[1]" in str(caught.value)


@pytest.mark.parametrize("value, expected", [
    ("1700000000.123456", "1700000000.123456"),
    ("1700000000.1", "1700000000.100000"),
    (1700000000.25, "1700000000.250000"),
    (None, None),
])
def test_normalize_ts_restores_six_decimals(value, expected):
    assert normalize_ts(value, "thread_ts") == expected


@pytest.mark.parametrize("value", ["yesterday", "1700000000", "1700000000.1234567"])
def test_normalize_ts_rejects_other_values(value):
    with pytest.raises(InputError) as caught:
        normalize_ts(value, "thread_ts")
    assert caught.value.option == "thread_ts"


@pytest.mark.parametrize("method, token, webhook_url, expected", [
    ("auto", SLACK_TOKEN, None, "api"),
    ("auto", SLACK_TOKEN, "https://hooks.slack.com/services/T/B/X", "api"),
    ("auto", None, "https://hooks.slack.com/services/T/B/X", "webhook"),
    ("webhook", SLACK_TOKEN, "https://hooks.slack.com/services/T/B/X", "webhook"),
])
def test_resolve_method(method, token, webhook_url, expected):
    assert resolve_method(method, token, webhook_url) == expected


@pytest.mark.parametrize("method, token, webhook_url, option", [
    ("api", None, "https://hooks.slack.com/services/T/B/X", "token"),
    ("auto", None, None, "webhook_url"),
    ("webhook", SLACK_TOKEN, None, "webhook_url"),
])
def test_resolve_method_names_the_missing_option(method, token, webhook_url, option):
    with pytest.raises(InputError) as caught:
        resolve_method(method, token, webhook_url)
    assert caught.value.option == option


def test_split_webhook_url_keeps_the_secret_out_of_the_origin():
    origin, path, secrets = split_webhook_url(f"https://hooks.slack.com{SLACK_WEBHOOK_PATH}")
    assert origin == "https://hooks.slack.com/"
    assert path == SLACK_WEBHOOK_PATH.lstrip("/")
    assert secrets == [f"TUNIT000/BUNIT000/{SLACK_WEBHOOK_SECRET}", SLACK_WEBHOOK_SECRET]


@pytest.mark.parametrize("url", ["https://hooks.slack.com", "hooks.slack.com/services/T/B/X"])
def test_split_webhook_url_rejects_non_webhook_urls(url):
    with pytest.raises(InputError) as caught:
        split_webhook_url(url)
    assert caught.value.option == "webhook_url"
    assert "such as https://hooks.slack.com/services/T000/B000/XXXX" in str(caught.value)


def test_a_bad_api_url_shows_a_slack_example(clock):
    with pytest.raises(InputError) as caught:
        SlackNotifier.from_params(params(method="api", token=SLACK_TOKEN, api_url="slack.com/api"), sleep=clock.sleep)
    assert caught.value.option == "api_url"
    assert caught.value.accepted == "a URL such as https://slack.com/api"


def test_from_params_builds_the_sender_the_method_resolves_to(clock):
    api = SlackNotifier.from_params(params(token=SLACK_TOKEN, webhook_url=f"https://hooks.slack.com{SLACK_WEBHOOK_PATH}", retries=0),
                                    sleep=clock.sleep)
    assert (api.method, api.http.base_url, api.http._limits.retries) == ("api", "https://slack.com/api/", 0)
    webhook = SlackNotifier.from_params(params(webhook_url=f"https://hooks.slack.com{SLACK_WEBHOOK_PATH}"), sleep=clock.sleep)
    assert (webhook.method, webhook.http.base_url) == ("webhook", "https://hooks.slack.com/")
    assert SLACK_WEBHOOK_SECRET not in webhook.http.redact(f"https://hooks.slack.com{SLACK_WEBHOOK_PATH}")
    with pytest.raises(InputError) as caught:
        SlackNotifier.from_params(params(token=SLACK_TOKEN, timeout=0.0))
    assert caught.value.option == "timeout"
