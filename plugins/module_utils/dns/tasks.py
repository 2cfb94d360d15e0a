# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules ``dns_record`` and ``dns_record_info`` do, as functions of their options (the modules only parse them
and report): read the zone, plan, check, write in one request, wait.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.dns.client import DnsClient, wanted_record_sets
from ansible_collections.ofm.rollback.plugins.module_utils.dns.records import RecordSet, check_type, filtered, record_key, split_key
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError


def _state(key: str, record_set: Optional[RecordSet]) -> dict[str, Any]:
    name, rtype, set_identifier = split_key(key)
    shown: dict[str, Any] = {"key": key, "name": name, "type": rtype, "state": "present" if record_set else "absent"}
    if set_identifier is not None:
        shown["set_identifier"] = set_identifier
    if record_set is not None:
        shown.update(record_set.value())
    return shown


def record_info(params: Mapping[str, Any]) -> dict[str, Any]:
    """``dns_record_info``: the record sets asked for (absent ones reported as absent), or the whole zone."""
    client = DnsClient.from_params(params)
    try:
        zone = client.zone
        asked = []
        for index, record in enumerate(params.get("records") or []):
            rtype = check_type(record.get("type"), f"records[{index}].type") if record.get("type") else None
            asked.append((zone.absolute(record.get("name"), f"records[{index}].name"), rtype, record.get("set_identifier")))
        names = sorted({name for name, _rtype, _set_id in asked}) or None
        types = sorted({rtype for _name, rtype, _set_id in asked if rtype}) if asked and all(rtype for _n, rtype, _s in asked) else None
        current = client.read(names, types)
        if not asked:
            shown = current if params.get("include_soa_and_apex_ns") else filtered(current, zone)
            record_sets = [_state(key, rs) for key, rs in sorted(shown.items())]
        else:
            record_sets = []
            for name, rtype, set_identifier in asked:
                if rtype is None:
                    found = [(key, rs) for key, rs in sorted(current.items()) if rs.name == name]
                    record_sets.extend(_state(key, rs) for key, rs in found)
                    if not found:
                        record_sets.append({"key": name, "name": name, "type": None, "state": "absent"})
                    continue
                key = record_key(name, rtype, set_identifier)
                matching = [(k, rs) for k, rs in sorted(current.items()) if rs.name == name and rs.type == rtype
                            and (set_identifier is None or rs.set_identifier == set_identifier)]
                record_sets.extend([_state(k, rs) for k, rs in matching] or [_state(key, None)])
        return {"changed": False, "zone": zone.name, "record_sets": record_sets, "where": client.where(), "round_trips": client.round_trips}
    finally:
        client.close()


def record_task(params: Mapping[str, Any], check_mode: bool) -> dict[str, Any]:
    """``dns_record``: make the record sets present or absent in one request; nothing is sent in check mode but the read."""
    if params.get("wait_timeout") is not None and params["wait_timeout"] <= 0:
        raise InputError("wait_timeout must be more than 0 seconds", option="wait_timeout", accepted="a number of seconds above 0", system="DNS")
    client = DnsClient.from_params(params)
    try:
        names = sorted({client.zone.absolute(record.get("name"), f"records[{index}].name") for index, record in enumerate(params["records"])})
        current = client.read(names, None)
        wanted = wanted_record_sets(client.zone, params["records"], current, state=params["state"], exact=params["exact"])
        changes = client.plan(current, wanted)
        changed = [change for change in changes if change.changed]
        result: dict[str, Any] = {
            "changed": bool(changed), "zone": client.zone.name, "where": client.where(),
            "changes": [{**_state(change.key, change.after), "action": change.action,
                         "before": change.before.value() if change.before else None} for change in changed],
            "record_sets": [_state(change.key, change.after) for change in changes],
            "diff": {"before": {change.key: change.before.value() if change.before else None for change in changed},
                     "after": {change.key: change.after.value() if change.after else None for change in changed}},
        }
        if changed and not check_mode:
            try:
                client.write(changes)
            except OfmRollbackError as exc:
                exc.details["not_written"] = [change.key for change in changed]
                raise
        if params.get("wait") and not check_mode:
            result["wait"] = client.wait(changes, servers=params.get("wait_servers"), timeout=params["wait_timeout"],
                                         interval=params.get("wait_interval") or 1.0)
        result["round_trips"] = client.round_trips
        return result
    finally:
        client.close()
