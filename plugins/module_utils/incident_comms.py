# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An incident's Slack messages, each sent once (the logic of ofm.rollback.incident_comms).

Every message is rendered before any is sent (templating.py: an unknown variable stops the run before Slack hears
anything). The ledger (ledger.py) holds, per message key, the channel, Slack's ``ts`` and the text's sha256: a key in it is
never sent again, even when its text changed (``unchanged``); a key left ``sending`` by a killed run is ``unknown``. A
message Slack does not take is ``failed``: the others still go, and the module reports ``partial``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core brings PyYAML; without it a blocks template renders JSON
    yaml = None

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.ledger import Ledger
from ansible_collections.ofm.rollback.plugins.module_utils.slack import Delivery, SlackMessage, SlackNotifier
from ansible_collections.ofm.rollback.plugins.module_utils.templating import read_template, render

INCIDENT_ID = re.compile(r"^INC-[0-9]+$")
KEY = re.compile(r"^[a-z0-9_.-]+$")


@dataclass
class Rendered:
    key: str
    channel: str
    text: str
    blocks: Optional[list]
    thread: Optional[str]

    @property
    def sha256(self) -> str:
        return hashlib.sha256((self.text + json.dumps(self.blocks or [], sort_keys=True)).encode()).hexdigest()


def check_messages(incident_id: str, messages: List[Mapping[str, Any]]) -> None:
    if not INCIDENT_ID.match(incident_id or ""):
        raise InputError(f"incident_id must look like INC-<digits> (e.g. INC-1234), not {incident_id!r}", option="incident_id")
    keys: List[str] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        key = message.get("key")
        if not isinstance(key, str) or not KEY.match(key):
            raise InputError(f"{where}.key must match ^[a-z0-9_.-]+$ (e.g. engineering.monitoring), not {key!r}", option="messages")
        if key in keys:
            raise InputError(f"{where}.key {key!r} is used twice; every message needs its own key", option="messages")
        if not message.get("channel"):
            raise InputError(f"{where} ({key}) needs a channel, e.g. '#engineering'", option="messages")
        if bool(message.get("template")) == bool(message.get("text")):
            raise InputError(f"{where} ({key}) needs exactly one of template (a Jinja2 file) and text (an inline Jinja2 string)",
                             option="messages")
        thread = message.get("thread")
        if thread and thread not in keys:
            raise InputError(f"{where} ({key}): thread {thread!r} is not the key of an earlier message", option="messages")
        unknown = sorted(set(message) - {"key", "channel", "template", "text", "blocks_template", "thread"})
        if unknown:
            raise InputError(f"{where} ({key}): unknown field(s) {', '.join(unknown)}; accepted: key, channel, template, text, "
                             f"blocks_template, thread", option="messages")
        keys.append(key)


def render_all(messages: List[Mapping[str, Any]], context: Mapping[str, Any]) -> List[Rendered]:
    """Every message rendered, or an InputError naming the first that cannot be (nothing is sent then)."""
    rendered = []
    for message in messages:
        option = f"messages ({message['key']})"
        if message.get("template"):
            text = render(read_template(message["template"], option), context, option=option, name=message["template"])
        else:
            text = render(message["text"], context, option=option, name="inline text")
        blocks = None
        if message.get("blocks_template"):
            source = render(read_template(message["blocks_template"], option), context, option=option, name=message["blocks_template"])
            try:
                blocks = yaml.safe_load(source) if yaml is not None else json.loads(source)
            except (ValueError, getattr(yaml, "YAMLError", ValueError)) as exc:
                raise InputError(f"{option}: the blocks template {message['blocks_template']} does not render YAML or JSON: {exc}",
                                 option="messages") from exc
            if not isinstance(blocks, list) or not all(isinstance(block, dict) and isinstance(block.get("type"), str) for block in blocks):
                raise InputError(f"{option}: the blocks template {message['blocks_template']} must render a list of Block Kit blocks, "
                                 f"each an object with a 'type'", option="messages")
        if not text:
            raise InputError(f"{option}: the message renders empty", option="messages")
        rendered.append(Rendered(message["key"], message["channel"], text, blocks, message.get("thread")))
    return rendered


def deliver(rendered: List[Rendered], ledger: Ledger, notifier: Optional[SlackNotifier], check_mode: bool,
            redact: Callable[[str], str], warn: Callable[[str], None]) -> List[dict]:
    """Send what the ledger does not hold, in order; one result per message."""
    results = []
    for message in rendered:
        entry = ledger.entries.get(message.key)
        result = {"key": message.key, "channel": message.channel, "text": redact(message.text), "ts": None, "thread_ts": None, "error": None}
        if entry and entry.get("status") == "sent":
            unchanged = {"status": "unchanged", "ts": entry.get("ts"), "thread_ts": entry.get("thread_ts"),
                         "changed_since": entry.get("sha256") != message.sha256}
            results.append({**result, **unchanged})
            continue
        if entry and entry.get("status") == "sending":
            error = (f"an earlier run was stopped while sending it ({entry.get('sending_at')}): look in the channel; remove the entry from "
                     "the ledger to send it again")
            results.append({**result, "status": "unknown", "error": error})
            continue
        thread_ts = None
        if message.thread:
            thread_ts = (ledger.entries.get(message.thread) or {}).get("ts")
            if not thread_ts and not check_mode:
                results.append({**result, "status": "failed", "error": f"its thread {message.thread} was not posted"})
                continue
        if check_mode:
            results.append({**result, "status": "would_send"})
            continue
        try:
            delivery = notifier.plan(SlackMessage(text=message.text, blocks=message.blocks, channel=message.channel, thread_ts=thread_ts))
            for warning in delivery.warnings:
                warn(warning)
            # A 5xx or a read timeout (Slack may have posted it) leaves the entry "sending", so no run sends it twice; a refusal
            # or no connection removes it, so a re-run sends it.
            ledger.send_once(message.key, lambda delivery=delivery, thread_ts=thread_ts: _sent(notifier, delivery, thread_ts),
                             channel=message.channel, sha256=message.sha256)
            results.append({**result, "status": "sent", "ts": delivery.ts, "thread_ts": delivery.thread_ts or thread_ts})
        except OfmRollbackError as exc:
            warn(f"Slack did not take {message.key} for {message.channel}: {exc}")
            results.append({**result, "status": "failed", "error": str(exc)})
    return results


def _sent(notifier: SlackNotifier, delivery: Delivery, thread_ts: Optional[str]) -> dict:
    """Post ``delivery``; what the ledger keeps of it."""
    notifier.send(delivery)
    return {"ts": delivery.ts, "thread_ts": delivery.thread_ts or thread_ts, "channel_id": delivery.channel}
