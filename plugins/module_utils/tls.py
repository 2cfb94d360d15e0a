# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a TLS client sees at an endpoint: the certificate, whether it is trusted, for which names, and for how long; and what
a refused certificate means to the collection's HTTP client (``refusal``: which problem, and which option fixes it).

Each endpoint gets two handshakes, both with SNI: one that accepts any certificate (to read the leaf certificate, the TLS
version and the cipher even when verification fails), then one that verifies the chain against a CA bundle (the system trust
store by default) with ``ssl``'s own hostname check. OpenSSL stops at the first error it finds (untrusted chain, then
wrong host, then expiry), so the leaf is also checked on its own: its validity dates against the clock and its subject
alternative names against the names expected. Each finding is one problem of a kind in ``PROBLEM_KINDS``.

A connection that cannot be made (refused, no route, name not resolved, timeout) is tried once more: the check only reads.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional, Sequence
from urllib.parse import urlsplit

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

# cryptography reads certificates only (describe_certificate), and is imported there: every HTTP client of the collection
# imports this module (TlsOptions), and importing cryptography costs every run's controller 40-60 ms it rarely needs.
HAS_CRYPTOGRAPHY = importlib.util.find_spec("cryptography") is not None
CRYPTOGRAPHY_IMPORT_TRACEBACK: Optional[str] = None if HAS_CRYPTOGRAPHY else "ModuleNotFoundError: No module named 'cryptography'"

SYSTEM = "TLS"
# Problem kinds, and which O(fail_on) choice each one counts under.
PROBLEM_KINDS = {"unreachable": "unreachable", "handshake": "unreachable", "untrusted": "untrusted", "hostname": "hostname",
                 "expired": "expired", "not_yet_valid": "expired", "soon": "soon"}
FAIL_ON_CHOICES = ("expired", "untrusted", "hostname", "soon", "unreachable")
DEFAULT_FAIL_ON = ("expired", "untrusted", "hostname", "unreachable")
# OpenSSL verify codes (X509_V_ERR_*) that are not about trust.
VERIFY_EXPIRED = {9: "not_yet_valid", 10: "expired"}
VERIFY_HOSTNAME = {62, 64}  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
# OpenSSL's messages when the peer does not speak TLS at all (a plain HTTP server behind an https:// URL).
NOT_TLS_MARKERS = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure", "packet length too long", "http request")
MAX_WORKERS = 8
RETRY_DELAY = 1.0


@dataclass(frozen=True)
class Endpoint:
    """One endpoint to check: where to connect, the SNI name to send, and the names the certificate must hold."""

    host: str
    port: int = 443
    server_name: str = ""
    expected_names: tuple[str, ...] = ()

    @property
    def sni(self) -> str:
        return self.server_name or self.host

    @property
    def names(self) -> tuple[str, ...]:
        """The names the certificate must be valid for: the expected names, else the SNI name."""
        return self.expected_names or (self.sni,)

    @property
    def label(self) -> str:
        where = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        return where if self.sni == self.host else f"{where} ({self.sni})"


def parse_endpoints(raw: Optional[Sequence[Any]]) -> list[Endpoint]:
    """Endpoints from the module's O(endpoints) option; InputError names the entry and option at fault."""
    if not raw:
        raise InputError("endpoints is empty", option="endpoints", accepted="a list of one endpoint or more, each with a host")
    endpoints = []
    for index, entry in enumerate(raw):
        where = f"endpoints[{index}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where} is a {type(entry).__name__}", option=where, accepted="a dict with host and optional port, server_name, expected_names")
        host = str(entry.get("host") or "").strip()
        if not host:
            raise InputError(f"{where}.host is empty", option=f"{where}.host", accepted="a DNS name or an IP address")
        port = entry.get("port")
        port = 443 if port is None else port
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise InputError(f"{where}.port is {port!r}", option=f"{where}.port", accepted="an integer from 1 to 65535")
        server_name = str(entry.get("server_name") or "").strip()
        names = entry.get("expected_names") or []
        if isinstance(names, str) or any(not isinstance(name, str) or not name.strip() for name in names):
            raise InputError(f"{where}.expected_names holds an empty or non-text name", option=f"{where}.expected_names",
                             accepted="a list of DNS names (a wildcard name such as *.ofm.social is allowed) or IP addresses")
        endpoints.append(Endpoint(host=host, port=port, server_name=server_name, expected_names=tuple(name.strip() for name in names)))
    return endpoints


def check_options(ca_path: Optional[str], min_days_valid: int, timeout: float, fail_on: Sequence[str]) -> None:
    """InputError for a bad O(ca_path), O(min_days_valid), O(timeout) or O(fail_on)."""
    if ca_path is not None and not os.path.exists(ca_path):
        raise InputError(f"ca_path {ca_path} does not exist", option="ca_path",
                         accepted="the path of a PEM CA bundle file or of a c_rehash'ed CA directory; omit it for the system trust store")
    if isinstance(min_days_valid, bool) or not isinstance(min_days_valid, int) or min_days_valid < 0:
        raise InputError(f"min_days_valid is {min_days_valid!r}", option="min_days_valid", accepted="an integer of 0 or more (days)")
    if not timeout or timeout <= 0:
        raise InputError(f"timeout is {timeout!r}", option="timeout", accepted="a number of seconds greater than 0")
    unknown = [kind for kind in fail_on if kind not in FAIL_ON_CHOICES]
    if unknown:
        raise InputError(f"fail_on holds {', '.join(map(str, unknown))}", option="fail_on", accepted=FAIL_ON_CHOICES)


def verifying_context(ca_path: Optional[str], option: str = "ca_path", system: str = SYSTEM) -> ssl.SSLContext:
    """A client context that verifies the chain against ``ca_path`` (file or directory) or the system trust store; an
    InputError naming ``option`` (of the client of ``system``) when it cannot be loaded."""
    try:
        if ca_path is None:
            return ssl.create_default_context()
        if os.path.isdir(ca_path):
            return ssl.create_default_context(capath=ca_path)
        return ssl.create_default_context(cafile=ca_path)
    except (ssl.SSLError, OSError) as exc:
        raise InputError(f"{option} {ca_path} could not be loaded: {exc}", option=option, system=system,
                         accepted="a PEM file of CA certificates, or a c_rehash'ed CA directory") from exc


def reading_context() -> ssl.SSLContext:
    """A client context that accepts any certificate: only to read what the server presents."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _dns_match(pattern: str, name: str) -> bool:
    """RFC 6125 matching: a wildcard only as the whole left-most label, standing for exactly one label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if not pattern.startswith("*.") or "*" in pattern[2:]:
        return False
    head, dot, rest = name.partition(".")
    return bool(head and dot) and rest == pattern[2:] and rest.count(".") >= 1


def name_matches(name: str, dns_names: Sequence[str], ip_addresses: Sequence[str]) -> bool:
    """Whether a certificate with these SAN entries is valid for ``name`` (a DNS name or an IP address)."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return any(_dns_match(pattern, name) for pattern in dns_names)
    return any(ipaddress.ip_address(candidate) == address for candidate in ip_addresses)


def describe_certificate(der: bytes, now: datetime) -> dict[str, Any]:
    """The leaf certificate's fields a person checks, with dates in UTC and the whole days left."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = san.get_values_for_type(x509.DNSName)
        ip_addresses = [str(address) for address in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns_names, ip_addresses = [], []
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial_number": format(cert.serial_number, "x"),
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        "dns_names": dns_names,
        "ip_addresses": ip_addresses,
        "not_before": utc(not_before),
        "not_after": utc(not_after),
        "days_left": int((not_after - now).total_seconds() // 86400),
        "self_signed": cert.subject == cert.issuer,
    }


def _problem(kind: str, message: str) -> dict[str, str]:
    return {"kind": kind, "message": message}


class TlsChecker:
    """Checks endpoints as a client would. ``clock`` gives the current UTC time; ``sleep`` waits before the one retry."""

    def __init__(self, *, ca_path: Optional[str] = None, min_days_valid: int = 14, timeout: float = 10.0,
                 fail_on: Sequence[str] = DEFAULT_FAIL_ON, retry_delay: float = RETRY_DELAY,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), sleep: Callable[[float], None] = time.sleep):
        check_options(ca_path, min_days_valid, timeout, fail_on)
        self.ca_path = ca_path
        self.min_days_valid = min_days_valid
        self.timeout = timeout
        self.fail_on = tuple(fail_on)
        self.retry_delay = retry_delay
        self.clock = clock
        self.sleep = sleep
        self.verifying = verifying_context(ca_path)
        self.reading = reading_context()

    def check_all(self, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
        """Every endpoint's result, in the order given, and the labels of those with a problem in ``fail_on``."""
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(endpoints) or 1)) as pool:
            results = list(pool.map(self.check, endpoints))
        return {"endpoints": results, "failed_endpoints": [result["endpoint"] for result in results if not result["ok"]]}

    def check(self, endpoint: Endpoint) -> dict[str, Any]:
        """One endpoint's result: ``ok`` is false when a problem's kind counts under ``fail_on``."""
        result: dict[str, Any] = {
            "endpoint": endpoint.label, "host": endpoint.host, "port": endpoint.port, "server_name": endpoint.sni,
            "checked_names": list(endpoint.names), "attempts": 0, "error": None, "tls_version": None, "cipher": None,
            "certificate": None, "verification": None, "hostname_match": None, "expires_soon": None,
        }
        problems: list[dict[str, str]] = []
        for attempt in (1, 2):
            result["attempts"] = attempt
            try:
                problems = self._inspect(endpoint, result)
                break
            except ssl.SSLError as exc:  # the server refused the handshake itself: trying again changes nothing
                result["error"] = f"TLS handshake with {endpoint.label} failed: {exc.reason or exc}"
                problems = [_problem("handshake", result["error"])]
                break
            except OSError as exc:
                result["error"] = f"{endpoint.label} is unreachable: {_connect_reason(exc, self.timeout)}"
                problems = [_problem("unreachable", result["error"] + f" (after {attempt} attempt(s))")]
                if attempt == 1:
                    self.sleep(self.retry_delay)
        result["problems"] = problems
        result["ok"] = not any(PROBLEM_KINDS[problem["kind"]] in self.fail_on for problem in problems)
        return result

    def _connect(self, endpoint: Endpoint, context: ssl.SSLContext) -> ssl.SSLSocket:
        raw = socket.create_connection((endpoint.host, endpoint.port), timeout=self.timeout)
        try:
            return context.wrap_socket(raw, server_hostname=endpoint.sni)
        except BaseException:
            raw.close()
            raise

    def _inspect(self, endpoint: Endpoint, result: dict[str, Any]) -> list[dict[str, str]]:
        """Both handshakes and the checks of the leaf; fills ``result`` and returns the problems found."""
        with self._connect(endpoint, self.reading) as tls:
            der = tls.getpeercert(binary_form=True)
            cipher = tls.cipher()
            result["tls_version"] = tls.version()
            result["cipher"] = cipher[0] if cipher else None
        result["error"] = None
        if not der:
            raise ssl.SSLError("the server sent no certificate")
        now = self.clock()
        cert = describe_certificate(der, now)
        result["certificate"] = cert
        verification = self._verify(endpoint)
        result["verification"] = verification
        problems: list[dict[str, str]] = []
        code = verification["verify_code"]
        if not verification["verified"] and code not in VERIFY_EXPIRED and code not in VERIFY_HOSTNAME:
            problems.append(_problem("untrusted", f"the chain is not trusted by {self.ca_path or 'the system trust store'}: "
                                                  f"{verification['verify_message']}"))
        unmatched = [name for name in endpoint.names if not name_matches(name, cert["dns_names"], cert["ip_addresses"])]
        result["hostname_match"] = not unmatched and code not in VERIFY_HOSTNAME
        if not result["hostname_match"]:
            held = ", ".join(cert["dns_names"] + cert["ip_addresses"]) or "no subject alternative name"
            problems.append(_problem("hostname", f"the certificate is not valid for {', '.join(unmatched or endpoint.names)} "
                                                 f"(it holds {held})"))
        not_before = datetime.fromisoformat(cert["not_before"])
        if cert["days_left"] < 0 or now >= datetime.fromisoformat(cert["not_after"]):
            problems.append(_problem("expired", f"the certificate expired at {cert['not_after']} ({-cert['days_left']} day(s) ago)"))
        elif now < not_before:
            problems.append(_problem("not_yet_valid", f"the certificate is not valid before {cert['not_before']}"))
        elif code in VERIFY_EXPIRED:
            problems.append(_problem(VERIFY_EXPIRED[code], f"a certificate of the chain is out of its validity dates: "
                                                           f"{verification['verify_message']}"))
        result["expires_soon"] = 0 <= cert["days_left"] < self.min_days_valid
        if result["expires_soon"]:
            problems.append(_problem("soon", f"the certificate expires at {cert['not_after']}, in {cert['days_left']} day(s), "
                                             f"fewer than min_days_valid {self.min_days_valid}"))
        return problems

    def _verify(self, endpoint: Endpoint) -> dict[str, Any]:
        """The verifying handshake: ``ssl``'s chain check, and its hostname check when no expected names are given."""
        context = self.verifying
        if endpoint.expected_names:  # the names are checked against the SANs instead of the SNI name
            context = verifying_context(self.ca_path)
            context.check_hostname = False
        try:
            with self._connect(endpoint, context):
                pass
        except ssl.SSLCertVerificationError as exc:
            return {"verified": False, "verify_code": exc.verify_code, "verify_message": exc.verify_message or str(exc),
                    "hostname_checked": context.check_hostname}
        return {"verified": True, "verify_code": None, "verify_message": None, "hostname_checked": context.check_hostname}


def _connect_reason(exc: OSError, timeout: float) -> str:
    if isinstance(exc, socket.timeout):
        return f"no answer within timeout {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return f"the name could not be resolved ({exc.strerror or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    return exc.strerror or str(exc) or type(exc).__name__


def summary(results: dict[str, Any]) -> str:
    """One line: how many endpoints are fine, and each failing one with its problems."""
    endpoints = results["endpoints"]
    failed = [entry for entry in endpoints if not entry["ok"]]
    line = f"{len(endpoints) - len(failed)} of {len(endpoints)} TLS endpoint(s) ok"
    if failed:
        line += "; " + "; ".join(f"{entry['endpoint']}: " + ", ".join(problem["message"] for problem in entry["problems"])
                                 for entry in failed)
    return line


@dataclass(frozen=True)
class TlsOptions:
    """The names of the options that set a client's trust (the module's own, e.g. ``unleash_ca_path``) and its URL."""

    ca_path: str = "ca_path"
    validate_certs: str = "validate_certs"
    url: str = "the URL"


@dataclass(frozen=True)
class Refusal:
    """Why a TLS connection was refused: ``problem`` (untrusted, hostname, expired, not_yet_valid, handshake), what was
    wrong (``reason``), the option that fixes it (``option``, None when no option of this side does) and what to do (``hint``)."""

    problem: str
    reason: str
    option: Optional[str]
    hint: str
    certificate: Optional[dict[str, Any]] = None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it wraps: causes, contexts, and the exceptions in its arguments and ``reason`` (urllib3, requests)."""
    seen: set[int] = set()
    pending: list[Any] = [error]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]


def verification_failure(error: BaseException) -> Optional[ssl.SSLCertVerificationError]:
    """The certificate verification error inside ``error``, if a refused certificate is what it is about."""
    return next((cause for cause in _causes(error) if isinstance(cause, ssl.SSLCertVerificationError)), None)


def problem_kind(failure: Optional[ssl.SSLCertVerificationError]) -> str:
    """untrusted, hostname, expired or not_yet_valid for a verification failure; handshake for anything else."""
    if failure is None:
        return "handshake"
    code = failure.verify_code
    if code in VERIFY_HOSTNAME:
        return "hostname"
    if code in VERIFY_EXPIRED:
        return VERIFY_EXPIRED[code]
    return "untrusted"


def peer_certificate(url: str, timeout: float, now: Optional[datetime] = None) -> Optional[dict[str, Any]]:
    """The leaf certificate the server of ``url`` presents (``describe_certificate``), read by a handshake that accepts any
    certificate and sends nothing else; None when it cannot be read (no ``cryptography``, no connection, a proxy on the way)."""
    parts = urlsplit(url)
    if not HAS_CRYPTOGRAPHY or not parts.hostname:
        return None
    host, port = parts.hostname, parts.port or 443
    try:
        ipaddress.ip_address(host)
        server_name = None
    except ValueError:
        server_name = host
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with reading_context().wrap_socket(raw, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    return describe_certificate(der, now or datetime.now(timezone.utc)) if der else None


def _ssl_text(error: BaseException) -> str:
    """The innermost ``ssl`` error's text (OpenSSL's reason), without the wrappers' pool and URL text."""
    found = [cause for cause in _causes(error) if isinstance(cause, ssl.SSLError)]
    text = str(found[-1] if found else error)
    return text if len(text) <= 300 else text[:300] + "..."


def _issuer(certificate: Optional[dict[str, Any]]) -> str:
    return f"issued by {certificate['issuer']}" if certificate else "its issuer"


def refusal(error: BaseException, url: str, ca_path: Optional[str], options: TlsOptions = TlsOptions(), *,
            timeout: float = 5.0, certificate: Optional[dict[str, Any]] = None) -> Refusal:
    """What a TLS failure of a request to ``url`` means, for a person: the problem, and which of ``options`` fixes it.

    For a refused certificate the server's leaf is read once more (``peer_certificate``, unless ``certificate`` is given) to
    say whose it is, for which names and until when. Turning ``validate_certs`` off is named only as the lab's last resort."""
    failure = verification_failure(error)
    kind = problem_kind(failure)
    host = urlsplit(url).hostname or url
    if kind != "handshake" and certificate is None:
        certificate = peer_certificate(url, timeout)
    off = f"{options.validate_certs}=false turns every check off: never outside a throwaway lab."
    verify_message = failure.verify_message if failure is not None else ""
    if kind == "untrusted":
        trusted_by = f"{options.ca_path} {ca_path}" if ca_path else f"the default CA bundle ({options.ca_path} is not set)"
        issuer = f", {_issuer(certificate)}," if certificate else ""
        return Refusal(kind, f"TLS certificate verification failed: the server's certificate{issuer} is not trusted by {trusted_by} "
                             f"({verify_message})", options.ca_path,
                       f"Set {options.ca_path} to a PEM bundle holding the CA that signed the server's certificate. {off}", certificate)
    if kind == "hostname":
        held = ", ".join(certificate["dns_names"] + certificate["ip_addresses"]) if certificate else ""
        names = f" (it names {held or 'no subject alternative name'})" if certificate else f" ({verify_message})"
        return Refusal(kind, f"TLS certificate verification failed: the server's certificate is not valid for {host}{names}",
                       options.url, f"Use a host name the certificate names in {options.url}, or have the certificate reissued for "
                                    f"{host}; {options.ca_path} cannot fix a name that does not match. {off}", certificate)
    if kind in ("expired", "not_yet_valid"):
        if certificate and kind == "expired":
            ago = (datetime.now(timezone.utc) - datetime.fromisoformat(certificate["not_after"])).days
            when = f"expired at {certificate['not_after']} ({max(ago, 0)} day(s) ago)"
        elif certificate:
            when = f"is not valid before {certificate['not_before']}"
        else:
            when = f"is out of its validity dates ({verify_message})"
        return Refusal(kind, f"TLS certificate verification failed: the server's certificate {when}", None,
                       "The server's certificate must be renewed (on the server: no option of this module fixes it); if it "
                       f"looks valid, check this host's clock. {off}", certificate)
    root = _ssl_text(error)
    if any(marker in root for marker in NOT_TLS_MARKERS):
        return Refusal(kind, f"TLS handshake failed: the server does not speak TLS on this port ({root[-200:]})", options.url,
                       f"Check the scheme and port of {options.url}: an https:// URL needs a TLS port.")
    return Refusal(kind, f"TLS handshake failed: {root[-300:]}", options.ca_path,
                   f"Check that the server accepts TLS 1.2 or later, and set {options.ca_path} to the CA bundle that signed its "
                   f"certificate. {off}")
