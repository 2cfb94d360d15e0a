# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""postgres.wal_coverage: the proof that the WAL archive covers a time in an idle tail, asked of a (fake) source."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.postgres import wal_coverage as coverage
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError

TARGET = datetime(2026, 12, 4, 3, 15, 0, tzinfo=timezone.utc)
ASKED = TARGET + timedelta(minutes=5)


class FakeSource:
    """Answers the probe's two questions: its state, and the status of transaction ids (committed unless said otherwise)."""

    def __init__(self, snapshot: str = "1015:1015:", *, in_recovery: bool = False, insert_lsn: str = "0/E000028",
                 clock: datetime = ASKED, statuses: dict[int, str] | None = None, fail: Exception | None = None) -> None:
        self.row = (in_recovery, None if in_recovery else insert_lsn, snapshot, clock)
        self.statuses = statuses or {}
        self.fail = fail
        self.asked: list[list[str]] = []

    def __call__(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self.fail is not None:
            raise self.fail
        if sql == coverage.STATE_QUERY:
            return [self.row]
        assert sql == coverage.STATUS_QUERY
        self.asked.append(list(params[0]))
        return [(xid, self.statuses.get(int(xid), "committed")) for xid in params[0]]


def probe(source: FakeSource) -> coverage.SourceProbe:
    return coverage.SourceProbe(source, "ofm_admin@db:5432/ofm")


def test_a_snapshot_is_parsed_and_printed_as_postgresql_writes_it():
    snapshot = coverage.Snapshot.parse("1010:1016:1010,1013")
    assert (snapshot.xmin, snapshot.xmax, snapshot.xip) == (1010, 1016, (1010, 1013))
    assert str(snapshot) == "1010:1016:1010,1013"
    assert coverage.Snapshot.parse("7:7:").xip == ()
    with pytest.raises(DataError):
        coverage.Snapshot.parse("not a snapshot")


@pytest.mark.parametrize("insert_lsn, in_recovery, quiet", [
    ("0/E000028", False, True),    # just after a switch: only the new segment's page header
    ("0/E000000", False, True),
    ("0/E000060", False, False),   # a running-xacts record since: pg_switch_wal() archives it
    ("0/E000028", True, False),    # a standby cannot speak for its primary
])
def test_the_source_is_quiet_only_when_it_wrote_nothing_after_the_archive(insert_lsn, in_recovery, quiet):
    state = probe(FakeSource(insert_lsn=insert_lsn, in_recovery=in_recovery)).state()
    assert coverage.quiet_since(state, archive_end_lsn=0xE000000) is quiet


def test_nothing_completed_since_the_archive_proves_the_idle_tail_up_to_the_source_clock():
    source = FakeSource("1015:1015:")
    proof = coverage.prove_idle_tail(coverage.Snapshot.parse("1015:1015:"), probe(source), TARGET)
    assert proof.proven and proof.covered_until == ASKED
    assert proof.as_dict()["covered_until"] == ASKED.isoformat()
    assert source.asked == []


def test_a_commit_the_archive_lacks_disproves_it_and_is_named():
    source = FakeSource("1017:1017:", statuses={1015: "aborted"})
    proof = coverage.prove_idle_tail(coverage.Snapshot.parse("1015:1015:"), probe(source), TARGET)
    assert not proof.proven
    assert proof.committed_after == [1016]
    assert "committed 1 transaction(s) that the archive lacks (1016)" in proof.reason
    assert source.asked == [["1015", "1016"]]


def test_transactions_that_only_aborted_since_do_not_disprove_it():
    source = FakeSource("1017:1017:", statuses={1015: "aborted", 1016: "aborted"})
    assert coverage.prove_idle_tail(coverage.Snapshot.parse("1015:1015:"), probe(source), TARGET).proven


def test_a_transaction_in_progress_at_the_archive_end_and_committed_since_disproves_it():
    source = FakeSource("1012:1015:", statuses={1013: "in progress"})
    proof = coverage.prove_idle_tail(coverage.Snapshot.parse("1012:1015:1012,1013"), probe(source), TARGET)
    assert not proof.proven and proof.committed_after == [1012]
    assert source.asked == [["1012", "1013"]]


@pytest.mark.parametrize("source, fragment", [
    (FakeSource(in_recovery=True), "reaches a standby"),
    (FakeSource(clock=TARGET - timedelta(seconds=1)), "clock"),
    (FakeSource(fail=OSError("connection refused")), "could not be asked (connection refused)"),
    (FakeSource(f"1015:{1015 + coverage.MAX_XIDS_CHECKED + 1}:"), "has completed 10001 transactions"),
])
def test_a_source_that_cannot_speak_for_the_archive_proves_nothing(source, fragment):
    proof = coverage.prove_idle_tail(coverage.Snapshot.parse("1015:1015:"), probe(source), TARGET)
    assert not proof.proven
    assert fragment in proof.reason
    assert source.asked == []


def test_the_probe_keeps_the_queries_it_ran():
    source = FakeSource("1016:1016:", statuses={1015: "aborted"})
    prober = probe(source)
    coverage.prove_idle_tail(coverage.Snapshot.parse("1015:1015:"), prober, TARGET)
    assert prober.queries == [coverage.STATE_QUERY, coverage.STATUS_QUERY]
