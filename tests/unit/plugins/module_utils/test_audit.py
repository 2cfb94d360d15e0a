# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hash-chained audit log: appending, chain continuation, locking, verification of every tamper kind, reading."""
from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import stat
from pathlib import Path
from typing import Any, Callable

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils import audit
from ansible_collections.ofm.rollback.plugins.module_utils.audit import (
    GENESIS_HASH,
    append_records,
    canonical_json,
    first_record,
    read_records,
    record_hash,
    verify_chain,
)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import NotFoundError, OfmRollbackError


def sample(index: int, run_id: str = "run-1", incident_id: Any = "INC-1") -> dict[str, Any]:
    return {"type": "task", "run_id": run_id, "incident_id": incident_id, "task": f"step {index}", "status": "ok"}


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    append_records(str(path), [sample(index) for index in range(1, 6)])
    return path


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def rewrite(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    path.write_text("".join(edit(lines(path))))


def rechain(records: list[dict[str, Any]], seqs: list[int]) -> list[str]:
    """What a forger who knows the algorithm writes: every hash recomputed, with the given seq values."""
    return rechain_from([], records, GENESIS_HASH, seqs[0], seqs)


def rechain_from(rows: list[str], records: list[dict[str, Any]], prev: str, first_seq: int, seqs: Any = None) -> list[str]:
    out = list(rows)
    for record, seq in zip(records, seqs or range(first_seq, first_seq + len(records))):
        entry = {**record, "seq": seq, "prev_hash": prev}
        entry["hash"] = prev = record_hash(entry)
        out.append(canonical_json(entry) + "\n")
    return out


def test_canonical_json_is_independent_of_key_order_and_hash_ignores_the_hash_field():
    assert canonical_json({"b": 1, "a": [1, "x"]}) == canonical_json({"a": [1, "x"], "b": 1}) == '{"a":[1,"x"],"b":1}'
    assert record_hash({"a": 1, "hash": "whatever"}) == record_hash({"a": 1})
    assert record_hash({"a": 1}) != record_hash({"a": 2})


def test_canonical_json_refuses_nan():
    with pytest.raises(ValueError):
        canonical_json({"value": float("nan")})


def test_append_creates_private_file_and_directories(tmp_path: Path):
    path = tmp_path / "new" / "dir" / "audit.jsonl"
    written = append_records(str(path), [sample(1)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [json.loads(line) for line in lines(path)] == written


def test_append_numbers_and_chains_records_and_replaces_chain_fields_given(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    written = append_records(str(path), [{**sample(1), "seq": 99, "hash": "forged", "prev_hash": "forged"}, sample(2)])
    assert [record["seq"] for record in written] == [1, 2]
    assert written[0]["prev_hash"] == GENESIS_HASH
    assert written[1]["prev_hash"] == written[0]["hash"] == record_hash(written[0])


def test_each_append_continues_the_chain_of_the_existing_file(log: Path):
    last = json.loads(lines(log)[-1])
    written = append_records(str(log), [sample(6, run_id="run-2")])
    assert written[0]["seq"] == last["seq"] + 1 == 6
    assert written[0]["prev_hash"] == last["hash"]
    assert verify_chain(str(log)).ok


def test_append_of_nothing_writes_nothing(log: Path):
    before = log.read_bytes()
    assert not append_records(str(log), [])
    assert log.read_bytes() == before


def tear_last_record(path: Path, keep: int = 30) -> bytes:
    """Cut the last record as a writer killed mid-write leaves it: its first ``keep`` bytes, no newline. Returns the cut bytes."""
    rows = lines(path)
    cut = rows[-1][:keep].encode()
    path.write_bytes("".join(rows[:-1]).encode() + cut)
    return cut


def test_append_after_a_torn_last_line_names_it_and_chains_from_the_last_intact_record(log: Path):
    intact = json.loads(lines(log)[-2])
    offset = len("".join(lines(log)[:-1]).encode())
    cut = tear_last_record(log)
    written = append_records(str(log), [sample(6)], torn_context={"run_id": "run-2"})
    torn, record = written
    assert torn["type"] == "torn_line" and torn["run_id"] == "run-2" and torn["after_seq"] == intact["seq"] == 4
    assert torn["torn"] == [{"offset": offset, "length": len(cut), "sha256": hashlib.sha256(cut).hexdigest()}]
    assert torn["prev_hash"] == intact["hash"] and torn["seq"] == 5 and record["seq"] == 6 and record["prev_hash"] == torn["hash"]
    assert log.read_bytes()[offset:offset + len(cut) + 1] == cut + b"\n"
    result = verify_chain(str(log))
    assert result.ok and result.first_broken is None and result.records == 6 and result.last_seq == 6
    assert result.torn_lines == ({"line": 5, "offset": offset, "length": len(cut), "sha256": hashlib.sha256(cut).hexdigest(),
                                  "repaired_by_seq": 5,
                                  "reason": f"torn line at line 5 (byte {offset}, {len(cut)} bytes): a writer was killed mid-record; "
                                            "seq 5 names it and the chain continues"},)
    assert json.loads(lines(log)[-1]) == written[1]


def test_a_torn_last_line_not_yet_repaired_is_a_warning_with_its_position(log: Path):
    offset = len("".join(lines(log)[:-1]).encode())
    cut = tear_last_record(log, keep=40)
    result = verify_chain(str(log))
    assert result.ok and result.records == 4 and result.last_seq == 4
    (torn,) = result.torn_lines
    assert (torn["line"], torn["offset"], torn["length"], torn["repaired_by_seq"]) == (5, offset, 40, None)
    assert torn["sha256"] == hashlib.sha256(cut).hexdigest() and "the next run ends it" in torn["reason"]


def test_a_repair_torn_in_turn_leaves_two_cut_lines_that_the_next_record_names(log: Path):
    tear_last_record(log)
    append_records(str(log), [sample(6)])
    # The repairing run was killed too, in the middle of its torn_line record: line 5 is ended but unreadable, line 6 is cut.
    rows = lines(log)
    log.write_text("".join(rows[:5]) + rows[5][:25])
    written = append_records(str(log), [sample(7)])
    assert written[0]["type"] == "torn_line" and written[0]["after_seq"] == 4
    assert [line["offset"] for line in written[0]["torn"]] == [len("".join(rows[:4]).encode()), len("".join(rows[:5]).encode())]
    result = verify_chain(str(log))
    assert result.ok and [torn["line"] for torn in result.torn_lines] == [5, 6]
    assert all(torn["repaired_by_seq"] == written[0]["seq"] == 5 for torn in result.torn_lines)


def test_an_unreadable_line_named_by_no_torn_line_record_breaks_the_chain(log: Path):
    tear_last_record(log)
    append_records(str(log), [sample(6)])
    # A forger replaces the repair's record by a plain record: the cut line is no longer accounted for.
    rows = lines(log)
    torn = json.loads(rows[-2])
    log.write_text("".join(rechain_from(rows[:-2], [sample(6)], torn["prev_hash"], 5)))
    result = verify_chain(str(log))
    assert not result.ok and result.first_broken == {"line": 5, "seq": None, "reason": result.first_broken["reason"]}
    assert result.first_broken["reason"].startswith("invalid JSON") and result.torn_lines == ()


def test_a_torn_line_record_must_name_the_bytes_of_the_cut_line(log: Path):
    tear_last_record(log)
    append_records(str(log), [sample(6)])
    rows = lines(log)
    rows[4] = rows[4][:-2] + "X\n"  # the cut line changed after the repair named it
    log.write_text("".join(rows))
    result = verify_chain(str(log))
    assert not result.ok and result.first_broken["line"] == 5 and result.torn_lines == ()


def test_a_cut_at_a_record_boundary_gets_its_newline_and_no_torn_line_record(log: Path):
    rewrite(log, lambda rows: rows[:-1] + [rows[-1].rstrip("\n")])
    written = append_records(str(log), [sample(6)])
    assert [record["type"] for record in written] == ["task"] and written[0]["seq"] == 6
    assert verify_chain(str(log)).ok and verify_chain(str(log)).torn_lines == ()


def test_the_torn_line_offset_is_exact_when_the_tail_spans_read_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(audit, "_TAIL_CHUNK", 97)
    path = tmp_path / "audit.jsonl"
    append_records(str(path), [{**sample(index), "padding": "p" * (index * 37)} for index in range(1, 9)])
    offset = len("".join(lines(path)[:-1]).encode())
    cut = tear_last_record(path, keep=150)
    (torn, _record) = append_records(str(path), [sample(9)])
    assert torn["torn"] == [{"offset": offset, "length": 150, "sha256": hashlib.sha256(cut).hexdigest()}] and torn["after_seq"] == 7
    assert verify_chain(str(path)).ok


def test_first_record_skips_a_torn_first_line_and_is_none_without_a_file(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    path.write_text('{"seq": 1, "cut')
    append_records(str(path), [sample(1)])
    assert (first_record(str(path))["type"], first_record(str(path))["seq"]) == ("torn_line", 1)
    assert verify_chain(str(path)).ok and verify_chain(str(path)).torn_lines[0]["offset"] == 0
    assert first_record(str(tmp_path / "absent.jsonl")) is None


def test_concurrent_writers_keep_one_valid_chain(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_many, args=(str(path), f"run-{index}", 25)) for index in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert [writer.exitcode for writer in writers] == [0, 0, 0, 0]
    result = verify_chain(str(path))
    assert result.ok, result.first_broken
    assert result.records == 100 and len(result.run_ids) == 4


def _write_many(path: str, run_id: str, count: int) -> None:
    for index in range(count):
        append_records(path, [sample(index, run_id=run_id)])


def test_append_gives_up_when_another_writer_holds_the_lock(log: Path):
    with open(log, "rb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(OfmRollbackError, match="lock") as caught:
            append_records(str(log), [sample(6)], lock_timeout=0)
    assert str(log) in str(caught.value)
    assert len(lines(log)) == 5


def test_append_where_the_directory_cannot_be_created_names_the_path(tmp_path: Path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    with pytest.raises(OfmRollbackError) as caught:
        append_records(str(blocker / "audit.jsonl"), [sample(1)])
    assert "ofm.rollback audit log" in str(caught.value) and str(blocker) in str(caught.value)
    assert "log_path" in str(caught.value)


def test_intact_log_verifies_with_its_runs_incidents_and_last_hash(log: Path):
    append_records(str(log), [sample(6, run_id="run-2", incident_id="INC-2"), sample(7, run_id="run-2", incident_id=None)])
    result = verify_chain(str(log))
    assert result.ok and result.first_broken is None
    assert result.records == 7
    assert result.run_ids == ("run-1", "run-2")
    assert result.incident_ids == ("INC-1", "INC-2")
    assert result.last_hash == json.loads(lines(log)[-1])["hash"]


def test_empty_log_is_intact_and_ends_at_the_genesis_hash(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    path.touch()
    result = verify_chain(str(path))
    assert (result.ok, result.records, result.last_hash) == (True, 0, GENESIS_HASH)


def test_missing_log_names_the_path(tmp_path: Path):
    with pytest.raises(NotFoundError) as caught:
        verify_chain(str(tmp_path / "absent.jsonl"))
    assert str(tmp_path / "absent.jsonl") in str(caught.value) and "OFM_AUDIT_LOG" in str(caught.value)


def _change_field(rows: list[str]) -> list[str]:
    record = json.loads(rows[2])
    record["status"] = "failed"
    return rows[:2] + [canonical_json(record) + "\n"] + rows[3:]


def _change_and_rehash(rows: list[str]) -> list[str]:
    record = json.loads(rows[2])
    record["status"] = "failed"
    record["hash"] = record_hash(record)
    return rows[:2] + [canonical_json(record) + "\n"] + rows[3:]


def _rechain_skipping_a_seq(rows: list[str]) -> list[str]:
    records = [{key: value for key, value in json.loads(row).items() if key not in ("seq", "prev_hash", "hash")} for row in rows]
    return rechain(records, [1, 2, 4, 5, 6])


TAMPERING = [
    pytest.param(_change_field, 3, 3, "hash mismatch", id="changed record"),
    pytest.param(_change_and_rehash, 4, 4, "prev_hash does not match", id="changed record with its hash recomputed"),
    pytest.param(lambda rows: rows[:2] + rows[3:], 3, 4, "prev_hash does not match", id="deleted record"),
    pytest.param(lambda rows: rows[1:], 1, 2, "genesis", id="deleted first record"),
    pytest.param(lambda rows: rows[:1] + [rows[2], rows[1]] + rows[3:], 2, 3, "prev_hash does not match", id="reordered records"),
    pytest.param(lambda rows: rows[:3] + [rows[2]] + rows[3:], 4, 3, "prev_hash does not match", id="duplicated record"),
    pytest.param(_rechain_skipping_a_seq, 3, 4, "seq 4 does not follow seq 2", id="seq gap in a recomputed chain"),
    pytest.param(lambda rows: rows[:2] + ["{not json\n"] + rows[2:], 3, None, "invalid JSON", id="invalid JSON line"),
    pytest.param(lambda rows: rows[:2] + ["[1, 2]\n"] + rows[2:], 3, None, "JSON list, not a record", id="JSON that is not an object"),
    pytest.param(lambda rows: rows[:2] + ['{"seq": 3, "note": "hand-written"}\n'] + rows[2:], 3, 3, "lacks the chain fields prev_hash, hash",
                 id="record without chain fields"),
    pytest.param(lambda rows: rows[:-2] + [rows[-2][:40] + "\n", rows[-1]], 4, None, "invalid JSON", id="cut line not named by a torn_line record"),
    pytest.param(lambda rows: rows[:-1] + [rows[-1][:40] + "\n"], 5, None, "invalid JSON", id="cut last line ended but not named"),
]


@pytest.mark.parametrize("tamper, line, seq, reason", TAMPERING)
def test_verification_finds_the_first_tampered_record(log: Path, tamper, line: int, seq: Any, reason: str):
    rewrite(log, tamper)
    result = verify_chain(str(log))
    assert not result.ok
    assert result.first_broken["line"] == line
    assert result.first_broken["seq"] == seq
    assert reason in result.first_broken["reason"]


def test_a_cut_that_ends_on_a_record_boundary_is_not_reported_as_truncation(log: Path):
    rewrite(log, lambda rows: rows[:-1] + [rows[-1].rstrip("\n")])
    assert verify_chain(str(log)).ok


def test_read_records_filters_by_run_and_incident_and_skips_unreadable_lines(log: Path):
    append_records(str(log), [sample(6, run_id="run-2", incident_id="INC-2"), sample(7, run_id="run-2", incident_id="INC-1")])
    rewrite(log, lambda rows: rows + ["{cut"])
    assert len(read_records(str(log))) == 7
    assert [record["task"] for record in read_records(str(log), run_id="run-2")] == ["step 6", "step 7"]
    assert [record["task"] for record in read_records(str(log), incident_id="INC-2")] == ["step 6"]
    assert [record["task"] for record in read_records(str(log), run_id="run-2", incident_id="INC-1")] == ["step 7"]


def test_read_records_of_a_missing_log_names_the_path(tmp_path: Path):
    with pytest.raises(NotFoundError, match="absent.jsonl"):
        read_records(str(tmp_path / "absent.jsonl"))
