# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Point-in-time recovery of a PostgreSQL cluster into a sandbox: ``PitrRestore`` puts the parts of this package together
(target, backups, sandbox, commands, recovery, and the connection client) for the pgBackRest and native backends; the RDS
backend is ``rds``.
No AnsibleModule in here.
"""

from __future__ import annotations

import errno
import json
import os
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.postgres import wal_coverage as coverage
from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.backups import (
    Archive,
    Backup,
    Source,
    WAL_SEGMENT_SIZE,
    archive_covers,
    archive_id,
    choose_backup,
    iso_time,
    native_archive,
    native_backup,
    newest_archived_time,
    parse_pgbackrest_info,
    pgbackrest_argv,
    pgbackrest_repo_path,
    pgbackrest_restore_argv,
    pgbackrest_source,
)
from ansible_collections.ofm.rollback.plugins.module_utils.command import CommandRunner
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.commands import restore_runner
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.recovery import (
    Connect,
    RecoveryState,
    RecoveryWatcher,
    Sql,
    clock,
    confirm_target,
    target_identity,
)
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.sandbox import (
    MARKER_NAME,
    SandboxSpec,
    check_sandbox_free,
    conf_lines,
    end_leftovers,
    kill_server,
    native_restore_command,
    owner,
    owner_alive,
    postmaster_pid,
    read_claim,
    read_marker,
    recovery_settings,
    remove_tree,
    sandbox_settings,
    size_text,
    space,
    stop_server,
)
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.targets import SYSTEM, Target, parse_lsn, utc_now
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError,
    ConflictError,
    InputError,
    DeadlineExceeded,
    NotFoundError,
    OfmRollbackError,
    TargetNotReached,
    UnavailableError,
)

_RECOVERY_TARGET_LINE = re.compile(r"^\s*recovery_target(_time|_lsn|_xid|_name|_inclusive|_action)?\s*=")
PG_BIN_TEMPLATE = "/usr/lib/postgresql/{version}/bin"


class PitrRestore:
    """Restores ``source`` into ``sandbox`` to ``target``, or removes the sandbox; ``commands``/``queries`` say what ran."""

    def __init__(self, source: Source, sandbox: SandboxSpec, login: Connection, *, runner: Optional[CommandRunner] = None,
                 connect: Optional[Connect] = None, now: Callable[[], datetime] = utc_now, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, source_probe: Optional[coverage.SourceProbe] = None) -> None:
        """``login`` is how the module connects to the sandbox: over TCP when it has a password, else over the sandbox's socket.
        ``source_probe`` asks the source cluster (read-only) whether the archive covers a time in an idle tail."""
        self.source = source
        self.probe = source_probe
        self.sandbox = sandbox
        self.login = login
        self.runner = runner or restore_runner(sandbox.os_user)
        client = login if login.password else login.via(str(sandbox.socket))
        self.sql = Sql(connect or (lambda: client.connect(read_only=False)))
        self.now = now
        self.clock = clock
        self.sleep = sleep

    @property
    def commands(self) -> list[list[str]]:
        return self.runner.commands

    def _use_binaries_of(self, version: str) -> None:
        """Unless pg_bin_dir is set, the Debian/Ubuntu directory of the cluster's major version when it exists, else the PATH."""
        candidate = Path(PG_BIN_TEMPLATE.format(version=version))
        if self.sandbox.pg_bin_dir is None and version and candidate.is_dir():
            self.sandbox.pg_bin_dir = candidate

    def _sandbox_version(self) -> str:
        version_file = self.sandbox.data_dir / "PG_VERSION"
        return version_file.read_text().strip() if version_file.is_file() else ""

    # --- what is there ---

    def inventory(self) -> tuple[list[Backup], Archive]:
        """The usable backups and the archive range (read-only)."""
        if self.source.backend == "native":
            return [native_backup(Path(str(self.source.base_backup)))], native_archive(Path(str(self.source.wal_archive)))
        config, stanza = self.source.pgbackrest_config, str(self.source.stanza)
        if not Path(config).is_file():
            raise NotFoundError("the pgBackRest configuration file does not exist", system="pgBackRest", operation="info", target=config,
                                hint="Set pgbackrest_config to the file that defines the stanza.")
        info = self.runner.run(pgbackrest_argv(config, stanza, "info", "--output=json", repo=self.source.repo), "info", stanza,
                               timeout=120, system="pgBackRest")
        try:
            backups, archive = parse_pgbackrest_info(info, stanza)
        except AuthorizationError as exc:
            repo = pgbackrest_repo_path(config, stanza, self.source.repo)
            user = self.sandbox.os_user
            raise AuthorizationError(f"the OS user '{user}' (pgBackRest runs as it) may not read the repository {repo}: permission denied "
                                     f"({'; '.join(exc.details['problems'])})", system="pgBackRest", operation="info", target=repo,
                                     hint=f"Nothing was created. Give '{user}' read access to {repo} (and its directories), set os_user to the "
                                          "user that owns the repository, or set pgbackrest_config to a configuration whose repository it can read.",
                                     details={"repository": repo, "os_user": user, "stanza": stanza}) from exc
        directory = f"archive/{stanza}/{archive_id(info, stanza)}/{archive.newest_segment[:16]}"
        listing = self.runner.run(pgbackrest_argv(config, stanza, "repo-ls", "--output=json", directory, repo=self.source.repo), "repo-ls",
                                  directory, timeout=120, system="pgBackRest")
        return backups, Archive(archive.oldest_segment, archive.newest_segment, newest_archived_time(listing, archive.newest_segment))

    def source_locations(self) -> tuple[list[Any], Optional[int]]:
        if self.source.backend == "native":
            return [self.source.base_backup, self.source.wal_archive], None
        data_dir, port = pgbackrest_source(self.source.pgbackrest_config, str(self.source.stanza))
        return [data_dir], port

    # --- present ---

    def ensure(self, target: Target, check_mode: bool, backup_label: Optional[str] = None, timeout: float = 3600) -> dict[str, Any]:
        started = self.clock()
        marker = read_marker(self.sandbox)
        claim = read_claim(self.sandbox) if marker is None else None
        if marker is not None:
            existing = self._existing(marker, target, check_mode)
            if existing is not None:
                return existing
        elif claim is not None:
            # A run was killed while the restore command filled the directory: the claim proves this module made it.
            self._interrupted(claim, target, check_mode)
        backups, archive = self.inventory()
        covered_until, coverage_note = self._quiet_source(target, archive)
        backup = choose_backup(target, backups, archive, self.now(), backup_label, covered_until, coverage_note)
        self._use_binaries_of(backup.pg_version)
        if marker is None and (claim is None or not check_mode):
            source_dirs, source_port = self.source_locations()
            check_sandbox_free(self.sandbox, source_dirs=source_dirs, source_port=source_port)
            self._check_space(backup)
        plan = self.plan(target, backup)
        if covered_until is not None:
            plan["idle_tail"] = (f"the source has written no WAL since the archive's end (asked at {iso_time(covered_until)}): the target lies "
                                 "after the last archived commit, so recovery replays the whole archive and stops at its end")
        base = {"target": target.as_dict(), "backup": backup.as_dict(), "archive": archive.as_dict(), "sandbox": self.connection(),
                "plan": plan}
        if check_mode:
            return {**base, "changed": True, "msg": f"would restore backup {backup.label} into {self.sandbox.data_dir} to {target.describe()}"}
        return {**base, **self._restore(target, backup, plan, started, timeout)}

    def _existing(self, marker: dict[str, Any], target: Target, check_mode: bool) -> Optional[dict[str, Any]]:
        """The result for a sandbox this module already made: unchanged when it holds this target, else a conflict."""
        if marker.get("source") != self.source.identity() or target_identity(marker.get("target")) != target.identity():
            raise ConflictError(f"the sandbox already holds a restore of {marker.get('source')} to {marker.get('target')}", system=SYSTEM,
                                operation="sandbox check", target=str(self.sandbox.data_dir),
                                hint="Remove it first (state: absent) or choose another sandbox_data_dir.")
        if marker.get("status") != "ready":
            self._not_running(marker)
            if not check_mode:
                self._use_binaries_of(self._sandbox_version())
                self._discard()
            return None
        result = {**marker["result"], "target": target.as_dict(), "changed": False, "msg": f"the sandbox already holds {target.describe()}"}
        self._use_binaries_of(self._sandbox_version())
        if postmaster_pid(self.sandbox.data_dir) is None:
            result.update(changed=True, msg=f"the sandbox holds {target.describe()}; started it again")
            if not check_mode:
                self._start()
                self._wait_ready(60)
        return result

    def _interrupted(self, claim: dict[str, Any], target: Target, check_mode: bool) -> None:
        """A restore of this sandbox that a killed run left half-way, before the marker: redone when it was of the same source and
        target (what is there is discarded), else refused as for a marker."""
        self._not_running(claim)
        if claim.get("source") != self.source.identity() or target_identity(claim.get("target")) != target.identity():
            raise ConflictError(f"a restore of {claim.get('source')} to {claim.get('target')} into this sandbox was interrupted", system=SYSTEM,
                                operation="sandbox check", target=str(self.sandbox.data_dir),
                                hint="Remove it first (state: absent) or choose another sandbox_data_dir.")
        if not check_mode:
            self._discard()

    def _not_running(self, stored: dict[str, Any]) -> None:
        """Refuse to touch a restore whose owner still runs: its run was not killed (only its ansible-playbook was: the task's
        worker process goes on by itself), and both would write the same directory."""
        pid = owner_alive(stored.get("owner"))
        if pid is not None:
            raise ConflictError(f"the restore into this sandbox is still running in process {pid}", system=SYSTEM, operation="sandbox check",
                                target=str(self.sandbox.data_dir),
                                hint=f"Wait until it ends (then run again: a finished restore is reused), or stop process {pid} and run again.")

    def _quiet_source(self, target: Target, archive: Archive) -> tuple[Optional[datetime], str]:
        """For a time after the newest archived segment: until when the source proves the archive complete (it has written no
        WAL since), or why it does not."""
        if target.time is None or archive_covers(archive, target.time):
            return None, ""
        if self.probe is None:
            return None, ("If the source has written nothing since, give the module a read-only login to it (option source) and it "
                          "proves that the archive covers the target")
        try:
            state = self.probe.state()
        except UnavailableError as exc:
            return None, f"Whether the source has written anything since could not be asked: {exc.reason}"
        if state.in_recovery:
            return None, "The source login reaches a standby, which cannot say what its primary wrote; give the primary"
        if coverage.quiet_since(state, archive.end_lsn):
            return state.clock, ""
        written = (state.insert_lsn or 0) - archive.end_lsn
        return None, f"The source has written {written} bytes of WAL since the archive's end, so a WAL switch on it archives them"

    def _check_space(self, backup: Backup) -> None:
        """Refuse, before anything is created, a sandbox whose filesystem has less room than the backup restores (the WAL
        that recovery replays needs more still: a restore that runs out of it later fails and is removed)."""
        if backup.size is None:
            return
        free, total = space(self.sandbox.data_dir)
        if free < backup.size:
            raise InputError(f"no space for the restore: the filesystem of {self.sandbox.data_dir} has {size_text(free)} free (of "
                             f"{size_text(total)}), and backup {backup.label} restores {size_text(backup.size)} before the WAL it replays",
                             option="sandbox_data_dir", operation="sandbox check", system=SYSTEM,
                             accepted=f"a directory on a filesystem with more than {size_text(backup.size)} free (the backup, plus the WAL "
                                      "segments recovery replays)",
                             hint=f"Nothing was created. Free space there, or choose a sandbox_data_dir on a filesystem with more than "
                                  f"{size_text(backup.size)} free.")

    def plan(self, target: Target, backup: Backup) -> dict[str, Any]:
        settings = sandbox_settings(self.sandbox)
        if self.source.backend == "pgbackrest":
            restore = pgbackrest_restore_argv(self.source.pgbackrest_config, str(self.source.stanza), self.sandbox, target, backup,
                                              self.source.repo)
        else:
            restore = ["cp", "-a", f"{self.source.base_backup}/.", f"{self.sandbox.data_dir}/"]
            settings = {**recovery_settings(target, native_restore_command(Path(str(self.source.wal_archive)))), **settings}
        return {"backup": backup.label, "commands": [restore, self._start_argv()],
                "settings": settings, "promote": target.kind != "latest", "marker": str(self.sandbox.marker)}

    def _start_argv(self) -> list[str]:
        return [self.sandbox.binary("pg_ctl"), "start", "-D", str(self.sandbox.data_dir), "-l", str(self.sandbox.log), "-W"]

    def _restore(self, target: Target, backup: Backup, plan: dict[str, Any], started: float, timeout: float) -> dict[str, Any]:
        restore_argv = plan["commands"][0]
        try:
            self._write_claim(target)
            self._create_dir()
            self.runner.run(restore_argv, "restore", str(self.sandbox.data_dir), timeout=timeout,
                            system="pgBackRest" if self.source.backend == "pgbackrest" else SYSTEM)
            os.chmod(self.sandbox.data_dir, 0o700)
            self._write_settings(plan["settings"])
            self._write_marker("restored", target, backup, {})
            self.sandbox.claim.unlink(missing_ok=True)
            restored = self.clock()
            self._start()
            watcher = RecoveryWatcher(self.sandbox, self.sql, clock=self.clock, sleep=self.sleep)
            idle_tail = None
            try:
                state = watcher.wait(target, max(1.0, timeout - (restored - started)))
            except TargetNotReached as exc:
                state, idle_tail = self._idle_tail(target, exc, max(1.0, timeout - (self.clock() - started)))
                watcher = RecoveryWatcher(self.sandbox, self.sql, clock=self.clock, sleep=self.sleep)
            confirm_target(target, state)
            current_lsn = watcher.promote() if target.kind != "latest" else None
            finished = self.clock()
        except Exception as exc:  # pylint: disable=broad-except  # every failure ends the same way: explained, nothing left behind
            failure = self._explained(exc)
            self._discard_after(failure)
            if failure is exc:
                raise
            raise failure from exc
        except BaseException:
            self._discard_after(None)
            raise
        reached = {"lsn": state.replay_lsn, "last_commit_time": iso_time(state.last_commit_time) if state.last_commit_time else None,
                   "stop_line": state.stop_line, "promoted_at_lsn": current_lsn, "idle_tail": idle_tail}
        result = {"reached": reached, "rpo_seconds": self._rpo(target, state, started),
                  "timings": {"restore_seconds": round(restored - started, 3), "replay_seconds": round(finished - restored, 3),
                              "total_seconds": round(finished - started, 3)}}
        self._write_marker("ready", target, backup, {**result, "target": target.as_dict(), "backup": backup.as_dict(), "sandbox": self.connection()})
        message = (f"restored backup {backup.label} into {self.sandbox.data_dir} to {target.describe()}; "
                   f"the sandbox is promoted and listens on {self.sandbox.host}:{self.sandbox.port}")
        if idle_tail:
            message += f"; {idle_tail['summary']}"
        after = {"sandbox": str(self.sandbox.data_dir), "target": target.describe(), "backup": backup.label}
        return {**result, "changed": True, "msg": message, "diff": {"before": {"sandbox": None}, "after": after}}

    def _idle_tail(self, target: Target, not_reached: TargetNotReached, timeout: float) -> tuple[RecoveryState, dict[str, Any]]:
        """Recovery replayed the whole archive without passing a time target: when the source proves that it committed nothing
        the archive lacks, replay the archive again up to its last record, paused there, and return that state (the target's)."""
        last = not_reached.last_commit_time
        last_text = f"{iso_time(last)}" if last else "unknown"
        if target.time is None or not_reached.redo_done_lsn is None:
            raise OfmRollbackError(f"{not_reached.reason}: {target.describe()} is not in the archived WAL", system=SYSTEM, operation="recovery",
                                   target=str(self.sandbox.data_dir), details=not_reached.details,
                                   hint="Check that the target exists on the source and that its WAL is archived (SELECT pg_switch_wal() on "
                                        "the source, or wait for its archive_timeout).")
        if self.probe is None:
            raise OfmRollbackError(f"target time {iso_time(target.time)} lies after the last archived commit ({last_text}): either nothing was "
                                   "committed in between (an idle tail: the state at the target is the state after that commit), or the WAL "
                                   "of the target is not archived yet; only the source can tell which", system=SYSTEM,
                                   operation="recovery", target=str(self.sandbox.data_dir), details=not_reached.details,
                                   hint="Give the module a read-only login to the source (option source); or restore to 'latest', or to a "
                                        f"time up to {last_text} (the newest moment the archive alone proves).")
        self._wait_stopped(60)
        end = Target("lsn", not_reached.redo_done_lsn, True, lsn=parse_lsn(not_reached.redo_done_lsn))
        self._set_recovery_target(recovery_settings(end, None))
        watcher = RecoveryWatcher(self.sandbox, self.sql, clock=self.clock, sleep=self.sleep, log_from_end=True)
        self._start()
        state = watcher.wait(end, timeout)
        snapshot = coverage.Snapshot.parse(self.sql.one(coverage.SNAPSHOT_QUERY)[0])
        proof = coverage.prove_idle_tail(snapshot, self.probe, target.time)
        last = state.last_commit_time or last
        last_text = f"{iso_time(last)}" if last else "unknown"
        if not proof.proven:
            raise OfmRollbackError(f"the WAL of target time {iso_time(target.time)} is not provably archived: the archive ends at "
                                   f"{not_reached.redo_done_lsn}, its last commit at {last_text}, and {proof.reason}", system=SYSTEM,
                                   operation="archive coverage check", target=str(self.sandbox.data_dir),
                                   details={"proof": proof.as_dict(), "newest_restorable": last_text},
                                   hint="Wait for the source's archive_timeout to archive the current segment, or force it on the source "
                                        f"(SELECT pg_switch_wal()), then run again; or choose a time up to {last_text} (the newest restorable "
                                        "moment).")
        covered = iso_time(proof.covered_until) if proof.covered_until else "?"
        return state, {"last_commit_time": iso_time(last) if last else None, "archive_end_lsn": not_reached.redo_done_lsn,
                       "covered_until": covered, "proof": proof.as_dict(),
                       "summary": f"target lies in an idle tail: last commit {clock(last)} UTC; archive covers to "
                                  f"{clock(proof.covered_until)} UTC; restored state = target state"}

    def _wait_stopped(self, timeout: float) -> None:
        """Wait until the sandbox's postmaster has exited (after a failed recovery it shuts itself down)."""
        deadline = self.clock() + timeout
        while postmaster_pid(self.sandbox.data_dir) is not None:
            if self.clock() >= deadline:
                kill_server(self.sandbox)
                raise DeadlineExceeded("the sandbox server did not stop", system=SYSTEM, operation="restart",
                                       target=str(self.sandbox.data_dir), timeout=timeout)
            self.sleep(0.05)

    def _set_recovery_target(self, settings: dict[str, str]) -> None:
        """Replace the recovery target in ``postgresql.auto.conf`` (the lines pgBackRest or this module wrote) by ``settings``."""
        auto_conf = self.sandbox.data_dir / "postgresql.auto.conf"
        kept = [line for line in auto_conf.read_text().splitlines(keepends=True) if not _RECOVERY_TARGET_LINE.match(line)]
        header = "# ofm.rollback.pg_pitr_restore: the archive's end, to prove that the target lies in an idle tail.\n"
        self._write(auto_conf, "".join(kept) + header + conf_lines(settings))

    def _rpo(self, target: Target, state: RecoveryState, started: float) -> Optional[float]:
        if state.last_commit_time is None or target.kind not in ("time", "latest"):
            return None
        point = target.time if target.time is not None else self.now() - timedelta(seconds=self.clock() - started)
        return round((point - state.last_commit_time).total_seconds(), 3)

    def _create_dir(self) -> None:
        self.sandbox.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.sandbox.data_dir, 0o700)
        self.runner.chown(self.sandbox.data_dir)

    def _write_settings(self, settings: dict[str, str]) -> None:
        auto_conf = self.sandbox.data_dir / "postgresql.auto.conf"
        existing = auto_conf.read_text() if auto_conf.exists() else ""
        header = "# Written by ofm.rollback.pg_pitr_restore: this cluster is a sandbox, never archiving into the source's repository.\n"
        self._write(auto_conf, existing + header + conf_lines(settings))
        if self.source.backend == "native":
            self._write(self.sandbox.data_dir / "recovery.signal", "")

    def _write_marker(self, status: str, target: Target, backup: Backup, result: dict[str, Any]) -> None:
        self._write(self.sandbox.marker, json.dumps({"created_by": "ofm.rollback.pg_pitr_restore", "status": status,
                                                     "source": self.source.identity(), "target": target.as_dict(),
                                                     "backup": backup.label, "written_at": iso_time(self.now()), "result": result,
                                                     "owner": owner()}, indent=2))

    def _write_claim(self, target: Target) -> None:
        self.sandbox.data_dir.parent.mkdir(parents=True, exist_ok=True)
        claim = {"created_by": "ofm.rollback.pg_pitr_restore", "status": "restoring", "data_dir": str(self.sandbox.data_dir),
                 "source": self.source.identity(), "target": target.as_dict(), "written_at": iso_time(self.now()), "owner": owner()}
        self.sandbox.claim.write_text(json.dumps(claim, indent=2))
        os.chmod(self.sandbox.claim, 0o600)

    def _write(self, path: Path, text: str) -> None:
        path.write_text(text)
        os.chmod(path, 0o600)
        self.runner.chown(path)

    def _start(self) -> None:
        self.runner.run(self._start_argv(), "start", str(self.sandbox.data_dir), timeout=60)

    def _wait_ready(self, timeout: float) -> None:
        errors: list[Exception] = []

        def accepts() -> bool:
            try:
                self.sql.one("SELECT 1")
                return True
            except Exception as exc:  # pylint: disable=broad-except  # the server is starting
                errors.append(exc)
                if postmaster_pid(self.sandbox.data_dir) is None:
                    raise self._not_ready(errors[-1]) from exc
                return False

        poller = Poller(timeout=timeout, interval=0.1, clock=self.clock, sleep=self.sleep)
        poller.until(accepts, bool, lambda _accepted, _polls, _elapsed: self._not_ready(errors[-1]))

    def _not_ready(self, exc: Exception) -> UnavailableError:
        return UnavailableError(f"the sandbox does not accept connections ({exc})", system=SYSTEM, operation="start",
                                target=str(self.sandbox.data_dir))

    def _explained(self, exc: Exception) -> Exception:
        """A failed restore's error as the module reports it: a full filesystem named as such (pgBackRest says only "unable to
        write", recovery only that the target was not reached when the WAL it fetches has no room), a file that could not be
        written as an error of this module rather than a traceback; any other error as it is."""
        free = None
        try:
            free, total = space(self.sandbox.data_dir)
        except OSError:
            pass
        said = " ".join([str(exc), json.dumps(getattr(exc, "details", None), default=str)])
        no_space = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in said \
            or (free is not None and free < WAL_SEGMENT_SIZE)
        cause = exc.reason if isinstance(exc, OfmRollbackError) else f"{getattr(exc, 'strerror', None) or exc} ({getattr(exc, 'filename', '')})"
        if no_space and free is not None:
            return OfmRollbackError(f"no space left on device: the filesystem of {self.sandbox.data_dir} is full ({size_text(free)} free of "
                                    f"{size_text(total)}), so the restore failed: {cause}", system=SYSTEM, operation="restore",
                                    target=str(self.sandbox.data_dir),
                                    hint="Free space there, or choose a sandbox_data_dir on a filesystem with room for the backup and the WAL "
                                         "it replays, then run again.",
                                    details={"free_bytes": free, "total_bytes": total, "cause": getattr(exc, "details", None) or {}})
        if isinstance(exc, OSError):
            return OfmRollbackError(f"could not write the sandbox: {cause}", system=SYSTEM, operation="restore", target=str(self.sandbox.data_dir),
                                    hint="Check the sandbox directory's filesystem and permissions, then run again.")
        return exc

    def _discard_after(self, failure: Optional[Exception]) -> None:
        """Discard the sandbox after ``failure``, and say in it what became of the sandbox; a discard that fails does not hide
        the failure (it is added to it)."""
        try:
            outcome = self._discard()
        except (OSError, OfmRollbackError) as exc:
            outcome = f"left behind ({exc}): remove it with state=absent"
        if isinstance(failure, OfmRollbackError):
            failure.details["sandbox"] = outcome
            if outcome != "removed":
                failure.reason = f"{failure.reason.rstrip('.')}; the sandbox directory was {outcome}"

    def _discard(self) -> str:
        """Stop and delete what this run created, so a failed restore leaves nothing behind: the server, the processes a killed
        server left working in the directory, its files (a mount point is emptied, as it cannot be deleted), and the claim.
        Says ``removed`` (also when nothing was there) or ``emptied (a mount point)``."""
        try:
            stop_server(self.runner, self.sandbox, timeout=30)
        except OfmRollbackError:
            kill_server(self.sandbox)
        outcome = "absent"
        if self.sandbox.data_dir.exists():
            left = end_leftovers(self.sandbox.data_dir, clock=self.clock, sleep=self.sleep)
            if left:
                raise OfmRollbackError(f"processes {', '.join(map(str, left))} still run in it", system=SYSTEM, operation="sandbox removal",
                                       target=str(self.sandbox.data_dir))
            outcome = remove_tree(self.sandbox.data_dir)
            outcome = "emptied (a mount point)" if outcome == "emptied" else outcome
        self.sandbox.claim.unlink(missing_ok=True)
        return "removed" if outcome == "absent" else outcome

    def connection(self) -> dict[str, Any]:
        """How to reach the sandbox; the password is the one given in ``login`` and is never returned."""
        return {"data_dir": str(self.sandbox.data_dir), "host": self.sandbox.host, "port": self.sandbox.port,
                "socket_dir": str(self.sandbox.socket), "database": self.login.database, "user": self.login.user,
                "log": str(self.sandbox.log)}

    # --- absent ---

    def remove(self, check_mode: bool) -> dict[str, Any]:
        data_dir = self.sandbox.data_dir
        if not data_dir.exists() or (data_dir.is_dir() and not any(data_dir.iterdir())):
            if read_claim(self.sandbox) is not None and not check_mode:
                self.sandbox.claim.unlink(missing_ok=True)
            return {"changed": False, "msg": f"no sandbox at {data_dir}" + (" (the directory is empty)" if data_dir.exists() else "")}
        marker = read_marker(self.sandbox) or read_claim(self.sandbox)
        if not marker or marker.get("created_by") != "ofm.rollback.pg_pitr_restore":
            raise ConflictError(f"{data_dir} holds no sandbox created by this module (no {MARKER_NAME})", system=SYSTEM,
                                operation="sandbox removal", target=str(data_dir),
                                hint="The module only removes sandboxes it created; remove anything else by hand.")
        running = postmaster_pid(data_dir) is not None
        self._use_binaries_of(self._sandbox_version())
        if not check_mode:
            if running:
                stop_server(self.runner, self.sandbox)
            remove_tree(data_dir)
            self.sandbox.claim.unlink(missing_ok=True)
        verb = "would be" if check_mode else "was"
        return {"changed": True, "msg": f"the sandbox at {data_dir} {verb} {'stopped and ' if running else ''}removed",
                "removed": {"data_dir": str(data_dir), "target": marker.get("target"), "was_running": running},
                "diff": {"before": {"sandbox": str(data_dir), "target": marker.get("target")}, "after": {"sandbox": None}}}
