"""Benchmark: point-in-time restore of a database of at least 1 GB, with ofm.rollback.pg_pitr_restore and by hand.

A bench cluster of its own (not the lab's) is made once under ``--workdir``: PostgreSQL 15 as the OS user postgres,
a table of ``--gigabytes`` GB filled with ``INSERT ... SELECT generate_series`` while archiving is still off, then
WAL archiving into a pgBackRest stanza ``bench`` on a local repository and a full backup. A marker row is written,
the target time noted, a second marker row written, and the WAL switched and archived.

Each round then restores that backup into a sandbox to the target time twice, each timed from launch until the
sandbox is promoted and answers (the order alternates between rounds):

- ``module``: ``ansible localhost -m ofm.rollback.pg_pitr_restore`` (pre-checks, restore, paused recovery, confirmation,
  promotion), from launch to exit;
- ``by hand``: what an operator types: ``pgbackrest restore --pg1-path=<sandbox> --type=time --target=...
  --target-action=promote --archive-mode=off``, the sandbox's port and socket appended to ``postgresql.auto.conf``,
  ``pg_ctl start -w``, then ``psql`` polled until ``pg_is_in_recovery()`` is false.

Both sandboxes must hold the first marker row and not the second; the sandbox is removed (untimed) after each run.

    .venv/bin/python bench/pg_pitr_restore.py [--gigabytes 1] [--rounds 2] [--workdir /var/tmp/ofm-bench-pitr] [--keep]
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
MODULE_TOTALS: list[float] = []  # the module's own timings.total_seconds (restore + replay), without ansible's start-up
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
        if (self.workdir / "ready").exists():
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
        (self.workdir / "ready").write_text("")

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
        self.psql("INSERT INTO markers (name) VALUES ('A')")
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


def by_hand(cluster: BenchCluster, sandbox: Path, port: int, target: str) -> None:
    run(["pgbackrest", f"--config={cluster.config}", f"--stanza={STANZA}", "restore", f"--pg1-path={sandbox}", "--type=time",
         f"--target={target}", "--target-action=promote", "--archive-mode=off"])
    with (sandbox / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"port = '{port}'\nunix_socket_directories = '{sandbox}'\narchive_mode = 'off'\n")
    run([str(PG_BIN / "pg_ctl"), "start", "-D", str(sandbox), "-l", str(sandbox / "restore.log"), "-w", "-t", "3600"])
    while cluster.psql("SELECT pg_is_in_recovery()", port=port, host=sandbox).strip() != "f":
        time.sleep(0.2)


def with_module(cluster: BenchCluster, sandbox: Path, port: int, target: str) -> None:
    args = {"pgbackrest_config": str(cluster.config), "pgbackrest_stanza": STANZA, "target": target, "sandbox_data_dir": str(sandbox),
            "sandbox_port": port}
    with tempfile.TemporaryDirectory() as home:
        config = Path(home) / "ansible.cfg"
        config.touch()
        env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"), "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
               "ANSIBLE_HOME": home, "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_CONFIG": str(config), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
        done = subprocess.run([str(Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
                               "-m", "ofm.rollback.pg_pitr_restore", "-a", json.dumps(args)], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0 or " | CHANGED => " not in done.stdout:
        raise SystemExit(f"the module failed:\n{done.stdout}{done.stderr}")
    result = json.JSONDecoder().raw_decode(done.stdout.split(" | CHANGED => ", 1)[1])[0]
    MODULE_TOTALS.append(result["timings"]["total_seconds"])


def check_and_remove(cluster: BenchCluster, sandbox: Path, port: int) -> None:
    markers = cluster.psql("SELECT string_agg(name, ',' ORDER BY name) FROM markers", port=port, host=sandbox).strip()
    if markers != "A":
        raise SystemExit(f"the sandbox holds markers {markers!r}, expected 'A'")
    run([str(PG_BIN / "pg_ctl"), "stop", "-D", str(sandbox), "-m", "immediate", "-w"])
    shutil.rmtree(sandbox)


def measure(name: str, restore: Callable[[BenchCluster, Path, int, str], None], cluster: BenchCluster, target: str) -> float:
    sandbox, port = cluster.workdir / f"sandbox-{name.replace(' ', '-')}", free_port()
    started = time.monotonic()
    restore(cluster, sandbox, port, target)
    elapsed = time.monotonic() - started
    check_and_remove(cluster, sandbox, port)
    print(f"  {name:8} {elapsed:7.1f} s" + (f" (module's own total {MODULE_TOTALS[-1]:.1f} s)" if name == "module" else ""), flush=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/ofm-bench-pitr"))
    parser.add_argument("--keep", action="store_true", help="keep the bench cluster (stopped) for the next run")
    options = parser.parse_args()
    cluster = BenchCluster(options.workdir)
    cluster.create(options.gigabytes)
    try:
        size = cluster.psql("SELECT pg_size_pretty(pg_database_size('postgres'))").strip()
        target = cluster.target()
        print(f"database {size}, target {target} UTC", flush=True)
        times: dict[str, list[float]] = {"module": [], "by hand": []}
        variants = [("module", with_module), ("by hand", by_hand)]
        for round_number in range(options.rounds):
            print(f"round {round_number + 1}", flush=True)
            for name, restore in variants if round_number % 2 == 0 else variants[::-1]:
                times[name].append(measure(name, restore, cluster, target))
        module, manual, inside = statistics.median(times["module"]), statistics.median(times["by hand"]), statistics.median(MODULE_TOTALS)
        print("| date | database | rounds | module, launch to exit | module's own total | by hand | ratio | ratio without ansible's start-up |")
        print(f"| {time.strftime('%Y-%m-%d')} | {size} | {options.rounds} | {module:.1f} s | {inside:.1f} s | {manual:.1f} s | "
              f"{module / manual:.2f} | {inside / manual:.2f} |")
    finally:
        cluster.stop()
        if not options.keep:
            shutil.rmtree(options.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
