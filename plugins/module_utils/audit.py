# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit log: an append-only JSON Lines file whose records are chained by SHA-256 hashes.

Every record carries ``seq`` (1, 2, ... across the whole file), ``prev_hash`` (the ``hash`` of the record before it,
``GENESIS_HASH`` for the first one) and ``hash``, the SHA-256 of the record's canonical JSON without ``hash``.
Changing, deleting, inserting or reordering a record breaks the chain at that record. Only rewriting every later
record hides a change, and deleting records at the end of the file leaves no trace in the file itself: keep the
last hash (``VerifyResult.last_hash``) somewhere else, such as the incident report, to anchor the chain.
"""

from __future__ import annotations

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
SYSTEM = "ofm.rollback audit log"
LOCK_TIMEOUT = 10.0

_TAIL_CHUNK = 65536
_LOCK_POLL = 0.01
_WRITE_HINT = "Check that the directory is writable by this user, or point the callback's log_path (OFM_AUDIT_LOG) elsewhere."
_READ_HINT = "Check the path: the audit callback writes to its log_path (env OFM_AUDIT_LOG, default ~/.ansible/ofm-rollback/audit.jsonl)."


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of ``verify_chain``: ``first_broken`` is ``{line, seq, reason}`` of the first bad record, or None."""

    ok: bool
    records: int
    first_broken: Optional[Dict[str, Any]]
    last_hash: str
    run_ids: Tuple[str, ...] = ()
    incident_ids: Tuple[str, ...] = ()


def canonical_json(record: Mapping[str, Any]) -> str:
    """The one serialization that is hashed and written: sorted keys, no spaces, ASCII, no NaN or infinity."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``record`` without its ``hash`` field."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


def append_records(path: str, records: Iterable[Mapping[str, Any]], lock_timeout: float = LOCK_TIMEOUT) -> List[Dict[str, Any]]:
    """Append ``records`` to the log at ``path``, continuing its chain; return them as written.

    ``seq``, ``prev_hash`` and ``hash`` are set here (values passed in are replaced). The file is created with mode
    0600 and its missing directories with 0700. An exclusive lock on the file is held from reading the chain's tail
    to the end of the write, so concurrent writers keep one valid chain. A last line cut short by a crash is ended
    first and the chain continues from the last intact record (``verify_chain`` still reports the cut line).
    Raises ``OfmRollbackError`` when the file cannot be opened, locked or written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _io_error("opening for append", path, exc, _WRITE_HINT) from exc
    try:
        _lock(fd, path, lock_timeout)
        seq, prev_hash, needs_newline = _chain_tail(fd)
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
    for number, raw, complete in _numbered_lines(path):
        verifier.feed(number, raw, complete)
    return verifier.result()


def read_records(path: str, run_id: Optional[str] = None, incident_id: Optional[str] = None) -> List[Dict[str, Any]]:
    """The records of the log at ``path``, in file order, optionally only those of one run and/or one incident.

    Lines that are not JSON objects are skipped: call ``verify_chain`` to know whether the log is intact.
    """
    records = []
    for _number, raw, complete in _numbered_lines(path):
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
    """Feeds on the lines of a log in order; remembers the first break and what the records mention."""

    def __init__(self) -> None:
        self.records = 0
        self.first_broken: Optional[Dict[str, Any]] = None
        self.last_hash = GENESIS_HASH
        self.last_seq: Any = 0
        self.run_ids: Dict[str, None] = {}
        self.incident_ids: Dict[str, None] = {}

    def feed(self, number: int, raw: bytes, complete: bool) -> None:
        record, problem = _decode(raw, complete)
        if record is not None:
            self.records += 1
            self._collect(record)
        if self.first_broken is None:
            problem = problem or self._chain_problem(number, record)
            if problem:
                seq = record.get("seq") if record is not None else None
                self.first_broken = {"line": number, "seq": seq, "reason": problem}
        if record is not None:
            self.last_hash = record.get("hash", "")
            self.last_seq = record.get("seq")

    def result(self) -> VerifyResult:
        return VerifyResult(ok=self.first_broken is None, records=self.records, first_broken=self.first_broken,
                            last_hash=self.last_hash, run_ids=tuple(self.run_ids), incident_ids=tuple(self.incident_ids))

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


def _numbered_lines(path: str) -> Iterator[Tuple[int, bytes, bool]]:
    """``(line number, bytes without the newline, whether a newline ended it)`` for every line of ``path``."""
    try:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                complete = line.endswith(b"\n")
                yield number, line[:-1] if complete else line, complete
    except FileNotFoundError as exc:
        raise NotFoundError("the file does not exist", system=SYSTEM, operation="read", target=path, hint=_READ_HINT) from exc
    except OSError as exc:
        raise _io_error("read", path, exc, _READ_HINT) from exc


def _lock(fd: int, path: str, timeout: float) -> None:
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


def _chain_tail(fd: int) -> Tuple[int, str, bool]:
    """``(seq, hash)`` of the last intact record (``(0, GENESIS_HASH)`` when there is none) and whether the file lacks a final newline."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0, GENESIS_HASH, False
    needs_newline = os.pread(fd, 1, size - 1) != b"\n"
    for raw in _lines_backwards(fd, size):
        record, _problem = _decode(raw, True)
        if record is not None and _is_chained(record):
            return record["seq"], record["hash"], needs_newline
    return 0, GENESIS_HASH, needs_newline


def _is_chained(record: Mapping[str, Any]) -> bool:
    seq, digest = record.get("seq"), record.get("hash")
    return isinstance(seq, int) and not isinstance(seq, bool) and isinstance(digest, str)


def _lines_backwards(fd: int, size: int) -> Iterator[bytes]:
    end, head = size, b""
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        pieces = (os.pread(fd, end - start, start) + head).split(b"\n")
        head = pieces.pop(0) if start > 0 else b""
        end = start
        for piece in reversed(pieces):
            if piece.strip():
                yield piece


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _io_error(operation: str, path: str, exc: OSError, hint: str) -> OfmRollbackError:
    return OfmRollbackError(exc.strerror or str(exc), system=SYSTEM, operation=operation, target=path, hint=hint)
