# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a WAL archive covers a point in time: the proof behind a restore to a moment in an idle tail.

PostgreSQL ends a recovery to a time at the first commit after that time. When nothing was committed for a while (a quiet
night, a service stopped by the incident), the time asked for can lie after the last archived commit C: recovery then
replays every archived record without meeting a later commit and fails ("recovery ended before configured recovery
target was reached"). The state at that time *is* the state after C, but only if no commit between C and the time is
missing from the archive. Neither the archive nor the WAL records say when an idle stretch ended (only commit records
carry a time), so the source cluster is asked, read-only:

- **Before the restore** (``quiet_since``): when the source's WAL insert position is still at the start of the segment
  after the newest archived one, it has written nothing since: the archive covers everything up to the source's clock
  now. (``pg_switch_wal()`` is then a no-op, so waiting for more WAL would wait forever.)
- **After replaying the archive to its end** (``prove_idle_tail``): the sandbox, paused at the archive's last record,
  knows which transactions had completed there (its ``pg_current_snapshot()``: the in-progress list, and xmax, the
  first transaction id not completed). The source, asked at moment Q, has committed nothing that the archive lacks when
  none of the sandbox's in-progress transactions and none of the ids from the sandbox's xmax up to the source's own
  xmax is committed there (``pg_xact_status``). Then every commit up to Q is in the archive and, Q being after the
  target, the restored state is the state at the target. A source that is a standby (it may lag) or cannot be reached
  proves nothing.

No AnsibleModule in here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, UnavailableError

SYSTEM = "PostgreSQL source"
# The insert position after a segment switch is the segment's start plus its long page header: nothing written yet.
LONG_PAGE_HEADER = 40
# At most this many transaction ids completed on the source after the archive's end are looked up one by one; more means
# a busy source, whose commits are surely not all archived.
MAX_XIDS_CHECKED = 10000

STATE_QUERY = ("SELECT pg_is_in_recovery(), CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_insert_lsn()::text END, "
               "pg_current_snapshot()::text, clock_timestamp()")
SNAPSHOT_QUERY = "SELECT pg_current_snapshot()::text"
STATUS_QUERY = "SELECT x, pg_xact_status(x::xid8) FROM unnest(%s::text[]) AS x"


@dataclass(frozen=True)
class Snapshot:
    """A ``pg_current_snapshot()``: ids below ``xmin`` completed, from ``xmax`` on not completed, ``xip`` in progress."""

    xmin: int
    xmax: int
    xip: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> "Snapshot":
        try:
            xmin, xmax, xip = str(text).split(":")
            return cls(int(xmin), int(xmax), tuple(int(xid) for xid in xip.split(",") if xid))
        except ValueError:
            raise DataError(f"'{text}' is not a pg_snapshot", system=SYSTEM, operation="snapshot") from None

    def __str__(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(str(xid) for xid in self.xip)}"


@dataclass(frozen=True)
class SourceState:
    """What the source says about itself at ``clock`` (its own clock, the one its commit times come from)."""

    in_recovery: bool
    insert_lsn: Optional[int]
    snapshot: Snapshot
    clock: datetime


Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class SourceProbe:
    """Read-only questions to the source cluster; ``query(sql, params)`` returns all rows of one statement."""

    def __init__(self, query: Query, target: str) -> None:
        self._query = query
        self.target = target
        self.queries: list[str] = []

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.queries.append(sql)
        try:
            return self._query(sql, params)
        except Exception as exc:  # pylint: disable=broad-except  # psycopg's errors: refused, timeout, authentication
            raise UnavailableError(f"the source could not be asked ({str(exc).strip() or type(exc).__name__})", system=SYSTEM,
                                   operation="archive coverage check", target=self.target,
                                   hint="Check the source option (host, port, user, password) and that the source runs.") from exc

    def state(self) -> SourceState:
        in_recovery, insert_lsn, snapshot, clock = self._rows(STATE_QUERY)[0]
        return SourceState(bool(in_recovery), _lsn(insert_lsn) if insert_lsn else None, Snapshot.parse(snapshot), _utc(clock))

    def committed(self, xids: Sequence[int]) -> list[int]:
        """The ids among ``xids`` that the source has committed."""
        if not xids:
            return []
        rows = self._rows(STATUS_QUERY, ([str(xid) for xid in xids],))
        return sorted(int(xid) for xid, status in rows if status == "committed")


def psycopg_query(connect: Callable[[], Any]) -> Query:
    """A ``Query`` over connections made by ``connect`` (one connection per statement; the probe asks two or three)."""
    def query(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with connect() as connection:
            return connection.execute(sql, params or None).fetchall()
    return query


def _lsn(text: str) -> int:
    high, low = str(text).split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _utc(moment: Any) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime.fromisoformat(str(moment))
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def quiet_since(state: SourceState, archive_end_lsn: int) -> bool:
    """Whether the source (a primary) has written no WAL since the end of the archive: it all is archived up to ``state.clock``."""
    return not state.in_recovery and state.insert_lsn is not None and state.insert_lsn <= archive_end_lsn + LONG_PAGE_HEADER


@dataclass
class TailProof:
    """The answer to "did the source commit anything after the archive's end?", with the evidence."""

    proven: bool
    reason: str
    covered_until: Optional[datetime] = None
    sandbox_snapshot: Optional[str] = None
    source_snapshot: Optional[str] = None
    committed_after: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"proven": self.proven, "reason": self.reason,
                "covered_until": self.covered_until.isoformat() if self.covered_until else None,
                "sandbox_snapshot": self.sandbox_snapshot, "source_snapshot": self.source_snapshot,
                "committed_after": self.committed_after}


def prove_idle_tail(sandbox: Snapshot, probe: SourceProbe, target_time: datetime) -> TailProof:
    """Whether the source has committed nothing that the archive (replayed to its end by the sandbox) lacks, up to a moment
    after ``target_time``. A source that cannot be asked, is a standby, or whose clock is before the target proves nothing."""
    try:
        state = probe.state()
    except UnavailableError as exc:
        return TailProof(False, exc.reason, sandbox_snapshot=str(sandbox))
    seen = {"sandbox_snapshot": str(sandbox), "source_snapshot": str(state.snapshot)}
    if state.in_recovery:
        return TailProof(False, "the source login reaches a standby, which may lag behind its primary; give the primary", **seen)
    if state.clock < target_time:
        return TailProof(False, f"the source's clock ({state.clock.isoformat()}) is before the target", **seen)
    if state.snapshot.xmax - sandbox.xmax > MAX_XIDS_CHECKED:
        return TailProof(False, f"the source has completed {state.snapshot.xmax - sandbox.xmax} transactions since the archive's end", **seen)
    suspects = sorted(set(sandbox.xip) | set(range(sandbox.xmax, max(sandbox.xmax, state.snapshot.xmax))))
    try:
        committed = probe.committed(suspects)
    except UnavailableError as exc:
        return TailProof(False, exc.reason, **seen)
    if committed:
        shown = ", ".join(str(xid) for xid in committed[:5]) + (" ..." if len(committed) > 5 else "")
        return TailProof(False, f"the source has committed {len(committed)} transaction(s) that the archive lacks ({shown})",
                         committed_after=committed, **seen)
    return TailProof(True, f"the source has committed nothing since the archive's end (asked at {state.clock.isoformat()})",
                     covered_until=state.clock, **seen)
