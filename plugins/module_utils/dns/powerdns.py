# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PowerDNS Authoritative HTTP API as a DNS backend: ``GET`` of the zone reads every record set, ONE ``PATCH`` of its
rrsets (``changetype`` ``REPLACE`` or ``DELETE``) writes a whole change. Every request carries the ``X-API-Key`` header.

Both are safe to repeat (a PATCH of REPLACE/DELETE sets absolute values), so ``module_utils/http.py`` retries them after a
timeout or a 5xx. Disabled records are not read: a REPLACE of their record set drops them.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence
from urllib.parse import quote

from ansible_collections.ofm.rollback.plugins.module_utils.dns.records import RecordSet, Zone
from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HeaderAuth, HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.tls import TlsOptions

SYSTEM = "PowerDNS"
API_PREFIX = "api/v1"


def base_url(api_url: str) -> str:
    """The webserver's URL with ``/api/v1`` (given or not)."""
    url = api_url.rstrip("/")
    return url if url.endswith("/" + API_PREFIX) else f"{url}/{API_PREFIX}"


class PowerDnsBackend:
    """One zone of one PowerDNS server through its HTTP API."""

    system = SYSTEM

    def __init__(self, zone: Zone, http: HttpClient, server_id: str = "localhost") -> None:
        self.zone = zone
        self.http = http
        self.server_id = server_id
        self._path = f"servers/{quote(server_id, safe='')}/zones/{quote(zone.name, safe='')}"

    @classmethod
    def from_params(cls, zone: Zone, params: Mapping[str, Any]) -> "PowerDnsBackend":
        api_url, key = params.get("api_url"), params.get("api_key")
        if not api_url:
            raise InputError("backend powerdns needs api_url", option="api_url", accepted="the PowerDNS webserver's URL, such as http://ns1:8081",
                             system=SYSTEM)
        if not key:
            raise InputError("backend powerdns needs api_key", option="api_key", accepted="the API key of the PowerDNS webserver", system=SYSTEM)
        timeout = float(params.get("timeout") or 10)
        http = HttpClient(base_url(api_url), auth=HeaderAuth("X-API-Key", key), verify=params.get("validate_certs", True), ca_path=params.get("ca_path"),
                          connect_timeout=min(5.0, timeout), read_timeout=timeout, retries=int(params.get("retries", 2)), system=SYSTEM,
                          tls_options=TlsOptions(url="api_url"))
        return cls(zone, http, params.get("server_id") or "localhost")

    @property
    def round_trips(self) -> int:
        return len(self.http.requests)

    def where(self) -> str:
        return f"powerdns {self.http.base_url.rstrip('/')} zone {self.zone.name}"

    def read(self, names: Optional[Sequence[str]] = None, types: Optional[Sequence[str]] = None) -> dict[str, RecordSet]:
        """Every record set of the zone (one GET; ``names``/``types`` are filtered by the caller)."""
        del names, types
        body = self._call("GET", self._path, params={"rrsets": "true"}).body
        record_sets = {}
        for rrset in (body or {}).get("rrsets") or []:
            values = [record["content"] for record in rrset.get("records") or [] if not record.get("disabled")]
            if not values:
                continue
            record_set = self.zone.record_set(rrset["name"], rrset["type"], rrset.get("ttl"), values)
            record_sets[record_set.key] = record_set
        return record_sets

    def write(self, changes: Sequence[tuple[Optional[RecordSet], Optional[RecordSet]]]) -> None:
        """Make every ``(before, after)`` so in ONE PATCH: REPLACE for each ``after``, DELETE where ``after`` is None."""
        rrsets = []
        for before, after in changes:
            if after is None:
                if before is not None:
                    rrsets.append({"name": before.name, "type": before.type, "changetype": "DELETE"})
                continue
            rrsets.append({"name": after.name, "type": after.type, "ttl": after.ttl, "changetype": "REPLACE",
                           "records": [{"content": value, "disabled": False} for value in after.values]})
        if rrsets:
            self._call("PATCH", self._path, json={"rrsets": rrsets}, expected=(200, 204), idempotent=True)

    def close(self) -> None:
        return None

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.http.request(method, path, **kwargs)
        except AuthenticationError as exc:
            raise AuthenticationError(exc.reason, system=SYSTEM, operation=exc.operation, target=exc.target, status=exc.status,
                                      hint="PowerDNS refused the API key: check api_key against the server's api-key setting.") from exc
        except NotFoundError as exc:
            if path != self._path:
                raise
            raise InputError(f"PowerDNS {self.server_id} has no zone {self.zone.name}", option="zone", accepted=self._zones(),
                             system=SYSTEM, operation=exc.operation, target=exc.target, status=exc.status) from exc

    def _zones(self) -> list[str]:
        try:
            listed = self.http.request("GET", f"servers/{quote(self.server_id, safe='')}/zones").body or []
        except Exception:  # pylint: disable=broad-exception-caught
            return []
        return sorted(zone.get("name", "") for zone in listed if isinstance(zone, dict))
