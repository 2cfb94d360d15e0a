# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checklist's "Command History", "Team Actions" and "Configuration Changes", read from audit records.

Pure functions over the records of the ``ofm.rollback.audit`` callback (as ``audit.read_records`` returns them from the
JSONL file, or as the ``audit_logs`` table holds them in ``meta.record``): each returns a list of small dicts with the
record's time (UTC ISO 8601), in the order they happened.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping

# Modules whose changed tasks change configuration (flags, config, DNS, load balancers, routes, CDN, platform apps).
CONFIG_MODULES = ("feature_flag", "config_restore", "dns_record", "haproxy_server", "openshift_route", "alb_forward_weights",
                  "cloudfront_distribution", "platform_app", "canary_ingress", "argo_rollout", "helm_rollback", "k8s_rollout_undo",
                  "canary_rollback")
# Modules that only print, decide or read: no command of their own.
QUIET_MODULES = ("ansible.builtin.debug", "ansible.builtin.set_fact", "ansible.builtin.assert", "ansible.builtin.include_tasks",
                 "ansible.builtin.import_tasks", "ansible.builtin.include_role", "ansible.builtin.import_role", "ansible.builtin.meta",
                 "ansible.builtin.validate_argument_spec")
MAX_ARGS_TEXT = 300


def _short(module: str) -> str:
    return (module or "").rsplit(".", 1)[-1]


def _args_text(args: Any) -> str:
    if not isinstance(args, Mapping):
        return str(args or "")[:MAX_ARGS_TEXT]
    text = ", ".join(f"{key}={value}" for key, value in sorted(args.items()) if value not in (None, "", [], {}))
    return text if len(text) <= MAX_ARGS_TEXT else text[:MAX_ARGS_TEXT - 3] + "..."


def _actor(record: Mapping[str, Any]) -> str:
    actor = record.get("actor") or {}
    return str(actor.get("name") or "unknown") + (f" <{actor['email']}>" if actor.get("email") else "")


def tasks(records: Iterable[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    return [record for record in records if record.get("type") == "task"]


def command_history(records: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Every run started and every module that acted (not the tasks that only print or decide), with its redacted arguments
    and the commands it ran."""
    history: List[Dict[str, Any]] = []
    for record in records:
        if record.get("type") == "run_start":
            history.append({"time": record.get("time"), "actor": _actor(record), "task": "run started",
                            "module": "ansible-playbook", "status": "started", "args": " ".join(map(str, record.get("command") or [])),
                            "run_id": record.get("run_id"), "seq": record.get("seq")})
        elif record.get("type") == "task" and record.get("module") not in QUIET_MODULES:
            commands = (record.get("result") or {}).get("commands") or []
            history.append({"time": record.get("time"), "actor": _actor(record), "task": record.get("task"), "module": record.get("module"),
                            "status": record.get("status"), "changed": bool(record.get("changed")), "args": _args_text(record.get("args")),
                            "commands": [" ".join(map(str, command)) if isinstance(command, list) else str(command) for command in commands][:10],
                            "run_id": record.get("run_id"), "seq": record.get("seq")})
    return history


def team_actions(records: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Who did what when: each run (who started it, from where) and each change it made."""
    actions: List[Dict[str, Any]] = []
    for record in records:
        kind = record.get("type")
        if kind == "run_start":
            launch = record.get("launch") or {}
            actions.append({"time": record.get("time"), "actor": _actor(record),
                            "action": f"started {str(record.get('playbook') or '').rsplit('/', 1)[-1]} ({launch.get('source') or 'shell'})",
                            "run_id": record.get("run_id")})
        elif kind == "task" and record.get("changed"):
            actions.append({"time": record.get("time"), "actor": _actor(record), "action": f"{record.get('task')} ({_short(record.get('module'))})",
                            "run_id": record.get("run_id")})
        elif kind == "run_end":
            actions.append({"time": record.get("time"), "actor": _actor(record), "action": f"run ended {record.get('status') or ''}".strip(),
                            "run_id": record.get("run_id")})
    return actions


def config_changes(records: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Every changed task of a module that changes configuration or routing, with its diff summary (never the values)."""
    changes: List[Dict[str, Any]] = []
    for record in tasks(records):
        if record.get("changed") and _short(record.get("module")) in CONFIG_MODULES:
            changes.append({"time": record.get("time"), "actor": _actor(record), "module": record.get("module"), "task": record.get("task"),
                            "diff": record.get("diff_summary") or [], "run_id": record.get("run_id")})
    return changes


def timeline_events(records: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The audit trail's contribution to an incident's timeline: runs, changes and failures."""
    events = []
    for record in records:
        kind = record.get("type")
        if kind == "run_start":
            events.append({"at": record.get("time"), "what": f"{_actor(record)} started {str(record.get('playbook') or '').rsplit('/', 1)[-1]}",
                           "source": "audit"})
        elif kind == "run_end":
            events.append({"at": record.get("time"), "what": f"run ended ({record.get('status') or 'done'})", "source": "audit"})
        elif kind == "task" and (record.get("changed") or record.get("status") == "failed"):
            verb = "FAILED" if record.get("status") == "failed" else "changed"
            events.append({"at": record.get("time"), "what": f"{verb}: {record.get('task')} ({_short(record.get('module'))})", "source": "audit"})
    return events
