"""The lab's SMTP server: aiosmtpd (a real SMTP implementation from PyPI) delivering into a Maildir.

Two listeners: ``--port`` speaks SMTP with STARTTLS (required before AUTH), ``--tls-port`` implicit TLS (SMTPS). Both
require AUTH (PLAIN or LOGIN) as ``--user`` with the password in ``OFM_LAB_SMTP_PASSWORD`` (535 otherwise), refuse
recipients at ``@bounce.lab.ofm.social`` with 550, and deliver every accepted message, with an ``X-Lab-Envelope-To``
header per recipient, into the Maildir ``--maildir`` (tests read it with Python's ``mailbox``; ``lab mail list|clear``).
"""
from __future__ import annotations

import argparse
import mailbox
import os
import signal
import ssl
import threading
from email import message_from_bytes
from email.policy import default as default_policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

BOUNCE_DOMAIN = "@bounce.lab.ofm.social"


class MaildirHandler:
    def __init__(self, maildir: str) -> None:
        self.maildir = mailbox.Maildir(maildir, create=True)
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 pylint: disable=unused-argument
        if address.lower().endswith(BOUNCE_DOMAIN):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 pylint: disable=unused-argument
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        for recipient in envelope.rcpt_tos:
            message["X-Lab-Envelope-To"] = recipient
        message["X-Lab-Envelope-From"] = envelope.mail_from
        with self.lock:
            self.maildir.add(message)
        return "250 2.0.0 Message accepted for delivery"


class Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __call__(self, server, session, envelope, mechanism, auth_data):  # pylint: disable=unused-argument,too-many-arguments
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.user and auth_data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-port", type=int, required=True)
    parser.add_argument("--cert", required=True, help="PEM with the server certificate and its key")
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--user", required=True)
    args = parser.parse_args()
    password = os.environ["OFM_LAB_SMTP_PASSWORD"]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert)
    handler = MaildirHandler(args.maildir)
    common = {"hostname": args.host, "authenticator": Authenticator(args.user, password), "auth_required": True,
              "server_hostname": "smtp.lab.ofm.social"}
    starttls = Controller(handler, port=args.port, tls_context=context, require_starttls=True, auth_require_tls=True, **common)
    implicit = Controller(handler, port=args.tls_port, ssl_context=context, auth_require_tls=False, **common)
    starttls.start()
    implicit.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"SMTP on {args.host}:{args.port} (STARTTLS) and {args.tls_port} (TLS), Maildir {args.maildir}", flush=True)
    stop.wait()
    starttls.stop()
    implicit.stop()


if __name__ == "__main__":
    main()
