# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Commands of a restore (pgbackrest, pg_ctl, pg_basebackup), run as the OS user that owns the cluster, with a timeout.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path
from typing import Callable, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.postgres.targets import SYSTEM
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    DeadlineExceeded,
    InputError,
    OfmRollbackError,
    UnavailableError,
)

Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]


def run_process(argv: Sequence[str], timeout: float) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False, cwd="/")


def as_user_prefix(os_user: str) -> list[str]:
    """The argv prefix that runs a command as ``os_user``: none when the module already runs as it, setpriv when root."""
    try:
        entry = pwd.getpwnam(os_user)
    except KeyError:
        raise InputError(f"the OS user '{os_user}' does not exist", option="os_user", accepted="the OS user that owns the cluster, e.g. postgres") from None
    if os.geteuid() == entry.pw_uid:
        return []
    if os.geteuid() != 0:
        raise InputError(f"the module runs as uid {os.geteuid()}, which can neither be nor become '{os_user}'", option="os_user",
                         accepted="the user the module runs as, or run it as root (become: true)")
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--"]


class CommandRunner:
    """Runs commands as the cluster's OS user and keeps the list of what it ran."""

    def __init__(self, os_user: str, runner: Runner = run_process) -> None:
        self.os_user = os_user
        self.runner = runner
        self.prefix = as_user_prefix(os_user)
        self.commands: list[list[str]] = []

    def run(self, argv: Sequence[str], operation: str, target: str, *, timeout: float = 600, system: str = SYSTEM) -> str:
        self.commands.append(list(argv))
        try:
            done = self.runner([*self.prefix, *argv], timeout)
        except FileNotFoundError as exc:
            raise UnavailableError(f"{argv[0]} is not installed ({exc})", system=system, operation=operation, target=target,
                                   hint="Install it on the target host, or set pg_bin_dir.") from exc
        except subprocess.TimeoutExpired as exc:
            raise DeadlineExceeded(f"{argv[0]} did not finish within {timeout:g} s", system=system, operation=operation, target=target,
                                   timeout=timeout) from exc
        if done.returncode != 0:
            output = (done.stderr or done.stdout or "").strip()[-2000:]
            raise OfmRollbackError(f"{' '.join(argv[:2])} exited {done.returncode}: {output}", system=system, operation=operation, target=target,
                                   hint="Read the message above; nothing was left behind in the sandbox directory.")
        return done.stdout

    def chown(self, path: Path) -> None:
        if self.prefix:
            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
