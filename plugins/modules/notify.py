#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: notify
short_description: Post a rollback notification to Slack without ever blocking the rollback
version_added: 0.1.0
description:
  - Posts a message to Slack through an incoming webhook, or through the Web API (C(chat.postMessage)) with a bot token.
  - With the Web API the module can reply in a thread (O(thread_ts)) and edit a message it posted (O(update_ts), C(chat.update)),
    and it returns the message's RV(ts) so that later tasks can reply to it or edit it.
  - A failed delivery warns and returns RV(delivered=false) with the reason in RV(error), so a notification never stops a
    rollback; set O(required=true) to fail the task instead.
  - "Nothing is sent twice: connection failures and HTTP 429 (Slack refused the request) are retried, after the
    C(Retry-After) that Slack asks for; an HTTP 5xx or a missing answer is reported and not retried, since Slack may have
    posted the message."
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - requests >= 2.31.0
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_slack
  - ofm.rollback.http_client
options:
  method:
    description:
      - How to post.
      - V(auto) uses the Web API when a O(token) is set, else the incoming webhook O(webhook_url).
      - V(webhook) posts to O(webhook_url). V(api) calls the Web API at O(api_url) with O(token).
    type: str
    choices: [auto, webhook, api]
    default: auto
  webhook_url:
    description:
      - URL of a Slack incoming webhook, such as C(https://hooks.slack.com/services/T000/B000/XXXX).
      - Anyone with the URL can post to the channel. Its path is redacted from every result, warning and error.
      - If not set, the value of the E(SLACK_WEBHOOK_URL) environment variable is used.
      - This value is a secret and is never logged.
    type: str
  token:
    description:
      - Bot token (C(xoxb-...)) of a Slack app with the C(chat:write) scope, for the Web API.
      - If not set, the value of the E(SLACK_BOT_TOKEN) environment variable is used.
      - This value is a secret and is never logged.
    type: str
  api_url:
    description:
      - Base URL of the Slack Web API.
    type: str
    default: https://slack.com/api
  channel:
    description:
      - Channel to post to, by name (V(#ops-alerts)) or ID (V(C0123456789)). Required with the Web API.
      - O(update_ts) needs the channel ID, which RV(channel) returns after a post.
      - Incoming webhooks of current Slack apps always post to the channel chosen when the webhook was created and ignore
        this value.
    type: str
  text:
    description:
      - Message text in Slack C(mrkdwn).
      - With O(blocks), the text is the fallback shown in notifications.
      - At least one of O(text) and O(blocks) is required.
    type: str
  blocks:
    description:
      - Block Kit blocks of the message, each a dictionary with a C(type).
    type: list
    elements: dict
  thread_ts:
    description:
      - Post the message as a reply in the thread of the message with this C(ts) (RV(ts) of an earlier post to the same channel).
      - Only the Web API can reply in a thread. An incoming webhook posts the message to the channel itself, with a warning.
      - Quote the value in YAML, so that it stays a string with its six decimals.
    type: str
  update_ts:
    description:
      - Edit the message with this C(ts) (C(chat.update)) instead of posting a new one. Needs the Web API.
      - Mutually exclusive with O(thread_ts).
    type: str
  username:
    description:
      - Name shown as the sender, where Slack allows it (Web API with the C(chat:write.customize) scope, legacy webhooks).
    type: str
  icon_emoji:
    description:
      - Emoji shown as the sender's icon, such as V(:rotating_light:), where Slack allows it.
    type: str
  ledger:
    description:
      - Post the message once per incident - the notification ledger (a JSON file, as M(ofm.rollback.incident_comms) keeps,
        such as C(<record_dir>/<incident_id>/comms.json)) that records it under O(ledger_key), C(sending) before it leaves and
        C(sent) with its RV(ts) after.
      - A key the ledger holds as sent is not posted again - RV(status) V(unchanged), RV(delivered) true and RV(ts) of the
        first post (a re-run after a crash keeps threading under it). A key left C(sending) by a run that was killed while
        posting, or by an answer after which Slack may have posted it, is RV(status) V(unknown) and not posted again (look in
        the channel; remove the entry to post it).
      - Needs O(ledger_key) and O(incident_id). Only posts, not edits (O(update_ts)), are kept in a ledger.
    type: path
  ledger_key:
    description:
      - The message's key in O(ledger), such as C(ops-alerts.declared) - lower-case letters, digits, C(_), C(.) and C(-).
    type: str
  incident_id:
    description:
      - The incident the O(ledger) belongs to, C(INC-<digits>).
    type: str
  required:
    description:
      - V(false) turns a failed delivery into a warning with RV(delivered=false), so the play goes on.
      - V(true) fails the task when the message cannot be delivered.
      - Errors in the module's own options (types, choices) always fail the task.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Nothing is sent; the module checks the options and returns the RV(payload) it would send.
  diff_mode:
    support: none
    description: A message is posted, nothing is changed that could be compared.
notes:
  - Posting is not idempotent without O(ledger); every run outside check mode posts a message (or edits one with O(update_ts)).
  - RV(ts) is only known with the Web API; incoming webhooks answer nothing but C(ok).
seealso:
  - name: chat.postMessage
    description: The Web API method that posts a message.
    link: https://api.slack.com/methods/chat.postMessage
  - name: Incoming webhooks
    description: How to create a webhook URL.
    link: https://api.slack.com/messaging/webhooks
"""

EXAMPLES = r"""
- name: Announce the rollback in the alerts channel
  ofm.rollback.notify:
    token: "{{ ofm_slack_bot_token }}"
    channel: "#ops-alerts"
    text: ":rotating_light: Emergency rollback of ofm-social-os started ({{ rollback_incident_id }})"
  register: rollback_announcement

- name: Reply in the announcement's thread
  ofm.rollback.notify:
    token: "{{ ofm_slack_bot_token }}"
    channel: "{{ rollback_announcement.channel }}"
    thread_ts: "{{ rollback_announcement.ts }}"
    text: "Traffic is back on stable; SLOs recovering."

- name: Mark the announcement as resolved
  ofm.rollback.notify:
    token: "{{ ofm_slack_bot_token }}"
    channel: "{{ rollback_announcement.channel }}"
    update_ts: "{{ rollback_announcement.ts }}"
    text: ":white_check_mark: Rollback of ofm-social-os complete"

- name: Post a Block Kit summary through an incoming webhook
  ofm.rollback.notify:
    webhook_url: "{{ ofm_slack_webhook_url }}"
    text: "Rollback summary"
    blocks:
      - type: section
        text:
          type: mrkdwn
          text: "*Rollback complete*\nIncident {{ rollback_incident_id }}, 4 min 12 s"

- name: Tell the incident channel, and fail if Slack cannot be reached
  ofm.rollback.notify:
    channel: "#incident-response"
    text: "Database PITR restore starting"
    required: true
"""

RETURN = r"""
delivered:
  description: True when Slack accepted the message.
  returned: always
  type: bool
  sample: true
method:
  description: How the message was (or would be) sent, V(webhook) or V(api).
  returned: when the options name a way to send
  type: str
  sample: api
ts:
  description:
    - Slack's timestamp of the posted or edited message, the ID to pass as O(thread_ts) or O(update_ts) later.
    - Null with an incoming webhook and in check mode.
  returned: always
  type: str
  sample: "1700000000.123456"
channel:
  description: The channel ID Slack posted to (Web API), or the channel that was asked for.
  returned: always
  type: str
  sample: C0OPSALRT
thread_ts:
  description: The thread the message was posted in, or null.
  returned: always
  type: str
  sample: "1700000000.123456"
status:
  description:
    - With O(ledger) - V(sent), V(unchanged) (posted before, not again), V(unknown) (a run stopped while posting it, not posted
      again), V(would_send) (check mode) or V(failed).
  returned: when O(ledger) is set
  type: str
  sample: unchanged
payload:
  description: The JSON body sent (or, in check mode, that would be sent), with secrets removed.
  returned: when the options name a way to send
  type: dict
  sample: {channel: "#ops-alerts", text: "Emergency rollback started"}
requests:
  description: Every HTTP attempt made to Slack, with secrets removed.
  returned: always
  type: list
  elements: dict
  sample:
    - method: POST
      url: https://slack.com/api/chat.postMessage
      attempt: 1
      status: 200
      duration: 0.161
error:
  description: Why the message was not delivered, as the collection's error fields (type, system, operation, reason, hint, ...).
  returned: when a delivery failed
  type: dict
  sample:
    type: AuthenticationError
    system: Slack Web API
    operation: chat.postMessage
    target: "#ops-alerts"
    reason: "invalid_auth: Slack does not accept the token"
    hint: Set token (or SLACK_BOT_TOKEN) to the bot token (xoxb-...) of a Slack app installed in the workspace.
    status: 200
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import HTTP_CLIENT_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.slack import DEFAULT_API_URL, METHODS, Delivery, SlackMessage, SlackNotifier, once_ledger

ARGUMENT_SPEC = {
    **HTTP_CLIENT_SPEC,
    "method": {"type": "str", "choices": list(METHODS), "default": "auto"},
    "webhook_url": {"type": "str", "no_log": True, "fallback": (env_fallback, ["SLACK_WEBHOOK_URL"])},
    "token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["SLACK_BOT_TOKEN"])},
    "api_url": {"type": "str", "default": DEFAULT_API_URL},
    "channel": {"type": "str"},
    "text": {"type": "str"},
    "blocks": {"type": "list", "elements": "dict"},
    "thread_ts": {"type": "str"},
    "update_ts": {"type": "str"},
    "username": {"type": "str"},
    "icon_emoji": {"type": "str"},
    "ledger": {"type": "path"},
    "ledger_key": {"type": "str", "no_log": False},  # a message's name in the ledger, not a secret
    "incident_id": {"type": "str"},
    "required": {"type": "bool", "default": False},
}
MESSAGE_OPTIONS = ("text", "blocks", "channel", "thread_ts", "update_ts", "username", "icon_emoji")


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_one_of=[("text", "blocks")],
                          mutually_exclusive=[("thread_ts", "update_ts"), ("ledger", "update_ts")],
                          required_together=[("ledger", "ledger_key", "incident_id")])
    params = module.params
    notifier: Optional[SlackNotifier] = None
    delivery: Optional[Delivery] = None
    status: dict[str, str] = {}
    try:
        ledger = once_ledger(params["ledger"], params["incident_id"], params["ledger_key"]) if params["ledger"] else None
    except OfmRollbackError as exc:  # a bad option always fails, even with required=false
        module.fail_json(**exc.to_result())
    try:
        notifier = SlackNotifier.from_params(params)
        delivery = notifier.plan(SlackMessage(**{key: params[key] for key in MESSAGE_OPTIONS}))
        for warning in delivery.warnings:
            module.warn(warning)
        if ledger is not None:
            status["status"] = notifier.send_once(delivery, ledger, params["ledger_key"], module.check_mode)
            if status["status"] in ("unchanged", "unknown"):
                module.exit_json(changed=False, msg=_summary_once(status["status"], params["ledger_key"], delivery), **status,
                                 **_result(notifier, delivery))
        elif not module.check_mode:
            notifier.send(delivery)
        module.exit_json(changed=True, msg=_summary(delivery, module.check_mode), **status, **_result(notifier, delivery))
    except OfmRollbackError as exc:
        result = {**_result(notifier, delivery), **({"status": "failed"} if params["ledger"] else {})}
        if params["required"]:
            module.fail_json(**exc.to_result(), **result)
        module.warn(f"{exc} The notification was not delivered; the play goes on because required=false.")
        module.exit_json(changed=False, msg=f"Slack notification not delivered: {exc}", error=exc.fields(), **result)


def _result(notifier: Optional[SlackNotifier], delivery: Optional[Delivery]) -> dict[str, Any]:
    result: dict[str, Any] = {"delivered": False, "ts": None, "channel": None, "thread_ts": None,
                              "requests": notifier.http.requests if notifier else []}
    if notifier and delivery:
        result.update(delivered=delivery.delivered, ts=delivery.ts, channel=delivery.channel, thread_ts=delivery.thread_ts,
                      method=delivery.method, payload=notifier.http.redact(delivery.payload))
    return result


def _summary_once(status: str, key: str, delivery: Delivery) -> str:
    if status == "unchanged":
        return f"Slack: {key} was posted before (ts {delivery.ts}); not posted again."
    return (f"Slack: a run was stopped while posting {key}, which may or may not be in the channel: not posted again. Look in the "
            "channel, and remove its entry from the ledger to post it.")


def _summary(delivery: Delivery, check_mode: bool) -> str:
    action = "edit" if delivery.operation == "chat.update" else "post"
    verb = f"would {action}" if check_mode else {"edit": "edited", "post": "posted"}[action]
    where = f" to {delivery.channel}" if delivery.channel else ""
    via = "the Web API" if delivery.method == "api" else "the incoming webhook"
    ts = f" (ts {delivery.ts})" if delivery.ts else ""
    return f"Slack: {verb} the message{where} via {via}{ts}."


if __name__ == "__main__":
    main()
