"""The database procedure's restore (pg_pitr_restore, run by ansible as root against the lab's PostgreSQL + pgBackRest) when
its own ground gives way, injected for real: the sandbox's server killed while it replays WAL, the sandbox's filesystem
full, the pgBackRest repository unreadable. Each must fail clearly, leave nothing half-done, and leave the source alone.

Every sandbox, tmpfs, repository copy and pgBackRest configuration is the test's own (under a directory of the lab state
that the OS user postgres can reach); the lab's cluster is only read, and its repository only copied.
"""
from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
from labtest import credentials, run_play, switch_and_wait_archived, wait_until

from lab.components.postgres import DATABASE, STANZA, Postgres
from lab.config import HOST, LabConfig

pytestmark = pytest.mark.lab
MARKER_FILE = "ofm_pitr_restore.json"
LOG_FILE = "ofm_pitr_restore.log"
MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def claim(sandbox: Path) -> Path:
    return sandbox.parent / f".{sandbox.name}.{MARKER_FILE}"


def pid_in(data_dir: Path) -> int | None:
    """The live pid postmaster.pid names, else None."""
    with contextlib.suppress(OSError, ValueError):
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
        return pid
    return None


def processes_in(directory: Path) -> list[int]:
    """The processes whose working directory is ``directory`` or below it (deleted or not): a server's leftovers."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and os.readlink(entry / "cwd").startswith(str(directory)):
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module", name="workdir")
def fixture_workdir(lab: LabConfig) -> Iterator[Path]:
    """A directory of the test's own that the OS user postgres can reach (pytest's temporary directories are private to root)."""
    base = lab.path("db-fault-tests", uuid.uuid4().hex[:8])
    base.mkdir(parents=True)
    for path in (base.parent, base):
        path.chmod(0o755)
    yield base
    for pid in processes_in(base):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module", name="admin")
def fixture_admin(lab: LabConfig) -> dict[str, Any]:
    return {"host": HOST, "port": lab.ports["postgres"], "user": "ofm_admin", "password": credentials(lab)["db_admin_password"], "dbname": DATABASE}


@pytest.fixture(scope="module", name="point")
def fixture_point(admin: dict[str, Any]) -> str:
    """A restore point on the lab's cluster (WAL only, no row), archived: every restore here goes to it. A few WAL segments
    before it (a restore point each, switched), so that a recovery to it fetches several: the server replays for a while."""
    name = f"db-fault-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**admin, autocommit=True) as connection:
        for number in range(3):
            connection.execute("SELECT pg_create_restore_point(%s)", (f"{name}-before-{number}",))
            connection.execute("SELECT pg_switch_wal()")
        connection.execute("SELECT pg_create_restore_point(%s)", (name,))
        switch_and_wait_archived(connection)
    return name


def restore_args(lab: LabConfig, admin: dict[str, Any], sandbox: Path, point: str, **options: Any) -> dict[str, Any]:
    return {"pgbackrest_config": str(Postgres.pgbackrest_conf(lab)), "pgbackrest_stanza": STANZA, "sandbox_data_dir": str(sandbox),
            "sandbox": {"port": free_port(), "user": admin["user"], "password": admin["password"], "database": DATABASE},
            "target_type": "name", "target": point, "timeout": 120, **options}


def restore(workdir: Path, args: dict[str, Any], *, check: bool = False) -> dict[str, Any]:
    """One pg_pitr_restore run in a play of its own (``workdir`` must exist); its registered result."""
    workdir.mkdir(parents=True, exist_ok=True)
    task = {"name": "restore", "ofm.rollback.pg_pitr_restore": args, "register": "restored", "ignore_errors": True, "check_mode": check}
    return run_play([task], workdir).result["restored"]


def remove(workdir: Path, sandbox: Path) -> dict[str, Any]:
    return restore(workdir, {"state": "absent", "sandbox_data_dir": str(sandbox)})


def source_state(lab: LabConfig, admin: dict[str, Any]) -> dict[str, Any]:
    """What a restore must never change on the source: its postmaster, its role (primary), its timeline and identity."""
    with psycopg.connect(**admin, autocommit=True) as connection:
        in_recovery, timeline, system = connection.execute(
            "SELECT pg_is_in_recovery(), (SELECT timeline_id FROM pg_control_checkpoint()), (SELECT system_identifier FROM pg_control_system())"
        ).fetchone()
    return {"postmaster": pid_in(Postgres.data_dir(lab)), "in_recovery": in_recovery, "timeline": timeline, "system": system}


def promoted_sandbox(result: dict[str, Any], admin: dict[str, Any]) -> tuple[bool, str]:
    sandbox = result["sandbox"]
    with psycopg.connect(host=sandbox["host"], port=sandbox["port"], user=admin["user"], password=admin["password"], dbname=DATABASE,
                         autocommit=True, connect_timeout=5) as connection:
        return connection.execute("SELECT pg_is_in_recovery(), current_setting('archive_mode')").fetchone()


# --- 1. the sandbox's PostgreSQL killed while it replays WAL -----------------------------------------------------------------

def replaying_postmaster(sandbox: Path) -> int | None:
    """The sandbox's postmaster once it replays archived WAL (its log says it restored a segment), before it is promoted (the
    marker is not yet ``ready``)."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        if json.loads((sandbox / MARKER_FILE).read_text())["status"] == "restored" and "restored log file" in (sandbox / LOG_FILE).read_text():
            return pid_in(sandbox)
    return None


@pytest.mark.reliability("fault", procedure="database (pg_pitr_restore)",
                         case="the sandbox's PostgreSQL killed (SIGKILL) while it replays WAL, before promotion",
                         expected="failed clearly, nothing half-done, source untouched; the re-run restores")
def test_the_sandbox_server_killed_during_replay_fails_clearly_and_a_rerun_restores(lab, admin, point, workdir, tmp_path, reliability):
    sandbox = workdir / "killed"
    args = restore_args(lab, admin, sandbox, point)
    before = source_state(lab, admin)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(restore, tmp_path / "first", args)
            postmaster = wait_until(lambda: replaying_postmaster(sandbox) or (running.done() and -1), 90, interval=0.005,
                                    what="the sandbox's postmaster started on the restored files")
            assert postmaster != -1, f"the restore ended before its server could be killed: {running.result()}"
            os.kill(postmaster, signal.SIGKILL)
            first = running.result(timeout=120)

        print("\nMSG:", first["msg"], json.dumps(first.get("error"), indent=1)[:4000])
        assert first.get("failed"), "the restore must fail when its server is killed"
        assert str(sandbox) in first["msg"], first["msg"]
        assert "the sandbox server stopped during recovery, before it reached the target" in first["msg"]
        assert f"its postmaster (pid {postmaster}) is gone and wrote nothing about it in the server log: it was killed (SIGKILL)" in first["msg"]
        assert "Traceback" not in json.dumps(first)
        assert first["error"]["details"]["sandbox"] == "removed"
        log_tail = first["error"]["details"]["log_tail"]
        assert any("restored log file" in line for line in log_tail), "killed while replaying WAL"
        assert not any("selected new timeline" in line for line in log_tail), "killed before promotion"
        assert not sandbox.exists() and not claim(sandbox).exists(), "nothing half-done is left"
        assert processes_in(sandbox) == [] and not Path(f"/proc/{postmaster}").exists()
        assert source_state(lab, admin) == before, "the source is untouched"

        again = restore(tmp_path / "again", args)
        assert not again.get("failed"), again["msg"]
        assert again["changed"] is True
        assert again["reached"]["stop_line"].startswith(f'recovery stopping at restore point "{point}"'), again["reached"]
        assert promoted_sandbox(again, admin) == (False, "off")
        assert json.loads((sandbox / MARKER_FILE).read_text())["status"] == "ready"
        assert source_state(lab, admin) == before
    finally:
        removed = remove(tmp_path / "cleanup", sandbox)
    assert not removed.get("failed"), removed["msg"]
    reliability.observed("failed naming the sandbox: its server stopped during recovery, its postmaster gone (killed); the sandbox removed, "
                         "no process left, the source untouched; the re-run with the same arguments restored and promoted the sandbox")


# --- 2. the sandbox's filesystem full ------------------------------------------------------------------------------------------

@contextlib.contextmanager
def tmpfs(directory: Path, size: int) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted at ``directory`` (created here, owned by postgres), unmounted afterwards."""
    directory.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700,uid={pw_id('postgres')[0]},gid={pw_id('postgres')[1]}", "tmpfs",
                    str(directory)], check=True, capture_output=True, text=True)
    try:
        yield directory
    finally:
        for pid in processes_in(directory):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not processes_in(directory), 30, interval=0.1, what=f"no process left in {directory}")
        subprocess.run(["umount", str(directory)], check=True, capture_output=True, text=True)


def pw_id(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


@pytest.fixture(scope="module", name="backup_size")
def fixture_backup_size(lab: LabConfig, admin: dict[str, Any], point: str, workdir: Path) -> int:
    """What the backup the restores use takes once restored, as the module reads it from pgbackrest info (check mode)."""
    planned = restore(workdir / "plan", restore_args(lab, admin, workdir / "planned", point), check=True)
    assert not planned.get("failed"), planned["msg"]
    return planned["backup"]["size"]


FULL_DISKS = {
    # A filesystem smaller than the backup: refused before anything is created.
    "smaller than the backup": (lambda size: 4 * MiB, "no space for the restore: the filesystem of {dir} has"),
    # Room for the backup's files, none for the WAL segment (16 MiB) recovery fetches: the restore runs, then fails.
    "holds the backup, not the WAL it replays": (lambda size: size + 6 * MiB, "no space left on device: the filesystem of {dir} is full"),
}


@pytest.mark.parametrize("case", [
    pytest.param("smaller than the backup", marks=pytest.mark.reliability(
        "fault", procedure="database (pg_pitr_restore)", case="the sandbox's filesystem (a 4 MiB tmpfs) smaller than the backup",
        expected="failed clearly before anything is created, naming no space and the directory; source untouched")),
    pytest.param("holds the backup, not the WAL it replays", marks=pytest.mark.reliability(
        "fault", procedure="database (pg_pitr_restore)", case="the sandbox's filesystem (a tmpfs) fills up while the restore replays WAL",
        expected="failed clearly naming no space and the directory, nothing half-done; source untouched")),
])
def test_a_sandbox_filesystem_without_room_fails_naming_it_and_leaves_nothing(lab, admin, point, workdir, backup_size, tmp_path, case,
                                                                              reliability):
    size_of, fragment = FULL_DISKS[case]
    sandbox = workdir / f"full-{'small' if 'smaller' in case else 'wal'}"
    before = source_state(lab, admin)
    with tmpfs(sandbox, size_of(backup_size)):
        result = restore(tmp_path, restore_args(lab, admin, sandbox, point))
        left = sorted(path.name for path in sandbox.iterdir())
    commands = [command[3] if command[0] == "pgbackrest" else os.path.basename(command[0]) for command in result["commands"]]

    assert result.get("failed"), "the restore cannot fit"
    assert fragment.format(dir=sandbox) in result["msg"], result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert left == [], "the sandbox's files are gone (the mount point itself stays, empty)"
    assert not claim(sandbox).exists()
    assert source_state(lab, admin) == before, "the source is untouched"
    if "smaller" in case:
        assert result["error"]["option"] == "sandbox_data_dir"
        assert commands == ["info", "repo-ls"], "refused before the restore started"
        reliability.observed("refused before anything was created: no space for the restore, naming the directory, its free space and "
                             "the backup's size; source untouched")
    else:
        assert commands[:3] == ["info", "repo-ls", "restore"], "the restore ran"
        assert result["error"]["details"]["sandbox"] == "emptied (a mount point)"
        assert "the sandbox directory was emptied (a mount point)" in result["msg"]
        reliability.observed("failed: no space left on device, naming the directory and its free space; the mount point emptied, no "
                             "claim left; source untouched")


# --- 3. the pgBackRest repository unreadable -----------------------------------------------------------------------------------

@pytest.fixture(name="unreadable_repo")
def fixture_unreadable_repo(lab: LabConfig, workdir: Path) -> Iterator[tuple[Path, Path]]:
    """A copy of the lab's repository with a configuration of its own (log and lock paths too), mode 000 for the test: the lab's
    repository, which other tests restore from, is never touched. The copy's mode comes back afterwards."""
    root = workdir / "pgbackrest-copy"
    root.mkdir()
    repo = root / "repo"
    shutil.copytree(Postgres.repo_dir(lab), repo, symlinks=True)
    for directory in (root / "log", root / "lock"):
        directory.mkdir()
    for path in (root, *root.rglob("*")):
        shutil.chown(path, "postgres", "postgres")
    config = root / "pgbackrest.conf"
    text = Postgres.pgbackrest_conf(lab).read_text()
    lab_root = str(Postgres.pgbackrest_conf(lab).parent)
    config.write_text(text.replace(str(Postgres.repo_dir(lab)), str(repo)).replace(f"{lab_root}/log", str(root / "log"))
                      .replace(f"{lab_root}/lock", str(root / "lock")))
    config.chmod(0o644)
    assert str(repo) in config.read_text() and str(Postgres.repo_dir(lab)) not in config.read_text()
    mode = repo.stat().st_mode & 0o777
    repo.chmod(0o000)
    try:
        yield repo, config
    finally:
        repo.chmod(mode)


@pytest.mark.reliability("fault", procedure="database (pg_pitr_restore)",
                         case="the pgBackRest repository unreadable (a copy of it, mode 000, with its own configuration)",
                         expected="failed clearly before anything is created, naming the repository and the permission problem")
def test_an_unreadable_repository_fails_before_anything_naming_it_and_the_permission(lab, admin, point, workdir, unreadable_repo, tmp_path,
                                                                                     reliability):
    repo, config = unreadable_repo
    sandbox = workdir / "unreadable-repo"
    before = source_state(lab, admin)

    result = restore(tmp_path, restore_args(lab, admin, sandbox, point, pgbackrest_config=str(config)))

    assert result.get("failed")
    assert result["error"]["type"] == "AuthorizationError"
    assert f"the OS user 'postgres' (pgBackRest runs as it) may not read the repository {repo}: permission denied" in result["msg"], result["msg"]
    assert "[13] Permission denied" in result["msg"], "pgBackRest's own words are kept"
    assert result["error"]["target"] == str(repo)
    assert "Nothing was created" in result["msg"]
    assert [command[3] for command in result["commands"]] == ["info"], "nothing but pgbackrest info ran"
    assert not sandbox.exists() and not claim(sandbox).exists()
    assert source_state(lab, admin) == before, "the source is untouched"
    assert json.loads(Postgres().pgbackrest(lab, "info", "--output=json"))[0]["status"]["code"] == 0, "the lab's own repository is fine"
    reliability.observed("failed before anything was created: the OS user postgres may not read the repository (named), permission "
                         "denied in pgBackRest's words; only pgbackrest info ran; source and the lab's repository untouched")
