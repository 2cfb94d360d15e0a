# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every validation check works with: the options, one session per connection (``sandbox``, ``source``, ``app``)
through the one PostgreSQL client, the command runner, and ``check``, which runs a check and records how it ended.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.command import CommandRunner, Program, Runner, run_process
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection, psycopg
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.options import BackupOptions, ValidateOptions
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.results import (
    CheckResult,
    Outcome,
    Skip,
    error_text,
    pg_error_text,
)
from ansible_collections.ofm.rollback.plugins.module_utils.redact import Redactor

SYSTEM = "PostgreSQL"
BIN_DIR_HELP = "the directory of pg_basebackup and pg_verifybackup (PostgreSQL 13 or later) of the sandbox's major version"


def backup_programs(backup: BackupOptions) -> dict[str, Program]:
    """The options that set the programs of the backup checks, for the error when one is missing."""
    bin_dir = Program("backup_status.pg_bin_dir", BIN_DIR_HELP)
    return {"pg_basebackup": bin_dir, "pg_verifybackup": bin_dir,
            os.path.basename(backup.pgbackrest_bin): Program("backup_status.pgbackrest_bin", "the pgbackrest command, a path or a name on PATH")}


class Context:
    """The sessions, statements, commands and check results of one validation run."""

    def __init__(self, options: ValidateOptions, *, check_mode: bool = False, clock: Callable[[], float] = time.perf_counter,
                 runner: Runner = run_process) -> None:
        self.options = options
        self.check_mode = check_mode
        self.clock = clock
        self.checks: list[CheckResult] = []
        self.queries: list[dict[str, str]] = []
        self.runner = CommandRunner(SYSTEM, programs=backup_programs(options.backup), secrets=options.secrets, hint="", runner=runner,
                                    clock=clock)
        self.changed = False
        self._redactor = Redactor(options.secrets)
        self._sessions: dict[str, Any] = {}

    # sessions and statements

    def session(self, name: str) -> Any:
        """The open connection to ``sandbox``, ``source`` or ``app``; a failed connection is not tried again."""
        if name not in self._sessions:
            conn: Connection = getattr(self.options, name)
            try:
                self._sessions[name] = conn.connect(read_only=name != "app", statement_timeout=self.options.query_timeout)
            except psycopg.Error as exc:
                self._sessions[name] = exc
        session = self._sessions[name]
        if isinstance(session, Exception):
            raise session
        return session

    def execute(self, name: str, query: Any, params: Optional[Sequence[Any]] = None) -> Any:
        conn = self.session(name)
        text = query.as_string(conn) if hasattr(query, "as_string") else query
        self.queries.append({"target": name, "query": " ".join(text.split())})
        return conn.execute(query, params)

    def rolled_back(self, target: str, query: str) -> list[Any]:
        """Run ``query`` in a transaction that is rolled back; its rows (none for a statement without a result)."""
        conn = self.session(target)
        with conn.transaction(force_rollback=True):
            cursor = self.execute(target, query)
            return cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        for session in self._sessions.values():
            if not isinstance(session, Exception):
                session.close()
        self._sessions.clear()

    def command(self, argv: list[str], env: dict[str, str], timeout: float) -> str:
        return self.runner.run(argv, os.path.basename(argv[0]), self.options.sandbox.target, timeout=timeout, env=env)

    # running checks

    def check(self, category: str, name: str, function: Callable[[], Outcome]) -> CheckResult:
        """Run one check of ``category`` (unless the category is not selected) and record how it ended."""
        start = self.clock()
        if category not in self.options.only:
            outcome = Outcome("skipped", f"category {category} not selected (only: {', '.join(self.options.only)})")
        else:
            try:
                outcome = function()
            except Skip as exc:
                outcome = Outcome("skipped", str(exc))
            except psycopg.Error as exc:
                outcome = Outcome("failed", pg_error_text(exc))
            except OfmRollbackError as exc:
                outcome = Outcome("failed", error_text(exc))
            except OSError as exc:
                outcome = Outcome("failed", f"{type(exc).__name__}: {exc}")
        result = CheckResult(category, name, outcome.status, self._redactor.text(outcome.detail), self._redactor.value(outcome.measured),
                             self.clock() - start)
        self.checks.append(result)
        return result
