# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit callback's second sink: every record also becomes a row of OFM's ``audit_logs`` table (module_utils/audit_table.py).

It never blocks the run: records go through a queue to a background thread that inserts them in batches (``batch`` rows,
or whatever arrived within ``flush_interval``). A database that is down or refuses costs one warning; the records stay in
the JSONL file, which stays the source of truth. Nothing is lost: at the end of every run the sink back-fills every record
of the file whose ``seq`` its chain does not hold yet (so a database that was down catches up at the next run), within
``flush_timeout`` seconds after the last task. The password never appears in a warning.

``close(anchor=...)`` also inserts the run's chain anchor (``module_utils/audit_anchor.py``) once the rows are written, and
says whether it could (``anchor_error``): the callback records a failure in the log itself.

The audit callback imports this module at every run's start, with or without a database: psycopg and the table's
module_utils are imported only when a sink is made, so a run without ``db_dsn`` does not pay for them.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.audit import first_record, read_records
from ansible_collections.ofm.rollback.plugins.module_utils.redact import Redactor

CONNECT_TIMEOUT = 3
STATEMENT_TIMEOUT_MS = 5000


class TableSink:
    """Streams audit records into the table from a thread; ``close()`` waits at most ``flush_timeout`` and back-fills."""

    def __init__(self, dsn: str, password: Optional[str], table: str, ua: str, log_path: str, *, batch: int = 50,
                 flush_interval: float = 1.0, flush_timeout: float = 5.0, warn: Callable[[str], None] = lambda text: None,
                 connect: Optional[Callable[[], Any]] = None) -> None:
        # pylint: disable-next=import-outside-toplevel
        from ansible_collections.ofm.rollback.plugins.module_utils import audit_table  # imports psycopg: only with a sink

        self._table_sql = audit_table
        from ansible_collections.ofm.rollback.plugins.module_utils import audit_anchor  # pylint: disable=import-outside-toplevel
        self._anchor_sql = audit_anchor
        self.table = audit_table.check_table(table, "db_table")
        self.ua = ua
        self.log_path = log_path
        self.batch = max(1, int(batch))
        self.flush_interval = float(flush_interval)
        self.flush_timeout = float(flush_timeout)
        self._warn = warn
        self._redactor = Redactor([password])
        psycopg = audit_table.psycopg
        if connect is None and psycopg is None:
            self.error = "psycopg is not installed"
        self._connect = connect or (lambda: psycopg.connect(dsn, password=password, connect_timeout=CONNECT_TIMEOUT, autocommit=True,
                                                            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"))
        self._queue: "queue.Queue[Optional[Dict[str, Any]]]" = queue.Queue()
        self._connection = None
        self._chain: Optional[str] = None
        self._warned = False
        self.written = 0
        self.backfilled = 0
        self.error: Optional[str] = None
        # Records already in the log when the run starts (written by runs without the sink, or while the database was down)
        # are back-filled first, in the thread; the run's own records stream after them.
        self._backfill_upto = last_seq(log_path)
        self._thread = threading.Thread(target=self._loop, name="ofm-audit-sink", daemon=True)
        self._thread.start()

    def add(self, records: List[Mapping[str, Any]]) -> None:
        for record in records:
            self._queue.put(dict(record))

    def close(self, anchor: Optional[Mapping[str, Any]] = None, actor: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Flush, back-fill what the table misses, insert ``anchor`` (a row by ``actor``), and say what happened (``written``,
        ``backfilled``, ``error``, ``anchor_error``: None when the anchor row was inserted or there was none)."""
        deadline = time.monotonic() + self.flush_timeout
        self._queue.put(None)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if not self._thread.is_alive() and self.error is None:
            try:
                self._backfill(deadline)
            except Exception as exc:  # pylint: disable=broad-except
                self._fail(exc)
        anchor_error = self._insert_anchor(anchor, actor) if anchor is not None else None
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # pylint: disable=broad-except
                pass
        return {"written": self.written, "backfilled": self.backfilled, "error": self.error, "anchor_error": anchor_error}

    def _insert_anchor(self, anchor: Mapping[str, Any], actor: Optional[Mapping[str, Any]]) -> Optional[str]:
        if self._thread.is_alive():
            return f"the table's writer was still busy after db_flush_timeout ({self.flush_timeout:g} s)"
        if self.error is not None:
            return self.error
        try:
            connection = self._open()
            with connection.cursor() as cursor:
                cursor.execute(self._table_sql.insert_sql(self.table), self._anchor_sql.anchor_row(anchor, actor, self.ua))
        except Exception as exc:  # pylint: disable=broad-except
            return self._redactor.text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return None

    def _loop(self) -> None:
        pending: List[Dict[str, Any]] = []
        if self._backfill_upto is not None and self.error is None:
            try:
                self._backfill(time.monotonic() + max(self.flush_timeout, 30.0), upto=self._backfill_upto)
            except Exception as exc:  # pylint: disable=broad-except
                self._fail(exc)
        while True:
            try:
                item = self._queue.get(timeout=self.flush_interval)
            except queue.Empty:
                item = "tick"
            if item is None:
                self._flush(pending)
                return
            if item != "tick":
                pending.append(item)
            if pending and (item == "tick" or len(pending) >= self.batch):
                self._flush(pending)
                pending = []

    def _flush(self, records: List[Dict[str, Any]]) -> None:
        if not records or self.error is not None:
            return
        try:
            connection = self._open()
            with connection.cursor() as cursor:
                cursor.executemany(self._table_sql.insert_sql(self.table), [self._table_sql.row(record, self._chain_id(), self.ua) for record in records])
            self.written += len(records)
        except Exception as exc:  # pylint: disable=broad-except
            self._fail(exc)

    def _backfill(self, deadline: float, upto: Optional[int] = None) -> None:
        records = [record for record in read_records(self.log_path) if upto is None or (record.get("seq") or 0) <= upto]
        if not records:
            return
        connection = self._open()
        with connection.cursor() as cursor:
            cursor.execute(self._table_sql.present_sql(self.table), (self._chain_id(records[0]),))
            present = {value for (value,) in cursor.fetchall()}
            missing = [record for record in records if record.get("seq") not in present and record.get("seq") is not None]
            for start in range(0, len(missing), 500):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"back-fill stopped at the deadline: {len(missing) - start} records left for the next run")
                chunk = missing[start:start + 500]
                cursor.executemany(self._table_sql.insert_sql(self.table), [self._table_sql.row(record, self._chain_id(), self.ua) for record in chunk])
                self.backfilled += len(chunk)

    def _chain_id(self, first: Optional[Mapping[str, Any]] = None) -> str:
        if self._chain is None:
            if first is None:
                first = first_record(self.log_path)
            self._chain = self._table_sql.chain_id(first) or "unknown"
        return self._chain

    def _open(self) -> Any:
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _fail(self, exc: BaseException) -> None:
        text = self._redactor.text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        self.error = text
        if not self._warned:
            self._warned = True
            self._warn(f"ofm.rollback.audit: the audit_logs table is not being written ({text}). The run goes on; the JSONL log has "
                       "every record, and the next run writes the missing rows.")


def last_seq(path: str) -> Optional[int]:
    """The seq of the log's last record (None for no log), read from its end."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            lines = [line for line in handle.read().splitlines() if line.strip()]
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return int(json.loads(line).get("seq"))
        except (ValueError, TypeError, AttributeError):
            continue
    return None
