# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_pitr: targets, backups and archive coverage from pgbackrest info samples, command lines, the recovery watch."""
from __future__ import annotations

import copy
import json
import os
import pwd
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from unithelpers import FakeClock

from ansible_collections.ofm.rollback.plugins.module_utils.postgres import backups as pg_backups
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import commands as pg_commands
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import recovery as pg_recovery
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import restore as pg_restore
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import sandbox as pg_sandbox
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import targets as pg_targets
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import wal_coverage as coverage
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import connection as pg_connection
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection
from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, DataError, DeadlineExceeded, InputError, NotFoundError, OfmRollbackError

STANZA = "ofm-social-os"
FULL_STOP = 1795877705  # 2026-11-28 14:55:05 UTC
INFO = [{
    "name": STANZA,
    "status": {"code": 0, "message": "ok"},
    "db": [{"id": 1, "version": "15", "system-id": 7713235947417465434}],
    "archive": [{"id": "15-1", "min": "000000010000000000000001", "max": "000000010000000000000030", "database": {"id": 1}}],
    "backup": [
        {"label": "20261128-145455F", "type": "full", "error": False, "database": {"id": 1},
         "lsn": {"start": "0/2000028", "stop": "0/2000100"}, "timestamp": {"start": FULL_STOP - 10, "stop": FULL_STOP}},
        {"label": "20261128-145455F_20261128-150500I", "type": "incr", "error": False, "database": {"id": 1},
         "lsn": {"start": "0/20000028", "stop": "0/20000100"}, "timestamp": {"start": FULL_STOP + 595, "stop": FULL_STOP + 600}},
        {"label": "20261128-145455F_20261128-151000I", "type": "incr", "error": True, "database": {"id": 1},
         "lsn": {"start": "0/28000028", "stop": "0/28000100"}, "timestamp": {"start": FULL_STOP + 895, "stop": FULL_STOP + 900}},
    ],
}]
MISSING_REPO = [{"name": STANZA, "archive": [], "backup": [], "db": [], "status": {"code": 1, "message": "missing stanza path"}}]


def at(seconds_after_full: float) -> datetime:
    return datetime.fromtimestamp(FULL_STOP + seconds_after_full, timezone.utc)


def inventory(archived_at: float = 1200) -> tuple[list[pg_backups.Backup], pg_backups.Archive]:
    backups, archive = pg_backups.parse_pgbackrest_info(json.dumps(INFO), STANZA)
    return backups, pg_backups.Archive(archive.oldest_segment, archive.newest_segment, at(archived_at))


# --- targets ---


def test_a_time_without_offset_is_utc_and_says_so():
    target = pg_targets.parse_target("time", "2025-11-28 03:00:00")
    assert (target.value, target.assumed_utc, target.time) == ("2025-11-28 03:00:00.000000+00", True, datetime(2025, 11, 28, 3, tzinfo=timezone.utc))


@pytest.mark.parametrize("text, expected", [("2025-11-28T03:00:00+01:00", "2025-11-28 02:00:00.000000+00"),
                                            ("2025-11-28 03:00:00.25Z", "2025-11-28 03:00:00.250000+00")])
def test_a_time_with_offset_is_converted_to_utc(text, expected):
    target = pg_targets.parse_target("time", text)
    assert (target.value, target.assumed_utc) == (expected, False)


def test_lsn_xid_and_name_targets():
    lsn = pg_targets.parse_target("lsn", "0/3000a60", inclusive=False)
    assert (lsn.value, lsn.lsn, lsn.inclusive) == ("0/3000A60", 0x3000A60, False)
    assert pg_targets.parse_target("xid", "001234").value == "1234"
    assert pg_targets.parse_target("name", "before_migration").value == "before_migration"
    assert pg_targets.parse_target("latest", None).describe() == "the latest archived state"


@pytest.mark.parametrize("kind, value, option, fragment", [
    ("time", "yesterday", "target", "is not a timestamp"),
    ("time", "2025-13-01 00:00:00", "target", "is not a timestamp"),
    ("lsn", "0/XYZ", "target", "is not an LSN"),
    ("lsn", "3000060", "target", "is not an LSN"),
    ("xid", "-4", "target", "is not a transaction id"),
    ("xid", "2", "target", "is not a transaction id"),
    ("name", "x" * 64, "target", "longer than 63 bytes"),
    ("time", None, "target", "needs a target"),
    ("latest", "now", "target", "must not be set"),
    ("date", "x", "target_type", "unknown target type"),
])
def test_malformed_targets_name_the_option_and_what_is_accepted(kind, value, option, fragment):
    with pytest.raises(InputError) as caught:
        pg_targets.parse_target(kind, value)
    assert caught.value.option == option
    assert fragment in caught.value.reason
    assert "Accepted" in str(caught.value)


# --- pgbackrest info and the choice of a backup ---


def test_info_gives_usable_backups_oldest_first_and_the_archive_range():
    backups, archive = pg_backups.parse_pgbackrest_info(json.dumps(INFO), STANZA)
    assert [backup.label for backup in backups] == ["20261128-145455F", "20261128-145455F_20261128-150500I"]
    assert backups[0].as_dict()["stop_lsn"] == "0/2000100" and backups[0].pg_version == "15"
    assert (archive.oldest_segment, archive.newest_segment, pg_targets.format_lsn(archive.end_lsn)) == (
        "000000010000000000000001", "000000010000000000000030", "0/31000000")


@pytest.mark.parametrize("info, error, fragment", [
    (MISSING_REPO, NotFoundError, "missing stanza path"),
    ([{**INFO[0], "name": "other"}], NotFoundError, "does not list the stanza"),
    ("not json", DataError, "no JSON"),
])
def test_info_without_backups_is_an_error(info, error, fragment):
    with pytest.raises(error) as caught:
        pg_backups.parse_pgbackrest_info(info if isinstance(info, str) else json.dumps(info), STANZA)
    assert fragment in str(caught.value)


def test_newest_archived_time_comes_from_the_repository_listing():
    listing = {".": {"type": "path"}, "000000010000000000000030-abc.lz4": {"type": "file", "time": FULL_STOP + 1200},
               "000000010000000000000029-def.lz4": {"type": "file", "time": FULL_STOP + 1190}}
    assert pg_backups.newest_archived_time(json.dumps(listing), "000000010000000000000030") == at(1200)


def test_a_time_target_uses_the_newest_backup_that_ended_before_it():
    backups, archive = inventory()
    assert pg_backups.choose_backup(pg_targets.parse_target("time", at(300).isoformat()), backups, archive, at(2000)).kind == "full"
    assert pg_backups.choose_backup(pg_targets.parse_target("time", at(900).isoformat()), backups, archive, at(2000)).kind == "incr"


@pytest.mark.parametrize("seconds, fragment", [(3000, "is in the future"), (-60, "before the oldest usable backup"),
                                               (1201, "is not archived yet: the newest restorable moment is 2026-11-28T15:15:05+00:00")])
def test_a_time_target_outside_the_backups_and_archive_is_refused(seconds, fragment):
    backups, archive = inventory(archived_at=1200)
    with pytest.raises(InputError) as caught:
        pg_backups.choose_backup(pg_targets.parse_target("time", at(seconds).isoformat()), backups, archive, at(2000))
    assert fragment in caught.value.reason
    assert caught.value.option == "target"


def test_the_archive_time_is_compared_to_the_second():
    backups, archive = inventory(archived_at=1200)
    assert pg_backups.choose_backup(pg_targets.parse_target("time", at(1200.5).isoformat()), backups, archive, at(2000)).kind == "incr"


@pytest.mark.parametrize("lsn, outcome", [("0/2000100", "20261128-145455F"), ("0/20000100", "20261128-145455F_20261128-150500I"),
                                          ("0/30FFFFFF", "20261128-145455F_20261128-150500I"), ("0/1000000", "before the oldest"),
                                          ("0/31000000", "is not in the archived WAL")])
def test_an_lsn_target_is_checked_against_backup_ends_and_the_archive_end(lsn, outcome):
    backups, archive = inventory()
    target = pg_targets.parse_target("lsn", lsn)
    if outcome.startswith("2026"):
        assert pg_backups.choose_backup(target, backups, archive, at(2000)).label == outcome
    else:
        with pytest.raises(InputError, match=outcome):
            pg_backups.choose_backup(target, backups, archive, at(2000))


def test_name_xid_and_latest_use_the_newest_backup_unless_a_label_is_given():
    backups, archive = inventory()
    for target in (pg_targets.parse_target("name", "p"), pg_targets.parse_target("xid", "900"), pg_targets.parse_target("latest", None)):
        assert pg_backups.choose_backup(target, backups, archive, at(2000)).kind == "incr"
    assert pg_backups.choose_backup(pg_targets.parse_target("name", "p"), backups, archive, at(2000), label="20261128-145455F").kind == "full"


def test_a_backup_label_must_exist_and_end_before_the_target():
    backups, archive = inventory()
    with pytest.raises(InputError) as unknown:
        pg_backups.choose_backup(pg_targets.parse_target("latest", None), backups, archive, at(2000), label="nope")
    with pytest.raises(InputError) as too_late:
        pg_backups.choose_backup(pg_targets.parse_target("time", at(300).isoformat()), backups, archive, at(2000),
                                 label="20261128-145455F_20261128-150500I")
    assert unknown.value.option == too_late.value.option == "backup_label"
    assert too_late.value.accepted == ["20261128-145455F"]


def test_a_backup_whose_wal_is_not_archived_yet_is_refused():
    info = copy.deepcopy(INFO)
    info[0]["archive"][0]["max"] = "00000001000000000000001F"
    backups, archive = pg_backups.parse_pgbackrest_info(json.dumps(info), STANZA)
    with pytest.raises(InputError, match="is not archived yet"):
        pg_backups.choose_backup(pg_targets.parse_target("latest", None), backups, archive, at(2000))


# --- command lines and settings ---

SANDBOX = pg_sandbox.SandboxSpec(Path("/srv/pitr"), 55432)


@pytest.mark.parametrize("kind, value, inclusive, expected", [
    ("time", "2026-11-28 15:00:00", True, ["--type=time", "--target=2026-11-28 15:00:00.000000+00", "--target-action=pause"]),
    ("lsn", "0/3000060", False, ["--type=lsn", "--target=0/3000060", "--target-action=pause", "--target-exclusive"]),
    ("name", "before_migration", False, ["--type=name", "--target=before_migration", "--target-action=pause"]),
    ("xid", "1234", True, ["--type=xid", "--target=1234", "--target-action=pause"]),
    ("latest", None, True, ["--type=default"]),
])
def test_pgbackrest_restore_command_for_each_target(kind, value, inclusive, expected):
    backups, _archive = inventory()
    argv = pg_backups.pgbackrest_restore_argv("/etc/pgbackrest.conf", STANZA, SANDBOX, pg_targets.parse_target(kind, value, inclusive), backups[0], repo=2)
    assert argv[:8] == ["pgbackrest", "--config=/etc/pgbackrest.conf", f"--stanza={STANZA}", "--repo=2", "restore", "--pg1-path=/srv/pitr",
                        "--set=20261128-145455F", "--archive-mode=off"]
    assert argv[8] == "--tablespace-map-all=/srv/pitr/ofm_tablespaces"
    assert argv[9:] == expected


def test_native_recovery_settings_and_sandbox_settings():
    settings = pg_sandbox.recovery_settings(pg_targets.parse_target("xid", "77", inclusive=False), pg_sandbox.native_restore_command(Path("/wal")))
    assert settings == {"restore_command": "cp '/wal/%f' '%p'", "recovery_target_xid": "77", "recovery_target_action": "pause",
                        "recovery_target_inclusive": "off"}
    assert pg_sandbox.recovery_settings(pg_targets.parse_target("latest", None), None) == {"recovery_target_timeline": "latest"}
    sandbox = pg_sandbox.sandbox_settings(SANDBOX)
    assert (sandbox["port"], sandbox["archive_mode"], sandbox["archive_command"], sandbox["unix_socket_directories"]) == ("55432", "off", "", "/srv/pitr")
    assert pg_sandbox.conf_lines({"restore_command": "cp '/w/%f' '%p'"}) == "restore_command = 'cp ''/w/%f'' ''%p'''\n"


def test_the_source_is_read_from_the_pgbackrest_configuration(tmp_path):
    config = tmp_path / "pgbackrest.conf"
    config.write_text(f"[global]\nrepo1-path=/repo\n\n[{STANZA}]\npg1-path=/var/lib/postgresql/15/main\npg1-port=5433\n")
    assert pg_backups.pgbackrest_source(str(config), STANZA) == ("/var/lib/postgresql/15/main", 5433)
    assert pg_backups.pgbackrest_source(str(config), "other") == (None, None)


# --- the sandbox ---


def test_a_sandbox_overlapping_the_source_or_in_use_is_refused(tmp_path):
    sandbox = pg_sandbox.SandboxSpec(tmp_path / "sandbox", 0)
    with pytest.raises(InputError) as same:
        pg_sandbox.check_sandbox_free(pg_sandbox.SandboxSpec(tmp_path / "source", 1), source_dirs=[tmp_path / "source"], source_port=None)
    with pytest.raises(InputError) as inside:
        pg_sandbox.check_sandbox_free(pg_sandbox.SandboxSpec(tmp_path / "wal" / "sb", 1), source_dirs=[tmp_path / "wal"], source_port=None)
    with pytest.raises(InputError) as port:
        pg_sandbox.check_sandbox_free(pg_sandbox.SandboxSpec(tmp_path / "sb", 5432), source_dirs=[tmp_path / "source"], source_port=5432)
    assert (same.value.option, inside.value.option, port.value.option) == ("sandbox_data_dir", "sandbox_data_dir", "sandbox.port")
    sandbox.data_dir.mkdir()
    (sandbox.data_dir / "file").write_text("x")
    with pytest.raises(ConflictError, match="not empty"):
        pg_sandbox.check_sandbox_free(sandbox, source_dirs=[], source_port=None)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = pg_sandbox.SandboxSpec(tmp_path / "empty", listener.getsockname()[1])
        with pytest.raises(ConflictError, match="already in use"):
            pg_sandbox.check_sandbox_free(busy, source_dirs=[], source_port=None)


CLIENT_FATAL = "2026-11-28 15:02:36.320 GMT [22288] FATAL:  the database system is starting up\n"
STOPPED = "LOG:  recovery stopping before commit of transaction 1640, time 2026-11-28 15:02:29.01614+00\nLOG:  pausing at the end of recovery\n"


def test_the_log_tells_the_stop_line_and_real_failures_only():
    assert pg_recovery.recovery_log_outcome(CLIENT_FATAL + STOPPED) == (
        "recovery stopping before commit of transaction 1640, time 2026-11-28 15:02:29.01614+00", False, None)
    failed = CLIENT_FATAL + "FATAL:  recovery ended before configured recovery target was reached\nLOG:  startup process (PID 9) exited with exit code 1\n" \
        "LOG:  aborting startup due to startup process failure\n"
    assert pg_recovery.recovery_log_outcome(failed)[2] == "recovery ended before configured recovery target was reached"


class FakeSql:
    """Answers the state query from a script of rows; raises while the server does not accept connections."""

    def __init__(self, *rows: Any) -> None:
        self.rows = list(rows)
        self.queries: list[str] = []

    def one(self, query: str) -> Any:
        self.queries.append(query)
        if query == pg_recovery.PROMOTE_QUERY:
            return (True,)
        row = self.rows.pop(0) if len(self.rows) > 1 else self.rows[0]
        if isinstance(row, Exception):
            raise row
        return row


@pytest.fixture(name="running_sandbox")
def fixture_running_sandbox(tmp_path: Path) -> pg_sandbox.SandboxSpec:
    """A sandbox directory whose postmaster.pid names a live process (this one)."""
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n")
    return pg_sandbox.SandboxSpec(tmp_path, 55432)


def test_the_watcher_waits_until_paused_at_the_target_and_logged(running_sandbox):
    clock = FakeClock()
    replaying = (True, "not paused", "0/5000000", None)
    paused = (True, "paused", "0/6000028", datetime(2026, 11, 28, 15, 2, 28, tzinfo=timezone.utc))
    sql = FakeSql(OSError("starting up"), replaying, paused, paused)
    watcher = pg_recovery.RecoveryWatcher(running_sandbox, sql, clock=lambda: clock.now, sleep=clock.sleep)
    target = pg_targets.parse_target("time", "2026-11-28 15:02:29")

    running_sandbox.log.write_text(CLIENT_FATAL)
    first = watcher.poll(pg_recovery.RecoveryState())
    second = watcher.poll(first)
    assert first.in_recovery is None and second.pause_state == "not paused"
    running_sandbox.log.write_text(CLIENT_FATAL + STOPPED)
    state = watcher.wait(target, timeout=10)

    assert (state.pause_state, state.replay_lsn) == ("paused", "0/6000028")
    pg_recovery.confirm_target(target, state)


def test_the_log_is_followed_reading_only_what_was_appended(tmp_path):
    path = tmp_path / "server.log"
    log = pg_recovery.ServerLog(path)
    log.update()  # no log yet: nothing known
    assert (log.stop_line, log.consistent, log.failure) == (None, False, None)
    path.write_text(CLIENT_FATAL + "LOG:  consistent recovery state reached at 0/6000100\nLOG:  recovery stopping before co")
    log.update()
    assert log.consistent is True and log.stop_line is None  # the stop line is not complete yet
    with path.open("a") as stream:
        stream.write("mmit of transaction 1640, time 2026-11-28 15:02:29.01614+00\n")
    offset = log.offset
    log.update()
    assert log.offset > offset
    assert log.stop_line == "recovery stopping before commit of transaction 1640, time 2026-11-28 15:02:29.01614+00"
    assert log.failure is None  # a refused client connection is not a failure of the server
    with path.open("a") as stream:
        stream.write("LOG:  recovery stopping after commit of transaction 1700, time 2026-11-28 15:02:30+00\n"
                     "FATAL:  could not open file \"pg_wal/x\"\nLOG:  aborting startup due to startup process failure\n")
    log.update()
    assert log.stop_line.startswith("recovery stopping before")  # the first stop is the one that counts
    assert log.failure == 'could not open file "pg_wal/x"'
    assert list(log.tail)[-1] == "LOG:  aborting startup due to startup process failure"
    path.write_text("LOG:  consistent recovery state reached at 0/7000000\n")  # a new, shorter log is read from its start
    log.update()
    assert list(log.tail)[-1] == "LOG:  consistent recovery state reached at 0/7000000"


def test_the_watcher_polls_often_at_first_then_at_a_tenth_of_the_time_waited(running_sandbox):
    clock = FakeClock()
    replaying = (True, "not paused", "0/5000000", None)
    sql = FakeSql(replaying)
    watcher = pg_recovery.RecoveryWatcher(running_sandbox, sql, clock=lambda: clock.now, sleep=clock.sleep)
    with pytest.raises(DeadlineExceeded):
        watcher.wait(pg_targets.parse_target("latest", None), timeout=60)
    assert clock.sleeps[0] == pytest.approx(0.05)
    assert min(clock.sleeps) == pytest.approx(0.05) and max(clock.sleeps) == pytest.approx(1.0)
    elapsed = 0.0
    for pause in clock.sleeps:
        assert pause <= max(0.05, elapsed / 10) + 1e-9
        elapsed += pause
    assert 60 <= clock.now < 61.1
    assert len(sql.queries) < 120  # a minute of waiting costs about a hundred polls, not 1200 at 50 ms


def test_paused_without_the_stop_line_is_not_finished_and_runs_out(running_sandbox):
    clock = FakeClock()
    sql = FakeSql((True, "paused", "0/6000028", None))
    watcher = pg_recovery.RecoveryWatcher(running_sandbox, sql, clock=lambda: clock.now, sleep=clock.sleep)
    with pytest.raises(DeadlineExceeded) as caught:
        watcher.wait(pg_targets.parse_target("name", "p"), timeout=5)
    assert caught.value.timeout == 5
    assert caught.value.details["last_state"]["pause_state"] == "paused"


def test_a_dead_server_fails_the_wait_with_its_log(tmp_path):
    sandbox = pg_sandbox.SandboxSpec(tmp_path, 55432)
    sandbox.log.write_text("FATAL:  could not locate required checkpoint record\nLOG:  aborting startup due to startup process failure\n")
    watcher = pg_recovery.RecoveryWatcher(sandbox, FakeSql(OSError("refused")), sleep=lambda seconds: None)
    with pytest.raises(OfmRollbackError) as caught:
        watcher.wait(pg_targets.parse_target("latest", None), timeout=5)
    assert not isinstance(caught.value, pg_recovery.TargetNotReached)
    assert "could not locate required checkpoint record" in caught.value.reason
    assert caught.value.details["log_tail"][-1].endswith("startup process failure")


NOT_REACHED = ("2026-12-04 01:34:52.006 GMT [8291] LOG:  restored log file \"00000001000000000000000E\" from archive\n"
               "2026-12-04 01:34:52.142 GMT [8291] LOG:  redo done at 0/E001A30 system usage: CPU: user: 0.00 s, system: 0.02 s, elapsed: 1.01 s\n"
               "2026-12-04 01:34:52.142 GMT [8291] LOG:  last completed transaction was at log time 2026-12-04 01:33:52.062907+00\n"
               "2026-12-04 01:34:52.142 GMT [8291] FATAL:  recovery ended before configured recovery target was reached\n"
               "2026-12-04 01:34:52.144 GMT [8288] LOG:  startup process (PID 8291) exited with exit code 1\n")


def test_a_recovery_that_replays_the_whole_archive_says_where_it_ended_and_the_last_commit(tmp_path):
    sandbox = pg_sandbox.SandboxSpec(tmp_path, 55432)
    sandbox.log.write_text(NOT_REACHED)
    watcher = pg_recovery.RecoveryWatcher(sandbox, FakeSql(OSError("refused")), sleep=lambda seconds: None)
    with pytest.raises(pg_recovery.TargetNotReached) as caught:
        watcher.wait(pg_targets.parse_target("time", "2026-12-04 01:33:53"), timeout=5)
    assert caught.value.redo_done_lsn == "0/E001A30"
    assert caught.value.last_commit_time == datetime(2026, 12, 4, 1, 33, 52, 62907, tzinfo=timezone.utc)
    assert "up to 0/E001A30, whose last commit was at 2026-12-04T01:33:52.062907+00:00" in caught.value.reason


def test_a_watcher_started_again_reads_only_the_new_part_of_the_log(running_sandbox):
    running_sandbox.log.write_text(NOT_REACHED)
    paused = (True, "paused", "0/E001A30", datetime(2026, 12, 4, 1, 33, 52, tzinfo=timezone.utc))
    watcher = pg_recovery.RecoveryWatcher(running_sandbox, FakeSql(paused), sleep=lambda seconds: None, log_from_end=True)
    with running_sandbox.log.open("a") as log:
        log.write('LOG:  recovery stopping after WAL location (LSN) "0/E001A30"\nLOG:  pausing at the end of recovery\n')
    state = watcher.wait(pg_targets.parse_target("lsn", "0/E001A30"), timeout=5)
    assert state.stop_line == 'recovery stopping after WAL location (LSN) "0/E001A30"'


@pytest.mark.parametrize("target, line, last_commit, fragment", [
    (("name", "before"), "recovery stopping at restore point \"other\", time 2026-11-28 15:00:00+00", None, "another target"),
    (("xid", "1234"), "recovery stopping after commit of transaction 12345, time 2026-11-28 15:00:00+00", None, "another target"),
    (("time", "2026-11-28 15:00:00"), "recovery stopping before commit of transaction 9, time 2026-11-28 15:00:01+00",
     datetime(2026, 11, 28, 15, 0, 0, 500000, tzinfo=timezone.utc), "is after the target"),
])
def test_a_stop_that_does_not_match_the_target_is_an_error(target, line, last_commit, fragment):
    state = pg_recovery.RecoveryState(True, "paused", "0/1", last_commit, line, True)
    with pytest.raises(OfmRollbackError, match=fragment):
        pg_recovery.confirm_target(pg_targets.parse_target(*target), state)


# --- check mode end to end, with a fake pgbackrest ---

class FakeRunner:
    def __init__(self, repo_ls: dict[str, Any]) -> None:
        self.calls: list[list[str]] = []
        self.repo_ls = repo_ls

    def __call__(self, argv: Any, timeout: float, **_options: Any) -> Any:
        self.calls.append(list(argv))
        stdout = json.dumps(INFO) if "info" in argv else json.dumps(self.repo_ls)
        return type("Done", (), {"returncode": 0, "stdout": stdout, "stderr": ""})()


LOGIN = Connection("sandbox", "127.0.0.1", 55999, "postgres", "postgres")


def current_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def test_check_mode_returns_the_plan_and_runs_only_the_reads(tmp_path):
    config = tmp_path / "pgbackrest.conf"
    config.write_text(f"[{STANZA}]\npg1-path={tmp_path / 'source'}\npg1-port=5432\n")
    fake = FakeRunner({"000000010000000000000030-abc.lz4": {"type": "file", "time": FULL_STOP + 1200}})
    sandbox = pg_sandbox.SandboxSpec(tmp_path / "sandbox", 55999, os_user=current_user(), pg_bin_dir=Path("/opt/pg/bin"))
    restorer = pg_restore.PitrRestore(pg_backups.Source("pgbackrest", str(config), STANZA), sandbox, LOGIN,
                                      runner=pg_commands.restore_runner(current_user(), fake), connect=lambda: pytest.fail("no SQL in check mode"),
                                      now=lambda: at(2000))

    result = restorer.ensure(pg_targets.parse_target("time", at(700).isoformat()), check_mode=True)

    assert result["changed"] is True
    assert result["backup"]["label"] == result["plan"]["backup"] == "20261128-145455F_20261128-150500I"
    assert result["archive"]["newest_archived_at"] == at(1200).isoformat()
    assert [call[3] for call in fake.calls] == ["info", "repo-ls"]
    assert fake.calls[1][-1] == "archive/ofm-social-os/15-1/0000000100000000"
    assert result["plan"]["commands"][1] == ["/opt/pg/bin/pg_ctl", "start", "-D", str(sandbox.data_dir), "-l", str(sandbox.log), "-W"]
    assert result["plan"]["settings"]["archive_mode"] == "off"
    assert not sandbox.data_dir.exists()


def test_check_mode_refuses_the_source_port_from_the_configuration(tmp_path):
    config = tmp_path / "pgbackrest.conf"
    config.write_text(f"[{STANZA}]\npg1-path={tmp_path / 'source'}\npg1-port=55999\n")
    fake = FakeRunner({"000000010000000000000030-abc.lz4": {"type": "file", "time": FULL_STOP + 1200}})
    sandbox = pg_sandbox.SandboxSpec(tmp_path / "sandbox", 55999, os_user=current_user())
    restorer = pg_restore.PitrRestore(pg_backups.Source("pgbackrest", str(config), STANZA), sandbox, LOGIN,
                                      runner=pg_commands.restore_runner(current_user(), fake), connect=lambda: None, now=lambda: at(2000))
    with pytest.raises(InputError) as caught:
        restorer.ensure(pg_targets.parse_target("latest", None), check_mode=True)
    assert caught.value.option == "sandbox.port"


def test_absent_refuses_a_directory_without_the_marker_and_removes_one_with_it(tmp_path):
    sandbox = pg_sandbox.SandboxSpec(tmp_path / "sb", 55999, os_user=current_user())
    sandbox.data_dir.mkdir()
    restorer = pg_restore.PitrRestore(pg_backups.Source("pgbackrest", "/none", STANZA), sandbox, LOGIN,
                                      runner=pg_commands.restore_runner(current_user(), FakeRunner({})), connect=lambda: None)
    empty = restorer.remove(check_mode=False)  # an empty directory (a mount point a failed restore emptied): nothing to remove
    assert (empty["changed"], empty["msg"]) == (False, f"no sandbox at {sandbox.data_dir} (the directory is empty)") and sandbox.data_dir.exists()
    (sandbox.data_dir / "keep.txt").write_text("not a sandbox")
    with pytest.raises(ConflictError, match="holds no sandbox created by this module"):
        restorer.remove(check_mode=False)
    sandbox.marker.write_text(json.dumps({"created_by": "ofm.rollback.pg_pitr_restore", "target": {"type": "latest"}}))
    assert restorer.remove(check_mode=True)["changed"] is True and sandbox.data_dir.exists()
    assert restorer.remove(check_mode=False)["removed"]["was_running"] is False
    assert not sandbox.data_dir.exists()
    assert restorer.remove(check_mode=False)["changed"] is False


def test_native_backup_and_archive_are_read_from_their_directories(tmp_path):
    base, wal = tmp_path / "base", tmp_path / "wal"
    base.mkdir()
    wal.mkdir()
    (base / "backup_label").write_text("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTART TIME: 2026-11-28 15:00:00 UTC\n"
                                       "LABEL: pg_basebackup base backup\n")
    (base / "backup_manifest").write_text(json.dumps({"WAL-Ranges": [{"Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000138"}]}))
    (base / "PG_VERSION").write_text("15\n")
    for name in ("000000010000000000000002", "000000010000000000000003", "000000010000000000000002.00000028.backup"):
        (wal / name).write_text("")
    backup, archive = pg_backups.native_backup(base), pg_backups.native_archive(wal)
    assert (backup.start_lsn, backup.stop_lsn, backup.pg_version) == (0x2000028, 0x2000138, "15")
    assert backup.start_time == datetime(2026, 11, 28, 15, tzinfo=timezone.utc)
    assert (archive.newest_segment, pg_targets.format_lsn(archive.end_lsn)) == ("000000010000000000000003", "0/4000000")
    assert archive.newest_archived_at is not None and archive.newest_archived_at > datetime.now(timezone.utc) - timedelta(minutes=1)
    with pytest.raises(NotFoundError, match="backup_label"):
        pg_backups.native_backup(wal)


def test_a_refused_login_fails_at_once_instead_of_waiting_for_the_deadline(running_sandbox):
    clock = FakeClock()
    sql = FakeSql(OSError('connection failed: FATAL:  password authentication failed for user "ofm_admin"'))
    watcher = pg_recovery.RecoveryWatcher(running_sandbox, sql, clock=lambda: clock.now, sleep=clock.sleep)
    with pytest.raises(InputError) as caught:
        watcher.wait(pg_targets.parse_target("latest", None), timeout=600)
    assert caught.value.option == "sandbox.password"
    assert clock.now == 0


def test_a_target_within_the_second_a_backup_ended_is_not_restored_from_it():
    backups, archive = inventory()
    with pytest.raises(InputError, match="before the oldest usable backup"):
        pg_backups.choose_backup(pg_targets.parse_target("time", at(0.5).isoformat()), backups, archive, at(2000))
    assert pg_backups.choose_backup(pg_targets.parse_target("time", at(600.5).isoformat()), backups, archive, at(2000)).kind == "full"
    assert pg_backups.choose_backup(pg_targets.parse_target("time", at(601).isoformat()), backups, archive, at(2000)).kind == "incr"


def source_answering(insert_lsn: str, snapshot: str = "1015:1015:") -> coverage.SourceProbe:
    """A probe of a source that answers the state query with ``insert_lsn`` (a primary, its clock at 2000 s)."""
    def query(sql: str, params: Any) -> list[tuple[Any, ...]]:
        assert sql == coverage.STATE_QUERY, "only the state is asked before a restore"
        return [(False, insert_lsn, snapshot, at(2000))]
    return coverage.SourceProbe(query, "source")


@pytest.mark.parametrize("probe, outcome", [
    (None, "give the module a read-only login to it (option source)"),
    (source_answering("0/31000060"), "The source has written 96 bytes of WAL since the archive's end"),
    (source_answering("0/31000028"), "idle_tail"),
])
def test_a_time_after_the_newest_archived_segment_needs_a_quiet_source(tmp_path, probe, outcome):
    config = tmp_path / "pgbackrest.conf"
    config.write_text(f"[{STANZA}]\npg1-path={tmp_path / 'source'}\npg1-port=5432\n")
    fake = FakeRunner({"000000010000000000000030-abc.lz4": {"type": "file", "time": FULL_STOP + 1200}})
    sandbox = pg_sandbox.SandboxSpec(tmp_path / "sandbox", 55999, os_user=current_user())
    restorer = pg_restore.PitrRestore(pg_backups.Source("pgbackrest", str(config), STANZA), sandbox, LOGIN,
                                      runner=pg_commands.restore_runner(current_user(), fake), connect=lambda: pytest.fail("no SQL in check mode"),
                                      now=lambda: at(2000), source_probe=probe)
    target = pg_targets.parse_target("time", at(1300).isoformat())
    if outcome == "idle_tail":
        result = restorer.ensure(target, check_mode=True)
        assert "the source has written no WAL since the archive's end" in result["plan"]["idle_tail"]
        assert result["changed"] is True and not sandbox.data_dir.exists()
        return
    with pytest.raises(InputError) as caught:
        restorer.ensure(target, check_mode=True)
    assert "is not archived yet: the newest restorable moment is 2026-11-28T15:15:05+00:00" in caught.value.reason
    assert outcome in caught.value.reason
    assert "SELECT pg_switch_wal()" in caught.value.hint
    assert not sandbox.data_dir.exists()


def test_the_archive_end_replaces_only_the_recovery_target_lines(tmp_path):
    sandbox = pg_sandbox.SandboxSpec(tmp_path, 55432, os_user=current_user())
    (tmp_path / "postgresql.auto.conf").write_text(
        "# Recovery settings generated by pgBackRest restore\nrestore_command = 'pgbackrest --stanza=s archive-get %f \"%p\"'\n"
        "recovery_target_time = '2026-12-04 01:33:53+00'\nrecovery_target_action = 'pause'\nrecovery_target_timeline = 'current'\n"
        "port = '55432'\n")
    restorer = pg_restore.PitrRestore(pg_backups.Source("pgbackrest", "/none", STANZA), sandbox, LOGIN,
                                      runner=pg_commands.restore_runner(current_user(), FakeRunner({})), connect=lambda: None)
    restorer._set_recovery_target(pg_sandbox.recovery_settings(pg_targets.parse_target("lsn", "0/E001A30"), None))  # pylint: disable=protected-access
    lines = [line for line in (tmp_path / "postgresql.auto.conf").read_text().splitlines() if not line.startswith("#")]
    assert lines == ["restore_command = 'pgbackrest --stanza=s archive-get %f \"%p\"'", "recovery_target_timeline = 'current'",
                     "port = '55432'", "recovery_target_lsn = '0/E001A30'", "recovery_target_action = 'pause'",
                     "recovery_target_inclusive = 'on'"]


@pytest.mark.parametrize("target, fragment", [
    (("time", "2026-12-04 01:33:53"), "only the source can tell which"),
    (("xid", "99999"), "xid 99999 is not in the archived WAL"),
])
def test_a_target_past_the_archive_without_a_source_fails_and_says_what_to_do(tmp_path, target, fragment):
    sandbox = pg_sandbox.SandboxSpec(tmp_path, 55432)
    sandbox.log.write_text(NOT_REACHED)
    restorer = pg_restore.PitrRestore(pg_backups.Source("pgbackrest", "/none", STANZA), sandbox, LOGIN,
                                      runner=pg_commands.restore_runner(current_user(), FakeRunner({})), connect=lambda: None)
    watcher = pg_recovery.RecoveryWatcher(sandbox, FakeSql(OSError("refused")), sleep=lambda seconds: None)
    with pytest.raises(pg_recovery.TargetNotReached) as not_reached:
        watcher.wait(pg_targets.parse_target(*target), timeout=5)
    with pytest.raises(OfmRollbackError) as caught:
        restorer._idle_tail(pg_targets.parse_target(*target), not_reached.value, 10)  # pylint: disable=protected-access
    assert fragment in caught.value.reason
    if target[0] == "time":
        assert "after the last archived commit (2026-12-04T01:33:52.062907+00:00)" in caught.value.reason
        assert "option source" in caught.value.hint and "'latest'" in caught.value.hint


@pytest.mark.parametrize("password, host", [("pw", "127.0.0.1"), (None, "socket")])
def test_the_sandbox_is_reached_through_the_one_client_over_tcp_with_a_password_else_its_socket(tmp_path, monkeypatch, password, host):
    made = []
    monkeypatch.setattr(pg_connection, "psycopg", type("FakePsycopg", (), {"connect": staticmethod(lambda **kwargs: made.append(kwargs))}))
    sandbox = pg_sandbox.SandboxSpec(tmp_path / "sandbox", 55999, socket_dir=tmp_path / "socket", os_user=current_user())
    login = Connection("sandbox", "127.0.0.1", 55999, "ofm", "ofm_admin", password)
    restorer = pg_restore.PitrRestore(pg_backups.Source("native"), sandbox, login, runner=pg_commands.restore_runner(current_user(), FakeRunner({})))
    restorer.sql.connect()
    expected_host = str(tmp_path / "socket") if host == "socket" else host
    assert (made[0]["host"], made[0]["port"], made[0]["dbname"], made[0]["user"], made[0]["password"]) == (expected_host, 55999, "ofm", "ofm_admin", password)
    assert made[0]["autocommit"] is True and made[0]["options"] is None
    assert restorer.connection()["user"] == "ofm_admin" and "password" not in restorer.connection()


# --- a restore killed while its command filled the directory (before the marker) ---

def claimed_sandbox(tmp_path: Path, target: pg_targets.Target) -> tuple[pg_sandbox.SandboxSpec, pg_restore.PitrRestore]:
    """A sandbox as a run killed during ``pgbackrest restore`` leaves it: some files, no marker, the claim beside it."""
    config = tmp_path / "pgbackrest.conf"
    config.write_text(f"[{STANZA}]\npg1-path={tmp_path / 'source'}\npg1-port=5432\n")
    fake = FakeRunner({"000000010000000000000030-abc.lz4": {"type": "file", "time": FULL_STOP + 1200}})
    sandbox = pg_sandbox.SandboxSpec(tmp_path / "sandboxes" / "rollback-1", 55999, os_user=current_user())
    source = pg_backups.Source("pgbackrest", str(config), STANZA)
    restorer = pg_restore.PitrRestore(source, sandbox, LOGIN, runner=pg_commands.restore_runner(current_user(), fake),
                                      connect=lambda: pytest.fail("no SQL"), now=lambda: at(2000))
    restorer._write_claim(target)  # pylint: disable=protected-access
    (sandbox.data_dir / "base").mkdir(parents=True)
    (sandbox.data_dir / "PG_VERSION").write_text("15\n")
    return sandbox, restorer


def test_a_restore_killed_before_its_marker_is_recognised_by_its_claim_and_redone(tmp_path):
    target = pg_targets.parse_target("time", at(700).isoformat())
    sandbox, restorer = claimed_sandbox(tmp_path, target)
    assert pg_sandbox.read_claim(sandbox)["status"] == "restoring" and oct(sandbox.claim.stat().st_mode & 0o777) == "0o600"

    planned = restorer.ensure(target, check_mode=True)
    assert planned["changed"] is True and planned["msg"].startswith("would restore backup")
    assert (sandbox.data_dir / "PG_VERSION").exists(), "check mode discards nothing"

    restorer._discard()  # pylint: disable=protected-access  # what ensure() does first outside check mode
    assert not sandbox.data_dir.exists() and not sandbox.claim.exists()


def test_an_interrupted_restore_of_another_target_is_refused_and_left_alone(tmp_path):
    sandbox, restorer = claimed_sandbox(tmp_path, pg_targets.parse_target("latest", None))
    with pytest.raises(ConflictError, match="into this sandbox was interrupted"):
        restorer.ensure(pg_targets.parse_target("time", at(700).isoformat()), check_mode=False)
    assert (sandbox.data_dir / "PG_VERSION").exists() and sandbox.claim.exists()


def test_absent_removes_an_interrupted_restore_and_its_claim(tmp_path):
    sandbox, restorer = claimed_sandbox(tmp_path, pg_targets.parse_target("latest", None))
    removed = restorer.remove(check_mode=False)
    assert removed["changed"] is True and not sandbox.data_dir.exists() and not sandbox.claim.exists()


def test_a_foreign_claim_does_not_make_a_directory_ours(tmp_path):
    sandbox, restorer = claimed_sandbox(tmp_path, pg_targets.parse_target("latest", None))
    sandbox.claim.write_text(json.dumps({"created_by": "someone else", "data_dir": str(sandbox.data_dir)}))
    with pytest.raises(ConflictError, match="holds no sandbox created by this module"):
        restorer.remove(check_mode=False)
    with pytest.raises(ConflictError, match="already exists and is not empty"):
        restorer.ensure(pg_targets.parse_target("latest", None), check_mode=True)


def test_a_restore_whose_owner_still_runs_is_not_touched(tmp_path):
    """Only the run's ansible-playbook was killed: the task's worker (it called setsid) goes on restoring; a re-run waits."""
    target = pg_targets.parse_target("latest", None)
    sandbox, restorer = claimed_sandbox(tmp_path, target)
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        claim = json.loads(sandbox.claim.read_text())
        claim["owner"] = {"pid": helper.pid, "start": pg_sandbox._process_start(helper.pid)}  # pylint: disable=protected-access
        sandbox.claim.write_text(json.dumps(claim))
        with pytest.raises(ConflictError, match=f"still running in process {helper.pid}"):
            restorer.ensure(target, check_mode=False)
        assert (sandbox.data_dir / "PG_VERSION").exists()
        claim["owner"]["start"] += 1  # the pid, reused by another process since
        sandbox.claim.write_text(json.dumps(claim))
        assert pg_sandbox.owner_alive(claim["owner"]) is None
    finally:
        helper.kill()
        helper.wait()
    assert pg_sandbox.owner_alive({"pid": helper.pid, "start": claim["owner"]["start"] - 1}) is None
