# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one way to run a program: ``CommandRunner``.

It runs an argument list (never a shell) with a timeout, optionally as another OS user (``as_user_prefix`` gives the
setpriv prefix), records each command line with its secrets removed, and turns what can go wrong into one exception each:

- the program is missing or may not be run: ``InputError`` naming the option that sets the program or its directory
  (``Program``) and what that option accepts;
- it runs out of time: ``DeadlineExceeded``;
- it exits non-zero: ``CommandFailed`` with its exit code and the end of its stderr, redacted; a client that knows its
  program's messages turns them into a more precise error with ``failure``.

``run_process`` and ``run_process_group`` are the only functions that start a process; a client takes a ``Runner`` so that unit
tests inject a fake. ``run_process_group`` is for programs that start programs of their own (a test runner, Locust): on timeout
it kills the whole process group, so nothing the program started outlives the bound.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import CommandFailed, DeadlineExceeded, InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.redact import SECRET_FLAGS, Redactor, redact_command

Runner = Callable[..., "subprocess.CompletedProcess[str]"]
"""``runner(argv, timeout, env=None, cwd=None)``: the exit code, stdout and stderr (text) of ``argv``; raises OSError
(FileNotFoundError) when the program cannot be started and ``subprocess.TimeoutExpired`` when it runs out of time."""

OUTPUT_LINES = 5
OUTPUT_CHARACTERS = 2000


def run_process(argv: Sequence[str], timeout: float, env: Optional[Mapping[str, str]] = None,
                cwd: Optional[str] = None) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def run_process_group(argv: Sequence[str], timeout: float, env: Optional[Mapping[str, str]] = None,
                      cwd: Optional[str] = None) -> "subprocess.CompletedProcess[str]":
    """``run_process`` in a new session; on timeout every process of that session's group is killed, then TimeoutExpired."""
    with subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
                          cwd=cwd, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.communicate()
            raise
    return subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr)


def _kill_group(pgid: int) -> None:
    """SIGKILL to the process group ``pgid`` of a program still running (its leader not yet reaped, so the id is still its)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass(frozen=True)
class Program:
    """What sets a program, for the error when it is missing: the option naming it or its directory (None when only the
    search path does), and what that option accepts."""

    option: Optional[str]
    accepted: str


@dataclass
class Ran:
    """One command run: its argument list (secrets removed, without the prefix), exit code and seconds taken (None until known)."""

    argv: list[str]
    rc: Optional[int] = None
    duration: Optional[float] = None

    def as_dict(self) -> dict[str, Any]:
        return {"argv": self.argv, "rc": self.rc, "duration": self.duration}


@dataclass(frozen=True)
class Failure:
    """A command that exited non-zero, as a ``failure`` hook gets it: argument list and output with secrets removed."""

    argv: list[str]
    rc: int
    stderr: str
    stdout: str

    @property
    def output(self) -> str:
        """The end of stderr (else stdout): its last non-empty lines joined by `` / ``."""
        lines = [line.strip() for line in (self.stderr.strip() or self.stdout).splitlines() if line.strip()]
        return " / ".join(lines[-OUTPUT_LINES:])[-OUTPUT_CHARACTERS:] or "no output"


def as_user_prefix(os_user: str, option: str = "os_user") -> list[str]:
    """The argv prefix that runs a command as ``os_user``: none when the module already runs as it, setpriv when root."""
    try:
        entry = pwd.getpwnam(os_user)
    except KeyError:
        raise InputError(f"the OS user '{os_user}' does not exist", option=option,
                         accepted="the OS user that owns the cluster, e.g. postgres") from None
    if os.geteuid() == entry.pw_uid:
        return []
    if os.geteuid() != 0:
        raise InputError(f"the module runs as uid {os.geteuid()}, which can neither be nor become '{os_user}'", option=option,
                         accepted="the user the module runs as, or run it as root (become: true)")
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--"]


class CommandRunner:
    """Runs the programs of one system, as ``os_user`` when given, and keeps what it ran.

    ``programs`` says, by program name (the last part of ``argv[0]``), which option sets each program; ``program`` is for
    any other (by default: the search path). ``secrets`` are values hidden wherever they appear in a command line or its
    output; ``secret_flags`` are flags whose value is hidden. ``hint`` is what ``CommandFailed`` advises.
    """

    def __init__(self, system: str, *, programs: Optional[Mapping[str, Program]] = None, program: Optional[Program] = None,
                 os_user: Optional[str] = None, cwd: Optional[str] = None, secrets: Iterable[Optional[str]] = (),
                 secret_flags: Sequence[str] = SECRET_FLAGS, hint: Optional[str] = None, runner: Runner = run_process,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.system = system
        self.programs = dict(programs or {})
        self.program = program
        self.os_user = os_user
        self.prefix = as_user_prefix(os_user) if os_user else []
        self.cwd = cwd
        self.redactor = Redactor(secrets)
        self.secret_flags = tuple(secret_flags)
        self.hint = hint
        self.runner = runner
        self.clock = clock
        self.records: list[Ran] = []

    @property
    def commands(self) -> list[list[str]]:
        """Every command line run, in order, secrets removed."""
        return [record.argv for record in self.records]

    def run(self, argv: Sequence[str], operation: str, target: str, *, timeout: float, env: Optional[Mapping[str, str]] = None,
            system: Optional[str] = None, failure: Optional[Callable[[Failure], OfmRollbackError]] = None) -> str:
        """``argv``'s stdout; the exceptions of the module docstring otherwise. ``system`` overrides the runner's for this command."""
        where = {"system": system or self.system, "operation": operation, "target": target}
        record = Ran(redact_command(argv, self.secret_flags, self.redactor))
        self.records.append(record)
        start = self.clock()
        try:
            done = self.runner([*self.prefix, *argv], timeout, env=env, cwd=self.cwd)
        except (FileNotFoundError, PermissionError) as exc:
            raise self._not_runnable(argv, exc, where) from exc
        except subprocess.TimeoutExpired as exc:
            raise DeadlineExceeded(f"{os.path.basename(argv[0])} did not finish within {format_duration(timeout)}", timeout=timeout,
                                   **where) from exc
        finally:
            record.duration = round(self.clock() - start, 3)
        record.rc = done.returncode
        if done.returncode != 0:
            failed = Failure(record.argv, done.returncode, self.redactor.text(done.stderr or ""), self.redactor.text(done.stdout or ""))
            if failure is not None:
                raise failure(failed)
            raise CommandFailed(f"{os.path.basename(argv[0])} exited {done.returncode}: {failed.output}", rc=done.returncode,
                                stderr=failed.output, hint=self.hint, **where)
        return done.stdout

    def _not_runnable(self, argv: Sequence[str], exc: OSError, where: dict[str, str]) -> InputError:
        if self.prefix and exc.filename == self.prefix[0]:
            return InputError(f"setpriv was not found, which runs the commands as the OS user '{self.os_user}'", option="os_user",
                              accepted="the user the module runs as, or install util-linux's setpriv", **where)
        name = os.path.basename(argv[0])
        program = self.programs.get(name) or self.program or Program(None, f"{name} installed in a directory of the search path (PATH)")
        set_by = f" (option {program.option})" if program.option else ""
        problem = "was not found" if isinstance(exc, FileNotFoundError) else f"may not be run ({exc.strerror})"
        return InputError(f"the program '{argv[0]}' {problem}{set_by}", option=program.option, accepted=program.accepted, **where)

    def chown(self, path: Path) -> None:
        """Give ``path`` to the OS user the commands run as (nothing to do when the module runs as that user)."""
        if self.prefix and self.os_user:
            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
