"""Benchmark: point-in-time restore of a database of at least 1 GB, with ofm.rollback.pg_pitr_restore and by hand.

A bench cluster of its own (not the lab's) is made once under ``--workdir``: PostgreSQL 15 as the OS user postgres,
a table of ``--gigabytes`` GB filled with ``INSERT ... SELECT generate_series`` while archiving is still off, then
WAL archiving into a pgBackRest stanza ``bench`` on a local repository and a full backup. A marker row is written,
the target time noted, a second marker row written, and the WAL switched and archived.

Each round then restores that backup into a sandbox to the target time three ways (the order rotates between rounds):

- ``by hand``: what an operator types: ``pgbackrest restore --pg1-path=<sandbox> --type=time --target=...
  --target-action=promote --archive-mode=off``, the sandbox's port and socket appended to ``postgresql.auto.conf``,
  ``pg_ctl start -w``, then ``psql`` polled until ``pg_is_in_recovery()`` is false; timed from the first command to the
  promoted sandbox;
- ``module``: ``ansible-playbook`` with one ``ofm.rollback.pg_pitr_restore`` task (pre-checks, restore, paused recovery,
  confirmation, promotion), run in the Ansible worker as on a controller; three times are kept: the task's, from its start
  to its result as Ansible's callbacks see them (the module's wall time, which the target is about), ``ansible-playbook``'s
  from launch to exit (its start-up included), and the module's own ``timings.total_seconds``;
- ``process``: the same task with ``ofm_in_process: false``, a module process as on a remote database host.

Every sandbox must hold the first marker row and not the second; it is removed after each run and the page cache written
back (untimed), so one run's write-back does not slow the next.

    .venv/bin/python bench/pg_pitr_restore.py [--gigabytes 1] [--rounds 5] [--workdir /var/tmp/ofm-bench-pitr] [--keep]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
STANZA = "bench"
AS_POSTGRES = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
ROW_BYTES = 280  # a row of the bench table on disk, tuple header included


def run(argv: list[str], *, timeout: float = 3600, stdin: str | None = None) -> str:
    done = subprocess.run(AS_POSTGRES + argv, capture_output=True, text=True, timeout=timeout, check=False, cwd="/", input=stdin)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class BenchCluster:
    """The source cluster: its data directory, socket, port and pgBackRest stanza under one work directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "source"
        self.config = workdir / "pgbackrest.conf"
        self.port_file = workdir / "port"

    @property
    def port(self) -> int:
        return int(self.port_file.read_text())

    def psql(self, sql: str, port: int | None = None, host: Path | None = None) -> str:
        return run([str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(host or self.workdir),
                    "-p", str(port or self.port), "-d", "postgres"], stdin=sql)

    def pgbackrest(self, *args: str) -> str:
        return run(["pgbackrest", f"--config={self.config}", f"--stanza={STANZA}", *args])

    def create(self, gigabytes: float) -> None:
        """initdb, load ``gigabytes`` of rows without archiving, then archive into the stanza and take a full backup."""
        ready = self.workdir / "ready"
        if ready.exists() and ready.read_text() == str(gigabytes):
            self.start()
            return
        if self.workdir.exists():
            self.stop()
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        shutil.chown(self.workdir, "postgres", "postgres")
        self.port_file.write_text(str(free_port()))
        for sub in ("repo", "log", "lock"):
            run(["mkdir", "-p", str(self.workdir / "pgbackrest" / sub)])
        self.config.write_text(f"[global]\nrepo1-path={self.workdir / 'pgbackrest/repo'}\nlog-path={self.workdir / 'pgbackrest/log'}\n"
                               f"lock-path={self.workdir / 'pgbackrest/lock'}\nstart-fast=y\ncompress-type=lz4\nprocess-max=2\n"
                               f"log-level-console=warn\n\n[{STANZA}]\npg1-path={self.data}\npg1-port={self.port}\npg1-socket-path={self.workdir}\n")
        self.config.chmod(0o644)
        run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--locale=C.UTF-8", "--encoding=UTF8"])
        self.configure(archive=False)
        self.start()
        rows = int(gigabytes * 1024 ** 3 / ROW_BYTES)
        started = time.monotonic()
        self.psql("CREATE TABLE bench (id bigint, payload text); CREATE TABLE markers (name text, at timestamptz DEFAULT clock_timestamp());"
                  f"INSERT INTO bench SELECT g, md5(g::text) || repeat('x', 200) FROM generate_series(1, {rows}) AS g; CHECKPOINT;")
        print(f"loaded {rows} rows in {time.monotonic() - started:.0f} s; "
              f"database size {self.psql('SELECT pg_size_pretty(pg_database_size(current_database()))').strip()}", flush=True)
        self.stop()
        self.configure(archive=True)
        self.start()
        self.pgbackrest("stanza-create")
        started = time.monotonic()
        self.pgbackrest("backup", "--type=full")
        print(f"full backup in {time.monotonic() - started:.0f} s", flush=True)
        ready.write_text(str(gigabytes))

    def configure(self, archive: bool) -> None:
        archive_command = f"pgbackrest --config={self.config} --stanza={STANZA} archive-push %p" if archive else ""
        settings = {"port": self.port, "listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.workdir), "wal_level": "replica",
                    "archive_mode": "on" if archive else "off", "archive_command": archive_command, "max_wal_size": "4GB",
                    "shared_buffers": "256MB", "max_wal_senders": 2}
        (self.data / "postgresql.auto.conf").write_text("".join(f"{key} = '{value}'\n" for key, value in settings.items()))

    def start(self) -> None:
        run([str(PG_BIN / "pg_ctl"), "start", "-D", str(self.data), "-l", str(self.workdir / "source.log"), "-w"])

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            run([str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w"])

    def target(self) -> str:
        """Write marker A, note the time, write marker B; switch the WAL and wait until it is archived."""
        time.sleep(2)  # pgbackrest picks a backup whose (whole-second) stop time is before the target
        self.psql("TRUNCATE markers; INSERT INTO markers (name) VALUES ('A')")  # a kept cluster holds an earlier run's markers
        time.sleep(0.5)
        target = self.psql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')").strip()
        time.sleep(0.5)
        self.psql("INSERT INTO markers (name) VALUES ('B')")
        segment = self.psql("SELECT pg_walfile_name(pg_switch_wal())").strip()
        deadline = time.monotonic() + 120
        while self.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").strip() < segment:
            if time.monotonic() > deadline:
                raise SystemExit(f"WAL segment {segment} was not archived within 120 s")
            time.sleep(0.2)
        time.sleep(1.1)
        return target


# Task times as Ansible sees them: from the task's start to its result, in the controller (the module's wall time).
TASK_TIMER = """
import json, os, time
from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_task_timer"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.started = time.monotonic()

    def v2_runner_on_ok(self, result):
        with open(os.environ["BENCH_TASK_TIMES"], "a") as out:
            out.write(json.dumps({"task": result.task_name, "seconds": time.monotonic() - self.started, "result": result._result},
                                 default=str) + "\\n")
"""


def with_module(cluster: BenchCluster, sandbox: Path, port: int, target: str, *, in_process: bool = True) -> dict[str, float]:
    """``ansible-playbook`` with one pg_pitr_restore task; the task's own time and the module's ``timings`` beside it."""
    args = {"pgbackrest_config": str(cluster.config), "pgbackrest_stanza": STANZA, "target": target, "sandbox_data_dir": str(sandbox),
            "sandbox_port": port}
    with tempfile.TemporaryDirectory() as home:
        config, playbook, times = Path(home) / "ansible.cfg", Path(home) / "restore.yml", Path(home) / "times.jsonl"
        (Path(home) / "callback_plugins").mkdir()
        (Path(home) / "callback_plugins" / "bench_task_timer.py").write_text(TASK_TIMER)
        config.write_text(f"[defaults]\ncallback_plugins = {home}/callback_plugins\ncallbacks_enabled = bench_task_timer\n")
        playbook.write_text(json.dumps([{"name": "Restore", "hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "Restore the bench cluster", "ofm.rollback.pg_pitr_restore": args, "vars": {"ofm_in_process": in_process}}]}]))
        env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"), "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
               "ANSIBLE_HOME": home, "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_CONFIG": str(config), "BENCH_TASK_TIMES": str(times),
               "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}
        started = time.monotonic()
        done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)],
                              capture_output=True, text=True, env=env, check=False)
        launch = time.monotonic() - started
        if done.returncode != 0 or not times.exists():
            raise SystemExit(f"the module failed:\n{done.stdout}{done.stderr}")
        task = json.loads(times.read_text().splitlines()[0])
    return {"launch": launch, "task": task["seconds"], "own": task["result"]["timings"]["total_seconds"]}


def as_process(cluster: BenchCluster, sandbox: Path, port: int, target: str) -> dict[str, float]:
    return with_module(cluster, sandbox, port, target, in_process=False)


def by_hand(cluster: BenchCluster, sandbox: Path, port: int, target: str) -> dict[str, float]:
    """What an operator types, timed from the first command to the promoted sandbox."""
    started = time.monotonic()
    run(["pgbackrest", f"--config={cluster.config}", f"--stanza={STANZA}", "restore", f"--pg1-path={sandbox}", "--type=time",
         f"--target={target}", "--target-action=promote", "--archive-mode=off"])
    with (sandbox / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"port = '{port}'\nunix_socket_directories = '{sandbox}'\narchive_mode = 'off'\n")
    run([str(PG_BIN / "pg_ctl"), "start", "-D", str(sandbox), "-l", str(sandbox / "restore.log"), "-w", "-t", "3600"])
    while cluster.psql("SELECT pg_is_in_recovery()", port=port, host=sandbox).strip() != "f":
        time.sleep(0.2)
    return {"launch": time.monotonic() - started}


def check_and_remove(cluster: BenchCluster, sandbox: Path, port: int) -> None:
    """The sandbox holds A and not B; then it is removed, and the machine left to write back before the next run (untimed)."""
    markers = cluster.psql("SELECT string_agg(name, ',' ORDER BY name) FROM markers", port=port, host=sandbox).strip()
    if markers != "A":
        raise SystemExit(f"the sandbox holds markers {markers!r}, expected 'A'")
    discard(sandbox)


def discard(sandbox: Path) -> None:
    """Stop and delete a sandbox (also one an interrupted run left), then let the machine write back (untimed)."""
    if (sandbox / "postmaster.pid").exists():
        run([str(PG_BIN / "pg_ctl"), "stop", "-D", str(sandbox), "-m", "immediate", "-w"])
    shutil.rmtree(sandbox, ignore_errors=True)
    os.sync()
    time.sleep(2)


Variant = Callable[[BenchCluster, Path, int, str], dict[str, float]]
VARIANTS: list[tuple[str, Variant]] = [("module", with_module), ("by hand", by_hand), ("process", as_process)]


def measure(name: str, restore: Variant, cluster: BenchCluster, target: str) -> dict[str, float]:
    sandbox, port = cluster.workdir / f"sandbox-{name.replace(' ', '-')}", free_port()
    if sandbox.exists():
        discard(sandbox)
    times = restore(cluster, sandbox, port, target)
    check_and_remove(cluster, sandbox, port)
    print(f"  {name:8} " + ", ".join(f"{key} {value:5.2f} s" for key, value in times.items()), flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/ofm-bench-pitr"))
    parser.add_argument("--keep", action="store_true", help="keep the bench cluster (stopped) for the next run")
    options = parser.parse_args()
    cluster = BenchCluster(options.workdir)
    cluster.create(options.gigabytes)
    try:
        size = cluster.psql("SELECT pg_size_pretty(pg_database_size('postgres'))").strip()
        target = cluster.target()
        print(f"database {size}, target {target} UTC; load average {os.getloadavg()[0]:.2f}", flush=True)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name, _restore in VARIANTS}
        for round_number in range(options.rounds):
            print(f"round {round_number + 1}", flush=True)
            order = VARIANTS[round_number % len(VARIANTS):] + VARIANTS[:round_number % len(VARIANTS)]
            for name, restore in order:
                runs[name].append(measure(name, restore, cluster, target))

        def median(name: str, key: str) -> float:
            return statistics.median(entry[key] for entry in runs[name])

        manual = median("by hand", "launch")
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
        print("| date | database | rounds | by hand | module: task | ratio | module: launch to exit | ratio | module's own total | "
              "as a process: task | as a process: launch to exit |")
        print(f"| {time.strftime('%Y-%m-%d')} | {size} | {options.rounds} | {manual:.2f} s | {median('module', 'task'):.2f} s | "
              f"**{median('module', 'task') / manual:.2f}** | {median('module', 'launch'):.2f} s | {median('module', 'launch') / manual:.2f} | "
              f"{median('module', 'own'):.2f} s | {median('process', 'task'):.2f} s | {median('process', 'launch'):.2f} s |")
    finally:
        cluster.stop()
        if not options.keep:
            shutil.rmtree(options.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
