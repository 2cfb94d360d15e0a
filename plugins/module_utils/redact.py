# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remove secrets from strings, URLs, headers and nested results before they leave a module."""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional, Sequence
from urllib.parse import quote

REDACTED = "********"
# Command-line flags whose value is a secret, given as ``--flag value`` or ``--flag=value``.
SECRET_FLAGS = ("--kube-token", "--password")

SENSITIVE_HEADERS = frozenset((
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token", "private-token",
))

_SENSITIVE_NAME = r"[\w.-]*(?:token|password|passwd|secret|api[_-]?key|apikey|credential|session|connect\.sid)[\w.-]*"
_SENSITIVE_KEY = re.compile(rf"^{_SENSITIVE_NAME}$|^(?:{'|'.join(re.escape(h) for h in SENSITIVE_HEADERS)})$", re.IGNORECASE)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|oauth|digest)\s+)?)[^\s,;\"'}]+", re.IGNORECASE),
     rf"\1{REDACTED}"),
    (re.compile(r"\b((?:set-)?cookie[\"']?\s*[:=]\s*[\"']?)[^\r\n\"'}]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (re.compile(rf"(\"{_SENSITIVE_NAME}\"\s*:\s*\")[^\"]*(\")", re.IGNORECASE), rf"\1{REDACTED}\2"),
    (re.compile(rf"(\b{_SENSITIVE_NAME}=)[^&;\s\"',]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/@\s\"']+@", re.IGNORECASE), rf"\1{REDACTED}@"),
)


class Redactor:
    """Replaces known secret values and secret-looking patterns with ``********``."""

    def __init__(self, secrets: Iterable[Optional[str]] = ()) -> None:
        self._secrets: set[str] = set()
        self._literal: Optional[re.Pattern[str]] = None
        self.add(*secrets)

    def add(self, *secrets: Optional[str]) -> None:
        """Register more secret values (their URL-encoded forms are redacted too)."""
        for secret in secrets:
            if secret:
                self._secrets.update({secret, quote(secret, safe="")})
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None

    def text(self, text: str) -> str:
        """``text`` without registered secrets, credentials in URLs, auth headers, cookies or token parameters."""
        if self._literal is not None:
            text = self._literal.sub(REDACTED, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def value(self, value: Any) -> Any:
        """A copy of ``value`` (str, mapping, list or tuple, nested) with every secret redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {key: REDACTED if _is_sensitive_key(key, item) else self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value


def _is_sensitive_key(key: Any, item: Any) -> bool:
    return isinstance(key, str) and bool(_SENSITIVE_KEY.match(key)) and isinstance(item, (str, bytes)) and bool(item)


def redact(value: Any, secrets: Iterable[Optional[str]] = ()) -> Any:
    """``value`` (any nesting of str, dict, list) with ``secrets`` and secret-looking patterns replaced."""
    return Redactor(secrets).value(value)


def redact_url(url: str) -> str:
    """``url`` without userinfo and without token/password query parameters."""
    return Redactor().text(url)


def redact_command(argv: Sequence[str], secret_flags: Sequence[str] = SECRET_FLAGS, redactor: Optional[Redactor] = None) -> list[str]:
    """The argument list with the values of ``secret_flags`` hidden and every other argument redacted (by ``redactor``, which
    may know literal secrets)."""
    redactor = redactor or Redactor()
    shown: list[str] = []
    hide_next = False
    for argument in argv:
        flag = argument.split("=", 1)[0]
        if hide_next:
            shown.append(REDACTED)
        elif flag in secret_flags and "=" in argument:
            shown.append(f"{flag}={REDACTED}")
        else:
            shown.append(redactor.text(argument))
        hide_next = argument in secret_flags
    return shown
