# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit log: an append-only JSON Lines file whose records are chained by SHA-256 hashes.

Every record carries ``seq`` (1, 2, ... across the whole file), ``prev_hash`` (the ``hash`` of the record before it,
``GENESIS_HASH`` for the first one) and ``hash``, the SHA-256 of the record's canonical JSON without ``hash``.
Changing, deleting, inserting or reordering a record breaks the chain at that record. Only rewriting every later
record hides a change, and deleting records at the end of the file leaves no trace in the file itself: the audit
callback anchors the chain's head elsewhere after every run (``audit_anchor.py``), and ``audit_verify`` checks the log
against those anchors.

A writer killed in the middle of a record (SIGKILL of ``ansible-playbook``) can leave a *torn* last line: part of a
record, without its newline. The next append ends it with a newline, writes a ``torn_line`` record that names it (its
byte offset, length and SHA-256) and continues the chain from the last intact record. ``verify_chain`` reports such a
line in ``VerifyResult.torn_lines`` (a warning with its position), not as a break; a line that cannot be read and is not
named by the ``torn_line`` record after it still breaks the chain.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from ansible_collections.ofm.rollback.plugins.module_utils.errors import NotFoundError, OfmRollbackError

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = ("seq", "prev_hash", "hash")
TORN_LINE = "torn_line"
SYSTEM = "ofm.rollback audit log"
LOCK_TIMEOUT = 10.0

_TAIL_CHUNK = 65536
_LOCK_POLL = 0.01
_WRITE_HINT = "Check that the directory is writable by this user, or point the callback's log_path (OFM_AUDIT_LOG) elsewhere."
_READ_HINT = "Check the path: the audit callback writes to its log_path (env OFM_AUDIT_LOG, default ~/.ansible/ofm-rollback/audit.jsonl)."


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of ``verify_chain``: ``first_broken`` is ``{line, seq, reason}`` of the first bad record, or None.

    ``torn_lines`` are the lines a killed writer left cut short: ``{line, offset, length, sha256, repaired_by_seq, reason}``
    (``repaired_by_seq`` None while no run has appended since). They are warnings: ``ok`` does not depend on them.
    """

    ok: bool
    records: int
    first_broken: Optional[Dict[str, Any]]
    last_hash: str
    run_ids: Tuple[str, ...] = ()
    incident_ids: Tuple[str, ...] = ()
    torn_lines: Tuple[Dict[str, Any], ...] = ()
    last_seq: int = 0


def canonical_json(record: Mapping[str, Any]) -> str:
    """The one serialization that is hashed and written: sorted keys, no spaces, ASCII, no NaN or infinity."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``record`` without its ``hash`` field."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


def append_records(path: str, records: Iterable[Mapping[str, Any]], lock_timeout: float = LOCK_TIMEOUT,
                   torn_context: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    """Append ``records`` to the log at ``path``, continuing its chain; return them as written.

    ``seq``, ``prev_hash`` and ``hash`` are set here (values passed in are replaced). The file is created with mode
    0600 and its missing directories with 0700. An exclusive lock on the file is held from reading the chain's tail
    to the end of the write, so concurrent writers keep one valid chain. Lines a killed writer left cut short at the end
    of the file are ended first, a ``torn_line`` record naming them (with the fields of ``torn_context``, such as the
    run's) is written before ``records``, and the chain continues from the last intact record; the returned list then
    starts with that record. Raises ``OfmRollbackError`` when the file cannot be opened, locked or written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _io_error("opening for append", path, exc, _WRITE_HINT) from exc
    try:
        lock_file(fd, path, lock_timeout)
        seq, prev_hash, needs_newline, torn = _chain_tail(fd)
        records = list(records)
        if records and torn:
            records.insert(0, torn_record(torn, seq, torn_context))
        written = []
        for record in records:
            seq += 1
            entry = {key: value for key, value in record.items() if key not in CHAIN_FIELDS}
            entry.update(seq=seq, prev_hash=prev_hash)
            entry["hash"] = prev_hash = record_hash(entry)
            written.append(entry)
        if written:
            text = "".join(canonical_json(entry) + "\n" for entry in written)
            _write_all(fd, (("\n" if needs_newline else "") + text).encode("ascii"))
            os.fsync(fd)
        return written
    except OSError as exc:
        raise _io_error("append", path, exc, _WRITE_HINT) from exc
    finally:
        os.close(fd)


def verify_chain(path: str) -> VerifyResult:
    """Check every record of the log at ``path``: JSON, its own hash, the link to the record before it, and ``seq``.

    Raises ``NotFoundError`` when the file does not exist and ``OfmRollbackError`` when it cannot be read.
    """
    verifier = _ChainVerifier()
    for number, offset, raw, complete in _numbered_lines(path):
        verifier.feed(number, offset, raw, complete)
    return verifier.result()


def first_record(path: str) -> Optional[Dict[str, Any]]:
    """The first readable record of the log (the one that names its chain), None when there is none or no file."""
    try:
        for _number, _offset, raw, complete in _numbered_lines(path):
            record, _problem = _decode(raw, complete)
            if record is not None:
                return record
    except OfmRollbackError:
        return None
    return None


def torn_record(torn: List[Dict[str, Any]], after_seq: int, context: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The record that names the lines a killed writer left cut short (``{offset, length, sha256}`` each)."""
    record: Dict[str, Any] = {"type": TORN_LINE, "time": _utc_now(), **(context or {})}
    record.update(torn=list(torn), after_seq=after_seq,
                  note="a writer was killed in the middle of a record: the cut line(s) are named here and the chain continues from "
                       f"seq {after_seq}")
    return record


def read_records(path: str, run_id: Optional[str] = None, incident_id: Optional[str] = None) -> List[Dict[str, Any]]:
    """The records of the log at ``path``, in file order, optionally only those of one run and/or one incident.

    Lines that are not JSON objects are skipped: call ``verify_chain`` to know whether the log is intact.
    """
    records = []
    for _number, _offset, raw, complete in _numbered_lines(path):
        record, _problem = _decode(raw, complete)
        if record is None:
            continue
        if run_id is not None and record.get("run_id") != run_id:
            continue
        if incident_id is not None and record.get("incident_id") != incident_id:
            continue
        records.append(record)
    return records


class _ChainVerifier:
    """Feeds on the lines of a log in order; remembers the first break, the torn lines and what the records mention."""

    def __init__(self) -> None:
        self.records = 0
        self.first_broken: Optional[Dict[str, Any]] = None
        self.last_hash = GENESIS_HASH
        self.last_seq: Any = 0
        self.run_ids: Dict[str, None] = {}
        self.incident_ids: Dict[str, None] = {}
        self.torn: List[Dict[str, Any]] = []
        # Unreadable lines waiting for the record after them: a torn_line record that names them makes them torn lines.
        self.unreadable: List[Dict[str, Any]] = []

    def feed(self, number: int, offset: int, raw: bytes, complete: bool) -> None:
        record, problem = _decode(raw, complete)
        if record is None:
            self.unreadable.append({"line": number, "offset": offset, "length": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
                                    "complete": complete, "problem": problem})
            return
        if self.unreadable:
            self._settle_unreadable(record)
        self.records += 1
        self._collect(record)
        if self.first_broken is None:
            problem = self._chain_problem(number, record)
            if problem:
                self.first_broken = {"line": number, "seq": record.get("seq"), "reason": problem}
        self.last_hash = record.get("hash", "")
        self.last_seq = record.get("seq")

    def result(self) -> VerifyResult:
        if self.unreadable:
            # Unreadable lines at the end whose last one is cut short are torn and not yet repaired: no run has appended since.
            if self.unreadable[-1]["complete"]:
                self._break_at(self.unreadable[0])
            else:
                for line in self.unreadable:
                    self._tear(line, None)
        last_seq = self.last_seq if isinstance(self.last_seq, int) and not isinstance(self.last_seq, bool) else 0
        return VerifyResult(ok=self.first_broken is None, records=self.records, first_broken=self.first_broken,
                            last_hash=self.last_hash, run_ids=tuple(self.run_ids), incident_ids=tuple(self.incident_ids),
                            torn_lines=tuple(self.torn), last_seq=last_seq)

    def _settle_unreadable(self, record: Mapping[str, Any]) -> None:
        named = record.get("torn") if record.get("type") == TORN_LINE else None
        pending, self.unreadable = self.unreadable, []
        keys = ("offset", "length", "sha256")
        if isinstance(named, list) and [{key: line[key] for key in keys} for line in pending] == [
                {key: item.get(key) for key in keys} for item in named if isinstance(item, Mapping)]:
            for line in pending:
                self._tear(line, record.get("seq"))
        else:
            self._break_at(pending[0])

    def _tear(self, line: Mapping[str, Any], repaired_by: Any) -> None:
        where = f"line {line['line']} (byte {line['offset']}, {line['length']} bytes)"
        if repaired_by is None:
            reason = f"torn line at the end, {where}: a writer was killed mid-record; the next run ends it and continues the chain"
        else:
            reason = f"torn line at {where}: a writer was killed mid-record; seq {repaired_by} names it and the chain continues"
        self.torn.append({"line": line["line"], "offset": line["offset"], "length": line["length"], "sha256": line["sha256"],
                          "repaired_by_seq": repaired_by, "reason": reason})

    def _break_at(self, line: Mapping[str, Any]) -> None:
        if self.first_broken is None:
            self.first_broken = {"line": line["line"], "seq": None, "reason": line["problem"]}

    def _collect(self, record: Mapping[str, Any]) -> None:
        for key, seen in (("run_id", self.run_ids), ("incident_id", self.incident_ids)):
            value = record.get(key)
            if isinstance(value, str) and value:
                seen[value] = None

    def _chain_problem(self, number: int, record: Mapping[str, Any]) -> Optional[str]:
        missing = [name for name in CHAIN_FIELDS if name not in record]
        if missing:
            return f"the record lacks the chain fields {', '.join(missing)}: it was not written by the audit callback or was edited"
        if record["hash"] != _hash_or_none(record):
            return "hash mismatch: the record was changed after it was written"
        if record["prev_hash"] != self.last_hash:
            if number == 1:
                return "prev_hash of the first line is not the genesis hash: records before it were deleted"
            return "prev_hash does not match the hash of the line before: a record was deleted, inserted or reordered"
        if isinstance(self.last_seq, int) and record["seq"] != self.last_seq + 1:
            return f"seq {record['seq']} does not follow seq {self.last_seq}: a record was deleted, inserted or reordered"
        return None


def _hash_or_none(record: Mapping[str, Any]) -> Optional[str]:
    try:
        return record_hash(record)
    except ValueError:
        return None


def _decode(raw: bytes, complete: bool) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        if not complete:
            return None, "truncated last line: it ends without a newline and is not complete JSON (a writer stopped mid-record or the file was cut)"
        return None, f"invalid JSON: {exc}"
    if not isinstance(value, dict):
        return None, f"the line holds a JSON {type(value).__name__}, not a record object"
    return value, None


def _numbered_lines(path: str) -> Iterator[Tuple[int, int, bytes, bool]]:
    """``(line number, byte offset, bytes without the newline, whether a newline ended it)`` for every line of ``path``."""
    try:
        with open(path, "rb") as handle:
            offset = 0
            for number, line in enumerate(handle, start=1):
                complete = line.endswith(b"\n")
                yield number, offset, line[:-1] if complete else line, complete
                offset += len(line)
    except FileNotFoundError as exc:
        raise NotFoundError("the file does not exist", system=SYSTEM, operation="read", target=path, hint=_READ_HINT) from exc
    except OSError as exc:
        raise _io_error("read", path, exc, _READ_HINT) from exc


def lock_file(fd: int, path: str, timeout: float) -> None:
    """An exclusive ``flock`` on ``fd`` within ``timeout`` seconds, else ``OfmRollbackError`` naming ``path``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OfmRollbackError(f"another writer held the file lock for more than {timeout:g} s", system=SYSTEM,
                                       operation="lock", target=path,
                                       hint="Look for a hung ansible-playbook process writing the same audit log.") from None
            time.sleep(_LOCK_POLL)


def _chain_tail(fd: int) -> Tuple[int, str, bool, List[Dict[str, Any]]]:
    """``(seq, hash)`` of the last intact record (``(0, GENESIS_HASH)`` when there is none), whether the file lacks a final
    newline, and the torn lines at its end (``{offset, length, sha256}``: lines after the last record that cannot be read, the
    last of them cut short)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0, GENESIS_HASH, False, []
    needs_newline = os.pread(fd, 1, size - 1) != b"\n"
    # The torn lines: the unreadable lines at the very end, when the last of them is cut short (no newline).
    torn: List[Dict[str, Any]] = []
    collecting = needs_newline
    for offset, raw in _lines_backwards(fd, size):
        record, _problem = _decode(raw, True)
        if record is not None and _is_chained(record):
            return record["seq"], record["hash"], needs_newline, torn
        collecting = collecting and record is None
        if collecting:
            torn.insert(0, {"offset": offset, "length": len(raw), "sha256": hashlib.sha256(raw).hexdigest()})
    return 0, GENESIS_HASH, needs_newline, torn


def _is_chained(record: Mapping[str, Any]) -> bool:
    seq, digest = record.get("seq"), record.get("hash")
    return isinstance(seq, int) and not isinstance(seq, bool) and isinstance(digest, str)


def _lines_backwards(fd: int, size: int) -> Iterator[Tuple[int, bytes]]:
    """``(byte offset, line without its newline)`` of the file's non-blank lines, last first."""
    end, head = size, b""
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        pieces = (os.pread(fd, end - start, start) + head).split(b"\n")
        head = pieces.pop(0) if start > 0 else b""
        offset = start + len(head) + 1 if start > 0 else 0
        positions = []
        for piece in pieces:
            positions.append(offset)
            offset += len(piece) + 1
        end = start
        for position, piece in zip(reversed(positions), reversed(pieces)):
            if piece.strip():
                yield position, piece


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _io_error(operation: str, path: str, exc: OSError, hint: str) -> OfmRollbackError:
    return OfmRollbackError(exc.strerror or str(exc), system=SYSTEM, operation=operation, target=path, hint=hint)
