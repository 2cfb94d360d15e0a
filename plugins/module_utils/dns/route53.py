# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS Route53 as a DNS backend (boto3 through ``module_utils/aws.py``).

The hosted zone is found by name (``list_hosted_zones_by_name``) unless ``hosted_zone_id`` is given; its record sets are read
with ``list_resource_record_sets``, every page. A weighted record (``SetIdentifier`` + ``Weight``) and an alias record
(``AliasTarget``) are record sets of their own identity. A whole change is ONE ``change_resource_record_sets`` batch:
``UPSERT`` of each record set to write, ``DELETE`` (with its current values, as Route53 wants) of each one to remove; the
change is then polled with ``get_change`` until it is ``INSYNC`` when asked to wait.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils import aws
from ansible_collections.ofm.rollback.plugins.module_utils.dns.records import RecordSet, Zone
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller

SYSTEM = "AWS Route53"
ALIAS_KEYS = {"hosted_zone_id": "HostedZoneId", "dns_name": "DNSName", "evaluate_target_health": "EvaluateTargetHealth"}


def _unescape(name: str) -> str:
    """Route53 writes ``*`` as ``\\052`` in names."""
    return name.replace("\\052", "*")


class Route53Backend:
    """One hosted zone of Route53."""

    system = SYSTEM

    def __init__(self, zone: Zone, client: Any, hosted_zone_id: Optional[str] = None) -> None:
        self.zone = zone
        self.client = client
        self._zone_id = hosted_zone_id
        self.round_trips = 0
        self.change_id: Optional[str] = None

    @classmethod
    def from_params(cls, zone: Zone, params: Mapping[str, Any]) -> "Route53Backend":
        return cls(zone, aws.client_from_params("route53", params, region="us-east-1"), params.get("hosted_zone_id") or None)

    def where(self) -> str:
        endpoint = getattr(getattr(self.client, "meta", None), "endpoint_url", "") or "route53"
        return f"route53 {endpoint} zone {self.zone.name}"

    def _call(self, method: str, **kwargs: Any) -> Any:
        self.round_trips += 1
        return aws.call(getattr(self.client, method), operation=method, target=f"hosted zone {self.zone.name}", system=SYSTEM, **kwargs)

    def zone_id(self) -> str:
        if self._zone_id is None:
            listed = self._call("list_hosted_zones_by_name", DNSName=self.zone.name, MaxItems="100")["HostedZones"]
            found = [entry["Id"] for entry in listed if entry["Name"].lower() == self.zone.name]
            if len(found) != 1:
                accepted = sorted({entry["Name"] for entry in listed}) if not found else [f"hosted_zone_id: {zone_id}" for zone_id in found]
                raise InputError(f"{'no' if not found else len(found)} hosted zones named {self.zone.name}", option="hosted_zone_id" if found else "zone",
                                 accepted=accepted or "a hosted zone of the account", system=SYSTEM, operation="list_hosted_zones_by_name")
            self._zone_id = found[0]
        return self._zone_id

    def read(self, names: Optional[Sequence[str]] = None, types: Optional[Sequence[str]] = None) -> dict[str, RecordSet]:
        """Every record set of the hosted zone (all pages)."""
        del names, types
        zone_id = self.zone_id()
        record_sets: dict[str, RecordSet] = {}
        kwargs: dict[str, Any] = {"HostedZoneId": zone_id}
        while True:
            page = self._call("list_resource_record_sets", **kwargs)
            for raw in page.get("ResourceRecordSets") or []:
                record_set = self.record_set(raw)
                record_sets[record_set.key] = record_set
            if not page.get("IsTruncated"):
                return record_sets
            kwargs = {"HostedZoneId": zone_id, "StartRecordName": page["NextRecordName"], "StartRecordType": page["NextRecordType"]}
            if page.get("NextRecordIdentifier"):
                kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]

    def record_set(self, raw: Mapping[str, Any]) -> RecordSet:
        alias = raw.get("AliasTarget")
        alias_value = None
        if alias:
            alias_value = {"hosted_zone_id": alias["HostedZoneId"], "dns_name": alias["DNSName"].lower(),
                           "evaluate_target_health": bool(alias.get("EvaluateTargetHealth"))}
        values = [record["Value"] for record in raw.get("ResourceRecords") or []]
        return self.zone.record_set(_unescape(raw["Name"]), raw["Type"], raw.get("TTL"), values, set_identifier=raw.get("SetIdentifier"),
                                    weight=raw.get("Weight"), alias=alias_value)

    @staticmethod
    def resource(record_set: RecordSet) -> dict[str, Any]:
        """The record set in Route53's ``ResourceRecordSet`` shape."""
        raw: dict[str, Any] = {"Name": record_set.name, "Type": record_set.type}
        if record_set.set_identifier is not None:
            raw["SetIdentifier"] = record_set.set_identifier
            raw["Weight"] = record_set.weight
        if record_set.alias is not None:
            raw["AliasTarget"] = {ALIAS_KEYS[key]: value for key, value in record_set.alias}
        else:
            raw["TTL"] = record_set.ttl
            raw["ResourceRecords"] = [{"Value": value} for value in record_set.values]
        return raw

    def write(self, changes: Sequence[tuple[Optional[RecordSet], Optional[RecordSet]]]) -> None:
        """ONE change batch: DELETE (current values) of each removed record set, UPSERT of each written one."""
        batch = [{"Action": "DELETE", "ResourceRecordSet": self.resource(before)} for before, after in changes if after is None and before]
        batch += [{"Action": "UPSERT", "ResourceRecordSet": self.resource(after)} for _before, after in changes if after is not None]
        if not batch:
            return
        answer = self._call("change_resource_record_sets", HostedZoneId=self.zone_id(),
                            ChangeBatch={"Comment": "ofm.rollback dns", "Changes": batch})
        self.change_id = answer["ChangeInfo"]["Id"]

    def wait_insync(self, timeout: float, interval: float = 2.0) -> Optional[str]:
        """Poll the last change until Route53 reports it ``INSYNC``; its status (None when nothing was written)."""
        if self.change_id is None:
            return None
        change_id = self.change_id

        def timed_out(status: str, polls: int, elapsed: float) -> Exception:
            return DeadlineExceeded(f"the change {change_id} is still {status} after {elapsed:.0f} s ({polls} reads)", timeout=timeout,
                                    last_state=status, system=SYSTEM, operation="get_change", target=change_id)

        polled = Poller(timeout=timeout, interval=interval).until(lambda: self._call("get_change", Id=change_id)["ChangeInfo"]["Status"],
                                                                  lambda status: status == "INSYNC", timed_out)
        return polled.value

    def close(self) -> None:
        return None
