# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot kind ``dns``: the record sets of one zone (all of them, or those at ``names`` and of ``types``), SOA and apex
NS left out.

The section is ``{zone: {"<name> <type>[ <set_identifier>]": {"ttl": ..., "values": [...]}}}``: one target, the zone. A
restore makes the zone hold exactly that within the filter ("snapshot including absence": a record set created after the
snapshot at a name, or of a type, the filter covers is removed) in ONE request (one PATCH, one UPDATE message, one change
batch), after checking that no name would hold a CNAME beside other data.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.aws import AWS_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.config.external import ExternalKind
from ansible_collections.ofm.rollback.plugins.module_utils.dns.client import DNS_SPEC, DnsClient
from ansible_collections.ofm.rollback.plugins.module_utils.dns.records import RecordSet, check_type, filtered, from_value
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

NAME = "dns"
OPTIONS: dict[str, dict[str, Any]] = {**DNS_SPEC, "names": {"type": "list", "elements": "str"}, "types": {"type": "list", "elements": "str"}}


class DnsApplier:
    """The ``plan.py`` applier of the kind ``dns`` (see the module's docstring)."""

    kind = NAME

    def __init__(self, client: DnsClient, names: Optional[Sequence[str]] = None, types: Optional[Sequence[str]] = None) -> None:
        self.client = client
        self.names = [client.zone.absolute(name, "dns.names") for name in names or []]
        self.types = [check_type(rtype, "dns.types") for rtype in types or []]
        self._current: dict[str, RecordSet] = {}

    @property
    def round_trips(self) -> int:
        return self.client.round_trips

    def read(self) -> dict[str, Any]:
        """``{zone: {key: value}}`` of the record sets the filter covers, as they are now."""
        self._current = self.client.read(self.names, self.types)
        covered = filtered(self._current, self.client.zone, self.names, self.types)
        return {self.client.zone.name: {key: record_set.value() for key, record_set in covered.items()}}

    def apply(self, changes: Sequence[Any]) -> None:
        """Make the zone's record sets what ``changes`` (``plan.Change`` of one target, the zone) want, in one request."""
        if not changes:
            return
        target = changes[0].target
        if target != self.client.zone.name:
            raise InputError(f"the snapshot holds the zone {target}, this restore writes {self.client.zone.name}", option="dns.zone",
                             accepted=[target], system="DNS")
        wanted = {change.key: (from_value(change.key, change.after) if change.after is not None else None) for change in changes}
        planned = self.client.plan(self._current, wanted, option="dns")
        self.client.write(planned)

    def close(self) -> None:
        self.client.close()


def settings(params: Mapping[str, Any]) -> dict[str, Any]:
    """The kind's dict option with the shared AWS options (route53) added."""
    own = params.get(NAME)
    if not own:
        raise InputError("the kind dns needs its option dns (backend, zone and connection)", option=NAME, accepted="a dict", system="DNS")
    return {**{key: params.get(key) for key in AWS_SPEC}, **own}


def build(params: Mapping[str, Any]) -> DnsApplier:
    merged = settings(params)
    return DnsApplier(DnsClient.from_params(merged), merged.get("names"), merged.get("types"))


def scope(params: Mapping[str, Any]) -> str:
    """Where the zone is: backend, endpoint and zone (no credentials)."""
    merged = settings(params)
    backend = merged.get("backend")
    endpoint = {"powerdns": merged.get("api_url"), "rfc2136": f"{merged.get('server')}:{merged.get('port') or 53}",
                "route53": merged.get("hosted_zone_id") or merged.get("aws_endpoint_url") or "aws"}.get(backend, "")
    zone = str(merged.get("zone") or "").lower().rstrip(".") + "."
    return f"{backend} {str(endpoint or '').rstrip('/')} zone {zone}"


KIND = ExternalKind(name=NAME, options=OPTIONS, build=build, scope=scope, systems=("dns",),
                    description="DNS record sets of one zone (PowerDNS API, RFC 2136 with TSIG, Route53)")
