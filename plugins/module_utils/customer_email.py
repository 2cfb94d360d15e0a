# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Emails to the customers an incident affected, each sent once (the logic of ofm.rollback.customer_email).

Every message is rendered for every recipient before the first is sent (templating.py: an unknown variable stops the run
with nothing sent). The ledger (ledger.py) holds one entry per recipient, keyed by the sha256 of the lowercased address (no
address in the file): ``sending`` before the SMTP transaction, ``sent`` with the Message-ID after it, ``refused`` when the
server refused the address. A re-run sends to nobody it holds as sent or refused (``retry_refused`` sends the refused again),
and never to one left ``sending`` (a connection lost during DATA: the message may have been delivered) - reported unknown.
Opted-out addresses (the list and the file, case-insensitive) are skipped and counted. The Message-ID is
``<INC-x.<hash>@<from domain>>``, the same on a re-run, so a mail system that sees it twice can drop the second.
"""

from __future__ import annotations

import hashlib
import re
import time
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, Callable, Dict, List, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.ledger import Ledger
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.affected_customers import mask
from ansible_collections.ofm.rollback.plugins.module_utils.smtp import RecipientRefused
from ansible_collections.ofm.rollback.plugins.module_utils.templating import read_template, render

ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
INCIDENT_ID = re.compile(r"^INC-[0-9]+$")
# A line break in a header value would end it and start another (``Bcc: ...``): refused before anything is rendered or sent.
HEADER_BREAK = re.compile(r"[\r\n\x00]")


def key_of(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def read_opt_out(values: List[str], path: Optional[str]) -> set:
    found = {value.strip().lower() for value in values if value and value.strip()}
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                found |= {line.split("#", 1)[0].strip().lower() for line in handle if line.split("#", 1)[0].strip()}
        except OSError as exc:
            raise InputError(f"opt_out_file: cannot read {path}: {exc.strerror}", option="opt_out_file") from exc
    return found


def check(params: Mapping[str, Any]) -> str:
    if not INCIDENT_ID.match(params.get("incident_id") or ""):
        raise InputError(f"incident_id must look like INC-<digits> (e.g. INC-1234), not {params.get('incident_id')!r}", option="incident_id")
    for option in ("from_address", "reply_to", "unsubscribe_url"):
        if params.get(option) and HEADER_BREAK.search(str(params[option])):
            raise InputError(f"{option} {params[option]!r} holds a line break, which would start a header of its own", option=option,
                             accepted="one line" if option == "unsubscribe_url" else "an address such as 'OFM Social <status@ofm.social>'")
    for option in ("from_address", "reply_to"):
        if params.get(option) and not ADDRESS.match(parseaddr(params[option])[1] or ""):
            raise InputError(f"{option} {params[option]!r} is not an email address", option=option,
                             accepted="an address such as 'OFM Social <status@ofm.social>'")
    sender = parseaddr(params["from_address"])[1]
    if len(params["recipients"]) > params["max_recipients"]:
        raise InputError(f"recipients: {len(params['recipients'])} recipients is more than max_recipients ({params['max_recipients']}); "
                         "raise it if that many were affected", option="max_recipients")
    if not 0 < float(params["rate"]) <= 100:
        raise InputError(f"rate must be above 0 and at most 100 messages per second, not {params['rate']}", option="rate")
    for index, recipient in enumerate(params["recipients"]):
        if not isinstance(recipient, Mapping) or not recipient.get("email"):
            raise InputError(f"recipients[{index}] must be a dict with an email", option="recipients")
    return sender


def build_messages(params: Mapping[str, Any], sender: str) -> List[Dict[str, Any]]:
    """Every recipient's message, rendered (InputError before anything is sent when a template cannot be)."""
    text_source = read_template(params["template"], "template")
    html_source = read_template(params["html_template"], "html_template") if params.get("html_template") else None
    domain = sender.rsplit("@", 1)[1]
    built = []
    for recipient in params["recipients"]:
        email = str(recipient["email"]).strip()
        variables = {"recipient": dict(recipient)}
        context = {**params["context"], "incident_id": params["incident_id"]}
        subject = render(params["subject"], context, option="subject", name="subject", extra=variables)
        text = render(text_source, context, option="template", name=params["template"], extra=variables)
        html = render(html_source, context, option="html_template", name=params["html_template"], extra=variables) if html_source else None
        key = key_of(email)
        built.append({"email": email, "key": key, "subject": " ".join(subject.split()), "text": text, "html": html,
                      "message_id": f"<{params['incident_id']}.{key[:16]}@{domain}>"})
    return built


def compose(item: Mapping[str, Any], params: Mapping[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = params["from_address"]
    message["To"] = item["email"]
    message["Subject"] = item["subject"]
    message["Message-ID"] = item["message_id"]
    message["Date"] = formatdate(localtime=False)
    message["X-OFM-Incident"] = params["incident_id"]
    if params.get("reply_to"):
        message["Reply-To"] = params["reply_to"]
    if params.get("unsubscribe_url"):
        message["List-Unsubscribe"] = f"<{params['unsubscribe_url']}>"
    message.set_content(item["text"] + "\n")
    if item.get("html"):
        message.add_alternative(item["html"], subtype="html")
    return message


def plan(built: List[Dict[str, Any]], ledger: Ledger, opt_out: set, retry_refused: bool) -> List[Dict[str, Any]]:
    for item in built:
        entry = ledger.entries.get(item["key"]) or {}
        if not ADDRESS.match(item["email"]):
            item["action"] = "invalid_address"
        elif item["email"].lower() in opt_out:
            item["action"] = "opted_out"
        elif entry.get("status") == "sent":
            item["action"] = "already_sent"
        elif entry.get("status") == "sending":
            item["action"] = "unknown"
        elif entry.get("status") == "refused" and not retry_refused:
            item["action"] = "refused_before"
        else:
            item["action"] = "send"
    return built


def deliver(built: List[Dict[str, Any]], ledger: Ledger, client: Any, params: Mapping[str, Any], sleep: Callable[[float], None] = time.sleep,
            warn: Callable[[str], None] = lambda text: None) -> Optional[str]:
    """Send the ``send`` items in order at ``rate``; their ``action`` becomes sent / refused / failed; the error that stopped the
    batch (the rest are ``failed`` and go at the next run), or None."""
    interval = 1.0 / float(params["rate"])
    stopped: Optional[str] = None
    for item in built:
        if item["action"] != "send":
            continue
        if stopped:
            item["action"] = "failed"
            continue
        ledger.mark(item["key"], "sending", message_id=item["message_id"])
        try:
            client.send(compose(item, params), item["email"])
            ledger.mark(item["key"], "sent", message_id=item["message_id"])
            item["action"] = "sent"
            sleep(interval)
        except RecipientRefused as exc:
            ledger.mark(item["key"], "refused", reason=str(exc.reason)[:200])
            item["action"] = "refused"
            warn(f"SMTP refused {mask(item['email'])}: {exc.reason}")
        except UnavailableError as exc:
            if exc.operation == "DATA":
                item["action"] = "unknown"  # the server may have taken it: kept "sending", never sent again by itself
            else:
                ledger.entries.pop(item["key"], None)
                ledger.save()
                item["action"] = "failed"
            stopped = str(exc)
        except Exception:
            ledger.entries.pop(item["key"], None)
            ledger.save()
            raise
    return stopped


def summary(built: List[Dict[str, Any]], show_emails: bool) -> Dict[str, Any]:
    counts = {name: sum(1 for item in built if item["action"] == name)
              for name in ("sent", "already_sent", "opted_out", "refused", "refused_before", "failed", "unknown", "invalid_address", "send")}
    return {"sent": counts["sent"], "already_sent": counts["already_sent"], "opted_out": counts["opted_out"],
            "refused": counts["refused"] + counts["refused_before"], "failed": counts["failed"], "unknown": counts["unknown"],
            "invalid": counts["invalid_address"], "would_send": counts["send"],
            "recipients": [{"email": item["email"] if show_emails else mask(item["email"]), "action": item["action"],
                            "message_id": item["message_id"]} for item in built]}
