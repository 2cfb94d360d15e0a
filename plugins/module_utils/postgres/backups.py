# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the backups and the WAL archive cover, and the backup a target needs: pgBackRest (``pgbackrest info --output=json``,
``repo-ls``) or a pg_basebackup directory and a WAL archive directory; the pgBackRest command lines.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.postgres.sandbox import SandboxSpec
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.targets import SYSTEM, Target, format_lsn, parse_lsn
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError,
    DataError,
    InputError,
    NotFoundError,
)

BACKENDS = ("pgbackrest", "native", "rds")
WAL_SEGMENT_SIZE = 16 * 1024 * 1024
ARCHIVE_TIME_RESOLUTION = timedelta(seconds=1)  # pgBackRest lists file times in whole seconds
BACKUP_TIME_RESOLUTION = timedelta(seconds=1)  # and backup stop times too: a target in that second may precede the backup's end
_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")


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
    size: Optional[int] = None  # bytes the restored data directory takes (before the WAL it replays), when known

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "type": self.kind, "start_time": iso_time(self.start_time), "stop_time": iso_time(self.stop_time),
                "start_lsn": format_lsn(self.start_lsn), "stop_lsn": format_lsn(self.stop_lsn), "pg_version": self.pg_version,
                "size": self.size}


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
                "newest_archived_at": iso_time(self.newest_archived_at) if self.newest_archived_at else None,
                "end_lsn": format_lsn(self.end_lsn)}


def segment_start_lsn(segment: str) -> int:
    match = _SEGMENT.match(segment)
    if not match:
        raise DataError(f"'{segment}' is not a WAL segment name", system=SYSTEM, operation="archive check")
    return (int(match.group(2), 16) << 32) + int(match.group(3), 16) * WAL_SEGMENT_SIZE


def iso_time(moment: datetime) -> str:
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
        # The stanza's status says "other" when a repository could not be read; the repository's own status says why.
        problems = [f"repo{repo.get('key')}: {' / '.join(str(repo['status'].get('message')).splitlines())}" for repo in entry.get("repo") or []
                    if isinstance(repo, dict) and isinstance(repo.get("status"), dict) and repo["status"].get("code") not in (None, 0, 2)]
        reason = f"status {status.get('code')}: {status.get('message')}" + "".join(f"; {problem}" for problem in problems)
        if any("Permission denied" in problem for problem in problems):
            raise AuthorizationError(f"pgBackRest may not read the repository: {'; '.join(problems)}", system="pgBackRest", operation="info",
                                     target=stanza, hint="Give the OS user that runs pgBackRest read access to the repository.",
                                     details={"problems": problems})
        raise NotFoundError(f"the repository has no usable backup of the stanza ({reason})",
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
        size = (item.get("info") or {}).get("size")
        return Backup(item["label"], item["type"], _epoch(item["timestamp"]["start"]), _epoch(item["timestamp"]["stop"]),
                      parse_lsn(item["lsn"]["start"]), parse_lsn(item["lsn"]["stop"]), versions.get((item.get("database") or {}).get("id"), ""),
                      size if isinstance(size, int) and size >= 0 else None)
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
    return Backup(label.get("LABEL", base_backup.name), "base", start_time, stop_time, start_lsn, stop_lsn, version, tree_size(base_backup))


def tree_size(directory: Path) -> Optional[int]:
    """The bytes the files under ``directory`` hold (what a copy of it needs), or None when some cannot be read."""
    total = 0
    try:
        for root, _dirs, files in os.walk(directory, onerror=_raise):
            total += sum(os.lstat(os.path.join(root, name)).st_size for name in files)
    except OSError:
        return None
    return total


def _raise(error: OSError) -> None:
    raise error


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
            raise InputError(f"target time {iso_time(target.time)} is in the future (now {iso_time(now)})", option="target",
                             accepted="a time in the past", operation="target check", system=SYSTEM,
                             hint="Give a time before now, in UTC unless it has an offset.")
        if target.time < oldest.stop_time + BACKUP_TIME_RESOLUTION:
            raise InputError(f"target time {iso_time(target.time)} is before the oldest usable backup {oldest.label} ended ({iso_time(oldest.stop_time)})",
                             option="target", operation="target check", system=SYSTEM,
                             accepted=f"a time from {iso_time(oldest.stop_time + BACKUP_TIME_RESOLUTION)} on",
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
    newest = iso_time(archive.newest_archived_at) if archive.newest_archived_at else "?"
    note = f" {coverage_note.rstrip('.')}." if coverage_note else ""
    return InputError(f"the WAL of {iso_time(moment)} is not archived yet: the newest restorable moment is {newest}, when the newest archived "
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


def pgbackrest_repo_path(config: str, stanza: str, repo: Optional[int] = None) -> str:
    """The path of the repository (``repo<N>-path``) the configuration gives the stanza; pgBackRest's default when it gives none."""
    options = _pgbackrest_options(config, stanza)
    return options.get(f"repo{repo or 1}-path") or "/var/lib/pgbackrest"


def _pgbackrest_options(config: str, stanza: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(config)
    except configparser.Error:
        return {}
    return {**(dict(parser["global"]) if parser.has_section("global") else {}), **(dict(parser[stanza]) if parser.has_section(stanza) else {})}


def pgbackrest_source(config: str, stanza: str) -> tuple[Optional[str], Optional[int]]:
    """The source cluster's data directory and port as the pgBackRest configuration names them (pg1-path, pg1-port)."""
    options = _pgbackrest_options(config, stanza)
    port = options.get("pg1-port")
    return options.get("pg1-path"), int(port) if port and port.isdigit() else 5432 if options.get("pg1-path") else None
