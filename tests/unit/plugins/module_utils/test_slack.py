# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Slack clients against a local fake Slack (webhooks and Web API) served from a thread."""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

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
    SlackMessage,
    SlackNotifier,
    normalize_ts,
    plan_delivery,
    resolve_method,
    split_webhook_url,
)

TOKEN = "xoxb-unit-7f3a9c1e5d"
WEBHOOK_SECRET = "hookSecretZ9y8x7w6"
WEBHOOK_PATH = f"/services/TUNIT000/BUNIT000/{WEBHOOK_SECRET}"
CHANNEL_ID = "C0OPSALRT"


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeService:
    """A local HTTP service: answers scripted replies first, then ``answer()``; records every request it receives."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.scripted: list[Reply] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                request = Received(self.command, self.path, dict(self.headers), json.loads(raw) if raw.startswith(("{", "[")) else raw)
                service.received.append(request)
                reply = service.scripted.pop(0) if service.scripted else service.answer(request)
                if reply.delay:
                    time.sleep(reply.delay)
                is_json = isinstance(reply.body, (dict, list))
                payload = (json.dumps(reply.body) if is_json else str(reply.body or "")).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8" if is_json else "text/html")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def script(self, *replies: Reply) -> None:
        self.scripted = list(replies)

    def answer(self, request: Received) -> Reply:
        raise NotImplementedError

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeSlack(FakeService):
    """Slack's incoming webhook at ``WEBHOOK_PATH`` and the Web API's chat.postMessage / chat.update for ``TOKEN``."""

    def __init__(self) -> None:
        self._ts = 1700000000_000000
        super().__init__()

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def answer(self, request: Received) -> Reply:
        if request.path == WEBHOOK_PATH:
            return Reply(200, "ok")
        if request.path.startswith("/services/"):
            return Reply(404, "no_service")
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        if request.path == "/api/chat.update":
            return Reply(200, {"ok": True, "channel": CHANNEL_ID, "ts": request.body["ts"], "text": request.body.get("text")})
        self._ts += 1
        ts = f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"
        message = {"type": "message", "text": request.body.get("text"), "ts": ts}
        if request.body.get("thread_ts"):
            message["thread_ts"] = request.body["thread_ts"]
        return Reply(200, {"ok": True, "channel": CHANNEL_ID, "ts": ts, "message": message})


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(name="slack")
def fixture_slack():
    server = FakeSlack()
    yield server
    server.close()


@pytest.fixture(name="sleeps")
def fixture_sleeps():
    return Sleeps()


def http_options(**overrides: Any) -> dict[str, Any]:
    return {"validate_certs": True, "ca_path": None, "timeout": 5.0, "retries": 2, **overrides}


def api_notifier(slack: FakeSlack, sleeps: Sleeps, token: str = TOKEN, **options: Any) -> SlackNotifier:
    return SlackNotifier("api", token=token, api_url=slack.api_url, http_options=http_options(**options), sleep=sleeps)


def webhook_notifier(url: str, sleeps: Sleeps, **options: Any) -> SlackNotifier:
    return SlackNotifier("webhook", webhook_url=url, http_options=http_options(**options), sleep=sleeps)


def post(notifier: SlackNotifier, **message: Any):
    return notifier.send(notifier.plan(SlackMessage(**message)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_api_post_sends_token_and_json_and_returns_ts(slack, sleeps):
    delivery = post(api_notifier(slack, sleeps), channel="#ops-alerts", text="Rollback started", blocks=[{"type": "divider"}])
    request = slack.received[0]
    assert (request.method, request.path) == ("POST", "/api/chat.postMessage")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.body == {"channel": "#ops-alerts", "text": "Rollback started", "blocks": [{"type": "divider"}]}
    assert delivery.delivered is True
    assert delivery.ts == "1700000000.000001"
    assert delivery.channel == CHANNEL_ID
    assert delivery.thread_ts is None


def test_api_thread_reply_and_update(slack, sleeps):
    notifier = api_notifier(slack, sleeps)
    reply = post(notifier, channel=CHANNEL_ID, text="Traffic on stable", thread_ts="1700000000.1")
    assert slack.received[0].body["thread_ts"] == "1700000000.100000"
    assert reply.thread_ts == "1700000000.100000"
    edited = post(notifier, channel=CHANNEL_ID, text="Done", update_ts=reply.ts)
    assert slack.received[1].path == "/api/chat.update"
    assert slack.received[1].body == {"channel": CHANNEL_ID, "text": "Done", "ts": reply.ts}
    assert edited.ts == reply.ts and edited.operation == "chat.update"


@pytest.mark.parametrize("code, error_class, words", [
    ("invalid_auth", AuthenticationError, "Slack does not accept the token"),
    ("not_authed", AuthenticationError, "no token was sent"),
    ("channel_not_found", NotFoundError, "private channels need the bot invited"),
    ("thread_not_found", NotFoundError, "thread_ts is not the ts of a message"),
    ("not_in_channel", AuthorizationError, "/invite"),
])
def test_api_errors_map_to_clear_exceptions(slack, sleeps, code, error_class, words):
    slack.script(Reply(200, {"ok": False, "error": code}))
    with pytest.raises(error_class) as caught:
        post(api_notifier(slack, sleeps), channel="#ops-alerts", text="x")
    message = str(caught.value)
    assert message.startswith(f"Slack Web API: chat.postMessage on #ops-alerts failed: {code}: ")
    assert words in message
    assert caught.value.fields()["details"]["error"] == code
    assert len(slack.received) == 1


def test_wrong_token_is_never_shown(slack, sleeps):
    wrong = "xoxb-wrong-0a1b2c3d4e"
    notifier = api_notifier(slack, sleeps, token=wrong)
    with pytest.raises(AuthenticationError) as caught:
        post(notifier, channel="#ops-alerts", text=f"token is {wrong}")
    assert slack.received[0].headers["Authorization"] == f"Bearer {wrong}"
    shown = json.dumps([str(caught.value), caught.value.fields(), notifier.http.requests, notifier.http.redact(slack.received[0].body)])
    assert wrong not in shown


def test_missing_scope_names_the_scopes(slack, sleeps):
    slack.script(Reply(200, {"ok": False, "error": "missing_scope", "needed": "chat:write", "provided": "channels:read"}))
    with pytest.raises(AuthorizationError) as caught:
        post(api_notifier(slack, sleeps), channel="#ops-alerts", text="x")
    assert "(needs chat:write, has channels:read)" in str(caught.value)


def test_unknown_api_error_points_at_the_method_docs(slack, sleeps):
    slack.script(Reply(200, {"ok": False, "error": "brand_new_error"}))
    with pytest.raises(OfmRollbackError) as caught:
        post(api_notifier(slack, sleeps), channel="#ops-alerts", text="x")
    assert "brand_new_error: Slack refused the message" in str(caught.value)
    assert "https://api.slack.com/methods/chat.postMessage" in str(caught.value)


def test_429_waits_for_retry_after_then_posts_once(slack, sleeps):
    slack.script(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}))
    notifier = api_notifier(slack, sleeps)
    delivery = post(notifier, channel="#ops-alerts", text="x")
    assert delivery.delivered is True
    assert sleeps.waits == [3.0]
    assert [request.path for request in slack.received] == ["/api/chat.postMessage"] * 2
    assert [entry["status"] for entry in notifier.http.requests] == [429, 200]


def test_429_gives_up_after_the_retries(slack, sleeps):
    slack.script(*[Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})] * 3)
    notifier = api_notifier(slack, sleeps, retries=2)
    with pytest.raises(UnavailableError) as caught:
        post(notifier, channel="#ops-alerts", text="x")
    assert caught.value.attempts == 3 and caught.value.sent is False
    assert sleeps.waits == [1.0, 1.0]
    assert "refused the request without processing it" in str(caught.value)
    assert [entry["status"] for entry in notifier.http.requests] == [429, 429, 429]


def test_429_asking_for_a_long_wait_is_not_waited_for(slack, sleeps):
    slack.script(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "600"}))
    with pytest.raises(UnavailableError) as caught:
        post(api_notifier(slack, sleeps), channel="#ops-alerts", text="x")
    assert sleeps.waits == []
    assert "the server asked to retry after 600s" in str(caught.value)
    assert len(slack.received) == 1


def test_webhook_429_waits_for_retry_after_then_posts_once(slack, sleeps):
    slack.script(Reply(429, "rate_limited", {"Retry-After": "2"}))
    notifier = webhook_notifier(slack.webhook_url, sleeps)
    assert post(notifier, text="x").delivered is True
    assert sleeps.waits == [2.0]
    assert [request.path for request in slack.received] == [WEBHOOK_PATH] * 2


def test_500_is_reported_not_retried(slack, sleeps):
    slack.script(Reply(500, {"ok": False, "error": "internal_error"}))
    notifier = api_notifier(slack, sleeps, retries=3)
    with pytest.raises(UnavailableError) as caught:
        post(notifier, channel="#ops-alerts", text="x")
    assert len(slack.received) == 1
    assert sleeps.waits == []
    assert caught.value.status == 500 and caught.value.sent is True
    assert "may have reached the server" in str(caught.value)


def test_read_timeout_on_a_post_is_not_retried(slack, sleeps):
    slack.script(Reply(200, {"ok": True, "ts": "1.000001"}, delay=1.0))
    with pytest.raises(UnavailableError) as caught:
        post(api_notifier(slack, sleeps, timeout=0.2, retries=3), channel="#ops-alerts", text="x")
    assert "no response within the read timeout" in str(caught.value)
    assert len(slack.received) == 1


def test_connect_refused_is_retried_then_reported(sleeps):
    notifier = SlackNotifier("api", token=TOKEN, api_url=f"http://127.0.0.1:{free_port()}/api", http_options=http_options(retries=2),
                             sleep=sleeps)
    with pytest.raises(UnavailableError) as caught:
        post(notifier, channel="#ops-alerts", text="x")
    assert caught.value.attempts == 3
    assert len(notifier.http.requests) == 3
    assert sleeps.waits == [0.5, 1.0]
    assert "could not connect" in str(caught.value)


def test_webhook_posts_payload_to_the_path(slack, sleeps):
    notifier = webhook_notifier(slack.webhook_url, sleeps)
    delivery = post(notifier, text="Rollback done", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}],
                    channel="#ops-alerts", username="ofm-rollback")
    request = slack.received[0]
    assert (request.method, request.path) == ("POST", WEBHOOK_PATH)
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
def test_webhook_errors_hide_the_url_secret(slack, sleeps, reply, error_class, words):
    slack.script(reply)
    notifier = webhook_notifier(slack.webhook_url, sleeps)
    with pytest.raises(error_class) as caught:
        post(notifier, text="x")
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"Slack webhook: POST on {slack.url}/services/{REDACTED} failed")
    shown = json.dumps([str(caught.value), caught.value.fields(), notifier.http.requests])
    assert WEBHOOK_SECRET not in shown and "TUNIT000" not in shown


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
    ("auto", TOKEN, None, "api"),
    ("auto", TOKEN, "https://hooks.slack.com/services/T/B/X", "api"),
    ("auto", None, "https://hooks.slack.com/services/T/B/X", "webhook"),
    ("webhook", TOKEN, "https://hooks.slack.com/services/T/B/X", "webhook"),
])
def test_resolve_method(method, token, webhook_url, expected):
    assert resolve_method(method, token, webhook_url) == expected


@pytest.mark.parametrize("method, token, webhook_url, option", [
    ("api", None, "https://hooks.slack.com/services/T/B/X", "token"),
    ("auto", None, None, "webhook_url"),
    ("webhook", TOKEN, None, "webhook_url"),
])
def test_resolve_method_names_the_missing_option(method, token, webhook_url, option):
    with pytest.raises(InputError) as caught:
        resolve_method(method, token, webhook_url)
    assert caught.value.option == option


def test_split_webhook_url_keeps_the_secret_out_of_the_origin():
    origin, path, secrets = split_webhook_url(f"https://hooks.slack.com{WEBHOOK_PATH}")
    assert origin == "https://hooks.slack.com/"
    assert path == WEBHOOK_PATH.lstrip("/")
    assert secrets == [f"TUNIT000/BUNIT000/{WEBHOOK_SECRET}", WEBHOOK_SECRET]


@pytest.mark.parametrize("url", ["https://hooks.slack.com", "hooks.slack.com/services/T/B/X"])
def test_split_webhook_url_rejects_non_webhook_urls(url):
    with pytest.raises(InputError) as caught:
        split_webhook_url(url)
    assert caught.value.option == "webhook_url"
    assert "such as https://hooks.slack.com/services/T000/B000/XXXX" in str(caught.value)


def test_a_bad_api_url_shows_a_slack_example(sleeps):
    with pytest.raises(InputError) as caught:
        SlackNotifier("api", token=TOKEN, api_url="slack.com/api", http_options=http_options(), sleep=sleeps)
    assert caught.value.option == "api_url"
    assert caught.value.accepted == "a URL such as https://slack.com/api"
