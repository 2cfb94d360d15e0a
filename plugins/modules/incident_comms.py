#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: incident_comms
short_description: Send an incident's Slack messages from templates, each exactly once
version_added: 0.4.0
description:
  - Renders every message of O(messages) from its Jinja2 template (or inline text) with the variables of O(context), then
    posts those that O(ledger) does not hold yet, in order, to Slack (Web API, or an incoming webhook).
  - Rendering comes first and is strict - a template that uses a variable O(context) does not hold stops the task before
    anything is sent, naming the message, the template file, the unknown variable and the known ones. A blocks template
    must render a YAML or JSON list of Block Kit blocks.
  - The ledger is a JSON file (mode 0600) written atomically under a lock after each message - C(sending) before it leaves,
    C(sent) with Slack's C(ts) once Slack took it. A key it holds is never sent again (its V(status) in RV(messages) is V(unchanged),
    also when the template now renders another text); a key left C(sending) by a run that was killed, or by a Slack answer
    that may have posted it (5xx, timeout), is V(unknown) and is not sent again - look in the channel, and remove the entry
    to send it.
  - A message Slack does not take is V(failed) with Slack's error; the other messages still go and RV(status) is
    V(partial). With O(required=false) (the default) the task does not fail then - a notification never blocks a
    rollback; with O(required=true) it fails after trying them all.
  - O(messages[].thread) posts a message as a reply in the thread of an earlier one (the Web API; an incoming webhook
    cannot thread, so the reply goes to the channel and a warning says so).
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
      - V(api) posts with the Web API (a bot token), V(webhook) with an incoming webhook, V(auto) the Web API when there
        is a token.
    type: str
    choices: [auto, webhook, api]
    default: auto
  webhook_url:
    description:
      - The incoming webhook URL (a secret). Falls back to E(SLACK_WEBHOOK_URL).
    type: str
  token:
    description:
      - The bot token (a secret). Falls back to E(SLACK_BOT_TOKEN).
    type: str
  api_url:
    description:
      - The Slack Web API.
    type: str
    default: https://slack.com/api
  incident_id:
    description:
      - The incident, C(INC-<digits>); the ledger belongs to it, and templates see it as C(incident_id).
    type: str
    required: true
  context:
    description:
      - The variables the templates see (M(ofm.rollback.comms_plan) returns them as RV(ofm.rollback.comms_plan#module:context)).
    type: dict
    default: {}
  messages:
    description:
      - The messages, sent in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      key:
        description:
          - The message's id in the ledger, C(^[a-z0-9_.-]+$), unique.
        type: str
        required: true
      channel:
        description:
          - The channel, such as C(#engineering).
        type: str
        required: true
      template:
        description:
          - A Jinja2 file rendering the text. Exactly one of O(messages[].template) and O(messages[].text).
        type: path
      text:
        description:
          - An inline Jinja2 string rendering the text.
        type: str
      blocks_template:
        description:
          - A Jinja2 file rendering a YAML or JSON list of Block Kit blocks; the text is then the notification's fallback.
        type: path
      thread:
        description:
          - The key of an earlier message (of this list) whose thread this one replies in.
        type: str
  ledger:
    description:
      - The JSON file of what was sent for this incident. Its directory must exist.
    type: path
    required: true
  required:
    description:
      - Fail the task when a message could not be sent (after trying them all).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Renders every message and returns those it would send (V(would_send)); sends nothing, writes no ledger.
  diff_mode:
    support: full
    description: The keys that would be sent.
notes:
  - Templates are plain Jinja2 in a sandbox (no Ansible filters). The role M(ofm.rollback.incident_comms) ships one per
    audience; a team overrides any of them with its own file.
"""

EXAMPLES = r"""
- name: Tell engineering, once
  ofm.rollback.incident_comms:
    token: "{{ slack_bot_token }}"
    incident_id: INC-1234
    context: {state: monitoring, release: {canary: "2.4.0"}}
    messages:
      - key: engineering.monitoring
        channel: "#engineering"
        template: templates/slack/engineering.j2
      - key: incident_response.root
        channel: "#incident-response"
        template: templates/slack/incident_response.j2
      - key: incident_response.monitoring
        channel: "#incident-response"
        template: templates/slack/incident_response_update.j2
        thread: incident_response.root
    ledger: /var/lib/ofm-rollback/incidents/INC-1234/comms.json
"""

RETURN = r"""
status:
  description: V(ok) (every message sent now or before) or V(partial) (some failed or are unknown).
  returned: success
  type: str
messages:
  description: One per message - V(key), V(channel), V(status) (V(sent), V(unchanged), V(would_send), V(failed), V(unknown)),
    V(ts), V(thread_ts), V(text) (rendered, secrets redacted) and V(error).
  returned: success
  type: list
  elements: dict
sent:
  description: How many messages this run sent.
  returned: success
  type: int
failed:
  description: How many messages failed or are unknown.
  returned: success
  type: int
ledger:
  description: The ledger's path.
  returned: success
  type: str
requests:
  description: The HTTP requests made (redacted).
  returned: success
  type: list
  elements: dict
"""

from typing import Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import HTTP_CLIENT_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.incident_comms import check_messages, deliver, render_all
from ansible_collections.ofm.rollback.plugins.module_utils.ledger import Ledger
from ansible_collections.ofm.rollback.plugins.module_utils.redact import Redactor
from ansible_collections.ofm.rollback.plugins.module_utils.slack import DEFAULT_API_URL, METHODS, SlackNotifier

ARGUMENT_SPEC = {
    **HTTP_CLIENT_SPEC,
    "method": {"type": "str", "choices": list(METHODS), "default": "auto"},
    "webhook_url": {"type": "str", "no_log": True, "fallback": (env_fallback, ["SLACK_WEBHOOK_URL"])},
    "token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["SLACK_BOT_TOKEN"])},
    "api_url": {"type": "str", "default": DEFAULT_API_URL},
    "incident_id": {"type": "str", "required": True},
    "context": {"type": "dict", "default": {}},
    "messages": {"type": "list", "elements": "dict", "required": True, "options": {
        "key": {"type": "str", "required": True, "no_log": False},
        "channel": {"type": "str", "required": True},
        "template": {"type": "path"},
        "text": {"type": "str"},
        "blocks_template": {"type": "path"},
        "thread": {"type": "str"},
    }},
    "ledger": {"type": "path", "required": True},
    "required": {"type": "bool", "default": False},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    notifier: Optional[SlackNotifier] = None
    try:
        messages = [{key: value for key, value in message.items() if value is not None} for message in params["messages"]]
        check_messages(params["incident_id"], messages)
        rendered = render_all(messages, {**params["context"], "incident_id": params["incident_id"]})
        if not module.check_mode:
            notifier = SlackNotifier.from_params(params)
        secrets = [value for value in (params["token"], params["webhook_url"]) if value]
        redact = Redactor(secrets).text
        ledger = Ledger(params["ledger"], params["incident_id"], "slack")
        if module.check_mode:
            results = deliver(rendered, ledger.load(), None, True, redact, module.warn)
        else:
            with ledger:
                results = deliver(rendered, ledger, notifier, False, redact, module.warn)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=notifier.http.requests if notifier else [])
    sent = sum(1 for result in results if result["status"] == "sent")
    bad = [result for result in results if result["status"] in ("failed", "unknown")]
    outcome = {"status": "partial" if bad else "ok", "messages": results, "sent": sent, "failed": len(bad), "ledger": params["ledger"],
               "requests": notifier.http.requests if notifier else []}
    would = [result["key"] for result in results if result["status"] in ("sent", "would_send")]
    diff = {"before": "", "after": "".join(f"{key}\n" for key in would)}
    msg = f"Slack: {sent} sent, {sum(1 for r in results if r['status'] == 'unchanged')} already sent, {len(bad)} failed or unknown"
    if bad and params["required"]:
        module.fail_json(msg=msg + ": " + "; ".join(f"{r['key']}: {r['error']}" for r in bad), **outcome)
    module.exit_json(changed=bool(sent) or (module.check_mode and bool(would)), msg=msg, diff=diff, **outcome)


if __name__ == "__main__":
    main()
