# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback_lease module's work: options checked, the backend chosen (with its fallback), the lease taken or released."""
from __future__ import annotations

import socket
from dataclasses import asdict
from typing import Any, Callable, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils import lease as leases
from ansible_collections.ofm.rollback.plugins.module_utils.durations import parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError, UnavailableError

PROCEDURES = ("emergency", "planned", "database", "config", "external", "comms", "report", "validation", "other")
KUBE_OPTIONS = ("kubeconfig", "context", "host", "api_key", "ca_cert", "validate_certs")
TTL_RANGE = (15.0, 3600.0)
WAIT_MAX = 3600.0


def checked_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """ttl and wait in seconds and the name, checked before anything is read or written."""
    ttl = parse_duration(params["ttl"], "ttl")
    if not TTL_RANGE[0] <= ttl <= TTL_RANGE[1]:
        raise InputError(f"{params['ttl']!r} is out of range", option="ttl", accepted="a duration from 15s to 1h (e.g. 60s, 2m)")
    wait = 0.0 if str(params["wait"]).strip() in ("0", "0s", "0.0") else parse_duration(params["wait"], "wait")
    if wait > WAIT_MAX:
        raise InputError(f"{params['wait']!r} is out of range", option="wait", accepted="0 (fail at once) or a duration up to 1h (e.g. 10m)")
    for option in ("incident_id", "operator", "target"):
        if any(ord(char) < 32 for char in params.get(option) or ""):
            raise InputError("holds a control character (a newline?)", option=option, accepted="one line of printable text")
    return {"name": leases.checked_name(params["name"]), "ttl": ttl, "wait": wait}


def me_from_params(params: Mapping[str, Any], ttl: float) -> leases.Holder:
    pid = leases.run_process_pid()
    host = socket.gethostname()
    return leases.Holder(identity=leases.process_identity(pid, host), incident_id=params.get("incident_id") or "",
                         operator=params.get("operator") or "", procedure=params.get("procedure") or "other",
                         target=params.get("target") or "", host=host, pid=pid, ttl=ttl)


def stores(params: Mapping[str, Any]) -> list[tuple[str, Callable[[], leases.Store]]]:
    """The backends to try, in order (each built only when tried)."""
    connection = {key: params.get(key) for key in KUBE_OPTIONS}

    def kube() -> leases.Store:
        return leases.kube_store(connection, params["namespace"], timeout=5.0)

    def file() -> leases.Store:
        return leases.FileStore(params["lock_dir"])

    chosen = {"kubernetes": ["kubernetes"], "file": ["file"], "auto": ["kubernetes", "file"]}[params["backend"]]
    return [(name, {"kubernetes": kube, "file": file}[name]) for name in chosen]


def run(params: Mapping[str, Any], check_mode: bool, *, start_renewer: Callable[[Mapping[str, Any]], int] = leases.start_renewer) -> dict[str, Any]:
    checked = checked_params(params)
    me = me_from_params(params, checked["ttl"])
    notes: list[str] = []
    last_error: Optional[OfmRollbackError] = None
    for backend, build in stores(params):
        store: Optional[leases.Store] = None
        try:
            store = build()
            if params["state"] == "released":
                return _released(store, checked["name"], me, check_mode, notes)
            outcome = leases.acquire(store, checked["name"], me, wait=checked["wait"], takeover=params["takeover"], check_mode=check_mode)
        except leases.LeaseHeld as held:
            if check_mode and store is not None:
                return {"changed": False, "acquired": False, "backend": store.backend, "held_by": held.holder.as_dict(),
                        "warnings": [str(held)], "msg": f"check mode: {held.reason}"}
            held.extra = {"held_by": held.holder.as_dict(), "backend": getattr(store, "backend", "")}  # type: ignore[attr-defined]
            raise
        except (UnavailableError, InputError, OfmRollbackError) as exc:
            last_error = exc
            if backend == "kubernetes" and params["backend"] == "auto":
                notes.append(f"the Kubernetes API could not be used for the lease ({exc.reason}); falling back to the lock file")
            continue
        return _held(store, checked, me, outcome, check_mode, notes, params, start_renewer)
    if params["if_unavailable"] == "proceed" and last_error is not None:
        warning = (f"no lease was taken, no backend could be reached ({last_error.reason}): "
                   f"make sure no one else is rolling back {params['target'] or checked['name']}")
        return {"changed": False, "acquired": False, "backend": "none", "warnings": notes + [warning], "msg": warning}
    raise last_error if last_error is not None else UnavailableError("no backend was tried", system=leases.SYSTEM)


def _held(store: leases.Store, checked: Mapping[str, Any], me: leases.Holder, outcome: leases.Outcome, check_mode: bool,
          notes: list[str], params: Mapping[str, Any], start_renewer: Callable[[Mapping[str, Any]], int]) -> dict[str, Any]:
    if outcome.holder is None:
        raise UnavailableError("the lease was not taken", system=leases.SYSTEM)
    result: dict[str, Any] = {"changed": outcome.changed, "acquired": True, "backend": store.backend,
                              "lease": dict(outcome.holder.as_dict(), name=checked["name"], where=store.where)}
    verb = "would take" if check_mode else ("took" if outcome.changed else "holds")
    message = f"{verb} the lease {checked['name']} ({store.where})"
    if outcome.previous is not None and outcome.took_over:
        result["took_over"] = dict(outcome.previous.as_dict(), reason=outcome.took_over)
        why = {"expired": "its lease had expired", "dead": "its process is gone", "takeover": "takeover was asked for"}[outcome.took_over]
        message += f", from {outcome.previous.operator or 'a run'} ({outcome.previous.incident_id or 'no incident'}): {why}"
        notes.append(f"took over the lease {checked['name']} from {outcome.previous.describe(me.renewed or outcome.holder.renewed)}: {why}")
    if outcome.waited >= 1:
        message += f", after waiting {int(outcome.waited)} s"
    if not check_mode and params["renew"] and outcome.changed:
        result["renewer_pid"] = start_renewer({
            "backend": store.backend, "name": checked["name"], "namespace": params["namespace"], "lock_dir": params["lock_dir"],
            "connection": {key: params.get(key) for key in KUBE_OPTIONS}, "holder": asdict(outcome.holder),
            "watch_pid": me.pid, "interval": max(1.0, checked["ttl"] / 3.0)})
    result["diff"] = {"before": {"holder": outcome.previous.identity if outcome.previous else ""},
                      "after": {"holder": outcome.holder.identity}}
    result["msg"] = message
    if notes:
        result["warnings"] = notes
    return result


def _released(store: leases.Store, name: str, me: leases.Holder, check_mode: bool, notes: list[str]) -> dict[str, Any]:
    changed, found = leases.release(store, name, me, check_mode)
    result: dict[str, Any] = {"changed": changed, "acquired": False, "backend": store.backend}
    if changed:
        result["lease"] = dict(found.as_dict(), name=name, where=store.where) if found else {"name": name}
        result["msg"] = f"{'would release' if check_mode else 'released'} the lease {name} ({store.where})"
    elif found is not None:
        result["held_by"] = found.as_dict()
        result["msg"] = f"the lease {name} is held by another run, left alone"
    else:
        result["msg"] = f"the lease {name} is not held"
    if notes:
        result["warnings"] = notes
    return result
