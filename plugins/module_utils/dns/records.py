# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record sets of one zone, in one canonical form for every backend, and the zone checks made before any change.

A ``RecordSet`` is a name (absolute, lowercase, with the trailing dot), a type, a TTL and its values in canonical
presentation form (dnspython's text of the parsed record, so ``2001:0db8::0010`` and ``2001:db8::10`` are one value), sorted.
Route53's weighted records (``set_identifier`` + ``weight``) and alias records are record sets of their own identity: the
key of a record set is ``"<name> <type>"``, with ``" <set_identifier>"`` appended for a weighted one.

Names in values without a trailing dot are relative to the zone, as in a zone file (``mail`` in an MX of ``ofm.social.`` is
``mail.ofm.social.``). The SOA record (its serial changes on every update) and the apex NS records are read but never part
of a snapshot or a restore (``restorable``).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

try:
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdatatype
except ImportError:  # reported by require_dnspython(), and by the modules with missing_required_lib
    dns = None  # type: ignore[assignment]
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_TRACEBACK: Optional[str] = traceback.format_exc()
else:
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_TRACEBACK = None

SYSTEM = "DNS"
# The types a record set may have in a change; SOA is read only (see the module's docstring).
TYPES = ("A", "AAAA", "CAA", "CNAME", "DS", "MX", "NS", "PTR", "SRV", "SSHFP", "TLSA", "TXT")
READ_TYPES = TYPES + ("SOA",)
MAX_TTL = 2147483647


def require_dnspython() -> None:
    if dns is None:
        raise InputError("the Python library dnspython is not installed on the host that runs the module", system=SYSTEM,
                         hint="pip install dnspython (the collection's requirements.txt).")


@dataclass(frozen=True)
class RecordSet:
    """One record set (see the module's docstring); ``values`` empty for an alias record."""

    name: str
    type: str
    ttl: Optional[int]
    values: tuple[str, ...] = ()
    set_identifier: Optional[str] = None
    weight: Optional[int] = None
    alias: Optional[tuple[tuple[str, Any], ...]] = None

    @property
    def key(self) -> str:
        return record_key(self.name, self.type, self.set_identifier)

    def value(self) -> dict[str, Any]:
        """The record set's data for a snapshot, a diff or a result (without its name and type, which are its key)."""
        data: dict[str, Any] = {"ttl": self.ttl, "values": list(self.values)}
        if self.set_identifier is not None:
            data["set_identifier"] = self.set_identifier
            data["weight"] = self.weight
        if self.alias is not None:
            data["alias"] = dict(self.alias)
            del data["ttl"]
        return data

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, **self.value()}


def record_key(name: str, rtype: str, set_identifier: Optional[str] = None) -> str:
    return f"{name} {rtype}" + (f" {set_identifier}" if set_identifier is not None else "")


def split_key(key: str) -> tuple[str, str, Optional[str]]:
    parts = key.split(" ", 2)
    return parts[0], parts[1], (parts[2] if len(parts) > 2 else None)


class Zone:
    """A zone's name and the checks and canonical forms made relative to it."""

    def __init__(self, name: str, option: str = "zone") -> None:
        require_dnspython()
        if not name or not str(name).strip(". "):
            raise InputError("the zone is empty", option=option, accepted="a domain name such as ofm.social", system=SYSTEM)
        try:
            self.origin = dns.name.from_text(str(name).strip().lower())
        except dns.exception.DNSException as exc:
            raise InputError(f"{name!r} is not a domain name: {exc}", option=option, accepted="a domain name such as ofm.social",
                             system=SYSTEM) from exc
        self.name = self.origin.to_text()

    def absolute(self, name: str, option: str = "records[].name") -> str:
        """``name`` as an absolute lowercase name inside the zone: ``@`` is the apex, a name without a trailing dot is taken as
        absolute when it ends in the zone's name and as relative to the zone otherwise."""
        text = str(name or "").strip().lower()
        if text in ("", "@"):
            return self.name
        bare = self.name.rstrip(".")
        if not text.endswith(".") and (text == bare or text.endswith("." + bare)):
            text += "."
        try:
            parsed = dns.name.from_text(text, origin=self.origin)
        except dns.exception.DNSException as exc:
            raise InputError(f"{name!r} is not a domain name: {exc}", option=option, accepted=f"a name in the zone {self.name}",
                             system=SYSTEM) from exc
        if not parsed.is_subdomain(self.origin):
            raise InputError(f"the name {parsed.to_text()} is outside the zone {self.name}", option=option,
                             accepted=f"names ending in {self.name} (or relative to it)", system=SYSTEM)
        return parsed.to_text()

    def canonical(self, rtype: str, value: str, option: str = "records[].values") -> str:
        """``value`` of a ``rtype`` record in canonical presentation form (names absolute)."""
        try:
            rdata = dns.rdata.from_text("IN", rtype, str(value), origin=self.origin)
        except (dns.exception.DNSException, ValueError) as exc:
            raise InputError(f"{value!r} is not a valid {rtype} value: {exc}", option=option,
                             accepted=f"a {rtype} value in zone-file syntax", system=SYSTEM) from exc
        return rdata.to_text(origin=self.origin, relativize=False)

    def restorable(self, record_set: RecordSet) -> bool:
        """False for the SOA and the apex NS records, which a snapshot leaves out."""
        return not (record_set.type == "SOA" or (record_set.type == "NS" and record_set.name == self.name))

    def record_set(self, name: str, rtype: str, ttl: Optional[int], values: Iterable[str], *, set_identifier: Optional[str] = None,
                   weight: Optional[int] = None, alias: Optional[Mapping[str, Any]] = None) -> RecordSet:
        """A canonical record set of data read from a backend (its values parsed as the backend gives them)."""
        rtype = rtype.upper()
        canonical = tuple(sorted({self._read_value(rtype, value) for value in values}))
        return RecordSet(self.absolute(name), rtype, ttl, canonical, set_identifier, weight,
                         tuple(sorted(alias.items())) if alias is not None else None)

    def _read_value(self, rtype: str, value: str) -> str:
        """A value as a backend gives it, canonical when it parses; as given otherwise (a type dnspython does not know, or a
        backend's own text), so reading never fails on it."""
        try:
            return self.canonical(rtype, value)
        except InputError:
            return str(value)


def check_type(rtype: Any, option: str = "records[].type") -> str:
    text = str(rtype or "").strip().upper()
    if text not in TYPES:
        raise InputError(f"the record type {rtype!r} is not supported (the SOA is never changed)", option=option, accepted=TYPES,
                         system=SYSTEM)
    return text


def check_ttl(ttl: Any, option: str = "records[].ttl") -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
        raise InputError(f"the TTL {ttl!r} is not a number of seconds from 0 to {MAX_TTL}", option=option,
                         accepted=f"an integer from 0 to {MAX_TTL}", system=SYSTEM)
    return ttl


def check_weight(weight: Any, option: str = "records[].weight") -> int:
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 255:
        raise InputError(f"the weight {weight!r} is out of range", option=option, accepted="an integer from 0 to 255", system=SYSTEM)
    return weight


def cname_conflicts(record_sets: Iterable[RecordSet]) -> list[str]:
    """The names that would hold a CNAME beside other data (RFC 1034 3.6.2), sorted."""
    types: dict[str, set[str]] = {}
    for record_set in record_sets:
        types.setdefault(record_set.name, set()).add(record_set.type)
    return sorted(name for name, held in types.items() if "CNAME" in held and len(held) > 1)


def check_result(zone: Zone, current: Mapping[str, RecordSet], wanted: Mapping[str, Optional[RecordSet]], option: str = "records") -> None:
    """An ``InputError`` when the zone after the change (``current`` with the ``wanted`` record sets set, ``None`` removing
    one) would hold a CNAME beside other data at a name the change touches."""
    after = dict(current)
    for key, record_set in wanted.items():
        if record_set is None:
            after.pop(key, None)
        else:
            after[key] = record_set
    touched = {record_set.name if record_set else split_key(key)[0] for key, record_set in wanted.items()}
    conflicts = [name for name in cname_conflicts(after.values()) if name in touched]
    if conflicts:
        held = {name: sorted({rs.type for rs in after.values() if rs.name == name}) for name in conflicts}
        raise InputError(f"a CNAME cannot stand beside other data at the same name; the zone {zone.name} would hold {held}",
                         option=option, accepted="a CNAME alone at its name, or other types without a CNAME", system=SYSTEM)


def filtered(record_sets: Mapping[str, RecordSet], zone: Zone, names: Optional[Sequence[str]] = None,
             types: Optional[Sequence[str]] = None) -> dict[str, RecordSet]:
    """The restorable record sets at ``names`` (all when not given) of ``types`` (all when not given), sorted by key."""
    return {key: rs for key, rs in sorted(record_sets.items()) if zone.restorable(rs) and (not names or rs.name in names)
            and (not types or rs.type in types)}


def from_value(key: str, value: Mapping[str, Any]) -> RecordSet:
    """The record set of a snapshot's (or a diff's) entry; the inverse of ``RecordSet.value``."""
    name, rtype, set_identifier = split_key(key)
    alias = value.get("alias")
    return RecordSet(name, rtype, value.get("ttl"), tuple(value.get("values") or ()), set_identifier,
                     value.get("weight"), tuple(sorted(alias.items())) if alias is not None else None)
