# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Point-in-time recovery of a PostgreSQL cluster into a sandbox: targets, backups, commands, recovery.

Plain functions parse and check the recovery target against what the backups and the WAL archive cover
(``pgbackrest info --output=json``, or a pg_basebackup directory and a WAL archive directory), and build the
command lines; ``Sandbox`` runs them as the OS user that owns the cluster and watches the recovery until the
target is confirmed. No AnsibleModule in here.
"""

from __future__ import annotations

import configparser
import codecs
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils import pg_wal_coverage as coverage
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    ConflictError,
    DataError,
    DeadlineExceeded,
    InputError,
    NotFoundError,
    OfmRollbackError,
    UnavailableError,
)

SYSTEM = "PostgreSQL PITR"
TARGET_TYPES = ("time", "lsn", "name", "xid", "latest")
BACKENDS = ("pgbackrest", "native", "rds")
MARKER_NAME = "ofm_pitr_restore.json"
LOG_NAME = "ofm_pitr_restore.log"
WAL_SEGMENT_SIZE = 16 * 1024 * 1024
ARCHIVE_TIME_RESOLUTION = timedelta(seconds=1)  # pgBackRest lists file times in whole seconds
BACKUP_TIME_RESOLUTION = timedelta(seconds=1)  # and backup stop times too: a target in that second may precede the backup's end
_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")
_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")
_MAX_XID = 2 ** 63 - 1
_MAX_RESTORE_POINT = 63
_STOPPING = re.compile(r"recovery stopping (?:before|after|at) .*")
_NOT_REACHED = "recovery ended before configured recovery target was reached"
_CONSISTENT = "consistent recovery state reached"
_ABORTED = "aborting startup due to startup process failure"
_REDO_DONE = re.compile(r"redo done at ([0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})")
_LAST_COMPLETED = re.compile(r"last completed transaction was at log time (.+?)\s*$")
_CLIENT_FATALS = ("the database system is starting up", "the database system is not yet accepting connections",
                  "the database system is shutting down", "authentication failed", "does not exist", "no pg_hba.conf entry")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# --- targets ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """A recovery target: ``kind`` is one of TARGET_TYPES; ``value`` is what PostgreSQL is given."""

    kind: str
    value: Optional[str] = None
    inclusive: bool = True
    time: Optional[datetime] = None
    lsn: Optional[int] = None
    assumed_utc: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "value": self.value, "inclusive": self.inclusive, "assumed_utc": self.assumed_utc}

    def identity(self) -> dict[str, Any]:
        """What makes two targets the same restore (however the time was written)."""
        return {"type": self.kind, "value": self.value, "inclusive": self.inclusive}

    def describe(self) -> str:
        if self.kind == "latest":
            return "the latest archived state"
        edge = "" if self.kind == "name" or self.inclusive else " (exclusive)"
        return f"{self.kind} {self.value}{edge}"


def parse_lsn(text: str, option: str = "target") -> int:
    match = _LSN.match(text.strip())
    if not match:
        raise InputError(f"'{text}' is not an LSN", option=option, accepted="an LSN such as 0/3000060 (two hexadecimal numbers of up to 8 digits)")
    return (int(match.group(1), 16) << 32) + int(match.group(2), 16)


def format_lsn(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_time(text: str, option: str = "target") -> tuple[datetime, bool]:
    """A timestamp and whether it had no offset (then it is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"'{text}' is not a timestamp", option=option,
                         accepted="a time such as '2025-11-28 03:00:00', '2025-11-28T03:00:00+01:00' or '2025-11-28 03:00:00.5Z' "
                                  "(without an offset it is taken as UTC)") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc), True
    return moment.astimezone(timezone.utc), False


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def parse_target(kind: str, value: Optional[str], inclusive: bool = True) -> Target:
    """The target ``kind``/``value`` options as a ``Target``, or an InputError naming the option."""
    if kind not in TARGET_TYPES:
        raise InputError(f"unknown target type '{kind}'", option="target_type", accepted=TARGET_TYPES)
    if kind == "latest":
        if value:
            raise InputError("target must not be set with target_type=latest", option="target", accepted="no value")
        return Target("latest")
    if value is None or not str(value).strip():
        raise InputError(f"target_type={kind} needs a target", option="target", accepted=_ACCEPTED[kind])
    text = str(value).strip()
    if kind == "time":
        moment, assumed_utc = parse_time(text)
        return Target("time", format_time(moment), inclusive, time=moment, assumed_utc=assumed_utc)
    if kind == "lsn":
        lsn = parse_lsn(text)
        return Target("lsn", format_lsn(lsn), inclusive, lsn=lsn)
    if kind == "xid":
        if not text.isdigit() or not 3 <= int(text) <= _MAX_XID:
            raise InputError(f"'{text}' is not a transaction id", option="target", accepted=_ACCEPTED["xid"])
        return Target("xid", str(int(text)), inclusive)
    if len(text.encode()) > _MAX_RESTORE_POINT:
        raise InputError(f"restore point name '{text}' is longer than {_MAX_RESTORE_POINT} bytes", option="target", accepted=_ACCEPTED["name"])
    return Target("name", text, True)


_ACCEPTED = {
    "time": "a time such as '2025-11-28 03:00:00' (UTC) or '2025-11-28T03:00:00+01:00'",
    "lsn": "an LSN such as 0/3000060",
    "xid": "a transaction id: a whole number of 3 or more (txid_current() or xmin of a row)",
    "name": f"the name given to pg_create_restore_point(), at most {_MAX_RESTORE_POINT} bytes",
}


# --- backups and the WAL archive -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Backup:
    """A backup the sandbox can start from: when and where (LSN) it became consistent."""

    label: str
    kind: str
    start_time: datetime
    stop_time: datetime
    start_lsn: int
    stop_lsn: int
    pg_version: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "type": self.kind, "start_time": _iso(self.start_time), "stop_time": _iso(self.stop_time),
                "start_lsn": format_lsn(self.start_lsn), "stop_lsn": format_lsn(self.stop_lsn), "pg_version": self.pg_version}


@dataclass(frozen=True)
class Archive:
    """What the WAL archive holds: its oldest and newest segment, and when the newest one was archived."""

    oldest_segment: str
    newest_segment: str
    newest_archived_at: Optional[datetime]

    @property
    def end_lsn(self) -> int:
        """The first LSN after the newest archived segment: everything before it can be replayed."""
        return segment_start_lsn(self.newest_segment) + WAL_SEGMENT_SIZE

    def as_dict(self) -> dict[str, Any]:
        return {"oldest_segment": self.oldest_segment, "newest_segment": self.newest_segment,
                "newest_archived_at": _iso(self.newest_archived_at) if self.newest_archived_at else None,
                "end_lsn": format_lsn(self.end_lsn)}


def segment_start_lsn(segment: str) -> int:
    match = _SEGMENT.match(segment)
    if not match:
        raise DataError(f"'{segment}' is not a WAL segment name", system=SYSTEM, operation="archive check")
    return (int(match.group(2), 16) << 32) + int(match.group(3), 16) * WAL_SEGMENT_SIZE


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _epoch(seconds: Any) -> datetime:
    return datetime.fromtimestamp(int(seconds), timezone.utc)


def parse_pgbackrest_info(stdout: str, stanza: str) -> tuple[list[Backup], Archive]:
    """The usable backups (oldest first) and the archive range of ``stanza`` from ``pgbackrest info --output=json``."""
    try:
        stanzas = json.loads(stdout)
    except ValueError as exc:
        raise DataError(f"pgbackrest info printed no JSON ({exc})", system="pgBackRest", operation="info", target=stanza) from exc
    entry = next((item for item in stanzas if isinstance(item, dict) and item.get("name") == stanza), None) if isinstance(stanzas, list) else None
    if entry is None:
        raise NotFoundError("pgbackrest info does not list the stanza", system="pgBackRest", operation="info", target=stanza,
                            hint="Check the stanza name and the pgBackRest configuration file (pgbackrest_config).")
    status = entry.get("status") or {}
    if status.get("code", 0) not in (0, 2) or not entry.get("backup"):
        raise NotFoundError(f"the repository has no usable backup of the stanza (status {status.get('code')}: {status.get('message')})",
                            system="pgBackRest", operation="info", target=stanza,
                            hint="Check the repository path in the pgBackRest configuration and that a backup exists (pgbackrest info).")
    versions = {db.get("id"): str(db.get("version", "")) for db in entry.get("db") or []}
    backups = sorted((_pgbackrest_backup(item, versions) for item in entry["backup"] if not item.get("error")), key=lambda b: b.stop_time)
    archive = _pgbackrest_archive(entry)
    if not backups or archive is None:
        raise NotFoundError("the repository has no backup with archived WAL", system="pgBackRest", operation="info", target=stanza,
                            hint="Take a backup (pgbackrest backup) and check archiving (pgbackrest check).")
    return backups, archive


def _pgbackrest_backup(item: dict[str, Any], versions: dict[Any, str]) -> Backup:
    try:
        return Backup(item["label"], item["type"], _epoch(item["timestamp"]["start"]), _epoch(item["timestamp"]["stop"]),
                      parse_lsn(item["lsn"]["start"]), parse_lsn(item["lsn"]["stop"]), versions.get((item.get("database") or {}).get("id"), ""))
    except (KeyError, TypeError, InputError) as exc:
        raise DataError(f"a backup in pgbackrest info lacks its label, timestamps or LSNs ({exc})", system="pgBackRest", operation="info") from exc


def _pgbackrest_archive(entry: dict[str, Any]) -> Optional[Archive]:
    ranges = [item for item in entry.get("archive") or [] if item.get("min") and item.get("max")]
    if not ranges:
        return None
    newest = ranges[-1]
    return Archive(ranges[0]["min"], newest["max"], None)


def archive_id(entry_json: str, stanza: str) -> str:
    """The archive id (``15-1``) of the newest archive range of ``stanza``."""
    entry = next(item for item in json.loads(entry_json) if item.get("name") == stanza)
    return entry["archive"][-1]["id"]


def newest_archived_time(repo_ls_stdout: str, segment: str) -> Optional[datetime]:
    """When ``segment`` was archived, from ``pgbackrest repo-ls --output=json`` of its directory."""
    listing = json.loads(repo_ls_stdout or "{}")
    times = [entry.get("time") for name, entry in listing.items() if name.startswith(segment) and not name.endswith(".backup")]
    return _epoch(max(times)) if times and all(times) else None


def native_backup(base_backup: Path) -> Backup:
    """A plain-format pg_basebackup directory: start from backup_label, stop LSN from backup_manifest, stop time its mtime."""
    label_file, manifest_file = base_backup / "backup_label", base_backup / "backup_manifest"
    if not label_file.is_file():
        raise NotFoundError("no backup_label in the directory: not a plain-format pg_basebackup", system=SYSTEM,
                            operation="base backup check", target=str(base_backup),
                            hint="Point native_base_backup at the directory pg_basebackup -Fp -D wrote.")
    label = dict(line.split(": ", 1) for line in label_file.read_text().splitlines() if ": " in line)
    start_lsn = parse_lsn(label.get("START WAL LOCATION", "").split(" ", 1)[0], option="native_base_backup")
    start_time = datetime.strptime(label["START TIME"].rsplit(" ", 1)[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc) \
        if label.get("START TIME", "").endswith(("UTC", "GMT")) else _epoch(label_file.stat().st_mtime)
    stop_lsn, stop_time = start_lsn, _epoch(label_file.stat().st_mtime)
    if manifest_file.is_file():
        ranges = json.loads(manifest_file.read_text()).get("WAL-Ranges") or []
        if ranges:
            stop_lsn = parse_lsn(ranges[-1]["End-LSN"], option="native_base_backup")
        stop_time = _epoch(manifest_file.stat().st_mtime)
    version = (base_backup / "PG_VERSION").read_text().strip() if (base_backup / "PG_VERSION").is_file() else ""
    return Backup(label.get("LABEL", base_backup.name), "base", start_time, stop_time, start_lsn, stop_lsn, version)


def native_archive(archive_dir: Path) -> Archive:
    """The segments of a WAL archive directory (``archive_command = 'cp %p <dir>/%f'``), with the newest one's mtime."""
    if not archive_dir.is_dir():
        raise NotFoundError("the WAL archive directory does not exist", system=SYSTEM, operation="archive check", target=str(archive_dir),
                            hint="Point native_wal_archive at the directory the source's archive_command copies WAL into.")
    segments = sorted(path for path in archive_dir.iterdir() if _SEGMENT.match(path.name))
    if not segments:
        raise NotFoundError("the WAL archive directory holds no WAL segment", system=SYSTEM, operation="archive check",
                            target=str(archive_dir), hint="Check the source's archive_command and pg_stat_archiver.")
    return Archive(segments[0].name, segments[-1].name, _epoch(segments[-1].stat().st_mtime))


def choose_backup(target: Target, backups: Sequence[Backup], archive: Archive, now: datetime,
                  label: Optional[str] = None, covered_until: Optional[datetime] = None, coverage_note: str = "") -> Backup:
    """The newest backup the target can be reached from, after checking that the target is covered; else an InputError.

    A time is covered up to when the newest segment was archived, or up to ``covered_until`` when the source said that it
    has written nothing since (``coverage_note`` says what the source answered otherwise)."""
    oldest = backups[0]
    if target.time is not None:
        if target.time > now:
            raise InputError(f"target time {_iso(target.time)} is in the future (now {_iso(now)})", option="target",
                             accepted="a time in the past", operation="target check", system=SYSTEM,
                             hint="Give a time before now, in UTC unless it has an offset.")
        if target.time < oldest.stop_time + BACKUP_TIME_RESOLUTION:
            raise InputError(f"target time {_iso(target.time)} is before the oldest usable backup {oldest.label} ended ({_iso(oldest.stop_time)})",
                             option="target", operation="target check", system=SYSTEM,
                             accepted=f"a time from {_iso(oldest.stop_time + BACKUP_TIME_RESOLUTION)} on",
                             hint="Nothing older can be restored: pick a later target.")
        if not archive_covers(archive, target.time, covered_until):
            raise not_archived_yet(target.time, archive, coverage_note)
        candidates = [backup for backup in backups if backup.stop_time + BACKUP_TIME_RESOLUTION <= target.time]
    elif target.lsn is not None:
        if target.lsn < oldest.stop_lsn:
            raise InputError(f"target LSN {target.value} is before the oldest usable backup {oldest.label} ended ({format_lsn(oldest.stop_lsn)})",
                             option="target", operation="target check", system=SYSTEM, accepted=f"an LSN from {format_lsn(oldest.stop_lsn)} on")
        if target.lsn >= archive.end_lsn:
            raise InputError(f"target LSN {target.value} is not in the archived WAL, which ends at {format_lsn(archive.end_lsn)} "
                             f"(segment {archive.newest_segment})", option="target", operation="target check", system=SYSTEM,
                             accepted=f"an LSN before {format_lsn(archive.end_lsn)}",
                             hint="Wait for the source to archive more WAL (archive_timeout), or run SELECT pg_switch_wal() on it.")
        candidates = [backup for backup in backups if backup.stop_lsn <= target.lsn]
    else:
        candidates = list(backups)
    if label is not None:
        return _labelled(label, backups, candidates, target)
    chosen = candidates[-1]
    if chosen.stop_lsn >= archive.end_lsn:
        raise InputError(f"the WAL of backup {chosen.label} (up to {format_lsn(chosen.stop_lsn)}) is not archived yet", option="target",
                         operation="target check", system=SYSTEM, accepted="a target whose backup's WAL is archived",
                         hint="Wait for archiving (pgbackrest check), then run again.")
    return chosen


def archive_covers(archive: Archive, moment: datetime, covered_until: Optional[datetime] = None) -> bool:
    """Whether the archive may hold the WAL of ``moment``: archived after it, or covered up to now by a quiet source."""
    if covered_until is not None and moment <= covered_until:
        return True
    return archive.newest_archived_at is None or moment < archive.newest_archived_at + ARCHIVE_TIME_RESOLUTION


def not_archived_yet(moment: datetime, archive: Archive, coverage_note: str = "") -> InputError:
    """The refusal of a time whose WAL is not archived yet: the newest restorable moment, and what to do."""
    newest = _iso(archive.newest_archived_at) if archive.newest_archived_at else "?"
    note = f" {coverage_note.rstrip('.')}." if coverage_note else ""
    return InputError(f"the WAL of {_iso(moment)} is not archived yet: the newest restorable moment is {newest}, when the newest archived "
                      f"segment {archive.newest_segment} was archived.{note}",
                      option="target", operation="target check", system=SYSTEM, accepted=f"a time up to {newest} (the newest restorable moment)",
                      hint="Wait for the source's archive_timeout to archive the current segment, or force it on the source "
                           "(SELECT pg_switch_wal()), then run again; or choose a time up to the newest restorable moment.")


def _labelled(label: str, backups: Sequence[Backup], candidates: Sequence[Backup], target: Target) -> Backup:
    named = next((backup for backup in backups if backup.label == label), None)
    if named is None:
        raise InputError(f"backup '{label}' is not among the usable backups", option="backup_label",
                         accepted=[backup.label for backup in backups])
    if named not in candidates:
        raise InputError(f"backup '{label}' ended after the target {target.describe()}", option="backup_label",
                         accepted=[backup.label for backup in candidates])
    return named


# --- commands and settings -------------------------------------------------------------------------------------------

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

    def binary(self, name: str) -> str:
        return str(self.pg_bin_dir / name) if self.pg_bin_dir else name


def pgbackrest_argv(config: str, stanza: str, *args: str, repo: Optional[int] = None) -> list[str]:
    return ["pgbackrest", f"--config={config}", f"--stanza={stanza}", *([f"--repo={repo}"] if repo else []), *args]


def pgbackrest_restore_argv(config: str, stanza: str, sandbox: SandboxSpec, target: Target, backup: Backup,
                            repo: Optional[int] = None) -> list[str]:
    """``pgbackrest restore`` into the sandbox: data directory remapped, tablespaces inside it, archiving off, paused at the target."""
    args = ["restore", f"--pg1-path={sandbox.data_dir}", f"--set={backup.label}", "--archive-mode=off",
            f"--tablespace-map-all={sandbox.data_dir / 'ofm_tablespaces'}"]
    if target.kind == "latest":
        args.append("--type=default")
    else:
        args += [f"--type={target.kind}", f"--target={target.value}", "--target-action=pause"]
        if target.kind != "name" and not target.inclusive:
            args.append("--target-exclusive")
    return pgbackrest_argv(config, stanza, *args, repo=repo)


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


def pgbackrest_source(config: str, stanza: str) -> tuple[Optional[str], Optional[int]]:
    """The source cluster's data directory and port as the pgBackRest configuration names them (pg1-path, pg1-port)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(config)
    except configparser.Error:
        return None, None
    options = {**(dict(parser["global"]) if parser.has_section("global") else {}),
               **(dict(parser[stanza]) if parser.has_section(stanza) else {})}
    port = options.get("pg1-port")
    return options.get("pg1-path"), int(port) if port and port.isdigit() else 5432 if options.get("pg1-path") else None


# --- running as the cluster's owner ----------------------------------------------------------------------------------

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


# --- the sandbox -----------------------------------------------------------------------------------------------------

def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def read_marker(sandbox: SandboxSpec) -> Optional[dict[str, Any]]:
    try:
        return json.loads(sandbox.marker.read_text())
    except (OSError, ValueError):
        return None


def postmaster_pid(data_dir: Path) -> Optional[int]:
    """The pid of the postmaster running on ``data_dir``, or None when none is alive."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def same_path(first: Any, second: Any) -> bool:
    return bool(first) and bool(second) and os.path.realpath(str(first)) == os.path.realpath(str(second))


def inside(path: Path, parent: Any) -> bool:
    if not parent:
        return False
    parent_real = os.path.realpath(str(parent))
    return os.path.realpath(str(path)).startswith(parent_real.rstrip("/") + "/") or same_path(path, parent)


@dataclass
class RecoveryState:
    """What the sandbox reports while and after it replays WAL."""

    in_recovery: Optional[bool] = None
    pause_state: Optional[str] = None
    replay_lsn: Optional[str] = None
    last_commit_time: Optional[datetime] = None
    stop_line: Optional[str] = None
    consistent: bool = False

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["last_commit_time"] = _iso(self.last_commit_time) if self.last_commit_time else None
        return values


def last_fatal(log_text: str) -> Optional[str]:
    """The server's last FATAL message, leaving out those of refused client connections."""
    return ServerLog.of(log_text).last_fatal


def recovery_log_outcome(log_text: str) -> tuple[Optional[str], bool, Optional[str]]:
    """From the server log: the ``recovery stopping ...`` line, whether a consistent state was reached, and why recovery failed
    (None while it has not; the FATAL lines of refused client connections do not count)."""
    log = ServerLog.of(log_text)
    return log.stop_line, log.consistent, log.failure


class ServerLog:
    """The sandbox's server log, followed as it grows: each ``update()`` reads only the bytes appended since the last one, so
    watching a recovery that replays for hours (a line per restored WAL segment) costs the same at every poll."""

    TAIL_LINES = 15

    def __init__(self, path: Optional[Path], *, from_end: bool = False) -> None:
        """``from_end``: skip what the log already holds (a server started again appends to the same log)."""
        self.path = path
        self.offset = path.stat().st_size if from_end and path is not None and path.exists() else 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self.tail: deque[str] = deque(maxlen=self.TAIL_LINES)
        self.stop_line: Optional[str] = None
        self.consistent = False
        self.last_fatal: Optional[str] = None
        self.not_reached = False
        self.aborted = False
        self.redo_done_lsn: Optional[str] = None
        self.last_completed_at: Optional[datetime] = None

    @classmethod
    def of(cls, text: str) -> "ServerLog":
        log = cls(None)
        log.feed(text, final=True)
        return log

    @property
    def failure(self) -> Optional[str]:
        """Why recovery failed, once the server said so."""
        if self.not_reached:
            return _NOT_REACHED
        if self.aborted:
            return self.last_fatal or _ABORTED
        return None

    def update(self) -> None:
        if self.path is None:
            return
        try:
            with self.path.open("rb") as stream:
                if os.fstat(stream.fileno()).st_size < self.offset:  # truncated or replaced: read the new file from its start
                    self.offset, self._partial = 0, ""
                    self._decoder.reset()
                stream.seek(self.offset)
                data = stream.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        self.feed(self._decoder.decode(data))

    def feed(self, text: str, final: bool = False) -> None:
        """Take in more of the log; a line is read once it is complete (or at the end, with ``final``)."""
        lines = (self._partial + text).split("\n")
        self._partial = "" if final else lines.pop()
        for line in lines:
            if line:
                self._line(line)

    def _line(self, line: str) -> None:
        self.tail.append(line)
        if self.stop_line is None:
            stop = _STOPPING.search(line)
            if stop:
                self.stop_line = stop.group(0).strip()
        self.consistent = self.consistent or _CONSISTENT in line
        self.not_reached = self.not_reached or _NOT_REACHED in line
        self.aborted = self.aborted or _ABORTED in line
        redo_done = _REDO_DONE.search(line)
        if redo_done:
            self.redo_done_lsn = redo_done.group(1)
        last_completed = _LAST_COMPLETED.search(line)
        if last_completed:
            self.last_completed_at = _log_time(last_completed.group(1))
        if "FATAL:" in line and not any(client in line for client in _CLIENT_FATALS):
            self.last_fatal = line.split("FATAL:", 1)[1].strip()


def _log_time(text: str) -> Optional[datetime]:
    """A time as the server log writes it (``2026-12-04 01:33:52.062907+00``), in UTC; None when it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


Connect = Callable[[], Any]


@dataclass
class Sql:
    """Queries on the sandbox through psycopg; ``connect`` gives an autocommit connection."""

    connect: Connect
    queries: list[str] = field(default_factory=list)

    def one(self, query: str) -> tuple[Any, ...]:
        self.queries.append(query)
        with self.connect() as connection:
            return connection.execute(query).fetchone()


STATE_QUERY = ("SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END, "
               "pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp()")
START_GRACE = 30.0
_LOGIN_REFUSALS = ("authentication failed", "no pg_hba.conf entry", "role \"")
# At the pause of recovery_target_action=pause, resuming ends recovery and promotes; unlike pg_promote(), it wakes the
# startup process at once instead of at its next one-second check.
PROMOTE_QUERY = "SELECT pg_wal_replay_resume()"
AFTER_QUERY = "SELECT pg_is_in_recovery(), CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END"


class TargetNotReached(OfmRollbackError):
    """Recovery replayed every archived WAL record without passing the target (the server then stops)."""

    def __init__(self, log: ServerLog) -> None:
        self.redo_done_lsn = log.redo_done_lsn
        self.last_commit_time = log.last_completed_at
        last = f", whose last commit was at {_iso(self.last_commit_time)}" if self.last_commit_time else ""
        super().__init__(f"recovery replayed the whole archive (up to {self.redo_done_lsn or 'its end'}{last}) without passing the target",
                         system=SYSTEM, operation="recovery", hint="", details={"log_tail": list(log.tail)})


class RecoveryWatcher:
    """Polls the sandbox until recovery has really finished: paused at the target (then promotes) or promoted at the end.

    It polls at a tenth of the time waited so far, between ``interval`` and ``max_interval``: a recovery of a few seconds is
    seen to end within tens of milliseconds, a recovery of an hour costs a poll a second, and the wait never overshoots the
    end by more than a tenth of its length.
    """

    def __init__(self, sandbox: SandboxSpec, sql: Sql, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, interval: float = 0.05, max_interval: float = 1.0,
                 log_from_end: bool = False) -> None:
        self.sandbox = sandbox
        self.sql = sql
        self.clock = clock
        self.sleep = sleep
        self.interval = interval
        self.max_interval = max_interval
        self.started_at = clock()
        self.seen_running = False
        self.log = ServerLog(sandbox.log, from_end=log_from_end)

    def pause(self) -> None:
        """Sleep until the next poll."""
        self.sleep(min(self.max_interval, max(self.interval, (self.clock() - self.started_at) / 10)))

    def wait(self, target: Target, timeout: float) -> RecoveryState:
        deadline = self.clock() + timeout
        state = RecoveryState()
        while True:
            state = self.poll(state)
            if self._finished(target, state):
                return state
            if self.clock() >= deadline:
                raise DeadlineExceeded(f"recovery did not finish within {timeout:g} s", system=SYSTEM, operation="recovery wait",
                                       target=str(self.sandbox.data_dir), timeout=timeout, last_state=state.as_dict(),
                                       details={"last_state": state.as_dict()})
            self.pause()

    def poll(self, previous: RecoveryState) -> RecoveryState:
        self.log.update()
        log = self.log
        running = postmaster_pid(self.sandbox.data_dir) is not None
        if running:
            self.seen_running = True
        elif not log.failure and not self.seen_running and self.clock() < self.started_at + START_GRACE:
            return previous
        if log.not_reached:
            raise TargetNotReached(log)
        if log.failure or not running:
            raise OfmRollbackError(f"the sandbox server stopped during recovery: {log.failure or log.last_fatal or 'no postmaster is running'}",
                                   system=SYSTEM,
                                   operation="recovery", target=str(self.sandbox.data_dir),
                                   hint="Read the end of the server log (error.details.log_tail).",
                                   details={"log_tail": list(log.tail)})
        try:
            row = self.sql.one(STATE_QUERY)
        except Exception as exc:  # pylint: disable=broad-except  # not accepting connections yet (still starting or not consistent)
            if any(refusal in str(exc) for refusal in _LOGIN_REFUSALS):
                raise InputError(f"the sandbox refused the login: {str(exc).strip()}", option="login_password", system=SYSTEM,
                                 operation="recovery wait", target=str(self.sandbox.data_dir),
                                 accepted="the password of login_user in the source cluster (the sandbox has its roles and pg_hba.conf)") from exc
            return RecoveryState(stop_line=log.stop_line, consistent=log.consistent)
        return RecoveryState(row[0], row[1], row[2], row[3], log.stop_line, log.consistent)

    @staticmethod
    def _finished(target: Target, state: RecoveryState) -> bool:
        if target.kind == "latest":
            return state.in_recovery is False
        return state.in_recovery is True and state.pause_state == "paused" and state.stop_line is not None

    def promote(self, timeout: float = 60) -> str:
        """End the pause at the target; return the LSN the promoted sandbox writes at (promotion takes a fraction of a second)."""
        self.sql.one(PROMOTE_QUERY)
        deadline = self.clock() + timeout
        while True:
            in_recovery, lsn = self.sql.one(AFTER_QUERY)
            if not in_recovery:
                return lsn
            if self.clock() >= deadline:
                raise DeadlineExceeded("the sandbox did not leave recovery after pg_wal_replay_resume()", system=SYSTEM, operation="promote",
                                       target=str(self.sandbox.data_dir), timeout=timeout)
            self.sleep(self.interval)


def confirm_target(target: Target, state: RecoveryState) -> None:
    """Fail unless the log's ``recovery stopping`` line and the last replayed commit agree with the target."""
    if target.kind == "latest":
        return
    line = state.stop_line or ""
    expected = {"name": f'restore point "{target.value}"', "xid": f"transaction {target.value},", "lsn": "WAL location (LSN)"}.get(target.kind)
    if expected and expected not in line:
        raise OfmRollbackError(f"the server stopped recovery at another target: {line!r}", system=SYSTEM, operation="target confirmation",
                               target=target.describe(), hint="Check the target; the sandbox was left paused for inspection.")
    if target.time is not None and state.last_commit_time is not None:
        last = state.last_commit_time if state.last_commit_time.tzinfo else state.last_commit_time.replace(tzinfo=timezone.utc)
        if last > target.time or (not target.inclusive and last == target.time):
            raise OfmRollbackError(f"the last replayed commit ({_iso(last)}) is after the target {_iso(target.time)}", system=SYSTEM,
                                   operation="target confirmation", target=target.describe())


_RECOVERY_TARGET_LINE = re.compile(r"^\s*recovery_target(_time|_lsn|_xid|_name|_inclusive|_action)?\s*=")


def _clock(moment: Optional[datetime]) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if moment else "?"


def _target_identity(stored: Any) -> Optional[dict[str, Any]]:
    if not isinstance(stored, dict):
        return None
    return {key: stored.get(key) for key in ("type", "value", "inclusive")}


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=False)


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
        raise InputError(f"the sandbox port {sandbox.port} is the source cluster's port", option="sandbox_port",
                         accepted="a free port other than the source's", operation="sandbox check")
    if sandbox.data_dir.exists() and (not sandbox.data_dir.is_dir() or any(sandbox.data_dir.iterdir())):
        raise ConflictError(f"{sandbox.data_dir} already exists and is not empty, and holds no sandbox of this module ({MARKER_NAME})",
                            system=SYSTEM, operation="sandbox check", target=str(sandbox.data_dir),
                            hint="Choose another sandbox_data_dir; the module never overwrites a directory it did not create.")
    if port_in_use(sandbox.host, sandbox.port):
        raise ConflictError(f"port {sandbox.port} on {sandbox.host} is already in use", system=SYSTEM, operation="sandbox check",
                            target=f"{sandbox.host}:{sandbox.port}", hint="Choose another sandbox_port.")


# --- the restore, end to end -----------------------------------------------------------------------------------------

try:
    import psycopg
except ImportError:  # reported by the module with missing_required_lib
    psycopg = None

PG_BIN_TEMPLATE = "/usr/lib/postgresql/{version}/bin"


@dataclass
class Source:
    """Where the backups come from: a pgBackRest stanza, or a base backup and a WAL archive directory."""

    backend: str
    pgbackrest_config: str = "/etc/pgbackrest/pgbackrest.conf"
    stanza: Optional[str] = None
    repo: Optional[int] = None
    base_backup: Optional[Path] = None
    wal_archive: Optional[Path] = None

    def identity(self) -> dict[str, Any]:
        if self.backend == "pgbackrest":
            return {"backend": "pgbackrest", "config": self.pgbackrest_config, "stanza": self.stanza, "repo": self.repo}
        return {"backend": "native", "base_backup": str(self.base_backup), "wal_archive": str(self.wal_archive)}


@dataclass
class Login:
    user: str = "postgres"
    password: Optional[str] = field(default=None, repr=False)
    database: str = "postgres"


def psycopg_connect(sandbox: SandboxSpec, login: Login) -> Connect:
    """A psycopg connection factory: TCP with a password, else the sandbox's socket (peer or trust)."""
    host = sandbox.host if login.password else str(sandbox.socket)
    kwargs = {"host": host, "port": sandbox.port, "user": login.user, "dbname": login.database, "connect_timeout": 3, "autocommit": True}
    if login.password:
        kwargs["password"] = login.password
    return lambda: psycopg.connect(**kwargs)


class PitrRestore:
    """Restores ``source`` into ``sandbox`` to ``target``, or removes the sandbox; ``commands``/``queries`` say what ran."""

    def __init__(self, source: Source, sandbox: SandboxSpec, login: Login, *, runner: Optional[CommandRunner] = None,
                 connect: Optional[Connect] = None, now: Callable[[], datetime] = utc_now, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, source_probe: Optional[coverage.SourceProbe] = None) -> None:
        """``source_probe`` asks the source cluster (read-only) whether the archive covers a time in an idle tail."""
        self.source = source
        self.probe = source_probe
        self.sandbox = sandbox
        self.login = login
        self.runner = runner or CommandRunner(sandbox.os_user)
        self.sql = Sql(connect or psycopg_connect(sandbox, login))
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
        backups, archive = parse_pgbackrest_info(info, stanza)
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
        if marker is not None:
            existing = self._existing(marker, target, check_mode)
            if existing is not None:
                return existing
        backups, archive = self.inventory()
        covered_until, coverage_note = self._quiet_source(target, archive)
        backup = choose_backup(target, backups, archive, self.now(), backup_label, covered_until, coverage_note)
        self._use_binaries_of(backup.pg_version)
        if marker is None:
            source_dirs, source_port = self.source_locations()
            check_sandbox_free(self.sandbox, source_dirs=source_dirs, source_port=source_port)
        plan = self.plan(target, backup)
        if covered_until is not None:
            plan["idle_tail"] = (f"the source has written no WAL since the archive's end (asked at {_iso(covered_until)}): the target lies "
                                 "after the last archived commit, so recovery replays the whole archive and stops at its end")
        base = {"target": target.as_dict(), "backup": backup.as_dict(), "archive": archive.as_dict(), "sandbox": self.connection(),
                "plan": plan}
        if check_mode:
            return {**base, "changed": True, "msg": f"would restore backup {backup.label} into {self.sandbox.data_dir} to {target.describe()}"}
        return {**base, **self._restore(target, backup, plan, started, timeout)}

    def _existing(self, marker: dict[str, Any], target: Target, check_mode: bool) -> Optional[dict[str, Any]]:
        """The result for a sandbox this module already made: unchanged when it holds this target, else a conflict."""
        if marker.get("source") != self.source.identity() or _target_identity(marker.get("target")) != target.identity():
            raise ConflictError(f"the sandbox already holds a restore of {marker.get('source')} to {marker.get('target')}", system=SYSTEM,
                                operation="sandbox check", target=str(self.sandbox.data_dir),
                                hint="Remove it first (state: absent) or choose another sandbox_data_dir.")
        if marker.get("status") != "ready":
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
        self._create_dir()
        try:
            self.runner.run(restore_argv, "restore", str(self.sandbox.data_dir), timeout=timeout,
                            system="pgBackRest" if self.source.backend == "pgbackrest" else SYSTEM)
            os.chmod(self.sandbox.data_dir, 0o700)
            self._write_settings(plan["settings"])
            self._write_marker("restored", target, backup, {})
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
        except BaseException:
            self._discard()
            raise
        reached = {"lsn": state.replay_lsn, "last_commit_time": _iso(state.last_commit_time) if state.last_commit_time else None,
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
        last_text = f"{_iso(last)}" if last else "unknown"
        if target.time is None or not_reached.redo_done_lsn is None:
            raise OfmRollbackError(f"{not_reached.reason}: {target.describe()} is not in the archived WAL", system=SYSTEM, operation="recovery",
                                   target=str(self.sandbox.data_dir), details=not_reached.details,
                                   hint="Check that the target exists on the source and that its WAL is archived (SELECT pg_switch_wal() on "
                                        "the source, or wait for its archive_timeout).")
        if self.probe is None:
            raise OfmRollbackError(f"target time {_iso(target.time)} lies after the last archived commit ({last_text}): either nothing was "
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
        last_text = f"{_iso(last)}" if last else "unknown"
        if not proof.proven:
            raise OfmRollbackError(f"the WAL of target time {_iso(target.time)} is not provably archived: the archive ends at "
                                   f"{not_reached.redo_done_lsn}, its last commit at {last_text}, and {proof.reason}", system=SYSTEM,
                                   operation="archive coverage check", target=str(self.sandbox.data_dir),
                                   details={"proof": proof.as_dict(), "newest_restorable": last_text},
                                   hint="Wait for the source's archive_timeout to archive the current segment, or force it on the source "
                                        f"(SELECT pg_switch_wal()), then run again; or choose a time up to {last_text} (the newest restorable "
                                        "moment).")
        covered = _iso(proof.covered_until) if proof.covered_until else "?"
        return state, {"last_commit_time": _iso(last) if last else None, "archive_end_lsn": not_reached.redo_done_lsn,
                       "covered_until": covered, "proof": proof.as_dict(),
                       "summary": f"target lies in an idle tail: last commit {_clock(last)} UTC; archive covers to "
                                  f"{_clock(proof.covered_until)} UTC; restored state = target state"}

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
                                                     "backup": backup.label, "written_at": _iso(self.now()), "result": result}, indent=2))

    def _write(self, path: Path, text: str) -> None:
        path.write_text(text)
        os.chmod(path, 0o600)
        self.runner.chown(path)

    def _start(self) -> None:
        self.runner.run(self._start_argv(), "start", str(self.sandbox.data_dir), timeout=60)

    def _wait_ready(self, timeout: float) -> None:
        deadline = self.clock() + timeout
        while True:
            try:
                self.sql.one("SELECT 1")
                return
            except Exception as exc:  # pylint: disable=broad-except  # the server is starting
                if self.clock() >= deadline or postmaster_pid(self.sandbox.data_dir) is None:
                    raise UnavailableError(f"the sandbox does not accept connections ({exc})", system=SYSTEM, operation="start",
                                           target=str(self.sandbox.data_dir)) from exc
            self.sleep(0.1)

    def _discard(self) -> None:
        """Stop and delete what this run created, so a failed restore leaves nothing behind."""
        try:
            stop_server(self.runner, self.sandbox, timeout=30)
        except OfmRollbackError:
            kill_server(self.sandbox)
        if self.sandbox.data_dir.exists():
            remove_tree(self.sandbox.data_dir)

    def connection(self) -> dict[str, Any]:
        """How to reach the sandbox; the password is the one given as login_password and is never returned."""
        return {"data_dir": str(self.sandbox.data_dir), "host": self.sandbox.host, "port": self.sandbox.port,
                "socket_dir": str(self.sandbox.socket), "database": self.login.database, "user": self.login.user,
                "log": str(self.sandbox.log)}

    # --- absent ---

    def remove(self, check_mode: bool) -> dict[str, Any]:
        data_dir = self.sandbox.data_dir
        if not data_dir.exists():
            return {"changed": False, "msg": f"no sandbox at {data_dir}"}
        marker = read_marker(self.sandbox)
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
        verb = "would be" if check_mode else "was"
        return {"changed": True, "msg": f"the sandbox at {data_dir} {verb} {'stopped and ' if running else ''}removed",
                "removed": {"data_dir": str(data_dir), "target": marker.get("target"), "was_running": running},
                "diff": {"before": {"sandbox": str(data_dir), "target": marker.get("target")}, "after": {"sandbox": None}}}
