# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Database performance after a rollback (``ofm.rollback.pg_stat_info``): query times from ``pg_stat_statements`` and the
connection pool's use.

The statistics of the connected database are read twice, ``sample`` seconds apart. Per query (``queryid``, summed over
users): the current mean is the execution time added during the sample divided by the calls added; the baseline mean is
the cumulative mean before the sample (``total_exec_time / calls`` at the first read). The ``queries`` check looks at the
``top`` queries by calls during the sample and fails a query whose current mean is above ``max_ratio`` times its baseline
AND at least ``min_increase`` seconds above it; a query with no call before the sample (or whose statistics were reset
during it) has no baseline and is not judged. No call at all during the sample, or no ``pg_stat_statements`` extension in
the database, leaves the check unknown. The ``connection_pool`` check fails when the client connections reach
``max_pool_use`` of ``max_connections``. The module's own statements carry a comment and are left out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils import checks
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection, connection_from_params, psycopg
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.rate_limits import connection_error

SYSTEM = "PostgreSQL"
SUBJECT = "the database"
TAG = "/* ofm.rollback pg_stat_info */"
MAX_QUERY_TEXT = 200
ENABLE_HINT = ("add pg_stat_statements to shared_preload_libraries (restart), run CREATE EXTENSION pg_stat_statements in the "
               "database, and grant pg_read_all_stats (or pg_monitor) to the role")

EXTENSION_SQL = TAG + " SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"
STATEMENTS_SQL = TAG + """ SELECT queryid, min(query), sum(calls)::bigint, sum(total_exec_time)::float8
 FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 AND query NOT LIKE '%%ofm.rollback pg_stat_info%%' GROUP BY queryid"""
POOL_SQL = TAG + """ SELECT count(*) FILTER (WHERE backend_type = 'client backend'),
 current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,
 count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active'),
 count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle in transaction') FROM pg_stat_activity"""


@dataclass(frozen=True)
class Stat:
    """One query's cumulative statistics at one read."""

    query: str
    calls: int
    total_ms: float


@dataclass(frozen=True)
class Options:
    connection: Connection
    sample: float
    top: int
    max_ratio: float
    min_increase: float
    max_pool_use: float
    unavailable_is: str

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Options":
        connection = connection_from_params(params.get("database") or {}, "database")
        top = params.get("top")
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 100:
            raise InputError(f"top {top!r} is out of range", option="top", accepted="an integer from 1 to 100")
        max_ratio, max_pool_use = params.get("max_ratio"), params.get("max_pool_use")
        if not isinstance(max_ratio, (int, float)) or max_ratio <= 1:
            raise InputError(f"max_ratio {max_ratio!r} is not above 1", option="max_ratio", accepted="a number above 1, such as 3.0")
        if not isinstance(max_pool_use, (int, float)) or not 0 < max_pool_use <= 1:
            raise InputError(f"max_pool_use {max_pool_use!r} is not a share", option="max_pool_use", accepted="a number above 0 and at most 1")
        unavailable_is = params.get("unavailable_is") or "fail"
        if unavailable_is not in checks.UNAVAILABLE_IS:
            raise InputError(f"{unavailable_is!r} is not a choice", option="unavailable_is", accepted=checks.UNAVAILABLE_IS)
        return cls(connection=connection, sample=parse_duration(params.get("sample") or "30s", "sample"), top=top,
                   max_ratio=float(max_ratio), min_increase=parse_duration(params.get("min_increase") or "20ms", "min_increase"),
                   max_pool_use=float(max_pool_use), unavailable_is=unavailable_is)


def compare(before: Mapping[Any, Stat], after: Mapping[Any, Stat], options: Options) -> tuple[checks.Check, list[dict[str, Any]]]:
    """The ``queries`` check and the top list, from two reads of the statistics ``options.sample`` apart."""
    rows = []
    for queryid, now in after.items():
        was = before.get(queryid)
        if was is None or was.calls <= 0 or now.calls < was.calls or now.total_ms < was.total_ms:
            # New during the sample, or its statistics were reset meanwhile: every call counted now is in the sample.
            baseline, calls, total = None, now.calls, now.total_ms
        else:
            baseline, calls, total = was, now.calls - was.calls, now.total_ms - was.total_ms
        if calls <= 0:
            continue
        rows.append({"queryid": str(queryid), "query": now.query[:MAX_QUERY_TEXT], "calls": calls, "mean_ms": round(total / calls, 3),
                     "baseline_mean_ms": round(baseline.total_ms / baseline.calls, 4) if baseline else None,
                     "baseline_calls": baseline.calls if baseline else 0})
    rows.sort(key=lambda row: (-row["calls"], row["queryid"]))
    top = rows[:options.top]
    for row in top:
        base = row["baseline_mean_ms"]
        row["ratio"] = round(row["mean_ms"] / base, 2) if base else None  # none without a baseline, or over a zero one
        row["slower"] = bool(base is not None and row["mean_ms"] > base * options.max_ratio
                             and row["mean_ms"] - base > options.min_increase * 1000)
    data = {"sample": format_duration(options.sample), "judged": sum(1 for row in top if row["baseline_mean_ms"] is not None)}
    if not top:
        return checks.Check("queries", checks.UNKNOWN, f"no query ran in the database during the {format_duration(options.sample)} sample",
                            data), top
    slower = [row for row in top if row["slower"]]
    if slower:
        shown = "; ".join(f"{row['query'][:80]!r} {row['mean_ms']:.1f} ms vs {row['baseline_mean_ms']:.2f} ms before"
                          for row in slower[:3])
        return checks.Check("queries", checks.FAILED, f"{len(slower)} of the top {len(top)} queries slower than the baseline: {shown}",
                            dict(data, slower=[row["queryid"] for row in slower])), top
    return checks.Check("queries", checks.OK, f"top {len(top)} queries by calls within {options.max_ratio:g}x of their baseline mean "
                        f"(or within {format_duration(options.min_increase)} of it); {data['judged']} had a baseline", data), top


def judge_pool(connections: int, max_connections: int, reserved: int, active: int, idle_in_transaction: int,
               max_pool_use: float) -> tuple[checks.Check, dict[str, Any]]:
    use = connections / max_connections if max_connections else 1.0
    pool = {"connections": connections, "max_connections": max_connections, "superuser_reserved": reserved, "active": active,
            "idle_in_transaction": idle_in_transaction, "use": round(use, 3), "max_use": max_pool_use}
    detail = f"{connections} of {max_connections} connections in use ({use:.0%}, at most {max_pool_use:.0%})"
    return checks.Check("connection_pool", checks.FAILED if use >= max_pool_use else checks.OK, detail, pool), pool


class StatReader:
    """Reads the statistics of one database over one read-only connection (opened by ``run``)."""

    def __init__(self, options: Options, sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options
        self.sleep = sleep

    def run(self) -> dict[str, Any]:
        """The module's result fields: ``checks.result`` + ``queries`` and ``pool``."""
        target = self.options.connection.target
        try:
            conn = self.options.connection.connect(read_only=True, statement_timeout=30)
        except psycopg.OperationalError as exc:
            return self._unavailable(connection_error(exc, self.options.connection, "connect"))
        try:
            with conn:
                pool_check, pool = judge_pool(*conn.execute(POOL_SQL).fetchone(), max_pool_use=self.options.max_pool_use)
                version = conn.execute(EXTENSION_SQL).fetchone()
                if version is None:
                    query_check = checks.unavailable("queries", f"the extension pg_stat_statements is not installed in database "
                                                                f"{self.options.connection.database}: {ENABLE_HINT}")
                    return self._result([query_check, pool_check], [], pool, target)
                try:
                    before = self._read(conn)
                    self.sleep(self.options.sample)
                    after = self._read(conn)
                except psycopg.errors.ObjectNotInPrerequisiteState as exc:
                    query_check = checks.unavailable("queries", f"pg_stat_statements cannot be read ({str(exc).strip().splitlines()[0]}): {ENABLE_HINT}")
                    return self._result([query_check, pool_check], [], pool, target)
                query_check, top = compare(before, after, self.options)
                return self._result([query_check, pool_check], top, pool, target)
        except psycopg.OperationalError as exc:
            return self._unavailable(UnavailableError(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                                                      system=SYSTEM, operation="read statistics", target=target))
        except psycopg.Error as exc:
            raise OfmRollbackError(str(exc).strip().splitlines()[0], system=SYSTEM, operation="read statistics", target=target,
                                   hint="The role needs pg_read_all_stats (or pg_monitor) and CONNECT on the database.") from exc

    @staticmethod
    def _read(conn: Any) -> dict[Any, Stat]:
        return {row[0]: Stat(row[1] or "", int(row[2] or 0), float(row[3] or 0.0))
                for row in conn.execute(STATEMENTS_SQL).fetchall() if row[0] is not None}

    @staticmethod
    def _result(found: list[checks.Check], top: list[dict[str, Any]], pool: Optional[dict[str, Any]], target: str) -> dict[str, Any]:
        return checks.result(found, SUBJECT, {"queries": top, "pool": pool, "database": target, "available": True})

    def _unavailable(self, error: OfmRollbackError) -> dict[str, Any]:
        if self.options.unavailable_is != "unknown" or not isinstance(error, UnavailableError):
            raise error
        reason = f"PostgreSQL could not be asked ({error.reason})"
        return checks.result([checks.unavailable("queries", reason), checks.unavailable("connection_pool", reason)], SUBJECT,
                             {"queries": [], "pool": None, "database": self.options.connection.target, "available": False})
