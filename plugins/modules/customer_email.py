#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: customer_email
short_description: Email the customers an incident affected over SMTP, each exactly once, opt-outs honoured
version_added: 0.4.0
description:
  - Renders the message (O(subject), O(template), optionally O(html_template); Jinja2, strictly - an unknown variable stops the
    task before anything is sent) for every recipient, with the variables of O(context) and C(recipient) (the recipient's dict),
    then sends it over SMTP (STARTTLS, TLS, or plain only with O(allow_insecure)) with AUTH, at most O(rate) messages a second.
  - O(ledger) makes it idempotent per incident - one entry per recipient, keyed by the sha256 of the lowercased address (the
    file holds no address) - C(sending) before the SMTP transaction, C(sent) after, C(refused) when the server refused the
    address. A re-run sends to nobody already sent or refused (O(retry_refused) sends to the refused again), and never to an
    address left C(sending) by a connection lost during the transaction (the message may have arrived) - it is reported
    V(unknown).
  - O(dry_run) (and check mode) renders the message for the first recipient (RV(preview)), lists every recipient with what would
    happen to it (V(send), V(already_sent), V(opted_out), V(refused_before), V(unknown), V(invalid_address)), sends nothing
    and writes no ledger.
  - A refused login is an error naming the password option, with nothing sent. A refused recipient is recorded and the
    others go on. A lost connection stops the batch - what was sent stays in the ledger, RV(status) is V(partial) and a re-run
    sends the rest.
  - Addresses are masked in the result (C(c***@example.com)) unless O(show_emails).
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  host:
    description:
      - The SMTP server.
    type: str
    required: true
  port:
    description:
      - Its port (587 for STARTTLS, 465 for TLS).
    type: int
    default: 587
  security:
    description:
      - V(starttls), V(tls) (implicit), or V(none) (only with O(allow_insecure)).
    type: str
    choices: [starttls, tls, none]
    default: starttls
  allow_insecure:
    description:
      - Accept O(security=none) (password and messages in clear text).
    type: bool
    default: false
  username:
    description:
      - The SMTP user; not set - no AUTH.
    type: str
  password:
    description:
      - The SMTP password.
    type: str
  validate_certs:
    description:
      - Verify the server's certificate and host name.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM bundle of the CA that signed the server's certificate.
    type: path
  timeout:
    description:
      - Seconds to wait for the server.
    type: float
    default: 30
  incident_id:
    description:
      - The incident, C(INC-<digits>).
    type: str
    required: true
  recipients:
    description:
      - The recipients, each a dict with C(email) (and whatever the templates use as C(recipient.<field>)), such as
        RV(ofm.rollback.affected_customers_info#module:customers) with O(ofm.rollback.affected_customers_info#module:show_emails=true).
    type: list
    elements: dict
    required: true
  from_address:
    description:
      - The From header, such as C(OFM Social <status@ofm.social>).
    type: str
    required: true
  reply_to:
    description:
      - The Reply-To header.
    type: str
  subject:
    description:
      - The subject, a Jinja2 string.
    type: str
    required: true
  template:
    description:
      - The text body, a Jinja2 file.
    type: path
    required: true
  html_template:
    description:
      - An HTML alternative, a Jinja2 file.
    type: path
  context:
    description:
      - The variables the templates see (besides C(incident_id) and C(recipient)).
    type: dict
    default: {}
  opt_out:
    description:
      - Addresses never emailed (case-insensitive).
    type: list
    elements: str
    default: []
  opt_out_file:
    description:
      - A file of addresses never emailed, one per line (C(#) starts a comment).
    type: path
  unsubscribe_url:
    description:
      - Adds a C(List-Unsubscribe) header.
    type: str
  ledger:
    description:
      - The JSON file of what was sent for this incident. Its directory must exist.
    type: path
    required: true
  rate:
    description:
      - At most this many messages a second.
    type: float
    default: 5
  max_recipients:
    description:
      - A guard - refuse more recipients than this.
    type: int
    default: 5000
  dry_run:
    description:
      - Render and list, send nothing (check mode does the same).
    type: bool
    default: false
  retry_refused:
    description:
      - Send again to the addresses the server refused before.
    type: bool
    default: false
  show_emails:
    description:
      - Return the addresses unmasked.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: A dry run - nothing is sent, no ledger is written.
  diff_mode:
    support: partial
    description: The masked recipients who would be emailed.
"""

EXAMPLES = r"""
- name: Email the affected creators of INC-1234 (a dry run first)
  ofm.rollback.customer_email:
    host: smtp.ofm.social
    username: ofm-notify
    password: "{{ smtp_password }}"
    incident_id: INC-1234
    recipients: "{{ affected.customers }}"
    from_address: OFM Social <status@ofm.social>
    subject: "[OFM Social] INC-1234: some of your posts were not published"
    template: templates/email/customer.txt.j2
    context: "{{ plan.context }}"
    opt_out_file: /etc/ofm/email-opt-out.txt
    ledger: /var/lib/ofm-rollback/incidents/INC-1234/emails.json
    dry_run: true
"""

RETURN = r"""
status:
  description: V(ok), or V(partial) when some could not be sent (failed or unknown).
  returned: success
  type: str
sent:
  description: Emails sent by this run.
  returned: success
  type: int
already_sent:
  description: Recipients an earlier run emailed.
  returned: success
  type: int
opted_out:
  description: Recipients skipped because they opted out.
  returned: success
  type: int
refused:
  description: Recipients the server refused (now or before).
  returned: success
  type: int
failed:
  description: Recipients not emailed because the batch stopped (a re-run sends to them).
  returned: success
  type: int
unknown:
  description: Recipients whose message may or may not have arrived (not sent again).
  returned: success
  type: int
recipients:
  description: Each recipient - V(email) (masked unless O(show_emails)), V(action), V(message_id).
  returned: success
  type: list
  elements: dict
preview:
  description: V(subject) and V(text) of the first recipient's message.
  returned: success
  type: dict
dry_run:
  description: Whether nothing was sent on purpose.
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.customer_email import build_messages, check, deliver, plan, read_opt_out, summary
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.ledger import Ledger
from ansible_collections.ofm.rollback.plugins.module_utils.smtp import SECURITY, SmtpClient

ARGUMENT_SPEC = {
    "host": {"type": "str", "required": True},
    "port": {"type": "int", "default": 587},
    "security": {"type": "str", "choices": list(SECURITY), "default": "starttls"},
    "allow_insecure": {"type": "bool", "default": False},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "timeout": {"type": "float", "default": 30},
    "incident_id": {"type": "str", "required": True},
    "recipients": {"type": "list", "elements": "dict", "required": True},
    "from_address": {"type": "str", "required": True},
    "reply_to": {"type": "str"},
    "subject": {"type": "str", "required": True},
    "template": {"type": "path", "required": True},
    "html_template": {"type": "path"},
    "context": {"type": "dict", "default": {}},
    "opt_out": {"type": "list", "elements": "str", "default": []},
    "opt_out_file": {"type": "path"},
    "unsubscribe_url": {"type": "str"},
    "ledger": {"type": "path", "required": True},
    "rate": {"type": "float", "default": 5},
    "max_recipients": {"type": "int", "default": 5000},
    "dry_run": {"type": "bool", "default": False},
    "retry_refused": {"type": "bool", "default": False},
    "show_emails": {"type": "bool", "default": False},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    dry_run = params["dry_run"] or module.check_mode
    client = None
    stopped = None
    try:
        sender = check(params)
        built = build_messages(params, sender)
        opt_out = read_opt_out(params["opt_out"], params["opt_out_file"])
        ledger = Ledger(params["ledger"], params["incident_id"], "email")
        if dry_run:
            plan(built, ledger.load(), opt_out, params["retry_refused"])
        else:
            client = SmtpClient(params)
            with ledger:
                plan(built, ledger, opt_out, params["retry_refused"])
                stopped = deliver(built, ledger, client, params, warn=module.warn)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    finally:
        if client is not None:
            client.close()
    result = summary(built, params["show_emails"])
    preview = {"subject": built[0]["subject"], "text": built[0]["text"]} if built else None
    partial = bool(result["failed"] or result["unknown"])
    verb = "would send" if dry_run else "sent"
    msg = (f"customer emails: {result['would_send'] if dry_run else result['sent']} {verb}, {result['already_sent']} already sent, "
           f"{result['opted_out']} opted out, {result['refused']} refused" + (f"; stopped: {stopped}" if stopped else ""))
    module.exit_json(changed=bool(result["sent"]) or (dry_run and module.check_mode and bool(result["would_send"])), status="partial" if partial else "ok",
                     dry_run=dry_run, preview=preview, msg=msg, diff={"before": "", "after": "".join(
                         f"{item['email']}\n" for item in result["recipients"] if item["action"] in ("send", "sent"))}, **result)


if __name__ == "__main__":
    main()
