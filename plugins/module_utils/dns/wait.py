# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait until the authoritative servers answer what a change wrote: each server is asked (no recursion) for each changed
record set, every ``interval`` seconds through ``polling.Poller``, until every server answers every record set with the
written values and TTL (a removed record set: with no data of that type).

The servers are given (``host`` or ``host:port``), or the zone's NS records resolved to addresses by the system's resolver.
Weighted and alias record sets (Route53) are not checked: what a server answers for them depends on the resolver asking.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.dns.records import RecordSet, Zone, split_key
from ansible_collections.ofm.rollback.plugins.module_utils.dns.rfc2136 import parse_server
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rdatatype
    import dns.resolver
except ImportError:  # reported by records.require_dnspython()
    dns = None  # type: ignore[assignment]

SYSTEM = "DNS"


def zone_servers(zone: Zone) -> list[tuple[str, int]]:
    """The addresses of the zone's NS records, by the system's resolver."""
    try:
        hosts = [rdata.target.to_text() for rdata in dns.resolver.resolve(zone.name, "NS")]
        addresses = [rdata.address for host in hosts for rdata in dns.resolver.resolve(host, "A")]
    except dns.exception.DNSException as exc:
        raise InputError(f"the zone's name servers cannot be resolved ({exc})", option="wait_servers",
                         accepted="the authoritative servers to ask, as host or host:port", system=SYSTEM) from exc
    return [(address, 53) for address in sorted(set(addresses))]


def servers_of(given: Optional[Sequence[str]], zone: Zone) -> list[tuple[str, int]]:
    if given:
        return [parse_server(server, 53, option="wait_servers") for server in given]
    return zone_servers(zone)


def expected(changes: Mapping[str, Optional[RecordSet]]) -> dict[tuple[str, str], Optional[RecordSet]]:
    """``(name, type)`` -> what the servers must answer, for the record sets that can be checked."""
    wanted: dict[tuple[str, str], Optional[RecordSet]] = {}
    for key, after in changes.items():
        name, rtype, set_identifier = split_key(key)
        if set_identifier is None and (after is None or after.alias is None):
            wanted[(name, rtype)] = after
    return wanted


def answer(zone: Zone, server: tuple[str, int], name: str, rtype: str, timeout: float) -> tuple[Optional[int], tuple[str, ...]]:
    """What ``server`` answers for ``name``/``rtype`` (TTL and canonical values; ``(None, ())`` for no data)."""
    query = dns.message.make_query(name, rtype)
    query.flags &= ~dns.flags.RD
    try:
        response = dns.query.udp(query, server[0], port=server[1], timeout=timeout)
    except (dns.exception.DNSException, OSError) as exc:
        return None, (f"<no answer: {type(exc).__name__}>",)
    qname = dns.name.from_text(name)
    for rrset in response.answer:
        if rrset.name == qname and dns.rdatatype.to_text(rrset.rdtype) == rtype:
            values = (zone.canonical(rtype, rdata.to_text(origin=zone.origin, relativize=False)) for rdata in rrset)
            return rrset.ttl, tuple(sorted(values))
    return None, ()


# pylint: disable-next=too-many-arguments
def wait_for_answers(zone: Zone, changes: Mapping[str, Optional[RecordSet]], servers: Sequence[tuple[str, int]], *, timeout: float,
                     interval: float = 1.0, poller: Optional[Poller] = None) -> dict[str, Any]:
    """Poll until every server answers every checkable changed record set as written; what was seen, or DeadlineExceeded."""
    wanted = expected(changes)

    def read() -> list[dict[str, Any]]:
        pending = []
        for server in servers:
            for (name, rtype), after in wanted.items():
                ttl, values = answer(zone, server, name, rtype, min(timeout, 3.0))
                if (after is None and values) or (after is not None and (values != after.values or ttl != after.ttl)):
                    pending.append({"server": f"{server[0]}:{server[1]}", "name": name, "type": rtype, "answer": list(values), "ttl": ttl,
                                    "expected": list(after.values) if after else [], "expected_ttl": after.ttl if after else None})
        return pending

    def timed_out(pending: list[dict[str, Any]], polls: int, elapsed: float) -> Exception:
        return DeadlineExceeded(f"{len(pending)} answers still differ from what was written after {elapsed:.0f} s ({polls} rounds)",
                                timeout=timeout, last_state=pending, system=SYSTEM, operation="wait for authoritative answers",
                                target=zone.name, details={"pending": pending[:20]})

    polled = (poller or Poller(timeout=timeout, interval=interval)).until(read, lambda pending: not pending, timed_out)
    return {"servers": [f"{host}:{port}" for host, port in servers], "record_sets": len(wanted), "polls": polled.polls,
            "seconds": round(polled.elapsed, 3)}
