# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-platform rate limits of OFM (table ``platform_rate_limits``: per minute, hour, day and burst), read and restored.

A table of this shape is read whole (every column, keyed by its key column) in one query and restored exactly in one
transaction: rows absent from the wanted state are deleted, the others inserted or updated, in a pipeline (psycopg 3), so
the restore costs one round trip of statements plus the commit whatever the number of rows. Nothing is written when the
table already holds the wanted rows.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError,
    DataError,
    InputError,
    NotFoundError,
    OfmRollbackError,
    UnavailableError,
)
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection, psycopg

SYSTEM = "PostgreSQL"
DEFAULT_TABLE = "platform_rate_limits"
DEFAULT_KEY = "platform"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")

Rows = dict[str, dict[str, Any]]


def _identifier(value: str, option: str) -> str:
    if not IDENTIFIER.match(value or ""):
        raise InputError(f"{option} {value!r} is not a plain SQL name", option=option,
                         accepted="a table or column name of letters, digits and _ (optionally schema.table)")
    return value


class RateLimitTable:
    """One table of rate limits keyed by ``key`` (``platform``), on one connection."""

    def __init__(self, connection: Connection, table: str = DEFAULT_TABLE, key: str = DEFAULT_KEY, statement_timeout: float = 30) -> None:
        self.connection = connection
        self.table = _identifier(table, "rate_limits_table")
        self.key = _identifier(key, "rate_limits_key")
        self.statement_timeout = statement_timeout
        # Network exchanges: one per query outside a pipeline, one for a whole pipelined transaction; connections apart.
        self.round_trips = 0
        self.connections = 0

    @property
    def target(self) -> str:
        return f"{self.table} on {self.connection.target}"

    def _quoted_table(self) -> Any:
        return psycopg.sql.Identifier(*self.table.split("."))

    def read(self) -> Rows:
        """Every row, as {key: {column: value}} (the key column left out of the inner dicts)."""
        with self._connect(read_only=True, operation="read rate limits") as conn:
            with conn.cursor() as cursor:
                self._execute(cursor, psycopg.sql.SQL("SELECT * FROM {} ORDER BY 1").format(self._quoted_table()), None, "read rate limits")
                self.round_trips += 1
                columns = [column.name for column in cursor.description]
                records = cursor.fetchall()
        if self.key not in columns:
            raise InputError(f"the table {self.table} has no column {self.key!r} (its columns: {', '.join(columns)})", option="rate_limits_key",
                             accepted=columns)
        rows: Rows = {}
        for record in records:
            values = dict(zip(columns, record))
            rows[str(values.pop(self.key))] = values
        return rows

    def restore(self, wanted: Rows, current: Optional[Rows] = None) -> dict[str, list[str]]:
        """Make the table hold exactly ``wanted``; returns the keys added, changed and removed (empty when it already did)."""
        current = self.read() if current is None else current
        changes = diff_rows(wanted, current)
        if not any(changes.values()):
            return changes
        table = self._quoted_table()
        key = psycopg.sql.Identifier(self.key)
        with self._connect(read_only=False, operation="restore rate limits") as conn:
            # Pipelined: the statements go out together and an error surfaces when the pipeline syncs, rolling all back.
            try:
                with conn.transaction(), conn.pipeline(), conn.cursor() as cursor:
                    if changes["removed"]:
                        cursor.execute(psycopg.sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(table, key), (changes["removed"],))
                    for name in changes["added"] + changes["changed"]:
                        cursor.execute(self._upsert(wanted[name]), (name, *wanted[name].values()))
            except psycopg.Error as exc:
                raise OfmRollbackError(str(exc).strip().splitlines()[0], system=SYSTEM, operation="restore rate limits", target=self.target,
                                       hint="Nothing was changed: the transaction was rolled back.") from exc
            finally:
                self.round_trips += 1
        return changes

    def _upsert(self, values: Mapping[str, Any]) -> Any:
        sql = psycopg.sql
        columns = [self.key, *values]
        updates = [sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(column), sql.Identifier(column)) for column in values]
        return sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}").format(
            self._quoted_table(), sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            sql.Identifier(self.key), sql.SQL(", ").join(updates))

    def _connect(self, *, read_only: bool, operation: str) -> Any:
        try:
            conn = self.connection.connect(read_only=read_only, statement_timeout=self.statement_timeout)
        except psycopg.OperationalError as exc:
            raise connection_error(exc, self.connection, operation) from exc
        self.connections += 1
        return conn

    def _execute(self, cursor: Any, query: Any, values: Any, operation: str) -> None:
        try:
            cursor.execute(query, values)
        except psycopg.errors.UndefinedTable as exc:
            raise NotFoundError(f"the table {self.table} does not exist", system=SYSTEM, operation=operation, target=self.connection.target,
                                hint="Set rate_limits_table to the table that holds the per-platform rate limits.") from exc
        except psycopg.Error as exc:
            raise OfmRollbackError(str(exc).strip(), system=SYSTEM, operation=operation, target=self.target,
                                   hint="Nothing was changed: the transaction was rolled back.") from exc


def connection_error(exc: Exception, connection: Connection, operation: str) -> OfmRollbackError:
    """A refused login is an AuthenticationError naming the password option; anything else means the server is unreachable."""
    text = str(exc).strip()
    if "password authentication failed" in text or "no password supplied" in text:
        return AuthenticationError(f"the server refused the login of {connection.user}", system=SYSTEM, operation=operation,
                                   target=connection.target, hint=f"Check {connection.name}.user and {connection.name}.password.")
    return UnavailableError(text.splitlines()[0] if text else type(exc).__name__, system=SYSTEM, operation=operation,
                            target=connection.target, sent=False)


def diff_rows(wanted: Rows, current: Rows) -> dict[str, list[str]]:
    """Keys to add, change and remove for ``current`` to become ``wanted``; a wanted row must name the same columns."""
    for name, values in wanted.items():
        if name in current and set(values) != set(current[name]):
            raise DataError(f"the row {name!r} has columns {sorted(values)} in the snapshot but {sorted(current[name])} in the table",
                            system=SYSTEM, operation="compare rate limits",
                            hint="The table's columns changed since the snapshot was taken: restore the rows by hand.")
    return {
        "added": sorted(set(wanted) - set(current)),
        "changed": sorted(name for name in set(wanted) & set(current) if wanted[name] != current[name]),
        "removed": sorted(set(current) - set(wanted)),
    }
