# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recovery as the server reports it: its log (where it stopped, what it reached, why it failed) and its SQL state, watched
until the target is confirmed or refused.
"""

from __future__ import annotations

import codecs
import os
import re
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.backups import iso_time
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.sandbox import SandboxSpec, postmaster_pid, recorded_pid
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.targets import SYSTEM, Target
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    DeadlineExceeded,
    InputError,
    OfmRollbackError,
    TargetNotReached,
)

_STOPPING = re.compile(r"recovery stopping (?:before|after|at) .*")
_NOT_REACHED = "recovery ended before configured recovery target was reached"
_CONSISTENT = "consistent recovery state reached"
_ABORTED = "aborting startup due to startup process failure"
_REDO_DONE = re.compile(r"redo done at ([0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})")
_LAST_COMPLETED = re.compile(r"last completed transaction was at log time (.+?)\s*$")
_SHUTDOWN_REQUEST = re.compile(r"received (?:smart|fast|immediate) shutdown request")
_NO_SPACE = "No space left on device"
_CLIENT_FATALS = ("the database system is starting up", "the database system is not yet accepting connections",
                  "the database system is shutting down", "authentication failed", "does not exist", "no pg_hba.conf entry")


@dataclass
class RecoveryState:
    """What the sandbox reports while and after it replays WAL."""

    in_recovery: Optional[bool] = None
    pause_state: Optional[str] = None
    replay_lsn: Optional[str] = None
    last_commit_time: Optional[datetime] = None
    stop_line: Optional[str] = None
    consistent: bool = False

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["last_commit_time"] = iso_time(self.last_commit_time) if self.last_commit_time else None
        return values


def last_fatal(log_text: str) -> Optional[str]:
    """The server's last FATAL message, leaving out those of refused client connections."""
    return ServerLog.of(log_text).last_fatal


def recovery_log_outcome(log_text: str) -> tuple[Optional[str], bool, Optional[str]]:
    """From the server log: the ``recovery stopping ...`` line, whether a consistent state was reached, and why recovery failed
    (None while it has not; the FATAL lines of refused client connections do not count)."""
    log = ServerLog.of(log_text)
    return log.stop_line, log.consistent, log.failure


class ServerLog:
    """The sandbox's server log, followed as it grows: each ``update()`` reads only the bytes appended since the last one, so
    watching a recovery that replays for hours (a line per restored WAL segment) costs the same at every poll."""

    TAIL_LINES = 15

    def __init__(self, path: Optional[Path], *, from_end: bool = False) -> None:
        """``from_end``: skip what the log already holds (a server started again appends to the same log)."""
        self.path = path
        self.offset = path.stat().st_size if from_end and path is not None and path.exists() else 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self.tail: deque[str] = deque(maxlen=self.TAIL_LINES)
        self.stop_line: Optional[str] = None
        self.consistent = False
        self.last_fatal: Optional[str] = None
        self.not_reached = False
        self.aborted = False
        self.redo_done_lsn: Optional[str] = None
        self.last_completed_at: Optional[datetime] = None
        self.shutdown_request: Optional[str] = None
        self.no_space: Optional[str] = None

    @classmethod
    def of(cls, text: str) -> "ServerLog":
        log = cls(None)
        log.feed(text, final=True)
        return log

    @property
    def failure(self) -> Optional[str]:
        """Why recovery failed, once the server said so."""
        if self.not_reached:
            return _NOT_REACHED
        if self.aborted:
            return self.last_fatal or _ABORTED
        return None

    def update(self) -> None:
        if self.path is None:
            return
        try:
            with self.path.open("rb") as stream:
                if os.fstat(stream.fileno()).st_size < self.offset:  # truncated or replaced: read the new file from its start
                    self.offset, self._partial = 0, ""
                    self._decoder.reset()
                stream.seek(self.offset)
                data = stream.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        self.feed(self._decoder.decode(data))

    def feed(self, text: str, final: bool = False) -> None:
        """Take in more of the log; a line is read once it is complete (or at the end, with ``final``)."""
        lines = (self._partial + text).split("\n")
        self._partial = "" if final else lines.pop()
        for line in lines:
            if line:
                self._line(line)

    def _line(self, line: str) -> None:
        self.tail.append(line)
        if self.stop_line is None:
            stop = _STOPPING.search(line)
            if stop:
                self.stop_line = stop.group(0).strip()
        self.consistent = self.consistent or _CONSISTENT in line
        self.not_reached = self.not_reached or _NOT_REACHED in line
        self.aborted = self.aborted or _ABORTED in line
        redo_done = _REDO_DONE.search(line)
        if redo_done:
            self.redo_done_lsn = redo_done.group(1)
        last_completed = _LAST_COMPLETED.search(line)
        if last_completed:
            self.last_completed_at = _log_time(last_completed.group(1))
        if "FATAL:" in line and not any(client in line for client in _CLIENT_FATALS):
            self.last_fatal = line.split("FATAL:", 1)[1].strip()
        shutdown = _SHUTDOWN_REQUEST.search(line)
        if shutdown:
            self.shutdown_request = shutdown.group(0)
        if _NO_SPACE in line and self.no_space is None:
            self.no_space = line.strip()


def _log_time(text: str) -> Optional[datetime]:
    """A time as the server log writes it (``2026-12-04 01:33:52.062907+00``), in UTC; None when it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


Connect = Callable[[], Any]


@dataclass
class Sql:
    """Queries on the sandbox through psycopg; ``connect`` gives an autocommit connection."""

    connect: Connect
    queries: list[str] = field(default_factory=list)

    def one(self, query: str) -> tuple[Any, ...]:
        self.queries.append(query)
        with self.connect() as connection:
            return connection.execute(query).fetchone()


STATE_QUERY = ("SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END, "
               "pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp()")
START_GRACE = 30.0
_LOGIN_REFUSALS = ("authentication failed", "no pg_hba.conf entry", "role \"")
# At the pause of recovery_target_action=pause, resuming ends recovery and promotes; unlike pg_promote(), it wakes the
# startup process at once instead of at its next one-second check.
PROMOTE_QUERY = "SELECT pg_wal_replay_resume()"
AFTER_QUERY = "SELECT pg_is_in_recovery(), CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END"


def target_not_reached(log: ServerLog) -> TargetNotReached:
    """The error of a recovery that replayed the whole archive without passing the target, from the server's log."""
    return TargetNotReached(system=SYSTEM, redo_done_lsn=log.redo_done_lsn, last_commit_time=log.last_completed_at,
                            last_commit_text=iso_time(log.last_completed_at) if log.last_completed_at else "", log_tail=log.tail)


class RecoveryWatcher:
    """Polls the sandbox until recovery has really finished: paused at the target (then promotes) or promoted at the end.

    It polls at a tenth of the time waited so far, between ``interval`` and ``max_interval``: a recovery of a few seconds is
    seen to end within tens of milliseconds, a recovery of an hour costs a poll a second, and the wait never overshoots the
    end by more than a tenth of its length.
    """

    def __init__(self, sandbox: SandboxSpec, sql: Sql, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, interval: float = 0.05, max_interval: float = 1.0,
                 log_from_end: bool = False) -> None:
        self.sandbox = sandbox
        self.sql = sql
        self.clock = clock
        self.sleep = sleep
        self.interval = interval
        self.max_interval = max_interval
        self.started_at = clock()
        self.seen_running: Optional[int] = None
        self.log = ServerLog(sandbox.log, from_end=log_from_end)

    def wait(self, target: Target, timeout: float) -> RecoveryState:
        states = [RecoveryState()]

        def read() -> RecoveryState:
            states.append(self.poll(states[-1]))
            return states[-1]

        def timed_out(state: RecoveryState, _polls: int, _elapsed: float) -> Exception:
            return DeadlineExceeded(f"recovery did not finish within {timeout:g} s", system=SYSTEM, operation="recovery wait",
                                    target=str(self.sandbox.data_dir), timeout=timeout, last_state=state.as_dict(),
                                    details={"last_state": state.as_dict()})

        # A poll at a tenth of the time waited so far, between interval and max_interval (see the class).
        poller = Poller(timeout=timeout, interval=self.interval, clock=self.clock, sleep=self.sleep,
                        next_interval=lambda _elapsed: min(self.max_interval, max(self.interval, (self.clock() - self.started_at) / 10)))
        return poller.until(read, lambda state: self._finished(target, state), timed_out).value

    def poll(self, previous: RecoveryState) -> RecoveryState:
        self.log.update()
        log = self.log
        pid = postmaster_pid(self.sandbox.data_dir)
        running = pid is not None
        if running:
            self.seen_running = pid
        elif not log.failure and not log.shutdown_request and not self.seen_running and recorded_pid(self.sandbox.data_dir) is None \
                and self.clock() < self.started_at + START_GRACE:
            return previous  # pg_ctl start -W returns before the postmaster writes postmaster.pid
        if log.not_reached:
            raise target_not_reached(log)
        if log.failure or not running:
            raise OfmRollbackError(f"the sandbox server stopped during recovery, before it reached the target: {self._why_stopped()}",
                                   system=SYSTEM, operation="recovery", target=str(self.sandbox.data_dir),
                                   hint="Read the end of the server log (error.details.log_tail).",
                                   details={"log_tail": list(log.tail), "postmaster_pid": self.seen_running or recorded_pid(self.sandbox.data_dir)})
        try:
            row = self.sql.one(STATE_QUERY)
        except Exception as exc:  # pylint: disable=broad-except  # not accepting connections yet (still starting or not consistent)
            if any(refusal in str(exc) for refusal in _LOGIN_REFUSALS):
                raise InputError(f"the sandbox refused the login: {str(exc).strip()}", option="sandbox.password", system=SYSTEM,
                                 operation="recovery wait", target=str(self.sandbox.data_dir),
                                 accepted="the password of sandbox.user in the source cluster (the sandbox has its roles and pg_hba.conf)") from exc
            return RecoveryState(stop_line=log.stop_line, consistent=log.consistent)
        return RecoveryState(row[0], row[1], row[2], row[3], log.stop_line, log.consistent)

    def _why_stopped(self) -> str:
        """What the server log says ended the server, else what its absence says: a postmaster that is killed (SIGKILL) or
        crashes writes nothing, and leaves its postmaster.pid behind."""
        log = self.log
        if log.failure:
            return log.failure
        if log.shutdown_request:
            return f"it was shut down from outside ({log.shutdown_request})"
        if log.last_fatal:
            return log.last_fatal
        pid = self.seen_running or recorded_pid(self.sandbox.data_dir)
        if pid is not None:
            return f"its postmaster (pid {pid}) is gone and wrote nothing about it in the server log: it was killed (SIGKILL) or crashed"
        return "no postmaster is running"

    @staticmethod
    def _finished(target: Target, state: RecoveryState) -> bool:
        if target.kind == "latest":
            return state.in_recovery is False
        return state.in_recovery is True and state.pause_state == "paused" and state.stop_line is not None

    def promote(self, timeout: float = 60) -> str:
        """End the pause at the target; return the LSN the promoted sandbox writes at (promotion takes a fraction of a second)."""
        self.sql.one(PROMOTE_QUERY)

        def timed_out(_row: Any, _polls: int, _elapsed: float) -> Exception:
            return DeadlineExceeded("the sandbox did not leave recovery after pg_wal_replay_resume()", system=SYSTEM, operation="promote",
                                    target=str(self.sandbox.data_dir), timeout=timeout)

        poller = Poller(timeout=timeout, interval=self.interval, clock=self.clock, sleep=self.sleep)
        return poller.until(lambda: self.sql.one(AFTER_QUERY), lambda row: not row[0], timed_out).value[1]


def confirm_target(target: Target, state: RecoveryState) -> None:
    """Fail unless the log's ``recovery stopping`` line and the last replayed commit agree with the target."""
    if target.kind == "latest":
        return
    line = state.stop_line or ""
    expected = {"name": f'restore point "{target.value}"', "xid": f"transaction {target.value},", "lsn": "WAL location (LSN)"}.get(target.kind)
    if expected and expected not in line:
        raise OfmRollbackError(f"the server stopped recovery at another target: {line!r}", system=SYSTEM, operation="target confirmation",
                               target=target.describe(), hint="Check the target; the sandbox was left paused for inspection.")
    if target.time is not None and state.last_commit_time is not None:
        last = state.last_commit_time if state.last_commit_time.tzinfo else state.last_commit_time.replace(tzinfo=timezone.utc)
        if last > target.time or (not target.inclusive and last == target.time):
            raise OfmRollbackError(f"the last replayed commit ({iso_time(last)}) is after the target {iso_time(target.time)}", system=SYSTEM,
                                   operation="target confirmation", target=target.describe())


def clock(moment: Optional[datetime]) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if moment else "?"


def target_identity(stored: Any) -> Optional[dict[str, Any]]:
    if not isinstance(stored, dict):
        return None
    return {key: stored.get(key) for key in ("type", "value", "inclusive")}
