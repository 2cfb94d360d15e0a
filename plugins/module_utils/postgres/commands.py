# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The commands of a restore (pgbackrest, pg_ctl, cp) go through the collection's command runner: as the OS user that owns
the cluster, from ``/`` (a directory that user can read), with a timeout each.
"""

from __future__ import annotations

from ansible_collections.ofm.rollback.plugins.module_utils.command import CommandRunner, Program, Runner, run_process
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.targets import SYSTEM

PROGRAMS = {
    "pg_ctl": Program("pg_bin_dir", "the directory of pg_ctl; by default /usr/lib/postgresql/<major>/bin of the backup's major "
                                    "version when it exists, else the search path"),
}
FAILURE_HINT = "Read the message above; nothing was left behind in the sandbox directory."


def restore_runner(os_user: str, runner: Runner = run_process) -> CommandRunner:
    """The runner of a restore's commands, as ``os_user``."""
    return CommandRunner(SYSTEM, programs=PROGRAMS, os_user=os_user, cwd="/", hint=FAILURE_HINT, runner=runner)
