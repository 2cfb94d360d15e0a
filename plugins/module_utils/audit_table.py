# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit trail in OFM's system of record: the ``audit_logs`` table (see the OFM context: ``actor_sub, actor_email,
action, resource, meta jsonb, ip, ua``).

One row per record of the hash-chained JSONL log:

* ``actor_sub`` the actor's name (the AWX user, the CI actor or the OS user), ``actor_email`` its email;
* ``action`` ``rollback.run_start``, ``rollback.run_end`` or ``rollback.task.<module>`` (the module's short name);
* ``resource`` the incident id when the record has one, else the playbook's file name;
* ``meta`` ``{chain, seq, prev_hash, hash, run_id, incident_id, status, record}`` - ``record`` is the whole (already
  redacted) JSONL record, so the table alone can be verified: each row's hash is recomputed from it;
* ``ip`` NULL, ``ua`` ``ofm.rollback/<version> ansible-core/<version>``.

``chain`` names the log a row comes from (the hash of its first record), so several controllers' logs share the table.
The chain's anchors (``audit_anchor.py``) are rows too: ``action`` ``rollback.audit_anchor``, ``resource``
``audit-chain:<chain>``, ``meta`` ``{anchor: {...}}`` (no top-level ``chain``, so the record rows' queries leave them out).
The rows of a chain are compared with the file by ``seq``: a record of the file without its row is *missing* (not synced
yet: the next run back-fills it), a row whose hash differs from the file's record, or that the file does not hold, is
*tampered*.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ofm.rollback.plugins.module_utils.audit import first_record, read_records, record_hash
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import connection_from_params

try:
    import psycopg
except ImportError:  # pragma: no cover - the modules say psycopg is required
    psycopg = None

TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
# Records the callback wrote this recently may not be in the table yet (it inserts every second): in flight, not missing.
IN_FLIGHT_SECONDS = 10
COLUMNS = ("actor_sub", "actor_email", "action", "resource", "meta", "ip", "ua")


def check_table(table: str, option: str = "table") -> str:
    if not TABLE_NAME.match(table or ""):
        raise InputError(f"{option} must be a table name such as audit_logs or ofm.audit_logs, not {table!r}", option=option)
    return table


def chain_id(first_record: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The chain a log's rows belong to: the first 16 hex digits of its first record's hash."""
    return str(first_record.get("hash"))[:16] if first_record and first_record.get("hash") else None


def row(record: Mapping[str, Any], chain: str, ua: str) -> Tuple[Any, ...]:
    kind = record.get("type") or "record"
    module = str(record.get("module") or "").rsplit(".", 1)[-1]
    action = f"rollback.task.{module}" if kind == "task" else f"rollback.{kind}"
    actor = record.get("actor") or {}
    resource = record.get("incident_id") or str(record.get("playbook") or "").rsplit("/", 1)[-1] or None
    meta = {"chain": chain, "seq": record.get("seq"), "prev_hash": record.get("prev_hash"), "hash": record.get("hash"),
            "run_id": record.get("run_id"), "incident_id": record.get("incident_id"), "status": record.get("status"), "record": dict(record)}
    return (actor.get("name"), actor.get("email"), action, resource, json.dumps(meta, sort_keys=True), None, ua)


def log_chain(path: str) -> Optional[str]:
    """The chain of the log at ``path`` (None when it holds no record)."""
    return chain_id(first_record(path))


def insert_sql(table: str) -> str:
    return f"INSERT INTO {check_table(table)} ({', '.join(COLUMNS)}) VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s)"


def present_sql(table: str) -> str:
    return f"SELECT (meta->>'seq')::bigint FROM {check_table(table)} WHERE meta->>'chain' = %s"


def rows_sql(table: str) -> str:
    return (f"SELECT id, created_at, actor_sub, action, resource, meta FROM {check_table(table)} WHERE meta->>'chain' = %s "
            f"ORDER BY (meta->>'seq')::bigint, id")


def ranges(numbers: Iterable[int]) -> List[str]:
    """``[1, 2, 3, 7]`` -> ``["1-3", "7"]``."""
    out: List[str] = []
    ordered = sorted(set(numbers))
    start = previous = None
    for number in ordered + [None]:
        if number is not None and previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            out.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    return out


def verify_rows(rows: Sequence[Mapping[str, Any]], file_records: Optional[Sequence[Mapping[str, Any]]] = None,
                in_flight_since: Optional[str] = None) -> Dict[str, Any]:
    """The table's own chain (each row's hash recomputed from ``meta.record``, ``prev_hash`` links, ``seq`` order) and, with
    ``file_records``, its comparison with the file."""
    first_broken = None
    by_seq: Dict[int, Mapping[str, Any]] = {}
    previous = None
    duplicates = []
    for item in rows:
        meta = item["meta"] if isinstance(item["meta"], Mapping) else json.loads(item["meta"])
        record = meta.get("record") or {}
        seq = meta.get("seq")
        if seq in by_seq:
            duplicates.append(seq)
        by_seq[seq] = meta
        problem = None
        if record_hash(record) != record.get("hash") or record.get("hash") != meta.get("hash"):
            problem = "the row's record does not hash to its hash (edited)"
        elif record.get("seq") != seq:
            problem = "the row's seq differs from its record's"
        elif previous is not None and previous.get("seq") == seq - 1 and record.get("prev_hash") != previous.get("hash"):
            problem = "the row does not chain to the row before it"
        if problem and first_broken is None:
            first_broken = {"seq": seq, "id": item.get("id"), "problem": problem}
        previous = meta
    result: Dict[str, Any] = {"rows": len(rows), "first_broken": first_broken, "duplicates": duplicates, "missing_seqs": [], "extra": []}
    if file_records is not None:
        file_by_seq = {record.get("seq"): record for record in file_records if record.get("seq") is not None}
        absent = [seq for seq in file_by_seq if seq not in by_seq]
        # The newest records may still be on their way (the callback inserts in batches): in flight, not missing.
        flying = [seq for seq in absent if in_flight_since and str(file_by_seq[seq].get("time") or "") >= in_flight_since]
        result["missing_seqs"] = ranges(seq for seq in absent if seq not in flying)
        result["in_flight_seqs"] = ranges(flying)
        result["extra"] = ranges(seq for seq in by_seq if seq not in file_by_seq)
        differing = sorted(seq for seq, meta in by_seq.items() if seq in file_by_seq and file_by_seq[seq].get("hash") != meta.get("hash"))
        if differing and first_broken is None:
            result["first_broken"] = {"seq": differing[0], "id": None, "problem": "the row's hash differs from the file's record"}
        result["differing"] = ranges(differing)
    result["ok"] = result["first_broken"] is None and not duplicates and not result["extra"] and not result["missing_seqs"]
    return result


def verify_table(params: Dict[str, Any], path: str, source: str) -> Dict[str, Any]:
    """The rows of the log's chain in the table, verified (and compared with the file for ``both``)."""
    connection = table_connection(params, f"source={source}")
    records = read_records(path)
    chain = chain_id(records[0] if records else None)
    if chain is None:
        return {"ok": False, "rows": 0, "first_broken": None, "missing_seqs": [], "extra": [], "chain": None,
                "error": f"the log {path} holds no record, so it names no chain"}
    rows = [{"id": row[0], "meta": row[5]} for row in read_rows(params, rows_sql(params["table"]), (chain,), f"source={source}")]
    since = (datetime.now(timezone.utc) - timedelta(seconds=IN_FLIGHT_SECONDS)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    found = verify_rows(rows, records if source == "both" else None, in_flight_since=since)
    return {**found, "chain": chain, "table": params["table"], "database": connection.target}


def read_rows(params: Mapping[str, Any], sql: str, args: Tuple[Any, ...], what: str) -> List[Tuple[Any, ...]]:
    """The rows of a read-only query on the module's ``database`` (``what``: the option value that needs it, for the error)."""
    connection = table_connection(params, what)
    try:
        with connection.connect(read_only=True, statement_timeout=30) as db, db.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()
    except psycopg.Error as exc:
        raise UnavailableError(str(exc).strip().splitlines()[0], system="PostgreSQL", operation="read the audit table",
                               target=connection.target) from exc


def table_connection(params: Mapping[str, Any], need: str) -> Any:
    """The module's ``database`` connection, validated (``need``: what needs it, for the error when it is not set)."""
    _need_psycopg()
    connection = connection_from_params(params["database"], "database")
    if connection is None:
        raise InputError(f"{need} needs the database option (a connection to the database that holds the audit table)", option="database")
    return connection


def table_message(table: str, found: Dict[str, Any]) -> str:
    if found.get("error"):
        return f"ofm.rollback audit table {table}: {found['error']}"
    parts = []
    if found.get("first_broken"):
        broken = found["first_broken"]
        parts.append(f"the rows break at seq {broken['seq']}: {broken['problem']}")
    if found.get("missing_seqs"):
        parts.append(f"records of the log not in the table: seq {', '.join(found['missing_seqs'])} (written by runs without the callback's "
                     "db_dsn, or while the database was down: the next run with db_dsn writes them)")
    if found.get("extra"):
        parts.append(f"rows the log does not hold: seq {', '.join(found['extra'])}")
    if found.get("duplicates"):
        parts.append(f"seq written twice: {found['duplicates'][:10]}")
    return f"ofm.rollback audit table {table}: " + "; ".join(parts)


def incident_rows_sql(table: str) -> str:
    """The records of every run that touched an incident, in chain order."""
    name = check_table(table)
    return (f"SELECT meta->'record' FROM {name} WHERE meta->>'run_id' IN (SELECT meta->>'run_id' FROM {name} WHERE meta->>'incident_id' = %s) "
            f"ORDER BY meta->>'chain', (meta->>'seq')::bigint")


def _need_psycopg() -> None:
    if psycopg is None:
        raise InputError("reading the audit table needs the Python library psycopg (pip install 'psycopg[binary]')", option="database")


def incident_records_from_table(params: Mapping[str, Any], incident_id: str) -> List[Dict[str, Any]]:
    rows = read_rows(params, incident_rows_sql(params["table"]), (incident_id,), "source=table")
    return [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]


# The report's own runs are not evidence of the incident (and would make every report and bundle new).
REPORT_PLAYBOOKS = ("incident_report.yml", "incident-report.yml")


def incident_records_from_file(path: str, incident_id: str) -> List[Dict[str, Any]]:
    """The records of every run of the log that touched the incident (its run_start and run_end included), but the report's."""
    records = read_records(path)
    runs = {record.get("run_id") for record in records if record.get("incident_id") == incident_id
            and not str(record.get("playbook") or "").endswith(REPORT_PLAYBOOKS)}
    return [record for record in records if record.get("run_id") in runs]
