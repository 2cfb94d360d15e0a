# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RFC 2136 dynamic update signed with TSIG (dnspython) as a DNS backend, for any server that takes dynamic updates
(PowerDNS, BIND, Knot).

The zone is read with one AXFR (zone transfer); where the server refuses the transfer, the record sets a task names are
read with one query per name and type. A whole change is ONE UPDATE message: a delete of each record set to remove and a
replace (delete the set, add the values) of each one to write, deletes first. The answer's rcode is checked, and its TSIG
signature verified when the update was applied; an answer without a signature or with a TSIG error means the server
refused the key (``AuthenticationError``). An update is not retried: when no answer comes, the error says it may have been
applied.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.dns.records import READ_TYPES, TYPES, RecordSet, Zone
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError, ConflictError, DataError, InputError, OfmRollbackError, UnavailableError)

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdata
    import dns.rdatatype
    import dns.tsig
    import dns.update
    import dns.xfr
except ImportError:  # reported by records.require_dnspython()
    dns = None  # type: ignore[assignment]

SYSTEM = "RFC 2136"
ALGORITHMS = ("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5")
DEFAULT_PORT = 53


def parse_server(server: str, port: Optional[int], option: str = "server") -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` with the ``port`` option as the default port."""
    text = str(server or "").strip()
    if not text:
        raise InputError(f"backend rfc2136 needs {option}", option=option, accepted="a host name or IP address, optionally with :port", system=SYSTEM)
    host, found = text, None
    if text.startswith("[") and "]" in text:
        host, _sep, rest = text[1:].partition("]")
        found = rest.lstrip(":") or None
    elif text.count(":") == 1:
        host, found = text.split(":")
    try:
        number = int(found) if found else int(port or DEFAULT_PORT)
    except ValueError as exc:
        raise InputError(f"the port in {text!r} is not a number", option=option, accepted="host or host:port", system=SYSTEM) from exc
    if not 0 < number < 65536:
        raise InputError(f"the port {number} is out of range", option=option, accepted="a port from 1 to 65535", system=SYSTEM)
    return host, number


class Rfc2136Backend:  # pylint: disable=too-many-instance-attributes
    """One zone on one primary server that takes TSIG-signed dynamic updates."""

    system = SYSTEM

    def __init__(self, zone: Zone, host: str, port: int, *, key_name: Optional[str], secret: Optional[str],  # pylint: disable=too-many-arguments
                 algorithm: str = "hmac-sha256", timeout: float = 10.0) -> None:
        self.zone = zone
        self.host = host
        self.port = port
        self.timeout = timeout
        self.algorithm = algorithm
        self.key_name = key_name
        self.keyring = None
        if key_name and secret:
            try:
                self.keyring = {dns.name.from_text(key_name): dns.tsig.Key(key_name, secret, algorithm)}
            except (dns.exception.DNSException, ValueError, TypeError) as exc:
                raise InputError("the TSIG key cannot be used: its name or secret is malformed", option="tsig_key_secret",
                                 accepted="a key name and a base64 secret", system=SYSTEM) from exc
        self.round_trips = 0

    @classmethod
    def from_params(cls, zone: Zone, params: Mapping[str, Any]) -> "Rfc2136Backend":
        host, port = parse_server(params.get("server"), params.get("port"))
        algorithm = (params.get("tsig_algorithm") or "hmac-sha256").lower()
        if algorithm not in ALGORITHMS:
            raise InputError(f"the TSIG algorithm {algorithm!r} is not supported", option="tsig_algorithm", accepted=ALGORITHMS, system=SYSTEM)
        name, secret = params.get("tsig_key_name"), params.get("tsig_key_secret")
        if bool(name) != bool(secret):
            raise InputError("tsig_key_name and tsig_key_secret go together", option="tsig_key_secret" if name else "tsig_key_name",
                             accepted="both or neither", system=SYSTEM)
        return cls(zone, host, port, key_name=name, secret=secret, algorithm=algorithm, timeout=float(params.get("timeout") or 10))

    def where(self) -> str:
        return f"rfc2136 {self.host}:{self.port} zone {self.zone.name}"

    def _target(self) -> str:
        return f"{self.host}:{self.port} zone {self.zone.name}"

    def read(self, names: Optional[Sequence[str]] = None, types: Optional[Sequence[str]] = None) -> dict[str, RecordSet]:
        """The zone by AXFR; where the transfer is refused and ``names`` are given, those names by queries."""
        try:
            return self._axfr()
        except dns.xfr.TransferError as exc:
            refused = dns.rcode.to_text(exc.rcode)
            if not self._authoritative():
                raise InputError(f"the server {self.host}:{self.port} is not authoritative for {self.zone.name} (AXFR: {refused})",
                                 option="zone", accepted=f"a zone the server {self.host}:{self.port} serves", system=SYSTEM,
                                 operation="AXFR", target=self._target()) from exc
            if not names:
                raise OfmRollbackError(f"the server refused the zone transfer ({refused}) and no names were given to query",
                                       system=SYSTEM, operation="AXFR", target=self._target(),
                                       hint="Allow AXFR from this host, or name the record sets (names) to read them by queries.") from exc
        return self._queries(names, types or TYPES)

    def _axfr(self) -> dict[str, RecordSet]:
        self.round_trips += 1
        record_sets: dict[str, RecordSet] = {}
        try:
            for message in dns.query.xfr(self.host, self.zone.origin, port=self.port, timeout=self.timeout, lifetime=self.timeout * 3,
                                         relativize=False):
                for rrset in message.answer:
                    self._add(record_sets, rrset)
        except dns.xfr.TransferError:
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise self._transport_error(exc, "AXFR", sent=None) from exc
        return record_sets

    def _add(self, record_sets: dict[str, RecordSet], rrset: Any) -> None:
        rtype = dns.rdatatype.to_text(rrset.rdtype)
        if rtype not in READ_TYPES:
            return
        values = [rdata.to_text(origin=self.zone.origin, relativize=False) for rdata in rrset]
        record_set = self.zone.record_set(rrset.name.to_text(), rtype, rrset.ttl, values)
        record_sets[record_set.key] = record_set

    def _query(self, name: str, rtype: str) -> Any:
        self.round_trips += 1
        query = dns.message.make_query(name, rtype)
        query.flags &= ~dns.flags.RD  # pylint: disable=no-member
        try:
            return dns.query.udp(query, self.host, port=self.port, timeout=self.timeout)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise self._transport_error(exc, f"query {name} {rtype}", sent=None) from exc

    def _authoritative(self) -> bool:
        response = self._query(self.zone.name, "SOA")
        return response.rcode() == dns.rcode.NOERROR and bool(response.flags & dns.flags.AA) and any(
            rrset.rdtype == dns.rdatatype.SOA for rrset in response.answer)

    def _queries(self, names: Sequence[str], types: Sequence[str]) -> dict[str, RecordSet]:
        record_sets: dict[str, RecordSet] = {}
        for name in names:
            qname = dns.name.from_text(name)
            for rtype in types:
                response = self._query(name, rtype)
                for rrset in response.answer:
                    if rrset.name == qname and dns.rdatatype.to_text(rrset.rdtype) == rtype:
                        self._add(record_sets, rrset)
        return record_sets

    def update_message(self, changes: Sequence[tuple[Optional[RecordSet], Optional[RecordSet]]]) -> Any:
        """The one UPDATE message of ``changes``: deletes first, then replaces."""
        if self.keyring:
            message = dns.update.UpdateMessage(self.zone.origin, keyring=self.keyring, keyalgorithm=self.algorithm)
        else:
            message = dns.update.UpdateMessage(self.zone.origin)
        for before, after in changes:
            if after is None and before is not None:
                message.delete(dns.name.from_text(before.name), before.type)
        for _before, after in changes:
            if after is not None:
                rdatas = [dns.rdata.from_text("IN", after.type, value, origin=self.zone.origin) for value in after.values]
                message.replace(dns.name.from_text(after.name), after.ttl, *rdatas)
        return message

    def write(self, changes: Sequence[tuple[Optional[RecordSet], Optional[RecordSet]]]) -> None:
        """Send the ONE UPDATE of ``changes`` over TCP and check its answer (see the module's docstring)."""
        message = self.update_message(changes)
        if not message.update:
            return
        wire = self._exchange(message.to_wire())
        answer = dns.message.from_wire(wire, keyring=False, ignore_trailing=True)
        rcode = answer.rcode()
        tsig_error = dns.rcode.to_text(answer.tsig_error) if getattr(answer, "had_tsig", False) and answer.tsig_error else None
        if self.keyring and (tsig_error or not answer.had_tsig or rcode == dns.rcode.NOTAUTH):
            raise AuthenticationError(f"the server refused the TSIG key {self.key_name!r} ({dns.rcode.to_text(rcode)}"
                                      f"{', TSIG ' + tsig_error if tsig_error else ''}{'' if answer.had_tsig else ', answer unsigned'});"
                                      " nothing was changed", system=SYSTEM, operation="UPDATE", target=self._target(),
                                      hint="Check tsig_key_name, tsig_key_secret and tsig_algorithm against the server's key, and that the key "
                                           "may update this zone.")
        if rcode != dns.rcode.NOERROR:
            raise self._rcode_error(rcode)
        if self.keyring:
            try:
                dns.message.from_wire(wire, keyring=self.keyring, request_mac=message.mac, ignore_trailing=True)
            except dns.exception.DNSException as exc:
                raise DataError(f"the answer's TSIG signature does not verify ({exc}); the update was reported applied", system=SYSTEM,
                                operation="UPDATE", target=self._target()) from exc

    def _rcode_error(self, rcode: int) -> OfmRollbackError:
        text = dns.rcode.to_text(rcode)
        common = {"system": SYSTEM, "operation": "UPDATE", "target": self._target()}
        if rcode == dns.rcode.NOTZONE:
            return InputError(f"the server does not serve the zone {self.zone.name} ({text}); nothing was changed", option="zone",
                              accepted=f"a zone the server {self.host}:{self.port} is primary for", **common)
        if rcode == dns.rcode.REFUSED:
            return AuthenticationError(f"the server refused the update ({text}); nothing was changed",
                                       hint="Allow updates from this host and this key (PowerDNS: allow-dnsupdate-from and the zone's "
                                            "TSIG-ALLOW-DNSUPDATE; BIND: update-policy).", **common)
        if rcode in (dns.rcode.YXDOMAIN, dns.rcode.YXRRSET, dns.rcode.NXRRSET, dns.rcode.NXDOMAIN):
            return ConflictError(f"the server rejected the update ({text}); nothing was changed", **common)
        return OfmRollbackError(f"the server rejected the update ({text}); nothing was changed", **common)

    def _exchange(self, wire: bytes) -> bytes:
        """Send ``wire`` over TCP and return the answer's wire (one round trip)."""
        self.round_trips += 1
        sent = False
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                sock.sendall(struct.pack("!H", len(wire)) + wire)
                sent = True
                size = struct.unpack("!H", _read(sock, 2))[0]
                return _read(sock, size)
        except OSError as exc:
            raise self._transport_error(exc, "UPDATE", sent=sent) from exc

    def _transport_error(self, exc: Exception, operation: str, sent: Optional[bool]) -> OfmRollbackError:
        if isinstance(exc, OfmRollbackError):
            return exc
        if isinstance(exc, (socket.timeout, dns.exception.Timeout)):
            reason = f"no answer within {self.timeout:g} s"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        hint = ("The update reached the server and may have been applied: read the zone before running again."
                if sent and operation == "UPDATE" else "Check that the server is up and reachable from this host, then run again.")
        return UnavailableError(reason, sent=sent, system=SYSTEM, operation=operation, target=self._target(), hint=hint)

    def close(self) -> None:
        return None


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    deadline = time.monotonic() + (sock.gettimeout() or 10)
    while len(data) < size:
        if time.monotonic() > deadline:
            raise socket.timeout("timed out")
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection before answering")
        data += chunk
    return data
