# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation category ``data_integrity``: the expected tables, row counts (against thresholds or the source), btree
indexes (amcheck's ``bt_index_check``), constraints left NOT VALID, and the user's SQL assertions."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import psycopg
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.context import Context
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.options import Assertion, RowCountRule
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.results import Outcome, Skip, pg_error_text, plain, rows_text

CATEGORY = "data_integrity"
_CONSTRAINT_TYPES = {"c": "check", "f": "foreign key", "n": "not null", "p": "primary key", "u": "unique", "t": "trigger", "x": "exclusion"}


def run(ctx: Context) -> None:
    ctx.check(CATEGORY, "tables_present", lambda: check_tables(ctx))
    for rule in ctx.options.row_counts:
        ctx.check(CATEGORY, f"row_count:{rule.name}", lambda rule=rule: check_row_count(ctx, rule))
    ctx.check(CATEGORY, "amcheck", lambda: check_amcheck(ctx))
    ctx.check(CATEGORY, "constraints_valid", lambda: check_constraints(ctx))
    for assertion in ctx.options.assertions:
        ctx.check(CATEGORY, f"assertion:{assertion.name}", lambda assertion=assertion: check_assertion(ctx, assertion))


def check_tables(ctx: Context) -> Outcome:
    if not ctx.options.tables:
        raise Skip("no expected tables listed (data_integrity.tables)")
    rows = ctx.execute("sandbox", "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL",
                       [list(ctx.options.tables)]).fetchall()
    missing = [row[0] for row in rows]
    measured = {"expected": list(ctx.options.tables), "missing": missing}
    if missing:
        return Outcome("failed", f"{len(missing)} of {len(ctx.options.tables)} tables missing: {', '.join(missing)}", measured)
    return Outcome("ok", f"all {len(ctx.options.tables)} tables present", measured)


def _count(ctx: Context, target: str, rule: RowCountRule) -> int:
    query = psycopg.sql.SQL("SELECT count(*) FROM {table}").format(table=psycopg.sql.Identifier(*rule.table))
    return ctx.execute(target, query).fetchone()[0]


def check_row_count(ctx: Context, rule: RowCountRule) -> Outcome:
    count = _count(ctx, "sandbox", rule)
    source_count = _count(ctx, "source", rule) if rule.compare_to_source else None
    return judge_row_count(rule, count, source_count)


def check_amcheck(ctx: Context) -> Outcome:
    options = ctx.options
    if not options.amcheck:
        raise Skip("amcheck disabled (data_integrity.amcheck: false)")
    version = _amcheck_version(ctx)
    indexes = ctx.execute("sandbox", """
        SELECT c.oid, c.oid::regclass::text FROM pg_index i
          JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
         ORDER BY 2""").fetchall()
    failures = []
    for oid, name in indexes:
        try:
            ctx.execute("sandbox", "SELECT bt_index_check(%s::oid::regclass, %s)", [oid, options.amcheck_heapallindexed])
        except psycopg.Error as exc:
            failures.append({"index": name, "error": pg_error_text(exc)})
    measured = {"extension_version": version, "indexes_checked": len(indexes), "heapallindexed": options.amcheck_heapallindexed,
                "failures": failures}
    if failures:
        return Outcome("failed", f"{len(failures)} of {len(indexes)} btree indexes failed bt_index_check: "
                                 + ", ".join(failure["index"] for failure in failures), measured)
    return Outcome("ok", f"bt_index_check passed on {len(indexes)} btree indexes", measured)


def _amcheck_version(ctx: Context) -> str:
    row = ctx.execute("sandbox", "SELECT extversion FROM pg_extension WHERE extname = 'amcheck'").fetchone()
    if row:
        return row[0]
    database = ctx.options.sandbox.database
    if not ctx.options.amcheck_create_extension:
        raise Skip(f"the amcheck extension is not installed in database {database} and data_integrity.amcheck_create_extension "
                   "is false")
    if ctx.check_mode:
        raise Skip(f"check mode: would run CREATE EXTENSION IF NOT EXISTS amcheck in database {database} of the sandbox")
    conn = ctx.session("sandbox")
    with conn.transaction():
        ctx.execute("sandbox", "SET TRANSACTION READ WRITE")
        ctx.execute("sandbox", "CREATE EXTENSION IF NOT EXISTS amcheck")
    ctx.changed = True
    return ctx.execute("sandbox", "SELECT extversion FROM pg_extension WHERE extname = 'amcheck'").fetchone()[0]


def check_constraints(ctx: Context) -> Outcome:
    if not ctx.options.constraints:
        raise Skip("constraint check disabled (data_integrity.constraints: false)")
    rows = ctx.execute("sandbox", """
        SELECT con.conrelid::regclass::text, con.conname, con.contype::text, con.convalidated FROM pg_constraint con
          JOIN pg_namespace n ON n.oid = con.connamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
           AND con.contype IN ('c', 'f')
         ORDER BY 1, 2""").fetchall()
    not_valid = [{"table": table, "constraint": name, "type": _CONSTRAINT_TYPES.get(kind, kind)}
                 for table, name, kind, validated in rows if not validated]
    foreign_keys = sum(1 for row in rows if row[2] == "f")
    measured = {"checked": len(rows), "foreign_keys": foreign_keys, "not_valid": not_valid}
    if not_valid:
        listed = ", ".join(f"{item['table']}.{item['constraint']} ({item['type']})" for item in not_valid)
        return Outcome("failed", f"{len(not_valid)} constraints are NOT VALID: {listed}", measured)
    return Outcome("ok", f"all {len(rows)} check and foreign key constraints are validated ({foreign_keys} foreign keys)", measured)


def check_assertion(ctx: Context, assertion: Assertion) -> Outcome:
    outcome = judge_assertion(assertion, ctx.rolled_back("sandbox", assertion.query))
    outcome.measured["query"] = assertion.query
    return outcome


def judge_row_count(rule: RowCountRule, count: int, source_count: Optional[int]) -> Outcome:
    measured: dict[str, Any] = {"rows": count, "min": rule.minimum, "max": rule.maximum}
    problems = []
    if rule.minimum is not None and count < rule.minimum:
        problems.append(f"{count} rows, fewer than the minimum {rule.minimum}")
    if rule.maximum is not None and count > rule.maximum:
        problems.append(f"{count} rows, more than the maximum {rule.maximum}")
    if rule.compare_to_source and source_count is not None:
        allowed = int(rule.source_tolerance * source_count)
        measured.update(source_rows=source_count, difference=count - source_count, allowed_difference=allowed)
        if abs(count - source_count) > allowed:
            problems.append(f"{count} rows against {source_count} in the source, a difference of {count - source_count:+d} "
                            f"beyond the {allowed} allowed")
    if problems:
        return Outcome("failed", f"{rule.name}: " + "; ".join(problems), measured)
    against = f" ({source_count} in the source)" if source_count is not None else ""
    return Outcome("ok", f"{rule.name}: {count} rows{against}", measured)


def values_equal(found: Any, expected: Any) -> bool:
    """An assertion's value against the expected one: equal as values, or as their text (5 matches "5", Decimal 1.5 matches 1.5)."""
    if found == expected:
        return True
    if isinstance(found, bool) or isinstance(expected, bool):
        return str(found).lower() == str(expected).lower()
    return found is not None and expected is not None and str(plain(found)) == str(plain(expected))


def judge_assertion(assertion: Assertion, rows: Sequence[Sequence[Any]]) -> Outcome:
    value = plain(rows[0][0]) if rows and rows[0] else None
    measured = {"rows": len(rows), "value": value}
    problems = []
    if assertion.expected_rows is not None and len(rows) != assertion.expected_rows:
        problems.append(f"{rows_text(len(rows))}, expected {assertion.expected_rows}")
    if assertion.has_expected and (not rows or not values_equal(rows[0][0], assertion.expected)):
        problems.append(f"value {value!r}, expected {assertion.expected!r}" if rows else f"no row, expected the value {assertion.expected!r}")
    if problems:
        return Outcome("failed", "; ".join(problems), measured)
    return Outcome("ok", rows_text(len(rows)) + (f", value {value!r}" if assertion.has_expected else ""), measured)
