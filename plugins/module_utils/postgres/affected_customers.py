# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The customers an incident affected, from the OFM database (ofm.rollback.affected_customers_info).

The default query: the creators with a post that failed to publish inside the incident's window
(``posts.status = 'failed'``), each with the platforms that failed. Another query may be given: it runs in a read-only
session with the parameters ``%(since)s`` and ``%(until)s`` (timestamptz) and returns the columns ``id``, ``email`` and
optionally ``handle`` and ``platforms``. Addresses are personal data: masked in the result (``c***@example.com``) unless
asked for (the customer email module needs them; its task hides them with ``no_log``).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection, connection_from_params, psycopg
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.rate_limits import connection_error

SYSTEM = "PostgreSQL"
DEFAULT_QUERY = """SELECT c.id, c.email, c.handle, array_agg(DISTINCT p.platform ORDER BY p.platform) AS platforms
FROM creators c JOIN posts p ON p.creator_id = c.id
WHERE p.status = 'failed' AND p.created_at >= %(since)s AND p.created_at <= %(until)s AND c.email IS NOT NULL
GROUP BY c.id, c.email, c.handle ORDER BY c.id"""
WRITES = re.compile(r"\b(insert|update|delete|merge|truncate|drop|alter|create|grant|revoke|copy|call|do)\b", re.IGNORECASE)


def mask(email: Optional[str]) -> Optional[str]:
    """``creator_1@example.com`` -> ``c***@example.com``."""
    if not email or "@" not in email:
        return email
    local, _at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def check_query(query: str) -> str:
    text = " ".join((query or "").split())
    if not text.lower().startswith(("select", "with")) or WRITES.search(re.sub(r"'[^']*'", "''", text)) or ";" in text.rstrip(";"):
        raise InputError("query must be one read-only SELECT (or WITH ... SELECT) with %(since)s and %(until)s", option="query",
                         accepted="a SELECT returning the columns id and email (handle and platforms optional)")
    return query.rstrip().rstrip(";")


def check_limit(limit: int) -> int:
    if limit < 1:
        raise InputError(f"limit must be at least 1, not {limit}", option="limit", accepted="a whole number of customers, 1 or more")
    return limit


def find(connection: Connection, query: str, since: str, until: str, limit: int, show_emails: bool) -> Dict[str, Any]:
    try:
        with connection.connect(read_only=True, statement_timeout=30) as db, db.cursor() as cursor:
            cursor.execute(f"SELECT * FROM ({query}) AS affected LIMIT %(limit)s", {"since": since, "until": until, "limit": limit + 1})
            columns = [column.name for column in cursor.description]
            rows = [dict(zip(columns, row)) for row in cursor.fetchall()]
    except psycopg.OperationalError as exc:
        raise connection_error(exc, connection, "find the affected customers") from exc
    except psycopg.Error as exc:
        raise OfmRollbackError(str(exc).strip().splitlines()[0], system=SYSTEM, operation="find the affected customers",
                               target=connection.target, hint="Check the query and that the role may read its tables.") from exc
    if not {"id", "email"} <= set(columns):  # the columns, not the first row: a query that finds nobody is checked too
        raise InputError(f"query returns the columns {', '.join(columns)}; it must return id and email", option="query")
    truncated = len(rows) > limit
    customers: List[Dict[str, Any]] = []
    for row in rows[:limit]:
        platforms = row.get("platforms") or []
        customers.append({"id": row["id"], "email": row["email"] if show_emails else mask(row["email"]), "handle": row.get("handle"),
                          "platforms": list(platforms) if isinstance(platforms, (list, tuple)) else [str(platforms)]})
    return {"count": len(customers), "customers": customers, "truncated": truncated,
            "platforms": sorted({platform for customer in customers for platform in customer["platforms"]}), "database": connection.target}


def unavailable(error: UnavailableError, connection: Connection) -> Dict[str, Any]:
    return {"count": None, "customers": [], "platforms": [], "truncated": False, "database": connection.target,
            "available": False, "msg": f"the affected customers are not known: {error}"}


def params_connection(params: Mapping[str, Any]) -> Connection:
    connection = connection_from_params(params["database"], "database")
    if connection is None:
        raise InputError("database is required: a read-only connection to the OFM database", option="database")
    return connection
