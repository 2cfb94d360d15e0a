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

from typing import Any, Callable, Iterable, Mapping, Optional

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


def _evidence(results: Mapping[str, Any]) -> dict[str, Any]:
    found = results.get("config_rollback") or {}
    if not found or found.get("status") == "skipped":
        raise NotReached("the configuration rollback did not run (rollback_config: true, or playbooks/config-rollback.yml)")
    evidence = found.get("evidence") or {}
    if not evidence.get("report"):
        failure = evidence.get("failure") or "no restore report"
        return {"_failure": failure}
    return evidence


def _kind_results(evidence: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["kind"]: entry for entry in (evidence.get("report") or {}).get("kinds") or []}


def _keys(evidence: Mapping[str, Any], kind: str, webhook: Optional[bool]) -> list[dict[str, Any]]:
    """The changes of ``kind``; with ``webhook`` True/False only the keys whose name does / does not hold WEBHOOK."""
    changes = (evidence.get("changes") or {}).get(kind) or []
    if webhook is None:
        return list(changes)
    return [change for change in changes if (WEBHOOK in str(change.get("key", "")).upper()) == webhook]


def _judge(line_id: str, kinds: Iterable[tuple[str, Optional[bool]]]) -> Rule:
    """A rule over the ``kinds`` (kind, webhook filter) that hold the line's values."""
    kinds = list(kinds)

    def rule(results: Mapping[str, Any]) -> Verdict:
        evidence = _evidence(results)
        if "_failure" in evidence:
            return failed(f"the restore did not run: {evidence['_failure']}")
        report = _kind_results(evidence)
        present = [(kind, webhook) for kind, webhook in kinds if kind in report]
        if not present:
            held = ", ".join(sorted(report)) or "nothing"
            return manual(f"Restore these values by hand: the snapshot held {held}. To automate: {HOW_TO_AUTOMATE[line_id]}.",
                          "not in the snapshot")
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


def _describe(evidence: Mapping[str, Any], present: list[tuple[str, Optional[bool]]], check_mode: bool) -> str:
    changed = [change for kind, webhook in present for change in _keys(evidence, kind, webhook) if change.get("action") != "unchanged"]
    snapshot = evidence.get("snapshot") or {}
    source = f"snapshot {snapshot.get('id')}" if snapshot.get("source", "snapshot") == "snapshot" else f"the {snapshot.get('source')} release"
    kinds = "+".join(kind for kind, _webhook in present)
    if not changed:
        which = {True: " (webhook keys)", False: " (other than webhook keys)"}.get(present[0][1], "")
        return f"{kinds}{which} already as in {source}"
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
    "config.feature-flags": _judge("config.feature-flags", [("flags", None), ("unleash", None)]),
    "config.environment-variables": _judge("config.environment-variables", [("env", False), ("configmaps", False)]),
    "config.api-keys": _judge("config.api-keys", [("secrets", None)]),
    "config.rate-limits": _judge("config.rate-limits", [("rate_limits", None)]),
    "config.webhook-urls": _judge("config.webhook-urls", [("configmaps", True), ("env", True)]),
    "prevention.configuration-management": snapshot_taken,
}


def outcome(results: Mapping[str, Any], lines: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The run's verdict: failed when the restore failed or a line failed, else restored / unchanged / planned (check mode)."""
    found = results.get("config_rollback") or {}
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
