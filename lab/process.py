"""Start, find and stop the lab's background processes; wait for ports."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional


class LabError(Exception):
    """A lab command could not do what was asked; the message says what to try next."""


def read_pid(pid_file: Path) -> Optional[int]:
    """The pid recorded in ``pid_file`` if that process is still alive and still ours."""
    try:
        pid = int(pid_file.read_text().split()[0])
        marker = pid_file.read_text().split(maxsplit=1)[1].strip()
    except (OSError, ValueError, IndexError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    zombie = stat.rsplit(")", 1)[-1].split()[0] == "Z"
    if zombie or marker not in cmdline:
        return None
    return pid


def start(argv: list[str], pid_file: Path, log_file: Path, cwd: Path, env: Optional[dict[str, str]] = None,
          marker: Optional[str] = None) -> int:
    """Start ``argv`` detached in its own session; the pid file records the pid and a marker of the command.

    The marker (default ``argv[0]``) must appear in the running process's command line; give the program that
    ``argv`` finally execs when ``argv[0]`` is a wrapper such as setpriv.
    """
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log, open(os.devnull, "rb") as devnull:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            argv, stdin=devnull, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
            env={**os.environ, **(env or {})}, start_new_session=True, close_fds=True,
        )
    pid_file.write_text(f"{process.pid} {marker or argv[0]}\n")
    return process.pid


def stop(pid_file: Path, grace_seconds: float = 8.0, signum: int = signal.SIGTERM) -> bool:
    """Stop the process group of the recorded pid: ``signum`` (SIGTERM), then SIGKILL after ``grace_seconds``."""
    pid = read_pid(pid_file)
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, signum)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and is_alive(pid):
        time.sleep(0.05)
    if is_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        while is_alive(pid):
            time.sleep(0.05)
    return True


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, signum)


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout: float, what: str, log_file: Optional[Path] = None) -> None:
    """Poll ``predicate`` until it is true or raise LabError naming ``what`` and the log to read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = ""
    if log_file and log_file.exists():
        tail = "\n  last log lines:\n    " + "\n    ".join(log_file.read_text(errors="replace").splitlines()[-8:])
    raise LabError(f"{what} did not become ready within {timeout:.0f}s; see {log_file or 'its log'}{tail}")
