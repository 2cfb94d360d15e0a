# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Slack: incoming webhooks and the Web API methods ``chat.postMessage`` and ``chat.update``.

Delivery rules, chosen so that a notification is never sent twice:

* connect errors are retried (``HttpClient``): nothing reached Slack;
* HTTP 429 is retried after its ``Retry-After`` (``HttpClient``): Slack refused the message unprocessed;
* HTTP 5xx and read timeouts are not retried: Slack may have posted the message, so the error says so.

The Web API answers HTTP 200 with ``{"ok": false, "error": "<code>"}`` for its errors; ``API_ERRORS`` turns the
codes into the collection's exceptions with a hint. Webhooks answer a text code with an HTTP 4xx status.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence
from urllib.parse import urlsplit, urlunsplit

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import http_client_kwargs, validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    DataError,
    InputError,
    NotFoundError,
    OfmRollbackError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.http import BearerAuth, HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.ledger import Ledger

DEFAULT_API_URL = "https://slack.com/api"
METHODS = ("auto", "webhook", "api")
WEBHOOK_SYSTEM = "Slack webhook"
API_SYSTEM = "Slack Web API"
JSON_UTF8 = {"Content-Type": "application/json; charset=utf-8"}
WEBHOOK_ANSWERED_STATUSES = (200, 400, 403, 404, 410)

_TS = re.compile(r"^(\d+)\.(\d{1,6})$")
_TOKEN_HINT = "Set token (or SLACK_BOT_TOKEN) to the bot token (xoxb-...) of a Slack app installed in the workspace."
WEBHOOK_ERRORS_URL = "https://api.slack.com/messaging/webhooks#handling_errors"
WEBHOOK_URL_EXAMPLE = "https://hooks.slack.com/services/T000/B000/XXXX"

# Slack error code -> (exception class, what it means, what to try next)
API_ERRORS: dict[str, tuple[type[OfmRollbackError], str, str]] = {
    "not_authed": (AuthenticationError, "no token was sent", _TOKEN_HINT),
    "invalid_auth": (AuthenticationError, "Slack does not accept the token", _TOKEN_HINT),
    "account_inactive": (AuthenticationError, "the token belongs to a deactivated user or app", _TOKEN_HINT),
    "token_revoked": (AuthenticationError, "the token was revoked", _TOKEN_HINT),
    "token_expired": (AuthenticationError, "the token expired", "Rotate the token, or use a bot token without expiry."),
    "invalid_token": (AuthenticationError, "the webhook's token is not valid", "Create a new incoming webhook and use its URL."),
    "missing_scope": (AuthorizationError, "the token lacks a scope the method needs",
                      "Add the chat:write scope to the Slack app and reinstall it in the workspace."),
    "not_allowed_token_type": (AuthorizationError, "this kind of token cannot call the method", _TOKEN_HINT),
    "no_permission": (AuthorizationError, "the app may not post there", "Check the app's permissions in the channel."),
    "restricted_action": (AuthorizationError, "a workspace setting forbids posting there", "Ask a workspace admin, or post to another channel."),
    "action_prohibited": (AuthorizationError, "a workspace admin restricted the webhook", "Ask a workspace admin, or post to another channel."),
    "not_in_channel": (AuthorizationError, "the bot is not a member of the channel",
                       "Invite the bot to the channel (/invite @<bot>), or add the chat:write.public scope for public channels."),
    "channel_not_found": (NotFoundError, "the channel does not exist or the bot cannot see it",
                          "Check the channel name or ID; private channels need the bot invited first."),
    "no_service": (NotFoundError, "the webhook URL is unknown to Slack (revoked or mistyped)", "Create a new incoming webhook and use its URL."),
    "no_team": (NotFoundError, "the webhook's workspace no longer exists", "Create a new incoming webhook and use its URL."),
    "no_service_id": (NotFoundError, "the webhook URL is incomplete", "Copy the whole incoming webhook URL from the Slack app's settings."),
    "team_disabled": (NotFoundError, "the workspace was disabled", "Use a webhook or token of an active workspace."),
    "thread_not_found": (NotFoundError, "thread_ts is not the ts of a message in that channel",
                         "Pass the ts that the first message returned, with the channel it was posted to."),
    "message_not_found": (NotFoundError, "update_ts is not the ts of a message in that channel",
                          "Pass the ts and the channel ID that the post of the message returned."),
    "cant_update_message": (AuthorizationError, "only messages this app posted can be updated", "Update a message the same token posted."),
    "edit_window_closed": (ConflictError, "the message is too old to be edited", "Post a new message instead."),
    "is_archived": (ConflictError, "the channel is archived", "Unarchive the channel, or post to another one."),
    "channel_is_archived": (ConflictError, "the channel is archived", "Unarchive the channel, or post to another one."),
    "no_text": (InputError, "the message has neither text nor blocks", "Set text, blocks, or both."),
    "invalid_payload": (InputError, "Slack cannot read the message", "Check text and blocks; blocks must follow Block Kit."),
    "invalid_blocks": (InputError, "Slack rejects the blocks", "Check blocks with Slack's Block Kit Builder."),
    "invalid_blocks_format": (InputError, "blocks is not a list of block objects", "Pass blocks as a list of Block Kit block objects."),
    "msg_too_long": (InputError, "the text is too long", "Keep text under 40,000 characters; move details to a link."),
    "too_many_attachments": (InputError, "the message has too many attachments", "Send fewer than 100 attachments."),
    "posting_to_general_channel_denied": (AuthorizationError, "only admins may post to the workspace's general channel",
                                          "Post to another channel."),
    "ratelimited": (UnavailableError, "Slack is rate limiting the app", "Send fewer messages, or run again in a minute."),
    "rate_limited": (UnavailableError, "Slack is rate limiting the app", "Send fewer messages, or run again in a minute."),
    "fatal_error": (UnavailableError, "Slack failed while handling the message, which may have been posted",
                    "Look in the channel before sending it again."),
    "internal_error": (UnavailableError, "Slack failed while handling the message, which may have been posted",
                       "Look in the channel before sending it again."),
    "service_unavailable": (UnavailableError, "Slack is unavailable", "Check https://slack-status.com and run again."),
}


@dataclass(frozen=True)
class SlackMessage:
    """What to post: ``text`` and/or ``blocks``, where, and optionally as a thread reply or an edit of ``update_ts``."""

    text: Optional[str] = None
    blocks: Optional[list[dict[str, Any]]] = None
    channel: Optional[str] = None
    thread_ts: Optional[str] = None
    update_ts: Optional[str] = None
    username: Optional[str] = None
    icon_emoji: Optional[str] = None


@dataclass
class Delivery:
    """One notification: how and what is sent, and what Slack answered (``ts`` and ``channel`` come from the Web API)."""

    method: str
    operation: str
    payload: dict[str, Any]
    channel: Optional[str] = None
    thread_ts: Optional[str] = None
    ts: Optional[str] = None
    delivered: bool = False
    warnings: list[str] = field(default_factory=list)


def normalize_ts(value: Any, option: str) -> Optional[str]:
    """A Slack message timestamp with its six decimals restored (YAML may have read ``1700000000.100000`` as a float)."""
    if value is None:
        return None
    match = _TS.match(str(value).strip())
    if not match:
        raise InputError(f"{option} {value!r} is not a Slack message timestamp", option=option, system="Slack",
                         accepted="the ts a message post returned, such as '1700000000.123456' (quote it in YAML)")
    return f"{match.group(1)}.{match.group(2).ljust(6, '0')}"


def resolve_method(method: str, token: Optional[str], webhook_url: Optional[str]) -> str:
    """``webhook`` or ``api``: ``auto`` picks the Web API when there is a token."""
    if method == "auto":
        method = "api" if token else "webhook"
    if method == "api" and not token:
        raise InputError("the Web API needs a bot token and none is set", option="token", system="Slack", hint=_TOKEN_HINT)
    if method == "webhook" and not webhook_url:
        raise InputError("no incoming webhook URL is set and there is no token for the Web API", option="webhook_url", system="Slack",
                         hint="Set webhook_url (or SLACK_WEBHOOK_URL), or token (or SLACK_BOT_TOKEN) to post with the Web API.")
    return method


def plan_delivery(message: SlackMessage, method: str) -> Delivery:
    """The payload ``method`` sends for ``message``, checked before anything is sent."""
    _check_blocks(message.blocks)
    thread_ts = normalize_ts(message.thread_ts, "thread_ts")
    update_ts = normalize_ts(message.update_ts, "update_ts")
    if method == "webhook":
        return _webhook_delivery(message, thread_ts, update_ts)
    if not message.channel:
        raise InputError("the Web API needs a channel to post to", option="channel", system="Slack",
                         accepted="a channel name such as '#ops-alerts', or a channel ID such as 'C0123456789'")
    common = _compact({"channel": message.channel, "text": message.text, "blocks": message.blocks})
    if update_ts:
        return Delivery("api", "chat.update", {**common, "ts": update_ts}, channel=message.channel, ts=update_ts)
    payload = {**common, **_compact({"thread_ts": thread_ts, "username": message.username, "icon_emoji": message.icon_emoji})}
    return Delivery("api", "chat.postMessage", payload, channel=message.channel, thread_ts=thread_ts)


def _webhook_delivery(message: SlackMessage, thread_ts: Optional[str], update_ts: Optional[str]) -> Delivery:
    if update_ts:
        raise InputError("an incoming webhook cannot edit a message", option="update_ts", system="Slack",
                         hint="Set token to use the Web API's chat.update, or drop update_ts to post a new message.")
    warnings: list[str] = []
    if thread_ts:
        warnings.append(f"Slack: thread_ts {thread_ts} is ignored: incoming webhooks cannot reply in a thread, so the message goes to the "
                        "channel itself. Set token to post the reply with the Web API.")
    payload = _compact({"text": message.text, "blocks": message.blocks, "channel": message.channel, "username": message.username,
                        "icon_emoji": message.icon_emoji})
    return Delivery("webhook", "incoming webhook", payload, channel=message.channel, warnings=warnings)


def _check_blocks(blocks: Optional[Sequence[Any]]) -> None:
    for index, block in enumerate(blocks or []):
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise InputError(f"blocks[{index}] is not a block object with a 'type'", option="blocks", system="Slack",
                             accepted="Block Kit blocks such as {'type': 'section', 'text': {'type': 'mrkdwn', 'text': '...'}}")


def _compact(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class SlackWebApi:
    """Calls Web API methods with a bot token and turns ``ok: false`` answers into exceptions."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def call(self, operation: str, payload: Mapping[str, Any], target: str) -> dict[str, Any]:
        """The answer of Web API method ``operation``; ``target`` (a channel) names what it acted on in errors."""
        response = self.http.request("POST", operation, json=dict(payload), headers=JSON_UTF8)
        body = response.body
        if not isinstance(body, dict) or "ok" not in body:
            raise DataError(f"the answer is not a Web API result: {self.http.redact(str(body))[:300]}", system=API_SYSTEM,
                            operation=operation, target=target, status=response.status,
                            hint="Check that api_url points at the Slack Web API, such as https://slack.com/api.")
        if body["ok"] is not True:
            raise slack_error(str(body.get("error") or "unknown_error"), body, system=API_SYSTEM, operation=operation,
                              target=target, status=response.status, docs=f"https://api.slack.com/methods/{operation}")
        return body

    def deliver(self, delivery: Delivery) -> None:
        """Post or update the message, and fill in the ``ts``, channel ID and thread Slack answered."""
        answer = self.call(delivery.operation, delivery.payload, delivery.channel or "")
        ts = answer.get("ts") or delivery.ts
        delivery.ts = str(ts) if ts else None
        delivery.channel = str(answer.get("channel") or delivery.channel)
        message = answer.get("message")
        if isinstance(message, dict) and message.get("thread_ts"):
            delivery.thread_ts = str(message["thread_ts"])


class SlackWebhook:
    """Posts to one incoming webhook; the URL's path is a secret and is never shown."""

    def __init__(self, http: HttpClient, path: str) -> None:
        self.http = http
        self._path = path

    def deliver(self, delivery: Delivery) -> None:
        response = self.http.request("POST", self._path, json=delivery.payload, headers=JSON_UTF8, expected=WEBHOOK_ANSWERED_STATUSES)
        if response.status != 200:
            code = str(response.body).strip() or f"http_{response.status}"
            raise slack_error(code, {}, system=WEBHOOK_SYSTEM, operation="POST", target=response.url, status=response.status,
                              docs=WEBHOOK_ERRORS_URL)


# pylint: disable-next=too-many-arguments
def slack_error(code: str, body: Mapping[str, Any], *, system: str, operation: str, target: str, status: int, docs: str) -> OfmRollbackError:
    """The exception for Slack error ``code``, with its meaning and what to try next (for unknown codes: see ``docs``)."""
    error_class, meaning, hint = API_ERRORS.get(code, (OfmRollbackError, "Slack refused the message", f"See the list of errors at {docs}."))
    reason = f"{code}: {meaning}"
    if body.get("needed"):
        reason += f" (needs {body['needed']}, has {body.get('provided') or 'none'})"
    details = {"error": code, **{key: body[key] for key in ("needed", "provided", "warning") if key in body}}
    return error_class(reason, system=system, operation=operation, target=target, status=status, hint=hint, details=details)


class SlackNotifier:
    """Plans and sends notifications through one sender: the Web API (``method`` ``api``) or an incoming webhook (``webhook``)."""

    def __init__(self, sender: SlackWebApi | SlackWebhook) -> None:
        self.method = "api" if isinstance(sender, SlackWebApi) else "webhook"
        self.http = sender.http
        self._sender = sender

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, sleep: Callable[[float], None] = time.sleep) -> "SlackNotifier":
        """A notifier from the module's ``method``, ``token``, ``webhook_url``, ``api_url`` and ``HTTP_CLIENT_SPEC`` options,
        validated; ``method: auto`` picks the Web API when there is a token."""
        method = resolve_method(params["method"], params["token"], params["webhook_url"])
        options = http_client_kwargs(params, "api_url" if method == "api" else "webhook_url")
        if method == "api":
            url = validated_url(params["api_url"], "api_url", example=DEFAULT_API_URL)
            return cls(SlackWebApi(HttpClient(url, auth=BearerAuth(params["token"]), system=API_SYSTEM, sleep=sleep, **options)))
        origin, path, secrets = split_webhook_url(params["webhook_url"])
        return cls(SlackWebhook(HttpClient(origin, system=WEBHOOK_SYSTEM, secrets=secrets, sleep=sleep, **options), path))

    def plan(self, message: SlackMessage) -> Delivery:
        return plan_delivery(message, self.method)

    def send(self, delivery: Delivery) -> Delivery:
        """Post ``delivery``; on success it is marked delivered (with Slack's ``ts`` and channel ID from the Web API)."""
        self._sender.deliver(delivery)
        delivery.delivered = True
        return delivery

    def send_once(self, delivery: Delivery, ledger: Ledger, key: str, check_mode: bool) -> str:
        """Post ``delivery`` unless ``ledger`` holds ``key`` (see ``Ledger.send_once``): ``sent``, ``would_send`` (check mode),
        ``unchanged`` (``delivery`` then carries the ``ts`` and channel posted before) or ``unknown`` (a run was stopped while
        posting it: it is not posted again)."""
        if check_mode:
            entry = ledger.load().entries.get(key) or {}
            status = {"sent": "unchanged", "sending": "unknown"}.get(entry.get("status"), "would_send")
        else:
            os.makedirs(os.path.dirname(os.path.abspath(ledger.path)), mode=0o700, exist_ok=True)
            with ledger:
                status, entry = ledger.send_once(key, lambda: self._kept(delivery), channel=delivery.channel)
        if status == "unchanged":
            delivery.delivered, delivery.ts = True, entry.get("ts")
            delivery.channel = entry.get("channel_id") or delivery.channel
        return status

    def _kept(self, delivery: Delivery) -> dict[str, Any]:
        self.send(delivery)
        return {"ts": delivery.ts, "channel_id": delivery.channel}


def split_webhook_url(url: str) -> tuple[str, str, list[str]]:
    """The webhook URL's origin (shown), its path (sent) and the secret parts to redact (``T.../B.../<secret>``)."""
    parts = urlsplit(validated_url(url, "webhook_url", example=WEBHOOK_URL_EXAMPLE))
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    secret = path.split("/services/", 1)[1] if "/services/" in path else path.lstrip("/")
    if not secret:
        raise InputError("webhook_url has no path, so it is not an incoming webhook URL", option="webhook_url", system="Slack",
                         accepted=f"the URL Slack shows for the webhook, such as {WEBHOOK_URL_EXAMPLE}")
    secrets = [secret, secret.rsplit("/", 1)[-1]]
    return urlunsplit((parts.scheme, parts.netloc, "/", "", "")), path.lstrip("/"), secrets


_INCIDENT_ID = re.compile(r"^INC-[0-9]+$")
_LEDGER_KEY = re.compile(r"^[a-z0-9_.-]+$")


def once_ledger(path: str, incident_id: Optional[str], key: Optional[str]) -> Ledger:
    """The notification ledger of ``notify``'s ``ledger`` option, after checking its incident id and key."""
    if not _INCIDENT_ID.match(incident_id or ""):
        raise InputError(f"{incident_id!r} is not an incident id", option="incident_id", accepted="INC- followed by digits, such as INC-1234")
    if not _LEDGER_KEY.match(key or ""):
        raise InputError(f"{key!r} is not a ledger key", option="ledger_key", accepted="lower-case letters, digits, _ . and -, such as ops-alerts.declared")
    return Ledger(path, str(incident_id), "slack")
