# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation category ``backup_status``: a new base backup of the sandbox verified by pg_verifybackup, the source's WAL
archiver (``pg_stat_archiver``), and ``pgbackrest check`` for the source's stanza. The programs run through the
collection's command runner, the passwords in their environment (``PGPASSWORD``), never on their command line."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Mapping

from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.context import Context
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.validate.results import Outcome, Skip, plain

CATEGORY = "backup_status"


def run(ctx: Context) -> None:
    ctx.check(CATEGORY, "new_backup", lambda: check_new_backup(ctx))
    ctx.check(CATEGORY, "source_archiver", lambda: check_archiver(ctx))
    ctx.check(CATEGORY, "pgbackrest_check", lambda: check_pgbackrest(ctx))


def check_new_backup(ctx: Context) -> Outcome:
    backup, sandbox = ctx.options.backup, ctx.options.sandbox
    if not backup.new_backup:
        raise Skip("new backup disabled (backup_status.new_backup: false)")
    if ctx.check_mode:
        raise Skip("check mode: would write a base backup of the sandbox into a temporary directory and verify it")
    work = tempfile.mkdtemp(prefix="ofm-pg-validate-", dir=backup.work_dir)
    try:
        target = os.path.join(work, "base")
        start = ctx.clock()
        ctx.command([os.path.join(backup.pg_bin_dir, "pg_basebackup"), "-d", sandbox.conninfo(), "-D", target, "-X", "stream",
                     "-c", "fast", "--no-sync", "-w"], sandbox.libpq_env(), backup.timeout)
        taken = ctx.clock() - start
        size = _tree_size(target)
        ctx.command([os.path.join(backup.pg_bin_dir, "pg_verifybackup"), target], sandbox.libpq_env(), backup.timeout)
        verified = ctx.clock() - start - taken
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Outcome("ok", f"pg_basebackup of {sandbox.target} ({size / 1048576:.1f} MiB) taken in {taken:.1f} s and verified by "
                         f"pg_verifybackup in {verified:.1f} s", {"bytes": size, "backup_seconds": round(taken, 3),
                                                                  "verify_seconds": round(verified, 3)})


def check_archiver(ctx: Context) -> Outcome:
    if not ctx.options.backup.archiver:
        raise Skip("archiver check disabled (backup_status.archiver: false)")
    if ctx.options.source is None:
        raise Skip("no source connection given (source)")
    cursor = ctx.execute("source", "SELECT current_setting('archive_mode') AS archive_mode, archived_count, last_archived_wal, "
                                   "last_archived_time, failed_count, last_failed_wal, last_failed_time, stats_reset FROM pg_stat_archiver")
    row = cursor.fetchone()
    stats = dict(zip((column.name for column in cursor.description), row))
    return judge_archiver(stats.pop("archive_mode"), stats)


def check_pgbackrest(ctx: Context) -> Outcome:
    backup, source = ctx.options.backup, ctx.options.source
    if not backup.pgbackrest_stanza:
        raise Skip("no pgBackRest stanza given (backup_status.pgbackrest_stanza)")
    argv = [backup.pgbackrest_bin, f"--stanza={backup.pgbackrest_stanza}", "--log-level-file=off"]
    if backup.pgbackrest_config:
        argv.insert(1, f"--config={backup.pgbackrest_config}")
    if source is not None:
        argv.append(f"--pg1-user={source.user}")
    env = source.libpq_env() if source is not None else {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    ctx.command(argv + ["check"], env, backup.timeout)
    return Outcome("ok", f"pgbackrest check passed for stanza {backup.pgbackrest_stanza}",
                   {"stanza": backup.pgbackrest_stanza, "config": backup.pgbackrest_config})


def judge_archiver(archive_mode: str, stats: Mapping[str, Any]) -> Outcome:
    """The source's WAL archiver from ``pg_stat_archiver``: failing when its last attempt failed (or archiving is off)."""
    measured = {key: plain(value) for key, value in stats.items()}
    measured["archive_mode"] = archive_mode
    if archive_mode == "off":
        return Outcome("failed", "archive_mode is off on the source: no WAL is archived, so no point in time after the last "
                                 "backup can be restored", measured)
    last_failed, last_archived = stats.get("last_failed_time"), stats.get("last_archived_time")
    failed_count = stats.get("failed_count") or 0
    if last_failed is not None and (last_archived is None or last_failed > last_archived):
        return Outcome("failed", f"the last archive attempt failed: WAL {stats.get('last_failed_wal')} at {plain(last_failed)}, "
                                 f"{failed_count} failures since {plain(stats.get('stats_reset'))}; last success: "
                                 f"{plain(last_archived) or 'never'}", measured)
    if last_archived is None:
        return Outcome("ok", "archiving is on and nothing has failed; no WAL archived yet since the statistics were reset", measured)
    recovered = f" ({failed_count} earlier failures, archiving has succeeded since)" if failed_count else ""
    return Outcome("ok", f"last WAL archived: {stats.get('last_archived_wal')} at {plain(last_archived)}{recovered}", measured)


def _tree_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files if not os.path.islink(os.path.join(root, name)))
    return total
