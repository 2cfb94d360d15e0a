# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of a restored PostgreSQL sandbox: the checklist's five "Database Rollback Validation" items.

``check_options`` turns the module's parameters into ``ValidateOptions`` (or an ``InputError`` naming the option) before
any query runs. ``Validator.run`` then runs every check and never stops at the first failure: each check ends ``ok``,
``failed`` or ``skipped`` (with the reason), with a detail, measured values and its duration. The source database is
only ever read (its sessions are read-only); the sandbox is written only by ``CREATE EXTENSION amcheck`` when allowed.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.command import CommandRunner, Program, Runner, run_process
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection, connection_from_params, psycopg
from ansible_collections.ofm.rollback.plugins.module_utils.redact import Redactor
from ansible_collections.ofm.rollback.plugins.module_utils.durations import parse_duration

SYSTEM = "PostgreSQL"
CATEGORIES = ("schema_version", "data_integrity", "application_compatibility", "performance", "backup_status")
STATUSES = ("ok", "failed", "skipped")
STATISTICS = ("p50", "max")
DEFAULT_PG_BIN_DIR = "/usr/lib/postgresql/15/bin"
MAX_RUNS = 1000
BIN_DIR_HELP = "the directory of pg_basebackup and pg_verifybackup (PostgreSQL 13 or later) of the sandbox's major version"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_TABLE_HELP = "a table name such as posts or public.posts (letters, digits, _ and $)"
_CONSTRAINT_TYPES = {"c": "check", "f": "foreign key", "n": "not null", "p": "primary key", "u": "unique", "t": "trigger", "x": "exclusion"}


# --- options -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowCountRule:
    table: tuple[str, ...]
    minimum: Optional[int] = None
    maximum: Optional[int] = None
    compare_to_source: bool = False
    source_tolerance: float = 0.0

    @property
    def name(self) -> str:
        return ".".join(self.table)


@dataclass(frozen=True)
class Assertion:
    name: str
    query: str
    expected: Any = None
    has_expected: bool = False
    expected_rows: Optional[int] = None


@dataclass(frozen=True)
class NamedQuery:
    name: str
    query: str
    budget: float = 0.0
    runs: int = 1
    statistic: str = "p50"


@dataclass(frozen=True)
class BackupOptions:
    new_backup: bool = True
    pg_bin_dir: str = DEFAULT_PG_BIN_DIR
    work_dir: Optional[str] = None
    archiver: bool = True
    pgbackrest_stanza: Optional[str] = None
    pgbackrest_config: Optional[str] = None
    pgbackrest_bin: str = "pgbackrest"
    timeout: float = 3600.0


@dataclass(frozen=True)
class ValidateOptions:
    sandbox: Connection
    source: Optional[Connection] = None
    app: Optional[Connection] = None
    only: tuple[str, ...] = CATEGORIES
    schema_table: tuple[str, ...] = ("schema_migrations",)
    schema_column: str = "version"
    expected_version: Optional[str] = None
    tables: tuple[str, ...] = ()
    row_counts: tuple[RowCountRule, ...] = ()
    amcheck: bool = True
    amcheck_create_extension: bool = False
    amcheck_heapallindexed: bool = False
    constraints: bool = True
    assertions: tuple[Assertion, ...] = ()
    smoke_queries: tuple[NamedQuery, ...] = ()
    performance: tuple[NamedQuery, ...] = ()
    backup: BackupOptions = field(default_factory=BackupOptions)
    query_timeout: float = 300.0

    @property
    def secrets(self) -> list[Optional[str]]:
        return [conn.password for conn in (self.sandbox, self.source, self.app) if conn is not None]


def parse_table(value: Any, option: str) -> tuple[str, ...]:
    """``posts`` -> ``("posts",)``, ``public.posts`` -> ``("public", "posts")``; an ``InputError`` naming ``option`` otherwise."""
    parts = tuple(str(value or "").split("."))
    if len(parts) > 2 or not all(_IDENTIFIER.match(part) for part in parts):
        raise InputError(f"{value!r} is not a table name", option=option, accepted=_TABLE_HELP)
    return parts


def check_options(params: Mapping[str, Any]) -> ValidateOptions:
    """The validated options of the pg_validate module; raises ``InputError`` before anything is queried."""
    sandbox = connection_from_params(params["sandbox"], "sandbox")
    source = connection_from_params(params.get("source"), "source")
    app = connection_from_params(params.get("app"), "app", inherit=sandbox)
    only = tuple(params.get("only") or CATEGORIES)
    for category in only:
        if category not in CATEGORIES:
            raise InputError(f"{category!r} is not a check category", option="only", accepted=CATEGORIES)
    schema = params.get("schema_version") or {}
    integrity = params.get("data_integrity") or {}
    column = schema.get("column") or "version"
    if not _IDENTIFIER.match(column):
        raise InputError(f"{column!r} is not a column name", option="schema_version.column", accepted="a column name such as version")
    expected = schema.get("expected")
    backup = _backup_options(params.get("backup_status") or {})
    if backup.pgbackrest_config and not backup.pgbackrest_stanza:
        raise InputError("backup_status.pgbackrest_config is set without a stanza", option="backup_status.pgbackrest_stanza",
                         accepted="the source's stanza name, such as ofm-social-os")
    return ValidateOptions(
        sandbox=sandbox, source=source, app=app, only=only,
        schema_table=parse_table(schema.get("table") or "schema_migrations", "schema_version.table"), schema_column=column,
        expected_version=None if expected is None or expected == "" else str(expected),
        tables=tuple(".".join(parse_table(table, "data_integrity.tables")) for table in integrity.get("tables") or ()),
        row_counts=_row_count_rules(integrity.get("row_counts") or (), source),
        amcheck=integrity.get("amcheck", True), amcheck_create_extension=integrity.get("amcheck_create_extension", False),
        amcheck_heapallindexed=integrity.get("amcheck_heapallindexed", False), constraints=integrity.get("constraints", True),
        assertions=_assertions(integrity.get("assertions") or ()),
        smoke_queries=_smoke_queries((params.get("application_compatibility") or {}).get("smoke_queries") or (), app),
        performance=_performance_queries((params.get("performance") or {}).get("queries") or ()),
        backup=backup,
        query_timeout=parse_duration(params.get("query_timeout") or "5m", "query_timeout"),
    )


def _row_count_rules(entries: Sequence[Mapping[str, Any]], source: Optional[Connection]) -> tuple[RowCountRule, ...]:
    rules, seen = [], set()
    for index, entry in enumerate(entries):
        option = f"data_integrity.row_counts[{index}]"
        table = parse_table(entry.get("table"), f"{option}.table")
        minimum, maximum = entry.get("min"), entry.get("max")
        compare, tolerance = bool(entry.get("compare_to_source")), entry.get("source_tolerance") or 0.0
        if minimum is None and maximum is None and not compare:
            raise InputError(f"{option} sets no threshold for {'.'.join(table)}", option=option,
                             accepted="min, max or compare_to_source: true (or several)")
        for key, value in (("min", minimum), ("max", maximum)):
            if value is not None and value < 0:
                raise InputError(f"{option}.{key} must not be negative, got {value}", option=f"{option}.{key}", accepted="0 or more")
        if minimum is not None and maximum is not None and maximum < minimum:
            raise InputError(f"{option}.max ({maximum}) is below min ({minimum})", option=f"{option}.max", accepted=f"{minimum} or more")
        if not 0.0 <= tolerance <= 1.0:
            raise InputError(f"{option}.source_tolerance must be a fraction, got {tolerance:g}", option=f"{option}.source_tolerance",
                             accepted="0 to 1 (0.05 allows a difference of 5% of the source's rows)")
        if compare and source is None:
            raise InputError(f"{option}.compare_to_source needs the source connection", option="source",
                             accepted="a connection to the source database (host, port, database, user, password)")
        if table in seen:
            raise InputError(f"{option}: {'.'.join(table)} is listed twice", option=f"{option}.table", accepted="each table once")
        seen.add(table)
        rules.append(RowCountRule(table, minimum, maximum, compare, tolerance))
    return tuple(rules)


def _unique_name(name: str, seen: set[str], option: str) -> str:
    if not name:
        raise InputError(f"{option}.name must not be empty", option=f"{option}.name", accepted="a non-empty name")
    if name in seen:
        raise InputError(f"{option}.name {name!r} is used twice", option=f"{option}.name", accepted="a name unique in its list")
    seen.add(name)
    return name


def _query_text(entry: Mapping[str, Any], option: str) -> str:
    query = (entry.get("query") or "").strip()
    if not query:
        raise InputError(f"{option}.query is empty", option=f"{option}.query", accepted="one SQL statement")
    return query


def _assertions(entries: Sequence[Mapping[str, Any]]) -> tuple[Assertion, ...]:
    assertions, seen = [], set()
    for index, entry in enumerate(entries):
        option = f"data_integrity.assertions[{index}]"
        name = _unique_name(entry.get("name") or "", seen, option)
        has_expected = entry.get("expected") is not None
        expected_rows = entry.get("expected_rows")
        if not has_expected and expected_rows is None:
            raise InputError(f"{option} ({name}) expects nothing", option=option, accepted="expected, expected_rows or both")
        if expected_rows is not None and expected_rows < 0:
            raise InputError(f"{option}.expected_rows must not be negative", option=f"{option}.expected_rows", accepted="0 or more")
        assertions.append(Assertion(name, _query_text(entry, option), entry.get("expected"), has_expected, expected_rows))
    return tuple(assertions)


def _smoke_queries(entries: Sequence[Mapping[str, Any]], app: Optional[Connection]) -> tuple[NamedQuery, ...]:
    if entries and app is None:
        raise InputError("application_compatibility.smoke_queries are given without the application role", option="app",
                         accepted="the application role's connection (at least user and password)")
    queries, seen = [], set()
    for index, entry in enumerate(entries):
        option = f"application_compatibility.smoke_queries[{index}]"
        name = _unique_name(entry.get("name") or f"smoke_query_{index + 1}", seen, option)
        queries.append(NamedQuery(name, _query_text(entry, option)))
    return tuple(queries)


def _performance_queries(entries: Sequence[Mapping[str, Any]]) -> tuple[NamedQuery, ...]:
    queries, seen = [], set()
    for index, entry in enumerate(entries):
        option = f"performance.queries[{index}]"
        name = _unique_name(entry.get("name") or "", seen, option)
        runs = entry.get("runs") or 5
        if not 1 <= runs <= MAX_RUNS:
            raise InputError(f"{option}.runs must be from 1 to {MAX_RUNS}, got {runs}", option=f"{option}.runs", accepted=f"1 to {MAX_RUNS}")
        statistic = entry.get("statistic") or "p50"
        if statistic not in STATISTICS:
            raise InputError(f"{option}.statistic {statistic!r} is unknown", option=f"{option}.statistic", accepted=STATISTICS)
        budget = parse_duration(entry.get("budget"), f"{option}.budget")
        queries.append(NamedQuery(name, _query_text(entry, option), budget, runs, statistic))
    return tuple(queries)


def backup_programs(backup: BackupOptions) -> dict[str, Program]:
    """The options that set the programs of the backup checks, for the error when one is missing."""
    return {"pg_basebackup": Program("backup_status.pg_bin_dir", BIN_DIR_HELP), "pg_verifybackup": Program("backup_status.pg_bin_dir", BIN_DIR_HELP),
            os.path.basename(backup.pgbackrest_bin): Program("backup_status.pgbackrest_bin", "the pgbackrest command, a path or a name on PATH")}


def _backup_options(params: Mapping[str, Any]) -> BackupOptions:
    return BackupOptions(
        new_backup=params.get("new_backup", True), pg_bin_dir=params.get("pg_bin_dir") or DEFAULT_PG_BIN_DIR,
        work_dir=params.get("work_dir"), archiver=params.get("archiver", True), pgbackrest_stanza=params.get("pgbackrest_stanza") or None,
        pgbackrest_config=params.get("pgbackrest_config") or None, pgbackrest_bin=params.get("pgbackrest_bin") or "pgbackrest",
        timeout=parse_duration(params.get("timeout") or "1h", "backup_status.timeout"))


# --- verdicts (pure functions) ------------------------------------------------------------------------------------

@dataclass
class Outcome:
    status: str
    detail: str
    measured: dict[str, Any] = field(default_factory=dict)


def judge_schema_version(found: Optional[str], expected: str, where: str) -> Outcome:
    measured = {"version": found, "expected": expected}
    if found is None:
        return Outcome("failed", f"{where} holds no version", measured)
    if found != expected:
        return Outcome("failed", f"schema version is {found}, expected {expected}", measured)
    return Outcome("ok", f"schema version is {found}", measured)


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


def judge_latency(query: NamedQuery, timings: Sequence[float]) -> Outcome:
    p50, worst = statistics.median(timings), max(timings)
    measured = {"runs": len(timings), "p50": round(p50, 6), "max": round(worst, 6), "min": round(min(timings), 6),
                "budget": query.budget, "statistic": query.statistic, "timings": [round(value, 6) for value in timings]}
    judged = p50 if query.statistic == "p50" else worst
    text = f"{query.statistic} {_ms(judged)} over {len(timings)} runs (p50 {_ms(p50)}, max {_ms(worst)}), budget {_ms(query.budget)}"
    return Outcome("failed" if judged > query.budget else "ok", text, measured)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def judge_archiver(archive_mode: str, stats: Mapping[str, Any]) -> Outcome:
    """The source's WAL archiver from ``pg_stat_archiver``: failing when its last attempt failed (or archiving is off)."""
    measured = {key: plain(value) for key, value in stats.items()}
    measured["archive_mode"] = archive_mode
    if archive_mode == "off":
        return Outcome("failed", "archive_mode is off on the source: no WAL is archived, so no point in time after the last "
                                 "backup can be restored", measured)
    last_failed, last_archived = stats.get("last_failed_time"), stats.get("last_archived_time")
    failed_count = stats.get("failed_count") or 0
    if last_failed is not None and (last_archived is None or last_failed > last_archived):
        return Outcome("failed", f"the last archive attempt failed: WAL {stats.get('last_failed_wal')} at {plain(last_failed)}, "
                                 f"{failed_count} failures since {plain(stats.get('stats_reset'))}; last success: "
                                 f"{plain(last_archived) or 'never'}", measured)
    if last_archived is None:
        return Outcome("ok", "archiving is on and nothing has failed; no WAL archived yet since the statistics were reset", measured)
    recovered = f" ({failed_count} earlier failures, archiving has succeeded since)" if failed_count else ""
    return Outcome("ok", f"last WAL archived: {stats.get('last_archived_wal')} at {plain(last_archived)}{recovered}", measured)


def plain(value: Any) -> Any:
    """A value as JSON can hold it: datetimes as ISO text, decimals as numbers, anything else unknown as text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return str(value)


# --- results ---------------------------------------------------------------------------------------------------------

@dataclass
class CheckResult:
    category: str
    name: str
    status: str
    detail: str
    measured: dict[str, Any]
    duration: float

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "name": self.name, "status": self.status, "detail": self.detail,
                "measured": self.measured, "duration": round(self.duration, 3)}


def summarize(checks: Sequence[CheckResult]) -> dict[str, dict[str, Any]]:
    """Per category: how many checks ended ok, failed, skipped, and the category's status (failed beats ok beats skipped)."""
    summary = {}
    for category in CATEGORIES:
        counts = {status: sum(1 for check in checks if check.category == category and check.status == status) for status in STATUSES}
        status = "failed" if counts["failed"] else "ok" if counts["ok"] else "skipped"
        summary[category] = {"status": status, **counts}
    return summary


def passed(checks: Sequence[CheckResult]) -> bool:
    """True when no check failed and at least one ran: validating nothing is not a pass."""
    return any(check.status == "ok" for check in checks) and not any(check.status == "failed" for check in checks)


def message(checks: Sequence[CheckResult]) -> str:
    failed = [check.name for check in checks if check.status == "failed"]
    counts = ", ".join(f"{sum(1 for check in checks if check.status == status)} {status}" for status in STATUSES)
    verdict = f"failed: {', '.join(failed)}" if failed else "passed" if passed(checks) else "no check ran"
    return f"sandbox validation {verdict} ({len(checks)} checks: {counts})"


class Skip(Exception):
    """A check that cannot or must not run; its message says why."""


# --- the validator -----------------------------------------------------------------------------------------------------

def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Validator:
    """Runs every selected check against the sandbox (and the source, read-only, and the application role)."""

    def __init__(self, options: ValidateOptions, *, check_mode: bool = False, clock: Callable[[], float] = time.perf_counter,
                 runner: Runner = run_process) -> None:
        self.options = options
        self.check_mode = check_mode
        self.clock = clock
        self.checks: list[CheckResult] = []
        self.queries: list[dict[str, str]] = []
        self.runner = CommandRunner(SYSTEM, programs=backup_programs(options.backup), secrets=options.secrets, hint="", runner=runner,
                                    clock=clock)
        self.changed = False
        self.started_at: Optional[str] = None
        self.finished_at: Optional[str] = None
        self._redactor = Redactor(options.secrets)
        self._sessions: dict[str, Any] = {}

    # sessions and statements

    def session(self, name: str) -> Any:
        """The open connection to ``sandbox``, ``source`` or ``app``; a failed connection is not tried again."""
        if name not in self._sessions:
            conn: Connection = getattr(self.options, name)
            try:
                self._sessions[name] = conn.connect(read_only=name != "app", statement_timeout=self.options.query_timeout)
            except psycopg.Error as exc:
                self._sessions[name] = exc
        session = self._sessions[name]
        if isinstance(session, Exception):
            raise session
        return session

    def execute(self, name: str, query: Any, params: Optional[Sequence[Any]] = None) -> Any:
        conn = self.session(name)
        text = query.as_string(conn) if hasattr(query, "as_string") else query
        self.queries.append({"target": name, "query": " ".join(text.split())})
        return conn.execute(query, params)

    def close(self) -> None:
        for session in self._sessions.values():
            if not isinstance(session, Exception):
                session.close()
        self._sessions.clear()

    # running checks

    def run(self) -> list[CheckResult]:
        self.started_at = utc_now()
        try:
            self._schema_version()
            self._data_integrity()
            self._application_compatibility()
            self._performance()
            self._backup_status()
        finally:
            self.close()
            self.finished_at = utc_now()
        return self.checks

    def check(self, category: str, name: str, function: Callable[[], Outcome]) -> CheckResult:
        start = self.clock()
        if category not in self.options.only:
            outcome = Outcome("skipped", f"category {category} not selected (only: {', '.join(self.options.only)})")
        else:
            try:
                outcome = function()
            except Skip as exc:
                outcome = Outcome("skipped", str(exc))
            except psycopg.Error as exc:
                outcome = Outcome("failed", _pg_error_text(exc))
            except OfmRollbackError as exc:
                outcome = Outcome("failed", error_text(exc))
            except OSError as exc:
                outcome = Outcome("failed", f"{type(exc).__name__}: {exc}")
        result = CheckResult(category, name, outcome.status, self._redactor.text(outcome.detail), self._redactor.value(outcome.measured),
                             self.clock() - start)
        self.checks.append(result)
        return result

    # schema_version

    def _schema_version(self) -> None:
        self.check("schema_version", "schema_version", self._check_schema_version)

    def _check_schema_version(self) -> Outcome:
        options = self.options
        if options.expected_version is None:
            raise Skip("no expected version given (schema_version.expected)")
        table = ".".join(options.schema_table)
        query = psycopg.sql.SQL("SELECT max({column})::text FROM {table}").format(
            column=psycopg.sql.Identifier(options.schema_column), table=psycopg.sql.Identifier(*options.schema_table))
        found = self.execute("sandbox", query).fetchone()[0]
        outcome = judge_schema_version(found, options.expected_version, f"{table}.{options.schema_column}")
        outcome.measured.update(table=table, column=options.schema_column)
        return outcome

    # data_integrity

    def _data_integrity(self) -> None:
        category = "data_integrity"
        self.check(category, "tables_present", self._check_tables)
        for rule in self.options.row_counts:
            self.check(category, f"row_count:{rule.name}", lambda rule=rule: self._check_row_count(rule))
        self.check(category, "amcheck", self._check_amcheck)
        self.check(category, "constraints_valid", self._check_constraints)
        for assertion in self.options.assertions:
            self.check(category, f"assertion:{assertion.name}", lambda assertion=assertion: self._check_assertion(assertion))

    def _check_tables(self) -> Outcome:
        if not self.options.tables:
            raise Skip("no expected tables listed (data_integrity.tables)")
        rows = self.execute("sandbox", "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL",
                            [list(self.options.tables)]).fetchall()
        missing = [row[0] for row in rows]
        measured = {"expected": list(self.options.tables), "missing": missing}
        if missing:
            return Outcome("failed", f"{len(missing)} of {len(self.options.tables)} tables missing: {', '.join(missing)}", measured)
        return Outcome("ok", f"all {len(self.options.tables)} tables present", measured)

    def _count(self, target: str, rule: RowCountRule) -> int:
        query = psycopg.sql.SQL("SELECT count(*) FROM {table}").format(table=psycopg.sql.Identifier(*rule.table))
        return self.execute(target, query).fetchone()[0]

    def _check_row_count(self, rule: RowCountRule) -> Outcome:
        count = self._count("sandbox", rule)
        source_count = self._count("source", rule) if rule.compare_to_source else None
        return judge_row_count(rule, count, source_count)

    def _check_amcheck(self) -> Outcome:
        options = self.options
        if not options.amcheck:
            raise Skip("amcheck disabled (data_integrity.amcheck: false)")
        version = self._amcheck_version()
        indexes = self.execute("sandbox", """
            SELECT c.oid, c.oid::regclass::text FROM pg_index i
              JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
             ORDER BY 2""").fetchall()
        failures = []
        for oid, name in indexes:
            try:
                self.execute("sandbox", "SELECT bt_index_check(%s::oid::regclass, %s)", [oid, options.amcheck_heapallindexed])
            except psycopg.Error as exc:
                failures.append({"index": name, "error": _pg_error_text(exc)})
        measured = {"extension_version": version, "indexes_checked": len(indexes), "heapallindexed": options.amcheck_heapallindexed,
                    "failures": failures}
        if failures:
            return Outcome("failed", f"{len(failures)} of {len(indexes)} btree indexes failed bt_index_check: "
                                     + ", ".join(failure["index"] for failure in failures), measured)
        return Outcome("ok", f"bt_index_check passed on {len(indexes)} btree indexes", measured)

    def _amcheck_version(self) -> str:
        row = self.execute("sandbox", "SELECT extversion FROM pg_extension WHERE extname = 'amcheck'").fetchone()
        if row:
            return row[0]
        database = self.options.sandbox.database
        if not self.options.amcheck_create_extension:
            raise Skip(f"the amcheck extension is not installed in database {database} and data_integrity.amcheck_create_extension "
                       "is false")
        if self.check_mode:
            raise Skip(f"check mode: would run CREATE EXTENSION IF NOT EXISTS amcheck in database {database} of the sandbox")
        conn = self.session("sandbox")
        with conn.transaction():
            self.execute("sandbox", "SET TRANSACTION READ WRITE")
            self.execute("sandbox", "CREATE EXTENSION IF NOT EXISTS amcheck")
        self.changed = True
        return self.execute("sandbox", "SELECT extversion FROM pg_extension WHERE extname = 'amcheck'").fetchone()[0]

    def _check_constraints(self) -> Outcome:
        if not self.options.constraints:
            raise Skip("constraint check disabled (data_integrity.constraints: false)")
        rows = self.execute("sandbox", """
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

    def _rolled_back(self, target: str, query: str) -> list[Any]:
        """Run ``query`` in a transaction that is rolled back; its rows (none for a statement without a result)."""
        conn = self.session(target)
        with conn.transaction(force_rollback=True):
            cursor = self.execute(target, query)
            return cursor.fetchall() if cursor.description else []

    def _check_assertion(self, assertion: Assertion) -> Outcome:
        outcome = judge_assertion(assertion, self._rolled_back("sandbox", assertion.query))
        outcome.measured["query"] = assertion.query
        return outcome

    # application_compatibility

    def _application_compatibility(self) -> None:
        category = "application_compatibility"
        connect = self.check(category, "app_connect", self._check_app_connect)
        for query in self.options.smoke_queries:
            self.check(category, f"smoke:{query.name}", lambda query=query, connect=connect: self._check_smoke(query, connect))

    def _check_app_connect(self) -> Outcome:
        app = self.options.app
        if app is None:
            raise Skip("no application role given (app)")
        start = self.clock()
        self.session("app")
        seconds = self.clock() - start
        user, version = self.execute("app", "SELECT current_user, current_setting('server_version')").fetchone()
        return Outcome("ok", f"connected to {app.target} as {user} in {_ms(seconds)}",
                       {"user": user, "server_version": version, "connect_seconds": round(seconds, 6)})

    def _check_smoke(self, query: NamedQuery, connect: CheckResult) -> Outcome:
        if connect.status != "ok":
            raise Skip(f"not run: app_connect is {connect.status}")
        rows = self._rolled_back("app", query.query)
        return Outcome("ok", f"{rows_text(len(rows))} as {self.options.app.user}", {"rows": len(rows), "query": query.query})

    # performance

    def _performance(self) -> None:
        if not self.options.performance:
            self.check("performance", "performance", self._no_performance_queries)
        for query in self.options.performance:
            self.check("performance", f"latency:{query.name}", lambda query=query: self._check_latency(query))

    @staticmethod
    def _no_performance_queries() -> Outcome:
        raise Skip("no queries with a latency budget given (performance.queries)")

    def _check_latency(self, query: NamedQuery) -> Outcome:
        timings = []
        for _run in range(query.runs):
            start = self.clock()
            self._rolled_back("sandbox", query.query)
            timings.append(self.clock() - start)
        outcome = judge_latency(query, timings)
        outcome.measured["query"] = query.query
        return outcome

    # backup_status

    def _backup_status(self) -> None:
        category = "backup_status"
        self.check(category, "new_backup", self._check_new_backup)
        self.check(category, "source_archiver", self._check_archiver)
        self.check(category, "pgbackrest_check", self._check_pgbackrest)

    def command(self, argv: list[str], env: dict[str, str], timeout: float) -> str:
        return self.runner.run(argv, os.path.basename(argv[0]), self.options.sandbox.target, timeout=timeout, env=env)

    def _check_new_backup(self) -> Outcome:
        backup, sandbox = self.options.backup, self.options.sandbox
        if not backup.new_backup:
            raise Skip("new backup disabled (backup_status.new_backup: false)")
        if self.check_mode:
            raise Skip("check mode: would write a base backup of the sandbox into a temporary directory and verify it")
        work = tempfile.mkdtemp(prefix="ofm-pg-validate-", dir=backup.work_dir)
        try:
            target = os.path.join(work, "base")
            start = self.clock()
            self.command([os.path.join(backup.pg_bin_dir, "pg_basebackup"), "-d", sandbox.conninfo(), "-D", target, "-X", "stream",
                          "-c", "fast", "--no-sync", "-w"], sandbox.libpq_env(), backup.timeout)
            taken = self.clock() - start
            size = _tree_size(target)
            self.command([os.path.join(backup.pg_bin_dir, "pg_verifybackup"), target], sandbox.libpq_env(), backup.timeout)
            verified = self.clock() - start - taken
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return Outcome("ok", f"pg_basebackup of {sandbox.target} ({size / 1048576:.1f} MiB) taken in {taken:.1f} s and verified by "
                             f"pg_verifybackup in {verified:.1f} s", {"bytes": size, "backup_seconds": round(taken, 3),
                                                                      "verify_seconds": round(verified, 3)})

    def _check_archiver(self) -> Outcome:
        if not self.options.backup.archiver:
            raise Skip("archiver check disabled (backup_status.archiver: false)")
        if self.options.source is None:
            raise Skip("no source connection given (source)")
        cursor = self.execute("source", "SELECT current_setting('archive_mode') AS archive_mode, archived_count, last_archived_wal, "
                                        "last_archived_time, failed_count, last_failed_wal, last_failed_time, stats_reset FROM pg_stat_archiver")
        row = cursor.fetchone()
        stats = dict(zip((column.name for column in cursor.description), row))
        return judge_archiver(stats.pop("archive_mode"), stats)

    def _check_pgbackrest(self) -> Outcome:
        backup, source = self.options.backup, self.options.source
        if not backup.pgbackrest_stanza:
            raise Skip("no pgBackRest stanza given (backup_status.pgbackrest_stanza)")
        argv = [backup.pgbackrest_bin, f"--stanza={backup.pgbackrest_stanza}", "--log-level-file=off"]
        if backup.pgbackrest_config:
            argv.insert(1, f"--config={backup.pgbackrest_config}")
        if source is not None:
            argv.append(f"--pg1-user={source.user}")
        env = source.libpq_env() if source is not None else {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        self.command(argv + ["check"], env, backup.timeout)
        return Outcome("ok", f"pgbackrest check passed for stanza {backup.pgbackrest_stanza}",
                       {"stanza": backup.pgbackrest_stanza, "config": backup.pgbackrest_config})

    def result(self) -> dict[str, Any]:
        """The module's result fields."""
        return {"checks": [check.as_dict() for check in self.checks], "summary": summarize(self.checks), "passed": passed(self.checks),
                "failed_checks": [check.name for check in self.checks if check.status == "failed"], "queries": self.queries,
                "commands": [record.as_dict() for record in self.runner.records], "started_at": self.started_at, "finished_at": self.finished_at}


def _pg_error_text(exc: Exception) -> str:
    """``Type (SQLSTATE): primary message`` of a psycopg error, without the statement excerpt."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or " ".join(line.strip() for line in str(exc).strip().splitlines()) or "no message"
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__}{f' ({sqlstate})' if sqlstate else ''}: {text}"


def rows_text(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def error_text(exc: OfmRollbackError) -> str:
    """A check's detail for a collection error: its reason, and for bad input what the option accepts."""
    return f"{exc.reason}. {exc.hint}" if isinstance(exc, InputError) and exc.hint else exc.reason


def _tree_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files if not os.path.islink(os.path.join(root, name)))
    return total
