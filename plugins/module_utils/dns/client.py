# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One zone through one backend (``powerdns``, ``rfc2136``, ``route53``), built from the options ``DNS_SPEC`` (doc fragment
``ofm.rollback.dns``; route53 also takes ``aws.AWS_SPEC``): read it, plan a change of record sets against what it holds
(every check made before anything is sent), and write the change in one request.

The modules ``dns_record`` and ``dns_record_info`` and the snapshot kind ``dns`` (``kind.py``) use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.dns.powerdns import PowerDnsBackend
from ansible_collections.ofm.rollback.plugins.module_utils.dns.records import (
    RecordSet, Zone, check_result, check_ttl, check_type, check_weight, filtered, record_key)
from ansible_collections.ofm.rollback.plugins.module_utils.dns.rfc2136 import ALGORITHMS, Rfc2136Backend
from ansible_collections.ofm.rollback.plugins.module_utils.dns.route53 import Route53Backend
from ansible_collections.ofm.rollback.plugins.module_utils.dns.wait import servers_of, wait_for_answers
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

BACKENDS = {"powerdns": PowerDnsBackend, "rfc2136": Rfc2136Backend, "route53": Route53Backend}
DEFAULT_TTL = 3600

DNS_SPEC: dict[str, dict[str, Any]] = {
    "backend": {"type": "str", "required": True, "choices": list(BACKENDS)},
    "zone": {"type": "str", "required": True},
    "api_url": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "server_id": {"type": "str", "default": "localhost"},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "server": {"type": "str"},
    "port": {"type": "int", "default": 53},
    "tsig_key_name": {"type": "str"},
    "tsig_key_secret": {"type": "str", "no_log": True},
    "tsig_algorithm": {"type": "str", "default": "hmac-sha256", "choices": list(ALGORITHMS)},
    "hosted_zone_id": {"type": "str"},
    "timeout": {"type": "float", "default": 10.0},
}


@dataclass(frozen=True)
class Change:
    """One record set: what it is (``before``) and what it becomes (``after``); ``None`` for absent."""

    key: str
    before: Optional[RecordSet]
    after: Optional[RecordSet]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def action(self) -> str:
        if not self.changed:
            return "unchanged"
        return "add" if self.before is None else "remove" if self.after is None else "change"


class DnsClient:
    """A zone and its backend (see the module's docstring)."""

    def __init__(self, zone: Zone, backend: Any) -> None:
        self.zone = zone
        self.backend = backend

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "DnsClient":
        name = params.get("backend")
        if name not in BACKENDS:
            raise InputError(f"the backend {name!r} is not supported", option="backend", accepted=list(BACKENDS), system="DNS")
        timeout = params.get("timeout")
        if timeout is not None and timeout <= 0:
            raise InputError(f"timeout must be more than 0 seconds, got {timeout:g}", option="timeout", accepted="a number of seconds above 0",
                             system="DNS")
        zone = Zone(params.get("zone"))
        return cls(zone, BACKENDS[name].from_params(zone, params))

    @property
    def round_trips(self) -> int:
        return int(self.backend.round_trips)

    def where(self) -> str:
        return self.backend.where()

    def read(self, names: Optional[Sequence[str]] = None, types: Optional[Sequence[str]] = None) -> dict[str, RecordSet]:
        """Every record set of the zone as the backend has it (SOA included)."""
        return self.backend.read(names, types)

    def snapshot(self, names: Optional[Sequence[str]] = None, types: Optional[Sequence[str]] = None) -> dict[str, RecordSet]:
        """The restorable record sets at ``names`` of ``types`` (all when not given): no SOA, no apex NS."""
        return filtered(self.read(names, types), self.zone, names, types)

    def plan(self, current: Mapping[str, RecordSet], wanted: Mapping[str, Optional[RecordSet]], option: str = "records") -> list[Change]:
        """The changes that make ``current`` hold ``wanted`` (``None``: absent), after the zone checks."""
        check_result(self.zone, current, wanted, option)
        return [Change(key, current.get(key), after) for key, after in wanted.items()]

    def write(self, changes: Sequence[Change]) -> None:
        """Write the changed ones in ONE request of the backend."""
        todo = [(change.before, change.after) for change in changes if change.changed]
        if todo:
            self.backend.write(todo)

    def wait(self, changes: Sequence[Change], *, servers: Optional[Sequence[str]], timeout: float, interval: float = 1.0) -> dict[str, Any]:
        """Wait until Route53 reports the change INSYNC (route53) and the authoritative servers answer it."""
        waited: dict[str, Any] = {}
        if isinstance(self.backend, Route53Backend):
            waited["route53_status"] = self.backend.wait_insync(timeout)
        changed = {change.key: change.after for change in changes if change.changed}
        if changed and (servers or not isinstance(self.backend, Route53Backend)):
            given = servers or ([self.backend.host + f":{self.backend.port}"] if isinstance(self.backend, Rfc2136Backend) else None)
            waited.update(wait_for_answers(self.zone, changed, servers_of(given, self.zone), timeout=timeout, interval=interval))
        return waited

    def close(self) -> None:
        self.backend.close()


def wanted_record_sets(zone: Zone, records: Sequence[Mapping[str, Any]], current: Mapping[str, RecordSet], *, state: str,
                       exact: bool) -> dict[str, Optional[RecordSet]]:
    """What each record set of the ``records`` option must become (``None``: absent), given what the zone holds.

    ``exact``: a present record set gets exactly the values given, an absent one is removed whole; otherwise the values given
    are added to (present) or taken from (absent) the current ones, and a set left empty is removed.
    """
    wanted: dict[str, Optional[RecordSet]] = {}
    for index, record in enumerate(records):
        where = f"records[{index}]"
        rtype = check_type(record.get("type"), f"{where}.type")
        name = zone.absolute(record.get("name"), f"{where}.name")
        set_identifier = record.get("set_identifier")
        weight = record.get("weight")
        if (set_identifier is None) != (weight is None) and state == "present":
            raise InputError("a weighted record set needs both set_identifier and weight", option=f"{where}.weight",
                             accepted="both set_identifier and weight (route53), or neither", system="DNS")
        if weight is not None:
            check_weight(weight, f"{where}.weight")
        key = record_key(name, rtype, set_identifier)
        if key in wanted:
            raise InputError(f"the record set {key} is given twice", option=f"{where}", accepted="each name and type (and set_identifier) once",
                             system="DNS")
        wanted[key] = _wanted_one(zone, record, current.get(key), where, name, rtype, state=state, exact=exact)
    return wanted


def _wanted_one(zone: Zone, record: Mapping[str, Any], now: Optional[RecordSet], where: str, name: str, rtype: str, *,  # pylint: disable=too-many-arguments
                state: str, exact: bool) -> Optional[RecordSet]:
    values = {zone.canonical(rtype, value, f"{where}.values") for value in record.get("values") or []}
    alias = record.get("alias")
    if state == "absent":
        if exact or now is None or not values:
            return None
        left = tuple(sorted(set(now.values) - values))
        return RecordSet(now.name, now.type, now.ttl, left, now.set_identifier, now.weight, now.alias) if left else None
    if alias:
        alias_value = {"hosted_zone_id": alias.get("hosted_zone_id"), "dns_name": str(alias.get("dns_name") or "").lower().rstrip(".") + ".",
                       "evaluate_target_health": bool(alias.get("evaluate_target_health"))}
        if not alias_value["hosted_zone_id"] or alias_value["dns_name"] == ".":
            raise InputError("an alias needs hosted_zone_id and dns_name", option=f"{where}.alias", accepted="hosted_zone_id and dns_name",
                             system="DNS")
        return RecordSet(name, rtype, None, (), record.get("set_identifier"), record.get("weight"), tuple(sorted(alias_value.items())))
    if not values:
        raise InputError(f"a present record set needs values ({name} {rtype} has none)", option=f"{where}.values",
                         accepted=f"one or more {rtype} values (or state=absent)", system="DNS")
    if rtype == "CNAME" and len(values) > 1:
        raise InputError(f"a CNAME holds one value ({name} has {len(values)})", option=f"{where}.values", accepted="one target name",
                         system="DNS")
    ttl = record.get("ttl")
    ttl = check_ttl(ttl, f"{where}.ttl") if ttl is not None else (now.ttl if now is not None and now.ttl is not None else DEFAULT_TTL)
    if not exact and now is not None:
        values |= set(now.values)
    return RecordSet(name, rtype, ttl, tuple(sorted(values)), record.get("set_identifier"), record.get("weight"))
