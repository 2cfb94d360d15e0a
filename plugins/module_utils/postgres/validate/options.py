# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_validate's options: ``check_options`` turns the module's parameters into ``ValidateOptions``, or raises an
``InputError`` naming the option, before any query runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.durations import parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection, connection_from_params

CATEGORIES = ("schema_version", "data_integrity", "application_compatibility", "performance", "backup_status")
STATISTICS = ("p50", "max")
DEFAULT_PG_BIN_DIR = "/usr/lib/postgresql/15/bin"
MAX_RUNS = 1000
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_TABLE_HELP = "a table name such as posts or public.posts (letters, digits, _ and $)"


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
    if len(parts) > 2 or not all(IDENTIFIER.match(part) for part in parts):
        raise InputError(f"{value!r} is not a table name", option=option, accepted=_TABLE_HELP)
    return parts


def check_options(params: Mapping[str, Any]) -> ValidateOptions:
    """The validated options of the pg_validate module; raises ``InputError`` before anything is queried."""
    sandbox = connection_from_params(params.get("sandbox"), "sandbox")
    if sandbox is None:
        raise InputError("sandbox is not set: there is nothing to validate", option="sandbox",
                         accepted="the connection to the restored sandbox (host, port, database, user, password)")
    source = connection_from_params(params.get("source"), "source")
    app = connection_from_params(params.get("app"), "app", inherit=sandbox)
    only = tuple(params.get("only") or CATEGORIES)
    for category in only:
        if category not in CATEGORIES:
            raise InputError(f"{category!r} is not a check category", option="only", accepted=CATEGORIES)
    schema = params.get("schema_version") or {}
    integrity = params.get("data_integrity") or {}
    column = schema.get("column") or "version"
    if not IDENTIFIER.match(column):
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


def _backup_options(params: Mapping[str, Any]) -> BackupOptions:
    return BackupOptions(
        new_backup=params.get("new_backup", True), pg_bin_dir=params.get("pg_bin_dir") or DEFAULT_PG_BIN_DIR,
        work_dir=params.get("work_dir"), archiver=params.get("archiver", True), pgbackrest_stanza=params.get("pgbackrest_stanza") or None,
        pgbackrest_config=params.get("pgbackrest_config") or None, pgbackrest_bin=params.get("pgbackrest_bin") or "pgbackrest",
        timeout=parse_duration(params.get("timeout") or "1h", "backup_status.timeout"))
