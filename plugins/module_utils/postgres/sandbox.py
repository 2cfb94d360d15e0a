# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox a restore writes: its settings (postgresql.auto.conf recovery and listen settings), its marker file, its
server process, and the checks that keep a restore off the source cluster and off a foreign directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.command import CommandRunner
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.targets import SYSTEM, Target
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    ConflictError,
    InputError,
)

MARKER_NAME = "ofm_pitr_restore.json"
LOG_NAME = "ofm_pitr_restore.log"


@dataclass
class SandboxSpec:
    """Where the sandbox lives: its own data directory and port, never the source's."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    socket_dir: Optional[Path] = None
    os_user: str = "postgres"
    pg_bin_dir: Optional[Path] = None

    @property
    def socket(self) -> Path:
        return self.socket_dir or self.data_dir

    @property
    def marker(self) -> Path:
        return self.data_dir / MARKER_NAME

    @property
    def log(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def claim(self) -> Path:
        """Beside the data directory: written before the restore creates it, removed once its marker is in it, so that a run
        killed while the restore command filled it (no marker yet) leaves proof that this module made the directory."""
        return self.data_dir.parent / f".{self.data_dir.name}.{MARKER_NAME}"

    def binary(self, name: str) -> str:
        return str(self.pg_bin_dir / name) if self.pg_bin_dir else name


def recovery_settings(target: Target, restore_command: Optional[str]) -> dict[str, str]:
    """The recovery settings the native backend writes (pgBackRest writes its own)."""
    settings = {"restore_command": restore_command} if restore_command else {}
    if target.kind == "latest":
        return {**settings, "recovery_target_timeline": "latest"}
    settings.update({f"recovery_target_{target.kind}": str(target.value), "recovery_target_action": "pause"})
    if target.kind != "name":
        settings["recovery_target_inclusive"] = "on" if target.inclusive else "off"
    return settings


def sandbox_settings(sandbox: SandboxSpec) -> dict[str, str]:
    """What makes the restored cluster a sandbox: its own port and socket, no archiving, a log the module reads."""
    return {"port": str(sandbox.port), "listen_addresses": sandbox.host, "unix_socket_directories": str(sandbox.socket),
            "archive_mode": "off", "archive_command": "", "hot_standby": "on", "logging_collector": "off",
            "log_destination": "stderr", "cluster_name": "ofm-pitr-sandbox"}


def native_restore_command(archive_dir: Path) -> str:
    return f"cp '{archive_dir}/%f' '%p'"


def conf_lines(settings: dict[str, str]) -> str:
    def quoted(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"
    return "".join(f"{name} = {quoted(value)}\n" for name, value in settings.items())


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def read_marker(sandbox: SandboxSpec) -> Optional[dict[str, Any]]:
    try:
        return json.loads(sandbox.marker.read_text())
    except (OSError, ValueError):
        return None


def owner() -> dict[str, Any]:
    """This process, as a claim or marker names the restore's owner: its pid and start time (a pid alone may be reused)."""
    return {"pid": os.getpid(), "start": _process_start(os.getpid())}


def owner_alive(stored: Any) -> Optional[int]:
    """The pid of the restore's owner when that process still runs (it was not killed: its restore goes on), else None."""
    if not isinstance(stored, dict) or not isinstance(stored.get("pid"), int) or stored["pid"] == os.getpid():
        return None
    start = _process_start(stored["pid"])
    return stored["pid"] if start is not None and start == stored.get("start") else None


def _process_start(pid: int) -> Optional[int]:
    """The process's start time in clock ticks since boot (/proc), or None when it does not run (or there is no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19]) if len(fields) > 19 and fields[0] != "Z" else None


def read_claim(sandbox: SandboxSpec) -> Optional[dict[str, Any]]:
    """The claim of a restore that was filling the data directory, when this module wrote it for this directory."""
    try:
        claim = json.loads(sandbox.claim.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(claim, dict) or claim.get("created_by") != "ofm.rollback.pg_pitr_restore" or claim.get("data_dir") != str(sandbox.data_dir):
        return None
    return claim


def recorded_pid(data_dir: Path) -> Optional[int]:
    """The pid ``postmaster.pid`` names, alive or not: a postmaster that exits removes the file, one killed (SIGKILL) leaves it."""
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def postmaster_pid(data_dir: Path) -> Optional[int]:
    """The pid of the postmaster running on ``data_dir``, or None when none is alive."""
    pid = recorded_pid(data_dir)
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def leftover_processes(data_dir: Path, proc: Path = Path("/proc")) -> list[int]:
    """The PostgreSQL processes still working in ``data_dir`` (their working directory is in it): after the postmaster was
    killed, its children (the startup process replaying WAL, the checkpointer) run on for a moment by themselves."""
    pids = []
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            command = (entry / "cmdline").read_bytes().split(b"\0", 1)[0]
        except OSError:
            continue
        if inside(Path(cwd), data_dir) and os.path.basename(command.split(b" ", 1)[0]).startswith(b"postgres"):
            pids.append(int(entry.name))
    return pids


def end_leftovers(data_dir: Path, *, timeout: float = 10, proc: Path = Path("/proc"), clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> list[int]:
    """Kill the sandbox's leftover processes (``leftover_processes``) and wait until they are gone; the pids still there at the end."""
    deadline = clock() + timeout
    while True:
        pids = leftover_processes(data_dir, proc)
        if not pids or clock() >= deadline:
            return pids
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        sleep(0.05)


def same_path(first: Any, second: Any) -> bool:
    return bool(first) and bool(second) and os.path.realpath(str(first)) == os.path.realpath(str(second))


def inside(path: Path, parent: Any) -> bool:
    if not parent:
        return False
    parent_real = os.path.realpath(str(parent))
    return os.path.realpath(str(path)).startswith(parent_real.rstrip("/") + "/") or same_path(path, parent)


def remove_tree(path: Path) -> str:
    """Delete ``path`` and what it holds; a mount point (a volume of its own) cannot be deleted and is emptied instead.
    Says which: ``removed`` or ``emptied``."""
    if not os.path.ismount(path):
        shutil.rmtree(path, ignore_errors=False)
        return "removed"
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=False)
        else:
            entry.unlink()
    return "emptied"


def space(path: Path) -> tuple[int, int]:
    """Bytes free (for an unprivileged user) and in all on the filesystem that holds ``path``, or would hold it once created."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    stat = os.statvfs(existing)
    return stat.f_bavail * stat.f_frsize, stat.f_blocks * stat.f_frsize


def size_text(size: Optional[float]) -> str:
    """A byte count as people read it: ``31.2 MB``."""
    if size is None:
        return "an unknown size"
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def stop_server(runner: CommandRunner, sandbox: SandboxSpec, timeout: float = 60) -> bool:
    """Stop the sandbox's postmaster (fast shutdown); False when none was running."""
    pid = postmaster_pid(sandbox.data_dir)
    if pid is None:
        return False
    runner.run([sandbox.binary("pg_ctl"), "stop", "-D", str(sandbox.data_dir), "-m", "fast", "-w", "-t", str(int(timeout))], "stop",
               str(sandbox.data_dir), timeout=timeout + 10)
    return True


def kill_server(sandbox: SandboxSpec) -> None:
    pid = postmaster_pid(sandbox.data_dir)
    if pid is not None:
        os.kill(pid, signal.SIGQUIT)


def check_sandbox_free(sandbox: SandboxSpec, *, source_dirs: Sequence[Any], source_port: Optional[int]) -> None:
    """Refuse a sandbox that is the source, or a directory or port something else already uses."""
    for source in source_dirs:
        if same_path(sandbox.data_dir, source) or inside(sandbox.data_dir, source) or inside(Path(str(source)), sandbox.data_dir):
            raise InputError(f"the sandbox directory {sandbox.data_dir} is (or overlaps) the source's {source}", option="sandbox_data_dir",
                             accepted="a directory of its own, outside the source's data directory, repository and WAL archive",
                             operation="sandbox check")
    if source_port is not None and sandbox.port == source_port:
        raise InputError(f"the sandbox port {sandbox.port} is the source cluster's port", option="sandbox.port",
                         accepted="a free port other than the source's", operation="sandbox check")
    if sandbox.data_dir.exists() and (not sandbox.data_dir.is_dir() or any(sandbox.data_dir.iterdir())):
        raise ConflictError(f"{sandbox.data_dir} already exists and is not empty, and holds no sandbox of this module ({MARKER_NAME})",
                            system=SYSTEM, operation="sandbox check", target=str(sandbox.data_dir),
                            hint="Choose another sandbox_data_dir; the module never overwrites a directory it did not create.")
    if port_in_use(sandbox.host, sandbox.port):
        raise ConflictError(f"port {sandbox.port} on {sandbox.host} is already in use", system=SYSTEM, operation="sandbox check",
                            target=f"{sandbox.host}:{sandbox.port}", hint="Choose another sandbox.port.")
