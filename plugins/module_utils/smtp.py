# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's SMTP client: STARTTLS, implicit TLS or (when allowed) plain, with AUTH, certificate checks and the
SMTP answers turned into the collection's errors (535 -> AuthenticationError naming the password option, a refused
recipient -> RecipientRefused for that address only, a lost connection -> UnavailableError)."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from typing import Any, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, InputError, OfmRollbackError, UnavailableError

SYSTEM = "SMTP"
SECURITY = ("starttls", "tls", "none")


class RecipientRefused(OfmRollbackError):
    """The server refused this recipient (a definitive 5xx): the others go on."""


class SmtpClient:
    """One SMTP session, opened on first use and kept for the batch."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.host = params["host"]
        self.port = int(params["port"])
        self.security = params["security"]
        if self.security not in SECURITY:
            raise InputError(f"security must be one of {', '.join(SECURITY)}, not {self.security!r}", option="security", accepted=SECURITY)
        if self.security == "none" and not params.get("allow_insecure"):
            raise InputError("security none sends the password and the messages in clear text: set allow_insecure: true to accept that",
                             option="security", accepted=SECURITY)
        self.username = params.get("username")
        self.password = params.get("password")
        self.timeout = float(params.get("timeout") or 30)
        self.context = ssl.create_default_context(cafile=params.get("ca_path") or None)
        if not params.get("validate_certs", True):
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        self._session: Optional[smtplib.SMTP] = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def _open(self) -> smtplib.SMTP:
        if self._session is not None:
            return self._session
        try:
            if self.security == "tls":
                session: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.context)
            else:
                session = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    session.starttls(context=self.context)
            if self.username:
                session.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthenticationError(f"the server refused the login of {self.username} ({exc.smtp_code})", system=SYSTEM, operation="AUTH",
                                      target=self.target, hint="Check username and password (smtp password).") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise InputError(f"the server does not offer what security {self.security} needs: {exc}", option="security", system=SYSTEM,
                             target=self.target, accepted=SECURITY) from exc
        except ssl.SSLCertVerificationError as exc:
            raise UnavailableError(f"the server's certificate is not trusted: {exc.verify_message}", system=SYSTEM, operation="TLS handshake",
                                   target=self.target, hint="Set ca_path to the CA that signed it.") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise UnavailableError(f"cannot talk to the SMTP server: {exc}", system=SYSTEM, operation="connect", target=self.target) from exc
        self._session = session
        return session

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Send ``message`` to ``recipient``; RecipientRefused for a definitive refusal of that address."""
        session = self._open()
        try:
            refused = session.send_message(message, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, answer = next(iter(exc.recipients.values()))
            raise RecipientRefused(f"{code} {answer.decode(errors='replace')}", system=SYSTEM, operation="RCPT TO", target=self.target) from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._session = None
            raise UnavailableError(f"the connection was lost while sending: {exc}", system=SYSTEM, operation="DATA", target=self.target,
                                   hint="The message may or may not have been delivered.") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise RecipientRefused(f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}", system=SYSTEM, operation="DATA",
                                       target=self.target) from exc
            raise UnavailableError(f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}", system=SYSTEM, operation="DATA",
                                   target=self.target) from exc
        except (socket.timeout, OSError) as exc:
            self._session = None
            raise UnavailableError(f"the connection was lost while sending: {exc}", system=SYSTEM, operation="DATA", target=self.target,
                                   hint="The message may or may not have been delivered.") from exc
        if refused:
            raise RecipientRefused(str(refused), system=SYSTEM, operation="RCPT TO", target=self.target)

    def close(self) -> None:
        if self._session is not None:
            try:
                self._session.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._session = None
