# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the database procedure's result judges its checklist lines (one function per line id).

The result is ``db_pitr_phase`` of playbooks/database_rollback.yml, handed in as ``db_pitr``; its evidence holds the reason
given, the restore (``pg_pitr_restore``) and the sandbox validation (``pg_validate``: its per-category summary and checks).
A validation category that did not run (a check without its configuration, such as the expected schema version) is MANUAL,
with what to set to automate it.
"""

from __future__ import annotations

from typing import Any, Mapping

from ansible_collections.ofm.rollback.plugins.plugin_utils.checklist import NotReached, Rule, Verdict, failed, manual, ok

REASONS = {
    "db-when.schema-changes": "schema_change",
    "db-when.data-corruption": "data_corruption",
    "db-when.migration-performance": "migration_performance",
    "db-when.data-format": "data_format",
}
CATEGORIES = {
    "db-validation.schema-version": "schema_version",
    "db-validation.data-integrity": "data_integrity",
    "db-validation.application-compatibility": "application_compatibility",
    "db-validation.performance": "performance",
    "db-validation.backup-status": "backup_status",
}
TO_AUTOMATE = {
    "schema_version": "set ofm_db_schema_version (db_pitr_expected_schema_version) to the release's expected version to automate this",
    "data_integrity": "list db_pitr_expected_tables, db_pitr_min_rows or db_pitr_assertions to automate this",
    "application_compatibility": "set db_pitr_app_user and db_pitr_smoke_queries to automate this",
    "performance": "list db_pitr_performance_queries to automate this",
    "backup_status": "give the source's pgbackrest_stanza to automate this",
}


def _evidence(results: Mapping[str, Any]) -> dict[str, Any]:
    found = results.get("db_pitr") or {}
    if not found or found.get("status") == "skipped":
        raise NotReached("the database procedure did not run")
    return found.get("evidence") or {}


def reason(key: str) -> Rule:
    def rule(results: Mapping[str, Any]) -> Verdict:
        given = _evidence(results).get("reason") or ""
        if not given:
            return manual(f"Confirm which condition requires the database rollback and give it as --reason (one of {', '.join(REASONS.values())}).",
                          "no reason given")
        if given == key:
            return ok(f"the reason for this rollback (--reason {key})")
        return ok(f"not the reason given (--reason {given})")
    return rule


def restore(results: Mapping[str, Any]) -> Verdict:
    evidence = _evidence(results)
    restored = evidence.get("restore") or {}
    if not restored:
        raise NotReached(evidence.get("failure") or "the restore did not start")
    if restored.get("failed"):
        return failed(restored.get("msg") or "the restore failed")
    target = evidence.get("target") or "?"
    if evidence.get("dry_run") or results.get("check_mode"):
        return ok(f"dry run to {target}: {restored.get('msg') or 'planned, nothing restored'}")
    timings = restored.get("timings") or {}
    took = f" in {timings['total_seconds']} s" if timings.get("total_seconds") is not None else ""
    return ok(f"restored to {target}{took}: {restored.get('msg') or ''}".rstrip(": "))


def category(line_id: str, name: str) -> Rule:
    def rule(results: Mapping[str, Any]) -> Verdict:
        evidence = _evidence(results)
        if evidence.get("dry_run") or results.get("check_mode"):
            raise NotReached("dry run: nothing was restored, so nothing was validated")
        validation = evidence.get("validation") or {}
        if not validation:
            raise NotReached(evidence.get("failure") or "the sandbox was not validated")
        state = (validation.get("summary") or {}).get(name) or {}
        checks = [check for check in validation.get("checks") or [] if check.get("category") == name]
        if state.get("status") == "failed":
            return failed("; ".join(f"{check['name']}: {check.get('detail', '')}" for check in checks if check.get("status") == "failed"))
        if state.get("status") == "ok":
            return ok("; ".join(check.get("detail") or check["name"] for check in checks if check.get("status") == "ok"))
        why = "; ".join(check.get("detail") or "" for check in checks if check.get("status") == "skipped") or "the validation reported no check"
        return manual(f"{_line_manual(line_id)} ({TO_AUTOMATE[name]}).", f"not checked: {why}")
    return rule


def _line_manual(line_id: str) -> str:
    return {
        "db-validation.schema-version": "Confirm the schema version of the restored database by hand (the migration table against the release)",
        "db-validation.data-integrity": "Run the data consistency checks on the sandbox",
        "db-validation.application-compatibility": "Verify that the application connects to the sandbox",
        "db-validation.performance": "Confirm the query performance on the sandbox",
        "db-validation.backup-status": "Verify that new backups are working (pgbackrest info)",
    }[line_id]


RULES: dict[str, Rule] = {
    **{line_id: reason(key) for line_id, key in REASONS.items()},
    "db-process.dr-restore-sandbox": restore,
    **{line_id: category(line_id, name) for line_id, name in CATEGORIES.items()},
}
