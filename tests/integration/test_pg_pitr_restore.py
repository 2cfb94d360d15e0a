"""pg_pitr_restore run by ansible (as root, so PostgreSQL runs as the OS user postgres) against the lab's "production" cluster.

Marker rows are written into the lab database around each target (row A before it, row B after it), the WAL is switched
and archived, then each restore must hold exactly the A rows up to its target. The native backend gets a second, small
cluster of its own (a pg_basebackup plus a WAL archive directory written by ``archive_command = 'cp ...'``).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
from labtest import credentials, quiet_lab_source, run_play, switch_and_wait_archived, wait_until

from lab.components.postgres import DATABASE, PG_BIN, STANZA, Postgres, as_postgres
from lab.config import HOST, LabConfig

pytestmark = pytest.mark.lab
MARKER_FILE = "ofm_pitr_restore.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def as_postgres_run(argv: list[str], timeout: float = 120) -> str:
    done = subprocess.run(as_postgres() + argv, capture_output=True, text=True, timeout=timeout, check=False, cwd="/")
    assert done.returncode == 0, f"{argv} exited {done.returncode}: {done.stdout}{done.stderr}"
    return done.stdout


@dataclass
class Markers:
    """Rows written around each target, and the targets themselves."""

    prefix: str
    targets: dict[str, str] = field(default_factory=dict)


def insert(connection: psycopg.Connection, prefix: str, name: str) -> None:
    connection.execute("INSERT INTO posts (creator_id, platform, status, body) VALUES (1, 'x', 'draft', %s)", (f"{prefix}{name}",))


def write_markers(connection: psycopg.Connection, prefix: str) -> Markers:
    """A1 | time | B1, A2 | lsn | B2, A3 | restore point | B3, A4 (its xid) | B4, each in its own transaction."""
    markers = Markers(prefix)
    insert(connection, prefix, "A1")
    time.sleep(0.3)
    markers.targets["time"] = connection.execute("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')").fetchone()[0]
    time.sleep(0.3)
    insert(connection, prefix, "B1")
    insert(connection, prefix, "A2")
    markers.targets["lsn"] = connection.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
    insert(connection, prefix, "B2")
    insert(connection, prefix, "A3")
    markers.targets["name"] = prefix + "point"
    connection.execute("SELECT pg_create_restore_point(%s)", (markers.targets["name"],))
    insert(connection, prefix, "B3")
    with connection.transaction():
        markers.targets["xid"] = str(connection.execute("SELECT txid_current()").fetchone()[0])
        insert(connection, prefix, "A4")
    insert(connection, prefix, "B4")
    return markers


def stop_all(pid_files: Iterator[Path]) -> None:
    """Stop every postmaster the tests started (immediate shutdown, all at once), and wait for them to exit."""
    pids = []
    for pid_file in pid_files:
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().split("\n", 1)[0])
            os.kill(pid, signal.SIGQUIT)
            pids.append(pid)
    for pid in pids:
        wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 30, interval=0.1, what=f"postmaster {pid} stopped")


@pytest.fixture(scope="module", name="workdir")
def fixture_workdir(lab: LabConfig) -> Iterator[Path]:
    """A directory the OS user postgres can reach (pytest's own temporary directories are private to root)."""
    base = lab.path("pitr-tests", uuid.uuid4().hex[:8])
    base.mkdir(parents=True)
    for path in (base.parent, base):
        path.chmod(0o755)
    yield base
    stop_all(base.glob("**/postmaster.pid"))
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module", name="admin")
def fixture_admin(lab: LabConfig) -> dict[str, Any]:
    password = credentials(lab)["db_admin_password"]
    return {"host": HOST, "port": lab.ports["postgres"], "user": "ofm_admin", "password": password, "dbname": DATABASE}


@pytest.fixture(scope="module", name="markers")
def fixture_markers(lab: LabConfig, admin: dict[str, Any]) -> Markers:
    """A fresh incremental backup (so restores replay little WAL), then the marker rows, all archived."""
    Postgres().pgbackrest(lab, "backup", "--type=incr")
    time.sleep(1)  # backup stop times are whole seconds: a target in the second the backup ended is not restored from it
    with psycopg.connect(**admin, autocommit=True) as connection:
        markers = write_markers(connection, f"pitr-{uuid.uuid4().hex[:8]}-")
        switch_and_wait_archived(connection)
    return markers


def source_args(lab: LabConfig, admin: dict[str, Any], sandbox: Path, *, port: Any = None, **options: Any) -> dict[str, Any]:
    return {"pgbackrest_config": str(Postgres.pgbackrest_conf(lab)), "pgbackrest_stanza": STANZA, "sandbox_data_dir": str(sandbox),
            "sandbox": {"port": port or free_port(), "user": admin["user"], "password": admin["password"], "database": DATABASE},
            "timeout": 120, **options}


def rows(result: dict[str, Any], admin: dict[str, Any], prefix: str) -> list[str]:
    sandbox = result["sandbox"]
    with psycopg.connect(host=sandbox["host"], port=sandbox["port"], user=admin["user"], password=admin["password"], dbname=DATABASE,
                         autocommit=True) as connection:
        found = connection.execute("SELECT body FROM posts WHERE body LIKE %s ORDER BY id", (prefix + "%",)).fetchall()
    return [body[len(prefix):] for (body,) in found]


def restore_all(workdir: Path, runs: dict[str, dict[str, Any]], check: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Several module runs in one play (one ansible start-up instead of one each); each run's result by name. The runs
    named in ``check`` run in check mode."""
    tasks = [{"name": name, "ofm.rollback.pg_pitr_restore": args, "register": f"run_{index}", "ignore_errors": True,
              "check_mode": name in check} for index, (name, args) in enumerate(runs.items())]
    play = run_play(tasks, workdir)
    return {name: play.result[f"run_{index}"] for index, name in enumerate(runs)}


KINDS = {"time-inclusive": ("time", True, ["A1"]),
         "lsn-inclusive": ("lsn", True, ["A1", "B1", "A2"]),
         "name": ("name", True, ["A1", "B1", "A2", "B2", "A3"]),
         "xid-inclusive": ("xid", True, ["A1", "B1", "A2", "B2", "A3", "B3", "A4"]),
         "xid-exclusive": ("xid", False, ["A1", "B1", "A2", "B2", "A3", "B3"])}


@pytest.fixture(scope="module", name="restored")
def fixture_restored(lab: LabConfig, admin: dict[str, Any], markers: Markers, workdir: Path) -> dict[str, dict[str, Any]]:
    """One restore per kind of target, into a sandbox each, in one play."""
    runs = {case: source_args(lab, admin, workdir / case, target_type=kind, target=markers.targets[kind], target_inclusive=inclusive)
            for case, (kind, inclusive, _rows) in KINDS.items()}
    latest = source_args(lab, admin, workdir / "latest", target_type="latest")
    runs.update({"latest": latest, "latest again": latest, "latest, other target": {**latest, "target_type": "time", "target": markers.targets["time"]},
                 "check mode": source_args(lab, admin, workdir / "check", target_type="name", target=markers.targets["name"])})
    return restore_all(workdir, runs, check=("check mode",))


@pytest.mark.parametrize("case", KINDS)
def test_restore_to_each_kind_of_target_holds_exactly_the_rows_before_it(admin, markers, restored, case):
    target_type, inclusive, expected = KINDS[case]
    result = restored[case]

    assert not result.get("failed"), result["msg"]
    assert rows(result, admin, markers.prefix) == expected
    assert result["changed"] is True
    assert result["target"]["type"] == target_type
    assert result["backup"]["type"] == "incr"
    assert result["reached"]["stop_line"].startswith("recovery stopping")
    assert result["reached"]["promoted_at_lsn"]
    assert set(result["timings"]) == {"restore_seconds", "replay_seconds", "total_seconds"}
    assert 0 < result["timings"]["restore_seconds"] < result["timings"]["total_seconds"]
    assert admin["password"] not in json.dumps(result)
    sandbox = result["sandbox"]
    with psycopg.connect(host=sandbox["host"], port=sandbox["port"], user=admin["user"], password=admin["password"], dbname=DATABASE,
                         autocommit=True) as connection:
        assert connection.execute("SELECT pg_is_in_recovery(), current_setting('archive_mode')").fetchone() == (False, "off")
    if target_type == "time":
        assert result["target"]["assumed_utc"] is True
        assert result["target"]["value"] == markers.targets["time"] + "+00"
        assert 0 <= result["rpo_seconds"] < 5
    if target_type == "xid":
        assert f"transaction {markers.targets['xid']}," in result["reached"]["stop_line"]
        assert result["reached"]["stop_line"].startswith("recovery stopping " + ("after" if inclusive else "before"))


def test_latest_then_idempotent_then_absent(lab, admin, markers, workdir, restored):
    sandbox = workdir / "latest"
    first, second, other = restored["latest"], restored["latest again"], restored["latest, other target"]
    found = rows(first, admin, markers.prefix)
    marker = json.loads((sandbox / MARKER_FILE).read_text())
    absent = {"state": "absent", "sandbox_data_dir": str(sandbox)}
    removal = restore_all(workdir, {"absent (check mode)": absent, "absent": absent, "absent again": absent}, check=("absent (check mode)",))

    assert not first.get("failed"), first["msg"]
    assert found == ["A1", "B1", "A2", "B2", "A3", "B3", "A4", "B4"]
    assert (first["changed"], second["changed"]) == (True, False), second["msg"]
    assert second["backup"] == first["backup"]
    assert second["sandbox"]["port"] == first["sandbox"]["port"]
    assert second["commands"] == []
    assert marker["status"] == "ready" and marker["target"]["type"] == "latest"
    assert not list(Postgres.repo_dir(lab).glob("archive/*/*/00000002.history*")), "the sandbox archived into the source's repository"
    assert other["failed"] and "already holds a restore" in other["msg"]
    assert removal["absent (check mode)"]["changed"] is True
    assert (removal["absent"]["changed"], removal["absent"]["removed"]["was_running"], removal["absent again"]["changed"]) == (True, True, False)
    assert not sandbox.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=HOST, port=first["sandbox"]["port"], user="ofm_admin", connect_timeout=2).close()


def test_check_mode_returns_the_plan_and_creates_nothing(workdir, restored):
    sandbox = workdir / "check"
    result = restored["check mode"]

    assert not result.get("failed"), result["msg"]
    assert result["changed"] is True
    plan = result["plan"]
    assert plan["backup"] == result["backup"]["label"]
    assert plan["commands"][0][3:6] == ["restore", f"--pg1-path={sandbox}", f"--set={plan['backup']}"]
    assert "--type=name" in plan["commands"][0] and any(argument.startswith("--target=pitr-") for argument in plan["commands"][0])
    assert [command[3] for command in result["commands"]] == ["info", "repo-ls"]
    assert result["queries"] == []
    assert not sandbox.exists()


def test_on_the_controller_it_runs_in_process_unless_become_or_asked_not_to(lab, admin, markers, workdir, tmp_path):
    """Same plan in the worker process as in a module process; ``become`` and ``ofm_in_process: false`` get a module process."""
    remote_tmp = tmp_path / "remote"
    args = source_args(lab, admin, workdir / "in-process", target_type="name", target=markers.targets["name"])
    task = {"ofm.rollback.pg_pitr_restore": args, "check_mode": True}
    play = run_play([{"name": "in process", "register": "in_process", **task},
                     {"name": "as process", "register": "as_process", "vars": {"ofm_in_process": False}, **task},
                     {"name": "with become", "register": "with_become", "become": True, "become_method": "ansible.builtin.su", **task}],
                    tmp_path, env={"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": str(remote_tmp)})

    assert play.rc == 0, play.stdout
    results = [{key: value for key, value in play.result[name].items() if key != "invocation"} for name in ("in_process", "as_process", "with_become")]
    assert results[0]["plan"]["commands"][0][3] == "restore"
    # The archive's newest segment is read live and moves while the lab writes (archive_timeout switches segments between
    # the three runs): everything else must be the same, and the archive must start at the same segment.
    archives = [result.pop("archive", None) or {} for result in results]
    assert len({archive.get("oldest_segment") for archive in archives}) == 1, archives
    assert results[0] == results[1] == results[2]
    assert len(list(remote_tmp.rglob("AnsiballZ_pg_pitr_restore.py"))) == 2
    assert admin["password"] not in play.stdout
    assert not (workdir / "in-process").exists()


UNREACHABLE = {
    "future": ("time", "2999-01-01 00:00:00", "is in the future"),
    "before oldest backup (time)": ("time", "2000-01-01 00:00:00+02:00", "is before the oldest usable backup"),
    "before oldest backup (lsn)": ("lsn", "0/10", "is before the oldest usable backup"),
    "after archived WAL": ("lsn", "FF/0", "is not in the archived WAL"),
    "malformed time": ("time", "yesterday", "is not a timestamp"),
    "malformed lsn": ("lsn", "0/XYZ", "is not an LSN"),
    "malformed xid": ("xid", "-4", "is not a transaction id"),
}


@pytest.fixture(scope="module", name="refused")
def fixture_refused(lab: LabConfig, admin: dict[str, Any], markers: Markers, workdir: Path) -> dict[str, dict[str, Any]]:
    """Every run that must be refused, in one play: unreachable targets, sandboxes that are the source or in use, no repository."""
    runs = {case: source_args(lab, admin, workdir / "refused", target_type=kind, target=target) for case, (kind, target, _msg) in UNREACHABLE.items()}
    target = {"target_type": "name", "target": markers.targets["name"]}
    busy = workdir / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("not a sandbox")
    config = workdir / "missing-repo.conf"
    config.write_text(Postgres.pgbackrest_conf(lab).read_text().replace(str(Postgres.repo_dir(lab)), str(workdir / "no-such-repo")))
    config.chmod(0o644)
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        runs.update({
            "source dir": source_args(lab, admin, Postgres.data_dir(lab), **target),
            "source port": source_args(lab, admin, workdir / "port", **target, port=lab.ports["postgres"]),
            "dir in use": source_args(lab, admin, busy, **target),
            "absent on a foreign dir": {"state": "absent", "sandbox_data_dir": str(busy)},
            "port in use": source_args(lab, admin, workdir / "port", **target, port=listener.getsockname()[1]),
            "missing repository": source_args(lab, admin, workdir / "no-repo", pgbackrest_config=str(config), target_type="latest"),
        })
        return restore_all(workdir, runs)


@pytest.mark.parametrize("case", UNREACHABLE)
def test_a_target_that_cannot_be_reached_is_refused_before_anything_is_created(workdir, refused, case):
    result = refused[case]

    assert result["failed"]
    assert UNREACHABLE[case][2] in result["msg"]
    assert result["error"]["option"] == "target"
    assert not (workdir / "refused").exists()


def test_the_sandbox_must_not_be_the_source_nor_in_use(lab, workdir, refused):
    assert refused["source dir"]["failed"] and refused["source dir"]["error"]["option"] == "sandbox_data_dir", refused["source dir"]["msg"]
    assert refused["source port"]["failed"] and refused["source port"]["error"]["option"] == "sandbox.port"
    assert refused["dir in use"]["failed"] and "not empty" in refused["dir in use"]["msg"]
    assert refused["absent on a foreign dir"]["failed"] and "holds no sandbox created by this module" in refused["absent on a foreign dir"]["msg"]
    assert refused["port in use"]["failed"] and "already in use" in refused["port in use"]["msg"]
    assert (workdir / "busy" / "keep.txt").read_text() == "not a sandbox"
    assert not (workdir / "port").exists()
    assert (Postgres.data_dir(lab) / "PG_VERSION").exists() and Postgres().ready(lab)


def test_a_missing_repository_is_reported(workdir, refused):
    result = refused["missing repository"]

    assert result["failed"]
    assert "missing stanza path" in result["msg"]
    assert result["error"]["type"] == "NotFoundError"
    assert not (workdir / "no-repo").exists()


# --- a target in an idle tail: after the last archived commit --------------------------------------------------------------

def utc_clock(connection: psycopg.Connection) -> str:
    return connection.execute("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')").fetchone()[0]


def row_then_point(connection: psycopg.Connection, prefix: str) -> str:
    """Commit row A, then 1.2 s later take the point in time (UTC), then wait 1.2 s more: nothing committed around the point."""
    insert(connection, prefix, "A")
    time.sleep(1.2)
    point = utc_clock(connection)
    time.sleep(1.2)
    return point


@pytest.fixture(scope="module", name="quiet_source")
def fixture_quiet_source(lab: LabConfig) -> Iterator[dict[str, Any]]:
    with quiet_lab_source(lab) as login:
        yield login


def test_a_target_in_an_idle_tail_is_restored_when_the_source_proves_nothing_was_committed_since(lab, admin, quiet_source, workdir):
    """Writer stopped: one marked row, the target a little later, the WAL switched later still; nothing committed after the row."""
    prefix = f"idle-{uuid.uuid4().hex[:8]}-"
    with psycopg.connect(**admin, autocommit=True) as connection:
        target = row_then_point(connection, prefix)
        switch_and_wait_archived(connection)
        source_rows = connection.execute("SELECT count(*), max(id) FROM posts").fetchone()
    results = restore_all(workdir, {
        "with source": source_args(lab, admin, workdir / "idle", target=target, source=quiet_source),
        "without source": source_args(lab, admin, workdir / "idle-no-source", target=target)})
    restored, refused = results["with source"], results["without source"]

    assert not restored.get("failed"), restored["msg"]
    assert rows(restored, admin, prefix) == ["A"]
    sandbox = restored["sandbox"]
    with psycopg.connect(host=sandbox["host"], port=sandbox["port"], user=admin["user"], password=admin["password"], dbname=DATABASE,
                         autocommit=True) as connection:
        assert connection.execute("SELECT count(*), max(id) FROM posts").fetchone() == source_rows, "every row committed before the target"
    tail = restored["reached"]["idle_tail"]
    assert "target lies in an idle tail: last commit" in restored["msg"] and "restored state = target state" in restored["msg"]
    assert tail["proof"]["proven"] is True
    assert tail["last_commit_time"] == restored["reached"]["last_commit_time"]
    assert tail["covered_until"] > target.replace(" ", "T")
    assert restored["reached"]["stop_line"].startswith("recovery stopping after WAL location")
    assert 1.0 < restored["rpo_seconds"] < 3.0, "RPO is the target minus the real last commit"
    assert restored["source_queries"] and all(query.startswith("SELECT ") for query in restored["source_queries"]), "the source is only read"
    assert admin["password"] not in json.dumps(results)

    assert refused["failed"]
    assert "only the source can tell which" in refused["msg"] and "option source" in refused["msg"]
    assert not (workdir / "idle-no-source").exists()


def test_a_target_whose_later_commits_are_not_archived_is_refused_with_the_newest_restorable_moment(lab, admin, quiet_source, workdir):
    """The archive ends after the target but without the commit that follows it (archive_timeout is off): not provable."""
    prefix = f"unarchived-{uuid.uuid4().hex[:8]}-"
    with psycopg.connect(**admin, autocommit=True) as connection:
        target = row_then_point(connection, prefix)
        connection.execute("SELECT pg_create_restore_point(%s)", (prefix + "after-target",))  # WAL after the target, no commit
        switch_and_wait_archived(connection)
        insert(connection, prefix, "B")  # committed after the target, not archived
        time.sleep(1.2)
        later = utc_clock(connection)
    results = restore_all(workdir, {
        "commit not archived": source_args(lab, admin, workdir / "unarchived", target=target, source=quiet_source),
        "after the archive": source_args(lab, admin, workdir / "after-archive", target=later, source=quiet_source)})
    unarchived, after = results["commit not archived"], results["after the archive"]

    assert unarchived["failed"]
    assert "is not provably archived" in unarchived["msg"]
    assert "the source has committed 1 transaction(s) that the archive lacks" in unarchived["msg"]
    assert "newest restorable moment" in unarchived["msg"] and "SELECT pg_switch_wal()" in unarchived["msg"]
    assert len(unarchived["error"]["details"]["proof"]["committed_after"]) == 1
    assert not (workdir / "unarchived").exists(), "the half-made sandbox is deleted"

    assert after["failed"] and after["error"]["option"] == "target"
    assert "is not archived yet: the newest restorable moment is" in after["msg"]
    assert "bytes of WAL since the archive's end" in after["msg"]
    assert not (workdir / "after-archive").exists()


# --- native backend: a small cluster of the test's own -----------------------------------------------------------------

NATIVE_PASSWORD = "native-" + uuid.uuid4().hex


@pytest.fixture(scope="module", name="native")
def fixture_native(workdir: Path) -> Iterator[dict[str, Any]]:
    """A cluster archiving with cp into a directory, a plain pg_basebackup of it, and marker rows after the backup."""
    root = workdir / "native"
    data, wal, base = root / "source", root / "wal", root / "base"
    root.mkdir()
    shutil.chown(root, "postgres", "postgres")
    port = free_port()
    pwfile = root / "pw"
    pwfile.write_text(NATIVE_PASSWORD)
    shutil.chown(pwfile, "postgres", "postgres")
    as_postgres_run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                     f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C.UTF-8"])
    as_postgres_run(["mkdir", str(wal), str(base)])
    settings = {"port": port, "listen_addresses": HOST, "unix_socket_directories": str(root), "wal_level": "replica",
                "archive_mode": "on", "archive_command": f"cp %p {wal}/%f", "shared_buffers": "16MB", "max_connections": 10}
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("".join(f"{key} = '{value}'\n" for key, value in settings.items()))
    as_postgres_run([str(PG_BIN / "pg_ctl"), "start", "-D", str(data), "-l", str(root / "source.log"), "-w"])
    try:
        connect = {"host": HOST, "port": port, "user": "postgres", "password": NATIVE_PASSWORD, "dbname": "postgres"}
        with psycopg.connect(**connect, autocommit=True) as connection:
            connection.execute("CREATE TABLE posts (id bigserial PRIMARY KEY, creator_id int, platform text, status text, body text)")
            as_postgres_run([str(PG_BIN / "pg_basebackup"), "-h", str(root), "-p", str(port), "-D", str(base), "-Fp", "-X", "none"])
            time.sleep(1)  # a target in the second the base backup ended is not restored from it
            markers = write_markers(connection, "native-")
            switch_and_wait_archived(connection)
        yield {"root": root, "base": base, "wal": wal, "port": port, "markers": markers, "connect": connect}
    finally:
        stop_all(iter([data / "postmaster.pid"]))


NATIVE_KINDS = {"lsn": ["A1", "B1", "A2"], "time": ["A1"]}


@pytest.fixture(scope="module", name="native_restored")
def fixture_native_restored(native: dict[str, Any], workdir: Path) -> dict[str, Any]:
    archived = sorted(path.name for path in native["wal"].iterdir())
    runs = {kind: {"backend": "native", "native_base_backup": str(native["base"]), "native_wal_archive": str(native["wal"]),
                   "target_type": kind, "target": native["markers"].targets[kind], "sandbox_data_dir": str(workdir / f"native-{kind}"),
                   "sandbox": {"port": free_port()}, "timeout": 120} for kind in NATIVE_KINDS}
    results = restore_all(workdir, {**runs, "lsn again": runs["lsn"]})
    return {"results": results, "archived_before": archived, "archived_after": sorted(path.name for path in native["wal"].iterdir())}


@pytest.mark.parametrize("target_type", NATIVE_KINDS)
def test_native_backend_restores_a_base_backup_and_a_wal_archive(native, native_restored, target_type):
    result = native_restored["results"][target_type]

    assert not result.get("failed"), result["msg"]
    connect = {**native["connect"], "port": result["sandbox"]["port"]}
    with psycopg.connect(**connect, autocommit=True) as connection:
        found = [body for (body,) in connection.execute("SELECT body FROM posts ORDER BY id").fetchall()]
        assert connection.execute("SELECT pg_is_in_recovery(), current_setting('archive_mode')").fetchone() == (False, "off")
    assert found == ["native-" + name for name in NATIVE_KINDS[target_type]]
    assert result["backup"]["type"] == "base"
    assert result["plan"]["settings"]["restore_command"] == f"cp '{native['wal']}/%f' '%p'"
    assert native_restored["archived_after"] == native_restored["archived_before"], "the sandbox wrote into the source's WAL archive"
    assert native_restored["results"]["lsn again"]["changed"] is False


def test_native_backend_restores_a_target_in_an_idle_tail(native, workdir):
    """The native backend's own recovery settings are rewritten for the second replay the same way as pgBackRest's."""
    with psycopg.connect(**native["connect"], autocommit=True) as connection:
        insert(connection, "native-", "idle")
        time.sleep(1.2)
        target = utc_clock(connection)
        time.sleep(1.2)
        switch_and_wait_archived(connection)
    source = {"host": HOST, "port": native["port"], "user": "postgres", "password": NATIVE_PASSWORD, "database": "postgres"}
    result = restore_all(workdir, {"idle": {"backend": "native", "native_base_backup": str(native["base"]),
                                            "native_wal_archive": str(native["wal"]), "target": target, "source": source,
                                            "sandbox_data_dir": str(workdir / "native-idle"), "sandbox": {"port": free_port()}, "timeout": 120}})["idle"]

    assert not result.get("failed"), result["msg"]
    assert result["reached"]["idle_tail"]["proof"]["proven"] is True
    with psycopg.connect(**{**native["connect"], "port": result["sandbox"]["port"]}, autocommit=True) as connection:
        found = [body for (body,) in connection.execute("SELECT body FROM posts ORDER BY id").fetchall()]
    assert found[-1] == "native-idle" and len(found) == 9
    assert result["plan"]["settings"]["restore_command"] == f"cp '{native['wal']}/%f' '%p'"
    assert NATIVE_PASSWORD not in json.dumps(result)
