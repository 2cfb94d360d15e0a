# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Customer emails: rendered for everyone before the first is sent (an unknown variable sends nothing), each recipient once
(the ledger holds hashes, not addresses), opt-outs honoured case-insensitively, a refused address recorded and the others
sent, a connection lost half-way leaving the rest for the next run and the one in flight unknown."""
from __future__ import annotations

import json

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.customer_email import build_messages, check, deliver, plan, read_opt_out, summary
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.ledger import Ledger
from ansible_collections.ofm.rollback.plugins.module_utils.smtp import RecipientRefused

RECIPIENTS = [{"email": f"creator_{n}@creators.example.com", "handle": f"creator_{n}", "platforms": ["tiktok"]} for n in range(1, 5)]


class FakeSmtp:
    """What the server took; ``refuse`` addresses are refused (550), the connection is lost at the ``lose_at``-th message."""

    def __init__(self, refuse=(), lose_at=None):
        self.delivered = []
        self.refuse = set(refuse)
        self.lose_at = lose_at

    def send(self, message, recipient):
        if recipient in self.refuse:
            raise RecipientRefused("550 5.1.1 mailbox unavailable", system="SMTP", operation="RCPT TO")
        if self.lose_at is not None and len(self.delivered) + 1 == self.lose_at:
            raise UnavailableError("the connection was lost while sending", system="SMTP", operation="DATA")
        self.delivered.append((recipient, message["Subject"], message["Message-ID"], message.get_content()))


def params(tmp_path, **extra):
    template = tmp_path / "mail.txt.j2"
    template.write_text("Hello {{ recipient.handle }}, {{ incident_id }}: {{ known_issue }} ({{ recipient.platforms | join(', ') }})")
    return {"incident_id": "INC-5", "recipients": RECIPIENTS, "from_address": "OFM Social <status@ofm.social>", "subject": "{{ incident_id }}: sorry",
            "template": str(template), "html_template": None, "context": {"known_issue": "posts failed"}, "opt_out": [], "opt_out_file": None,
            "ledger": str(tmp_path / "emails.json"), "rate": 100.0, "max_recipients": 10, "retry_refused": False, "reply_to": None,
            "unsubscribe_url": None, **extra}


def run(tmp_path, client, **extra):
    values = params(tmp_path, **extra)
    built = build_messages(values, check(values))
    with Ledger(values["ledger"], "INC-5", "email") as ledger:
        plan(built, ledger, read_opt_out(values["opt_out"], values["opt_out_file"]), values["retry_refused"])
        stopped = deliver(built, ledger, client, values, sleep=lambda seconds: None)
    return built, stopped


def test_each_recipient_gets_one_message_and_a_rerun_sends_nothing(tmp_path):
    client = FakeSmtp()
    built, stopped = run(tmp_path, client)
    assert stopped is None and len(client.delivered) == 4
    recipient, subject, message_id, body = client.delivered[0]
    assert (recipient, subject) == ("creator_1@creators.example.com", "INC-5: sorry") and message_id.startswith("<INC-5.")
    assert "Hello creator_1, INC-5: posts failed (tiktok)" in body
    ledger = (tmp_path / "emails.json").read_text()
    assert "creators.example.com" not in ledger and len(json.loads(ledger)["entries"]) == 4, "the ledger holds hashes, not addresses"
    again = FakeSmtp()
    built, _stopped = run(tmp_path, again)
    assert again.delivered == [] and {item["action"] for item in built} == {"already_sent"}


def test_opted_out_addresses_are_skipped_whatever_their_case(tmp_path):
    opt_file = tmp_path / "opt-out.txt"
    opt_file.write_text("# people who asked\nCREATOR_2@creators.example.com\n")
    client = FakeSmtp()
    built, _stopped = run(tmp_path, client, opt_out=["Creator_3@Creators.Example.com"], opt_out_file=str(opt_file))
    assert [recipient for recipient, *_rest in client.delivered] == ["creator_1@creators.example.com", "creator_4@creators.example.com"]
    assert summary(built, False)["opted_out"] == 2


def test_a_refused_address_is_recorded_and_the_others_are_sent(tmp_path):
    client = FakeSmtp(refuse={"creator_2@creators.example.com"})
    built, stopped = run(tmp_path, client)
    assert stopped is None and len(client.delivered) == 3
    found = summary(built, False)
    assert found["refused"] == 1 and found["sent"] == 3
    assert [item["email"] for item in found["recipients"]][:2] == ["c***@creators.example.com", "c***@creators.example.com"], "masked"
    retried = FakeSmtp()
    built, _stopped = run(tmp_path, retried)
    assert retried.delivered == [] and summary(built, False)["refused"] == 1, "not sent again unless retry_refused"


def test_a_connection_lost_half_way_leaves_the_rest_for_the_next_run_and_never_sends_twice(tmp_path):
    client = FakeSmtp(lose_at=2)
    built, stopped = run(tmp_path, client)
    assert "connection was lost" in stopped and len(client.delivered) == 1
    found = summary(built, False)
    assert (found["sent"], found["unknown"], found["failed"]) == (1, 1, 2)
    healed = FakeSmtp()
    built, stopped = run(tmp_path, healed)
    assert stopped is None and [recipient for recipient, *_rest in healed.delivered] == ["creator_3@creators.example.com", "creator_4@creators.example.com"]
    assert summary(built, False)["unknown"] == 1, "the one in flight may have arrived: not sent again, reported"


def test_an_unknown_variable_in_the_template_sends_nothing(tmp_path):
    values = params(tmp_path, subject="{{ incident_id }} for {{ customer_name }}")
    with pytest.raises(InputError) as caught:
        build_messages(values, check(values))
    assert "customer_name" in str(caught.value) and "subject" in str(caught.value) and "known variables:" in str(caught.value)


@pytest.mark.parametrize("extra, words", [
    ({"incident_id": "5"}, "incident_id must look like INC-<digits>"),
    ({"from_address": "not an address"}, "from_address"),
    ({"max_recipients": 2}, "more than max_recipients (2)"),
    ({"rate": 0}, "rate must be above 0"),
    ({"recipients": [{"name": "no email"}]}, "recipients[0] must be a dict with an email"),
])
def test_bad_input_names_the_option(tmp_path, extra, words):
    with pytest.raises(InputError) as caught:
        check(params(tmp_path, **extra))
    assert words in str(caught.value)
