# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the configuration rollback's result judges the checklist's "Configuration Changes" lines (one function per line id).

The result is ``config_rollback_phase`` of roles/config_rollback, handed in as ``config_rollback``; its evidence holds what
``ofm.rollback.config_restore`` returned: the snapshot used (``snapshot``: id, taken_at, source), the restore's report per
kind (``report``), the per-key changes with secret values masked (``changes``), the rollouts (``rollouts``) and the values
read back (``verified``). Each line is judged from the kinds that hold its values:

- Feature Flags: ``flags`` (FEATURE_FLAGS and the Redis cache) and ``unleash``;
- Environment Variables: ``env`` and the ConfigMap keys that are not webhook URLs;
- API Keys: ``secrets``;
- Rate Limits: ``rate_limits``;
- Webhook URLs: the ConfigMap and env keys whose name holds ``WEBHOOK``.

A line whose kinds the snapshot does not hold (or the run did not select) is MANUAL with what to snapshot; a kind that
failed, was not restored or did not read back equal to the snapshot fails its lines. These rules also serve the
emergency and planned procedures when they restored configuration (``rollback_config: true``).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.diffs import ABSENT, leaf_changes
from ansible_collections.ofm.rollback.plugins.plugin_utils.checklist import NotReached, Rule, Verdict, failed, manual, ok

WEBHOOK = "WEBHOOK"
DONE = ("restored", "unchanged")
HOW_TO_AUTOMATE = {
    "config.feature-flags": "snapshot the flags (redis_url for FEATURE_FLAGS and the Redis cache, unleash_url for Unleash)",
    "config.environment-variables": "snapshot the Deployments' env and ConfigMaps (kinds env, configmaps)",
    "config.api-keys": "snapshot the Secrets the API reads (kind secrets, with a vault secret)",
    "config.rate-limits": "snapshot platform_rate_limits (kind rate_limits, with the database connection)",
    "config.webhook-urls": "snapshot the ConfigMap or env that holds the WEBHOOK_URL_* keys (kinds configmaps, env)",
}


NOT_RUN = {"config_rollback": "the configuration rollback did not run (rollback_config: true, or playbooks/config-rollback.yml)",
           "external_rollback": "the external-service rollback did not run (playbooks/external-rollback.yml)"}
KeyFilter = Optional[Callable[[str], bool]]


def is_webhook(key: str) -> bool:
    return WEBHOOK in key.upper()


def not_webhook(key: str) -> bool:
    return WEBHOOK not in key.upper()


def _evidence(results: Mapping[str, Any], phase: str = "config_rollback") -> dict[str, Any]:
    found = results.get(phase) or {}
    if not found or found.get("status") == "skipped":
        raise NotReached(NOT_RUN[phase])
    evidence = found.get("evidence") or {}
    if not evidence.get("report"):
        failure = evidence.get("failure") or "no restore report"
        return {"_failure": failure}
    return evidence


def _kind_results(evidence: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["kind"]: entry for entry in (evidence.get("report") or {}).get("kinds") or []}


def _keys(evidence: Mapping[str, Any], kind: str, keys: KeyFilter) -> list[dict[str, Any]]:
    """The changes of ``kind``; with ``keys`` only those of the keys it accepts (``is_webhook``, ``not_webhook``, ...)."""
    changes = (evidence.get("changes") or {}).get(kind) or []
    if keys is None:
        return list(changes)
    return [change for change in changes if keys(str(change.get("key", "")))]


def kind_rule(line_id: str, kinds: Iterable[tuple[str, KeyFilter]], phase: str = "config_rollback",
              how: Optional[Mapping[str, str]] = None) -> Rule:
    """A rule over the ``kinds`` (kind, key filter) of a restore's result that hold the line's values: ok when each was restored
    or already as in the snapshot and reads back equal; failed when one failed, was not restored or reads back different;
    MANUAL when the snapshot holds none of them (``how`` says what to snapshot). ``phase``: whose result
    (``config_rollback`` or ``external_rollback``)."""
    kinds = list(kinds)
    how_to = HOW_TO_AUTOMATE if how is None else how

    def rule(results: Mapping[str, Any]) -> Verdict:
        evidence = _evidence(results, phase)
        if "_failure" in evidence:
            return failed(f"the restore did not run: {evidence['_failure']}")
        report = _kind_results(evidence)
        present = [(kind, webhook) for kind, webhook in kinds if kind in report]
        skipped = {entry.get("kind"): entry.get("reason") for entry in evidence.get("not_restorable") or [] if entry.get("kind")}
        left_out = [f"{kind}: {skipped[kind]}" for kind, _keys in kinds if kind in skipped and kind not in report]
        if not present and left_out:
            return manual("", "; ".join(left_out), how_to[line_id])
        if not present:
            held = ", ".join(sorted(report)) or "nothing"
            return manual("", f"not in the snapshot (it held {held})", how_to[line_id])
        problems = []
        for kind, _webhook in present:
            entry = report[kind]
            if entry.get("status") == "planned":
                continue
            if entry.get("status") not in DONE:
                error = (entry.get("error") or {}).get("msg") or entry.get("reason") or entry.get("status")
                problems.append(f"{kind}: {entry.get('status')} ({error})")
            elif (evidence.get("verified") or {}).get(kind) is False:
                problems.append(f"{kind}: restored but reads back different from the snapshot")
        if problems:
            return failed("; ".join(problems))
        return ok(_describe(evidence, present, results.get("check_mode", False) or (evidence.get("report") or {}).get("check_mode", False)))

    return rule


def _describe(evidence: Mapping[str, Any], present: list[tuple[str, KeyFilter]], check_mode: bool) -> str:
    changed = [change for kind, keys in present for change in _keys(evidence, kind, keys) if change.get("action") != "unchanged"]
    snapshot = evidence.get("snapshot") or {}
    source = f"snapshot {snapshot.get('id')}" if snapshot.get("source", "snapshot") == "snapshot" else f"the {snapshot.get('source')} release"
    kinds = "+".join(kind for kind, _webhook in present)
    if not changed:
        which = {is_webhook: " (webhook keys)", not_webhook: " (other than webhook keys)"}.get(present[0][1], "")
        # A re-run after a crash: the run journal says which run restored them (config/resume.py).
        earlier = sorted({str(entry.get("reason")) for entry in (_kind_results(evidence).get(kind) or {} for kind, _keys in present)
                          if " by run " in str(entry.get("reason") or "")})
        return f"{kinds}{which} already as in {source}" + (f" ({'; '.join(earlier)})" if earlier else "")
    shown = ", ".join(f"{change.get('target')}/{change.get('key')}" for change in changed[:4]) + (" ..." if len(changed) > 4 else "")
    verb = "would restore" if check_mode else "restored"
    return f"{verb} {len(changed)} key(s) from {source}: {shown}"


def snapshot_taken(results: Mapping[str, Any]) -> Verdict:
    """Prevention's "Configuration Management": the restore had a snapshot taken before the change to restore from."""
    evidence = _evidence(results)
    if "_failure" in evidence:
        raise NotReached(f"the restore did not run: {evidence['_failure']}")
    snapshot = evidence.get("snapshot") or {}
    if snapshot.get("source", "snapshot") != "snapshot":
        return manual("Take a configuration snapshot before each deploy (playbooks/config-snapshot.yml in the deploy pipeline).",
                      f"no snapshot: the previous values came from the {snapshot.get('source')} release")
    return ok(f"snapshot {snapshot.get('id')} taken {snapshot.get('taken_at')} by {snapshot.get('taken_by') or 'unknown'}")


RULES: dict[str, Callable[[Mapping[str, Any]], Verdict]] = {
    "config.feature-flags": kind_rule("config.feature-flags", [("flags", None), ("unleash", None)]),
    "config.environment-variables": kind_rule("config.environment-variables", [("env", not_webhook), ("configmaps", not_webhook)]),
    "config.api-keys": kind_rule("config.api-keys", [("secrets", None)]),
    "config.rate-limits": kind_rule("config.rate-limits", [("rate_limits", None)]),
    "config.webhook-urls": kind_rule("config.webhook-urls", [("configmaps", is_webhook), ("env", is_webhook)]),
    "prevention.configuration-management": snapshot_taken,
}


SHOWN_PER_KIND = 8


def _shown(value: Any) -> str:
    return "(absent)" if value is None or value is ABSENT else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _change_texts(kind: str, change: Mapping[str, Any]) -> list[str]:
    """A change for the summary: the mask of a secret; for two mappings (a CDN behaviour, a record set, HAProxy settings) only
    the leaves that differ; else before -> after."""
    where = f"{kind} {change.get('target')}/{change.get('key')}"
    if "value" in change:
        return [f"{where}: {change['value']}"]
    before, after = change.get("before"), change.get("after")
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        return [f"{where}{'.' + path if path else ''}: {_shown(old)} -> {_shown(new)}" for path, old, new in leaf_changes(before, after)]
    return [f"{where}: {_shown(before)} -> {_shown(after)}"]


def texts(results: Mapping[str, Any], lines: Mapping[str, Mapping[str, Any]], phase: str = "config_rollback") -> dict[str, Any]:
    """What the summary prints besides the lines: where the values came from (``source``) and the changes, a few per kind
    (``changes``; secret values only as their masks)."""
    del lines
    evidence = (results.get(phase) or {}).get("evidence") or {}
    snapshot = evidence.get("snapshot") or {}
    if snapshot.get("id") and snapshot.get("source", "snapshot") == "snapshot":
        source = f"snapshot {snapshot['id']} taken {snapshot.get('taken_at') or '?'} by {snapshot.get('taken_by') or '?'}"
    elif snapshot.get("source"):
        source = f"the {snapshot['source']} release"
    else:
        source = "none"
    changes = []
    for kind, entries in (evidence.get("changes") or {}).items():
        for change in list(entries)[:SHOWN_PER_KIND]:
            changes.extend(_change_texts(kind, change))
        if len(entries) > SHOWN_PER_KIND:
            changes.append(f"{kind}: {len(entries) - SHOWN_PER_KIND} more change(s) in the result")
    changes += [f"not restored: {entry.get('kind')}{'/' + entry['target'] if entry.get('target') else ''}: {entry.get('reason')}"
                for entry in evidence.get("not_restorable") or []]
    return {"source": source, "changes": changes}


def outcome(results: Mapping[str, Any], lines: Mapping[str, Mapping[str, Any]], phase: str = "config_rollback") -> dict[str, Any]:
    """The run's verdict: failed when the restore failed or a line failed, else restored / unchanged / planned (check mode)."""
    found = results.get(phase) or {}
    evidence = found.get("evidence") or {}
    report = evidence.get("report") or {}
    failed_lines = [line["title"] for line in lines.values() if line["status"] == "failed"]
    if found.get("status") == "failed" or failed_lines or report.get("failed"):
        state = "failed"
    elif report.get("check_mode") or results.get("check_mode"):
        state = "planned"
    elif report.get("changed"):
        state = "restored"
    else:
        state = "unchanged"
    return {"state": state, "message": report.get("message") or evidence.get("failure") or "", "failed_lines": failed_lines}
