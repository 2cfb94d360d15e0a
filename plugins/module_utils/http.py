# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one place for HTTP: sessions, timeouts, retries with backoff, TLS, auth, redaction, audit.

Retry policy (a urllib3 ``Retry`` decides which methods qualify for a retry after a 5xx):

* connect errors are retried for every method, since nothing reached the server;
* HTTP 429 is retried for every method, since the server did not process the request (RFC 6585);
* read timeouts and 5xx are retried only for idempotent calls (GET, HEAD, PUT, DELETE, OPTIONS,
  or any call made with ``idempotent=True``);
* the wait between attempts doubles from ``backoff_factor``; a ``Retry-After`` header replaces it;
* ``deadline`` (seconds) caps the whole call, retries and waits included: the client's own, and the one
  passed to ``request()``, whichever ends first.

Every attempt is appended to ``HttpClient.requests`` (method, redacted URL, status or error, duration).
An ``UnavailableError`` says in ``sent`` whether the request can have been processed by the server.

TLS: certificates are verified by default, against ``ca_path`` when given (loaded once, when the client is made: a file
that cannot be read is an ``InputError`` naming the option) else the CA bundle of ``requests``. A refused certificate or
handshake is a ``CertificateError`` (never retried, nothing sent) that says what is wrong (untrusted, another host's,
expired, not yet valid, not TLS at all) and which option fixes it; ``tls_options`` names the module's options. The session
keeps its connections alive, so a client that polls makes one TLS handshake, not one per request.
"""

from __future__ import annotations

import base64
import time
import traceback
import warnings
from dataclasses import dataclass, replace
from json import dumps
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence
from urllib.parse import urljoin, urlsplit

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError,
    AuthorizationError,
    CertificateError,
    ConflictError,
    DataError,
    InputError,
    NotFoundError,
    OfmRollbackError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.redact import Redactor
from ansible_collections.ofm.rollback.plugins.module_utils.tls import TlsOptions, refusal, verifying_context

try:
    import requests
    from requests.auth import AuthBase
    from urllib3.exceptions import ConnectTimeoutError, InsecureRequestWarning, InvalidHeader
    from urllib3.util.retry import Retry
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_TRACEBACK: Optional[str] = traceback.format_exc()
    AuthBase = object
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_TRACEBACK = None

COLLECTION_VERSION = "0.1.0"
DEFAULT_USER_AGENT = f"ofm.rollback/{COLLECTION_VERSION}"
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))
RATE_LIMITED = 429
RETRY_STATUSES = frozenset((500, 502, 503, 504))
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER_WITHOUT_DEADLINE = 120.0
MAX_BODY_IN_ERRORS = 2000
DEFAULT_SESSION_COOKIE = "connect.sid"
RATE_LIMITED_HINT = "The service refused the request without processing it (rate limited): send fewer requests, or run again later."


class ClientAuth(AuthBase):
    """Authentication that also tells the client which values to redact."""

    def secrets(self) -> list[str]:
        raise NotImplementedError


class BearerAuth(ClientAuth):
    """``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def secrets(self) -> list[str]:
        return [self._token]


class HeaderAuth(ClientAuth):
    """A secret sent as the value of one header (``X-API-Key: <key>`` for PowerDNS, ``Authorization: <token>`` for Unleash)."""

    def __init__(self, header: str, value: str) -> None:
        self._header = header
        self._value = value

    def __call__(self, request: Any) -> Any:
        request.headers[self._header] = self._value
        return request

    def secrets(self) -> list[str]:
        return [self._value]


class SessionCookieAuth(ClientAuth):
    """A session cookie sent on every request (``connect.sid`` for the OFM ops API)."""

    def __init__(self, value: str, name: str = DEFAULT_SESSION_COOKIE) -> None:
        self._name = name
        self._value = value

    def __call__(self, request: Any) -> Any:
        existing = request.headers.get("Cookie")
        cookie = f"{self._name}={self._value}"
        request.headers["Cookie"] = f"{cookie}; {existing}" if existing else cookie
        return request

    def secrets(self) -> list[str]:
        return [self._value]


class BasicAuth(ClientAuth):
    """``Authorization: Basic <base64(user:password)>``."""

    def __init__(self, username: str, password: str) -> None:
        self._encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._password = password

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Basic {self._encoded}"
        return request

    def secrets(self) -> list[str]:
        return [self._password, self._encoded]


@dataclass(frozen=True)
class Response:
    """A response with an expected status: ``body`` is parsed JSON for JSON content, else text."""

    status: int
    body: Any
    headers: dict[str, str]
    url: str


@dataclass(frozen=True)
class _Limits:
    connect_timeout: float
    read_timeout: float
    retries: int
    backoff_factor: float
    deadline: Optional[float]


class HttpClient:
    """A ``requests`` session bound to one base URL, with the collection's retry, TLS, auth and audit rules."""

    def __init__(self, base_url: str, *, auth: Optional[ClientAuth] = None, verify: bool = True, ca_path: Optional[str] = None,
                 connect_timeout: float = 5, read_timeout: float = 30, retries: int = 3, backoff_factor: float = 0.5,
                 deadline: Optional[float] = None, user_agent: str = DEFAULT_USER_AGENT, system: str = "HTTP service",
                 secrets: Iterable[Optional[str]] = (), sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 refusal_roles: Optional[Callable[[Any], tuple[Optional[str], Optional[list[str]]]]] = None,
                 tls_options: TlsOptions = TlsOptions()) -> None:
        if not HAS_REQUESTS:
            raise InputError("the Python library 'requests' cannot be imported", system=system, operation="client setup",
                             hint="Install the collection's requirements.txt for the Python that runs the module.",
                             details={"traceback": REQUESTS_IMPORT_TRACEBACK})
        self.base_url = base_url.rstrip("/") + "/"
        self.system = system
        self.requests: list[dict[str, Any]] = []
        self._auth = auth
        self._tls_options = tls_options
        if verify and ca_path:
            verifying_context(ca_path, option=tls_options.ca_path, system=system)  # an unreadable bundle is bad input, before any request
        self._ca_path = ca_path if verify else None
        self._verify: bool | str = (ca_path or True) if verify else False
        self._limits = _Limits(connect_timeout, read_timeout, retries, backoff_factor, deadline)
        self._sleep = sleep
        self._clock = clock
        self._redactor = Redactor([*secrets, *(auth.secrets() if auth else [])])
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent
        # How the service's 403 body names the role required and the caller's roles: the service's own format, set by its client.
        self.refusal_roles = refusal_roles

    def add_secrets(self, *values: Optional[str]) -> None:
        """More values to remove from what the client records and raises (a token obtained or checked after it was made)."""
        self._redactor.add(*values)

    def redact(self, value: Any) -> Any:
        """``value`` with this client's secrets and secret-looking patterns removed."""
        return self._redactor.value(value)

    def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None, json: Any = None, data: Any = None,
                headers: Optional[Mapping[str, str]] = None, idempotent: Optional[bool] = None,
                expected: Sequence[int] = (200,), deadline: Optional[float] = None) -> Response:
        """Send ``method path``; return the response if its status is in ``expected``, else raise an ``OfmRollbackError``.

        ``deadline`` (seconds from now) caps this call's attempts, waits and timeouts, within the client's own deadline.
        """
        method = method.upper()
        url = urljoin(self.base_url, path.lstrip("/"))
        if params:
            url = requests.Request(method, url, params=params).prepare().url or url
        call = _Call(method, url, self.redact(url), method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
                     self._limits_within(deadline), self._clock)
        payload = {"json": json, "data": data, "headers": dict(headers or {})}
        while True:
            outcome = self._attempt(call, payload)
            if isinstance(outcome, requests.Response) and (outcome.status_code in expected or not call.retry_status(outcome)):
                return self._finish(call, outcome, expected)
            delay, why_not = call.next_delay(outcome)
            if delay is None:
                raise self._give_up(call, outcome, why_not)
            self._sleep(delay)

    def _limits_within(self, deadline: Optional[float]) -> _Limits:
        own = self._limits.deadline
        if deadline is None or (own is not None and own <= deadline):
            return self._limits
        return replace(self._limits, deadline=deadline)

    def _attempt(self, call: _Call, payload: dict[str, Any]) -> requests.Response | requests.RequestException:
        call.attempts += 1
        started = self._clock()
        try:
            with warnings.catch_warnings():
                if self._verify is False:
                    warnings.simplefilter("ignore", InsecureRequestWarning)
                response = self._session.request(call.method, call.url, auth=self._auth, verify=self._verify,
                                                 timeout=call.timeouts(), allow_redirects=False, **payload)
        except requests.exceptions.SSLError as exc:
            self._record(call, started, error=exc)
            raise self._tls_error(call, exc) from exc
        except requests.RequestException as exc:
            self._record(call, started, error=exc)
            return exc
        self._record(call, started, status=response.status_code)
        return response

    def _record(self, call: _Call, started: float, *, status: Optional[int] = None, error: Optional[Exception] = None) -> None:
        entry: dict[str, Any] = {"method": call.method, "url": call.logged_url, "attempt": call.attempts,
                                 "duration": round(self._clock() - started, 3)}
        if status is not None:
            entry["status"] = status
        if error is not None:
            entry["error"] = self._redactor.text(_describe(error))
        self.requests.append(entry)

    def _finish(self, call: _Call, response: requests.Response, expected: Sequence[int]) -> Response:
        if response.status_code in expected:
            return Response(response.status_code, self._parse_body(call, response), dict(response.headers), call.logged_url)
        raise self._status_error(call, response)

    def _parse_body(self, call: _Call, response: requests.Response, *, strict: bool = True) -> Any:
        """The body as JSON when labelled so, else text; a body that does not parse is a ``DataError`` only when ``strict``."""
        if "json" not in response.headers.get("Content-Type", "") or not response.content:
            return response.text
        try:
            return response.json()
        except ValueError as exc:
            if not strict:
                return response.text
            raise DataError(f"the response (HTTP {response.status_code}) is labelled JSON but does not parse: {exc}",
                            system=self.system, operation=call.operation, target=call.logged_url, status=response.status_code,
                            details={"body": self.redact(response.text[:MAX_BODY_IN_ERRORS])}) from exc

    def _status_error(self, call: _Call, response: requests.Response) -> OfmRollbackError:
        status = response.status_code
        body = self._parse_body(call, response, strict=False)
        shown = self.redact(body if isinstance(body, (dict, list)) else str(body)[:MAX_BODY_IN_ERRORS])
        common: dict[str, Any] = {"system": self.system, "operation": call.operation, "target": call.logged_url, "status": status,
                                  "details": {"body": shown}}
        summary = f"HTTP {status}: {_error_text(shown)}"
        if status == 401:
            return AuthenticationError(summary, **common)
        if status == 403:
            required, current = self.refusal_roles(shown) if self.refusal_roles else (None, None)
            return AuthorizationError(summary, required_role=required, current_roles=current, **common)
        if status == 404:
            return NotFoundError(summary, **common)
        if status == 409:
            return ConflictError(summary, **common)
        if status >= 500 or status == RATE_LIMITED:
            refused = status == RATE_LIMITED
            return UnavailableError(f"{summary} after {call.attempts} attempt(s)", attempts=call.attempts, sent=not refused,
                                    hint=RATE_LIMITED_HINT if refused else _unavailable_hint(call.idempotent), **common)
        if status >= 400:
            return InputError(summary, hint="Check the request's parameters against the service's API.", **common)
        if 300 <= status < 400:
            location = self.redact(response.headers.get("Location", "(no Location header)"))
            return DataError(f"HTTP {status}: the service redirects to {location}", **common,
                             hint="Use the final URL as the base URL: redirects are not followed, so credentials stay with one host.")
        return DataError(f"unexpected HTTP {status}: {_error_text(shown)}", **common)

    def _give_up(self, call: _Call, outcome: requests.Response | requests.RequestException, why_not: str) -> OfmRollbackError:
        if isinstance(outcome, requests.Response):
            error = self._status_error(call, outcome)
            error.reason += why_not
            return error
        if not _is_transport_error(outcome):
            return InputError(self._redactor.text(f"the request could not be sent: {outcome}"), system=self.system,
                              operation=call.operation, target=call.logged_url, hint="Check the base URL and the request's parameters.")
        reason = self._redactor.text(f"{_describe(outcome)} after {call.attempts} attempt(s){why_not}")
        sent = _sent(outcome)
        return UnavailableError(reason, attempts=call.attempts, sent=sent, system=self.system, operation=call.operation,
                                target=call.logged_url, hint=_unavailable_hint(call.idempotent or sent is False))

    def _tls_error(self, call: _Call, exc: Exception) -> CertificateError:
        why = refusal(exc, call.url, self._ca_path, self._tls_options, timeout=min(self._limits.connect_timeout, 5.0))
        return CertificateError(self._redactor.text(why.reason), problem=why.problem, option=why.option, attempts=call.attempts,
                                system=self.system, operation=call.operation, target=call.logged_url, hint=self._redactor.text(why.hint),
                                details={"certificate": why.certificate} if why.certificate else None)


class _Call:
    """One ``request()`` call across its attempts: the time left, and whether and when to try again."""

    def __init__(self, method: str, url: str, logged_url: str, idempotent: bool, limits: _Limits, clock: Callable[[], float]) -> None:
        self.method = method
        self.url = url
        self.logged_url = logged_url
        self.operation = f"{method} {urlsplit(logged_url).path or '/'}"
        self.idempotent = idempotent
        self.attempts = 0
        self._limits = limits
        self._clock = clock
        self._started = clock()
        allowed = IDEMPOTENT_METHODS | {method} if idempotent else IDEMPOTENT_METHODS - {method}
        self._policy = Retry(total=limits.retries, status_forcelist=RETRY_STATUSES, allowed_methods=allowed,
                             respect_retry_after_header=True)

    def remaining(self) -> Optional[float]:
        if self._limits.deadline is None:
            return None
        return self._limits.deadline - (self._clock() - self._started)

    def timeouts(self) -> tuple[float, float]:
        remaining = self.remaining()
        if remaining is None:
            return self._limits.connect_timeout, self._limits.read_timeout
        left = max(remaining, 0.001)
        return min(self._limits.connect_timeout, left), min(self._limits.read_timeout, left)

    def retry_status(self, response: requests.Response) -> bool:
        """True when the status may be retried for this call: 429 always, 5xx (or a Retry-After) when idempotent."""
        status = response.status_code
        return status == RATE_LIMITED or self._policy.is_retry(self.method, status, "Retry-After" in response.headers)

    def next_delay(self, outcome: requests.Response | requests.RequestException) -> tuple[Optional[float], str]:
        """Seconds to wait before the next attempt, or ``None`` and why no attempt may follow."""
        if isinstance(outcome, requests.RequestException) and not (
                _is_transport_error(outcome) and (self.idempotent or _nothing_sent(outcome))):
            return None, ""
        if self.attempts > self._limits.retries:
            return None, ""
        delay = self._delay(outcome)
        remaining = self.remaining()
        if remaining is not None and delay >= remaining:
            return None, f"; the {self._limits.deadline:g}s deadline leaves no time for another attempt"
        if remaining is None and delay > MAX_RETRY_AFTER_WITHOUT_DEADLINE:
            return None, f"; the server asked to retry after {delay:g}s"
        return delay, ""

    def _delay(self, outcome: requests.Response | requests.RequestException) -> float:
        retry_after = outcome.headers.get("Retry-After") if isinstance(outcome, requests.Response) else None
        if retry_after is not None:
            try:
                return float(self._policy.parse_retry_after(retry_after))
            except InvalidHeader:
                pass
        return min(self._limits.backoff_factor * (2 ** (self.attempts - 1)), MAX_BACKOFF)


def _unavailable_hint(safe_to_repeat: bool) -> str:
    if safe_to_repeat:
        return UnavailableError.default_hint
    return "The request may have reached the server and been applied: check the current state before running this step again."


def _is_transport_error(error: Exception) -> bool:
    """True for failures of the network or the peer, as opposed to a request that could not be built."""
    return isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError))


def _sent(error: Exception) -> Optional[bool]:
    """Whether a failed request reached the server: not when it could not connect, yes when the answer was late or broken."""
    if _nothing_sent(error):
        return False
    if isinstance(error, (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError)):
        return True
    return None


def _nothing_sent(error: Exception) -> bool:
    """True for errors raised before the request reached the server (refused, DNS failure, connect timeout)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(error, requests.exceptions.ConnectionError) or not error.args:
        return False
    return isinstance(getattr(error.args[0], "reason", None), ConnectTimeoutError)


def _describe(error: Exception) -> str:
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "connecting timed out"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return "no response within the read timeout"
    if _nothing_sent(error):
        return f"could not connect ({_root_cause(error)})"
    return f"the connection failed ({_root_cause(error)})"


def _root_cause(error: Exception) -> str:
    reason = getattr(error.args[0], "reason", None) if error.args else None
    text = str(reason or error)
    text = text.split("): ", 1)[-1] if text.startswith(("HTTPConnection(", "HTTPSConnection(")) else text
    return text if len(text) <= 300 else text[:300] + "..."


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        message = body.get("error") or body.get("message") or body.get("detail")
        if isinstance(message, str):
            extra = body.get("details")
            return f"{message} ({extra})" if isinstance(extra, str) and extra else message
        return dumps(body)[:MAX_BODY_IN_ERRORS]
    text = str(body).strip()
    return text[:MAX_BODY_IN_ERRORS] if text else "(empty body)"
