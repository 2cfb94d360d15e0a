# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_pitr when the ground gives way: a sandbox server killed or shut down during recovery, processes it leaves behind, a
sandbox that is a mount point, a full filesystem, an unreadable pgBackRest repository."""
from __future__ import annotations

import copy
import errno
import json
import os
import pwd
import subprocess
import sys
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
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError,
    CommandFailed,
    InputError,
    NotFoundError,
    OfmRollbackError,
)

STANZA = "ofm-social-os"
FULL_STOP = 1795877705
BACKUP = {"label": "20261128-145455F", "type": "full", "error": False, "database": {"id": 1}, "info": {"size": 31200936, "delta": 31200936},
          "lsn": {"start": "0/2000028", "stop": "0/2000100"}, "timestamp": {"start": FULL_STOP - 10, "stop": FULL_STOP}}
INFO = [{"name": STANZA, "status": {"code": 0, "message": "ok"}, "db": [{"id": 1, "version": "15"}],
         "archive": [{"id": "15-1", "min": "000000010000000000000001", "max": "000000010000000000000030"}], "backup": [BACKUP]}]
DENIED = [{"name": STANZA, "archive": [], "backup": [], "db": [], "status": {"code": 99, "message": "other"},
           "repo": [{"key": 1, "cipher": "none", "status": {
               "code": 99, "message": "[PathOpenError] unable to list file info for path '/srv/repo/backup': [13] Permission denied"}}]}]
LOGIN = Connection("sandbox", "127.0.0.1", 55999, "postgres", "postgres")


def current_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


class FakePgbackrest:
    """``pgbackrest info`` answering ``info``, ``repo-ls`` a listing whose newest segment was archived just now."""

    def __init__(self, info: Any) -> None:
        self.info = info
        self.calls: list[list[str]] = []

    def __call__(self, argv: Any, timeout: float, **_options: Any) -> Any:
        self.calls.append(list(argv))
        listing = {"000000010000000000000030-abc.lz4": {"type": "file", "time": FULL_STOP + 1200}}
        stdout = json.dumps(self.info) if "info" in argv else json.dumps(listing)
        return subprocess.CompletedProcess(list(argv), 0, stdout, "")


def restorer(tmp_path: Path, info: Any = None, *, repo_path: str = "/srv/repo") -> tuple[pg_restore.PitrRestore, FakePgbackrest]:
    config = tmp_path / "pgbackrest.conf"
    config.write_text(f"[global]\nrepo1-path={repo_path}\n[{STANZA}]\npg1-path={tmp_path / 'source'}\npg1-port=5432\n")
    fake = FakePgbackrest(INFO if info is None else info)
    sandbox = pg_sandbox.SandboxSpec(tmp_path / "sandboxes" / "pitr", 55999, os_user=current_user())
    clock = FakeClock()
    return pg_restore.PitrRestore(pg_backups.Source("pgbackrest", str(config), STANZA), sandbox, LOGIN,
                                  runner=pg_commands.restore_runner(current_user(), fake), connect=lambda: pytest.fail("no SQL"),
                                  now=lambda: pg_backups._epoch(FULL_STOP + 2000),  # pylint: disable=protected-access
                                  clock=lambda: clock.now, sleep=clock.sleep), fake


# --- an unreadable repository ---

def test_info_of_an_unreadable_repository_says_permission_and_keeps_pgbackrests_words():
    with pytest.raises(AuthorizationError) as caught:
        pg_backups.parse_pgbackrest_info(json.dumps(DENIED), STANZA)
    assert "pgBackRest may not read the repository: repo1: [PathOpenError]" in caught.value.reason
    assert caught.value.details["problems"] == ["repo1: [PathOpenError] unable to list file info for path '/srv/repo/backup': [13] Permission denied"]


def test_info_of_another_repository_problem_names_the_repositorys_own_status():
    broken = copy.deepcopy(DENIED)
    broken[0]["repo"][0]["status"] = {"code": 99, "message": "[FormatError] invalid info file\nHINT: is the repository valid?"}
    with pytest.raises(NotFoundError) as caught:
        pg_backups.parse_pgbackrest_info(json.dumps(broken), STANZA)
    assert "(status 99: other; repo1: [FormatError] invalid info file / HINT: is the repository valid?)" in caught.value.reason


def test_an_unreadable_repository_is_refused_naming_its_path_and_the_os_user_before_anything_is_created(tmp_path):
    restore, fake = restorer(tmp_path, DENIED, repo_path="/srv/repo")
    with pytest.raises(AuthorizationError) as caught:
        restore.ensure(pg_targets.parse_target("latest", None), check_mode=False)
    assert caught.value.reason.startswith(f"the OS user '{current_user()}' (pgBackRest runs as it) may not read the repository /srv/repo: "
                                          "permission denied (repo1: [PathOpenError]")
    assert caught.value.target == "/srv/repo" and caught.value.hint.startswith("Nothing was created.")
    assert [call[3] for call in fake.calls] == ["info"]
    assert not restore.sandbox.data_dir.exists() and not restore.sandbox.claim.exists()


def test_the_repository_path_comes_from_the_configuration_for_the_repository_number(tmp_path):
    config = tmp_path / "pgbackrest.conf"
    config.write_text(f"[global]\nrepo1-path=/one\nrepo2-path=/two\n[{STANZA}]\npg1-path=/data\n")
    assert pg_backups.pgbackrest_repo_path(str(config), STANZA) == "/one"
    assert pg_backups.pgbackrest_repo_path(str(config), STANZA, 2) == "/two"
    assert pg_backups.pgbackrest_repo_path(str(tmp_path / "none.conf"), STANZA) == "/var/lib/pgbackrest"


# --- room for the restore ---

def test_backup_sizes_come_from_info_and_from_the_base_backups_files(tmp_path):
    backups, _archive = pg_backups.parse_pgbackrest_info(json.dumps(INFO), STANZA)
    assert backups[0].size == 31200936 and backups[0].as_dict()["size"] == 31200936
    base = tmp_path / "base"
    (base / "global").mkdir(parents=True)
    (base / "backup_label").write_text("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nLABEL: nightly\n")
    (base / "global" / "pg_control").write_bytes(b"x" * 8192)
    assert pg_backups.native_backup(base).size == 8192 + len((base / "backup_label").read_bytes())


def test_a_filesystem_with_less_room_than_the_backup_is_refused_before_anything_is_created(tmp_path, monkeypatch):
    restore, fake = restorer(tmp_path)
    monkeypatch.setattr(pg_restore, "space", lambda path: (4 * 1024 * 1024, 4 * 1024 * 1024))
    with pytest.raises(InputError) as caught:
        restore.ensure(pg_targets.parse_target("latest", None), check_mode=False)
    assert caught.value.option == "sandbox_data_dir"
    assert caught.value.reason == (f"no space for the restore: the filesystem of {restore.sandbox.data_dir} has 4.2 MB free (of 4.2 MB), and "
                                   "backup 20261128-145455F restores 31.2 MB before the WAL it replays")
    assert [call[3] for call in fake.calls] == ["info", "repo-ls"]
    assert not restore.sandbox.data_dir.exists() and not restore.sandbox.claim.exists()


def test_space_is_read_from_the_nearest_existing_parent(tmp_path):
    free, total = pg_sandbox.space(tmp_path / "not" / "yet")
    stat = os.statvfs(tmp_path)
    assert total == stat.f_blocks * stat.f_frsize and 0 <= free <= total


@pytest.mark.parametrize("size, text", [(0, "0 bytes"), (999, "999 bytes"), (31200936, "31.2 MB"), (4.5e12, "4.5 TB"), (None, "an unknown size")])
def test_sizes_read_as_people_read_them(size, text):
    assert pg_sandbox.size_text(size) == text


@pytest.mark.parametrize("error, free", [
    (OSError(errno.ENOSPC, "No space left on device", "/srv/pitr/postgresql.auto.conf"), 10 ** 9),
    (OfmRollbackError("the sandbox server stopped during recovery", details={"log_tail": ["[FileWriteError] ... No space left on device"]}), 10 ** 9),
    (CommandFailed("pgbackrest exited 64: unable to write '/srv/pitr/base/5/2838'", rc=64, stderr="unable to write"), 8192),
])
def test_a_failure_on_a_full_filesystem_is_named_no_space(tmp_path, monkeypatch, error, free):
    restore, _fake = restorer(tmp_path)
    monkeypatch.setattr(pg_restore, "space", lambda path: (free, 37494784))
    explained = restore._explained(error)  # pylint: disable=protected-access
    assert isinstance(explained, OfmRollbackError) and explained is not error
    assert explained.reason.startswith(f"no space left on device: the filesystem of {restore.sandbox.data_dir} is full (")
    assert explained.target == str(restore.sandbox.data_dir) and explained.details["free_bytes"] == free


def test_other_failures_stay_as_they_are_and_an_oserror_becomes_an_error(tmp_path, monkeypatch):
    restore, _fake = restorer(tmp_path)
    monkeypatch.setattr(pg_restore, "space", lambda path: (10 ** 9, 10 ** 10))
    stopped = OfmRollbackError("the sandbox server stopped during recovery")
    assert restore._explained(stopped) is stopped  # pylint: disable=protected-access
    denied = restore._explained(PermissionError(errno.EACCES, "Permission denied", "/srv/pitr/ofm_pitr_restore.json"))  # pylint: disable=protected-access
    assert isinstance(denied, OfmRollbackError)
    assert denied.reason == "could not write the sandbox: Permission denied (/srv/pitr/ofm_pitr_restore.json)"


# --- what the discard after a failure leaves ---

def test_a_discard_that_fails_is_added_to_the_failure_instead_of_hiding_it(tmp_path, monkeypatch):
    restore, _fake = restorer(tmp_path)
    restore.sandbox.data_dir.mkdir(parents=True)

    def busy(path: Path) -> str:
        raise OSError(errno.EBUSY, "Device or resource busy", str(path))

    monkeypatch.setattr(pg_restore, "remove_tree", busy)
    failure = OfmRollbackError("the sandbox server stopped during recovery")
    restore._discard_after(failure)  # pylint: disable=protected-access
    assert failure.reason.startswith("the sandbox server stopped during recovery; the sandbox directory was left behind (")
    assert "Device or resource busy" in failure.reason and failure.reason.endswith("remove it with state=absent")
    removed = OfmRollbackError("x")
    monkeypatch.setattr(pg_restore, "remove_tree", lambda path: "removed")
    restore._discard_after(removed)  # pylint: disable=protected-access
    assert (removed.reason, removed.details["sandbox"]) == ("x", "removed")


def test_a_sandbox_that_is_a_mount_point_is_emptied_not_removed(tmp_path, monkeypatch):
    data_dir = tmp_path / "mounted"
    (data_dir / "base" / "5").mkdir(parents=True)
    (data_dir / "PG_VERSION").write_text("15\n")
    (data_dir / "link").symlink_to(tmp_path)
    monkeypatch.setattr(pg_sandbox.os.path, "ismount", lambda path: Path(path) == data_dir)
    assert pg_sandbox.remove_tree(data_dir) == "emptied"
    assert data_dir.is_dir() and list(data_dir.iterdir()) == [] and tmp_path.is_dir()
    (data_dir / "sub").mkdir()
    assert pg_sandbox.remove_tree(data_dir / "sub") == "removed" and not (data_dir / "sub").exists()


def fake_proc(tmp_path: Path, processes: dict[int, tuple[Path, bytes]]) -> Path:
    proc = tmp_path / "proc"
    for pid, (cwd, cmdline) in processes.items():
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cwd").symlink_to(cwd)
        (proc / str(pid) / "cmdline").write_bytes(cmdline)
    (proc / "self").mkdir()
    return proc


def test_leftover_processes_are_the_postgres_ones_working_in_the_sandbox(tmp_path):
    data_dir = tmp_path / "sandbox"
    (data_dir / "base").mkdir(parents=True)
    proc = fake_proc(tmp_path, {
        101: (data_dir, b"postgres: ofm-pitr-sandbox: startup recovering 000000010000000000000003\0"),
        102: (data_dir / "base", b"/usr/lib/postgresql/15/bin/postgres\0-D\0" + str(data_dir).encode() + b"\0"),
        103: (data_dir, b"-bash\0"),  # an operator's shell in the directory is not ours to kill
        104: (tmp_path, b"postgres: ofm: checkpointer\0"),  # another cluster
    })
    assert sorted(pg_sandbox.leftover_processes(data_dir, proc)) == [101, 102]


def test_leftovers_are_killed_and_waited_for(tmp_path):
    data_dir = tmp_path / "sandbox"
    data_dir.mkdir()
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = fake_proc(tmp_path, {helper.pid: (data_dir, b"postgres: ofm-pitr-sandbox: startup\0")})
        seen = []

        def sleep(_seconds: float) -> None:
            helper.wait(timeout=10)  # reaped: gone from the (fake) process table
            seen.append(helper.returncode)
            (proc / str(helper.pid) / "cwd").unlink()

        assert pg_sandbox.end_leftovers(data_dir, proc=proc, sleep=sleep) == []
        assert seen == [-9]
    finally:
        if helper.poll() is None:
            helper.kill()
            helper.wait()


# --- the server stopping during recovery ---

def test_a_killed_postmaster_is_seen_at_once_and_named(tmp_path):
    """SIGKILL leaves postmaster.pid naming a dead pid and nothing in the log: no start grace, the pid named."""
    helper = subprocess.Popen([sys.executable, "-c", ""])
    helper.wait()
    (tmp_path / "postmaster.pid").write_text(f"{helper.pid}\n{tmp_path}\n")
    sandbox = pg_sandbox.SandboxSpec(tmp_path, 55432)
    sandbox.log.write_text('LOG:  restored log file "000000010000000000000002" from archive\nLOG:  redo starts at 0/2000028\n')
    clock = FakeClock()
    watcher = pg_recovery.RecoveryWatcher(sandbox, pg_recovery.Sql(lambda: pytest.fail("no SQL to a dead server")), clock=lambda: clock.now,
                                          sleep=clock.sleep)
    with pytest.raises(OfmRollbackError) as caught:
        watcher.wait(pg_targets.parse_target("name", "p"), timeout=600)
    assert clock.now < 1, "no wait for a server that already ran"
    assert caught.value.reason == (f"the sandbox server stopped during recovery, before it reached the target: its postmaster (pid {helper.pid}) "
                                   "is gone and wrote nothing about it in the server log: it was killed (SIGKILL) or crashed")
    assert caught.value.details["postmaster_pid"] == helper.pid and caught.value.target == str(tmp_path)


def test_a_server_shut_down_from_outside_says_so(tmp_path):
    sandbox = pg_sandbox.SandboxSpec(tmp_path, 55432)
    sandbox.log.write_text("LOG:  redo starts at 0/2000028\nLOG:  received immediate shutdown request\n"
                           "FATAL:  terminating connection due to unexpected postmaster exit\nLOG:  database system is shut down\n")
    clock = FakeClock()
    watcher = pg_recovery.RecoveryWatcher(sandbox, pg_recovery.Sql(lambda: None), clock=lambda: clock.now, sleep=clock.sleep)
    with pytest.raises(OfmRollbackError, match=r"before it reached the target: it was shut down from outside \(received immediate shutdown request\)\. Read"):
        watcher.wait(pg_targets.parse_target("latest", None), timeout=600)
    assert clock.now < 1, "a server whose log says it was shut down is not waited for"


def test_a_server_not_started_yet_is_waited_for(tmp_path):
    """Before the postmaster writes postmaster.pid (pg_ctl start -W returns first), the watcher waits instead of failing."""
    sandbox = pg_sandbox.SandboxSpec(tmp_path, 55432)
    clock = FakeClock()
    watcher = pg_recovery.RecoveryWatcher(sandbox, pg_recovery.Sql(lambda: None), clock=lambda: clock.now, sleep=clock.sleep)
    assert watcher.poll(pg_recovery.RecoveryState()) == pg_recovery.RecoveryState()
    with pytest.raises(OfmRollbackError, match="no postmaster is running"):
        watcher.wait(pg_targets.parse_target("latest", None), timeout=600)
    assert clock.now >= pg_recovery.START_GRACE
