# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration snapshot: one JSON document of the values of several systems at one moment, and where it is kept.

The document (``format: ofm.rollback/config-snapshot``, ``version: 1``)::

    {"format", "version", "id": "cfg-<UTC yyyymmddThhmmssZ>-<6 hex>", "taken_at": "<ISO 8601 with offset>", "taken_by",
     "change_id", "incident_id", "environment", "scope": {"kube_server", "namespace", "redis", "unleash", "database"},
     "kinds": {"flags": ..., "unleash": ..., "configmaps": ..., "secrets": ..., "env": ..., "rate_limits": ...,
               "dns": ..., "haproxy": ..., "routes": ..., "alb": ..., "cdn": ..., "platform_apps": ...},
     "sha256": "<hex SHA-256 of the canonical JSON of every other field>"}

Canonical JSON: ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, UTF-8. The values of the kind
``secrets`` are opaque strings here: the controller-side action plugin encrypts them (Ansible Vault) before the document is
made and decrypts them after it is loaded, so the hash covers the encrypted text, and loading, verifying and listing a
snapshot never needs a clear secret (nor a vault password).

The hash detects a document changed by accident or by hand after it was taken; it is not a signature (whoever can write the
file can write a new hash too): keep snapshots where only the people who may restore can write (the store's mode 0600
files, or Secrets under RBAC).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, InputError, NotFoundError, OfmRollbackError

FORMAT = "ofm.rollback/config-snapshot"
VERSION = 1
SYSTEM = "ofm.rollback config snapshot"
CONFIG_KINDS = ("flags", "unleash", "configmaps", "secrets", "env", "rate_limits")
# The external systems (config/kinds.py); each is also its own scope key: where the kind was read.
EXTERNAL_KINDS = ("dns", "haproxy", "routes", "alb", "cdn", "platform_apps")
KINDS = CONFIG_KINDS + EXTERNAL_KINDS
SCOPE_KEYS = ("kube_server", "namespace", "redis", "unleash", "database") + EXTERNAL_KINDS
SCOPE_NAMES = {"environment": "environment", "kube_server": "Kubernetes API server", "namespace": "namespace", "redis": "Redis",
               "unleash": "Unleash", "database": "database", "dns": "DNS zone", "haproxy": "HAProxy", "routes": "OpenShift Routes",
               "alb": "load balancer", "cdn": "CloudFront", "platform_apps": "platform apps"}
ID_FORMAT = "cfg-<UTC yyyymmddThhmmssZ>-<6 hex digits>, such as cfg-20261204T073900Z-1a2b3c"
ID_PATTERN = re.compile(r"^cfg-\d{8}T\d{6}Z-[0-9a-f]{6}$")
REQUIRED = ("format", "version", "id", "taken_at", "taken_by", "change_id", "incident_id", "environment", "scope", "kinds", "sha256")
LATEST_SHOWN = 5

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "ofm.rollback"
ID_LABEL = "ofm.rollback/snapshot-id"
DATA_KEY = "snapshot.json"
FILE_MODE = 0o600
DIR_MODE = 0o700


def canonical_json(value: Any) -> str:
    """The one text of ``value`` the hash is computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(document: Mapping[str, Any]) -> str:
    """The hex SHA-256 of the canonical JSON of ``document`` without its ``sha256`` field."""
    body = {key: value for key, value in document.items() if key != "sha256"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def new_id(now: Optional[datetime] = None, token: Optional[str] = None) -> str:
    """``cfg-<UTC yyyymmddThhmmssZ>-<6 hex>``: ids sort by time, and two snapshots of the same second differ by the token."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"cfg-{moment.strftime('%Y%m%dT%H%M%SZ')}-{token or secrets.token_hex(3)}"


def check_id(snapshot_id: Any, option: str = "snapshot_id") -> str:
    """``snapshot_id`` when it is a snapshot id; else an ``InputError`` naming ``option`` and the format (no path can pass)."""
    if not isinstance(snapshot_id, str) or not ID_PATTERN.match(snapshot_id):
        raise InputError(f"'{snapshot_id}' is not a snapshot id", option=option, accepted=ID_FORMAT, system=SYSTEM)
    return snapshot_id


def _parse_time(value: Any) -> Optional[datetime]:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


@dataclass(frozen=True)
class Snapshot:
    """A verified snapshot document (``document``, with its ``sha256``)."""

    document: dict[str, Any]

    @classmethod
    def create(cls, *, environment: str, scope: Mapping[str, Any], kinds: Mapping[str, Any], taken_by: str,  # pylint: disable=too-many-arguments
               change_id: Optional[str] = None, incident_id: Optional[str] = None, now: Optional[datetime] = None,
               token: Optional[str] = None) -> "Snapshot":
        """A new snapshot of ``kinds`` (secret values already encrypted) taken now, in ``environment`` and ``scope``."""
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise InputError(f"unknown kinds {unknown}", option="kinds", accepted=KINDS, system=SYSTEM)
        if not environment:
            raise InputError("the environment is empty", option="environment", system=SYSTEM, hint="Name the environment, such as production.")
        document = {"format": FORMAT, "version": VERSION, "id": new_id(moment, token), "taken_at": moment.isoformat(),
                    "taken_by": taken_by, "change_id": change_id, "incident_id": incident_id, "environment": environment,
                    "scope": {key: scope[key] for key in scope}, "kinds": json.loads(json.dumps(dict(kinds)))}
        document["sha256"] = content_hash(document)
        return cls(document)

    @classmethod
    def load(cls, text: str | bytes, source: str = "the snapshot", option: str = "snapshot") -> "Snapshot":
        """The snapshot in ``text``, verified: its format, a version this collection reads, its fields and its content hash.

        Each refusal is an ``InputError`` naming ``option`` and ``source`` (a path, a Secret) and saying what is wrong.
        """
        def refuse(reason: str, hint: str, accepted: Optional[Any] = None) -> InputError:
            return InputError(f"{source}: {reason}", option=option, system=SYSTEM, operation="snapshot check", target=source,
                              accepted=accepted, hint=hint)

        try:
            document = json.loads(text)
        except ValueError as exc:
            raise refuse(f"is not JSON ({exc})", "Give the path or id of a snapshot written by ofm.rollback.") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            found = document.get("format") if isinstance(document, dict) else type(document).__name__
            raise refuse(f"is not a configuration snapshot (format {found!r}, expected {FORMAT!r})",
                         "Give the path or id of a snapshot written by ofm.rollback.")
        if document.get("version") != VERSION or isinstance(document.get("version"), bool):
            raise refuse(f"has version {document.get('version')!r}, which this collection does not read (it reads version {VERSION})",
                         f"Restore it with the collection version that wrote it, or take a new snapshot. Accepted versions: {VERSION}.")
        recorded = document.get("sha256")
        actual = content_hash(document)
        if recorded != actual:
            raise refuse(f"the content hash does not match (recorded {str(recorded)[:12]}..., content {actual[:12]}...): "
                         "the snapshot was changed after it was taken",
                         "Do not restore it: use another snapshot (or the original file) and find out who changed this one.")
        problem = _field_problem(document)
        if problem:
            raise refuse(problem, "The document does not follow the snapshot format; use another snapshot.")
        return cls(document)

    @property
    def id(self) -> str:  # pylint: disable=invalid-name
        return self.document["id"]

    @property
    def environment(self) -> str:
        return self.document["environment"]

    @property
    def taken_at(self) -> datetime:
        return datetime.fromisoformat(self.document["taken_at"])

    @property
    def scope(self) -> dict[str, Any]:
        return self.document["scope"]

    @property
    def kinds(self) -> dict[str, Any]:
        return self.document["kinds"]

    @property
    def sha256(self) -> str:
        return self.document["sha256"]

    def to_json(self) -> str:
        """The document as written to a store: indented for people, the same content (and hash) as canonical JSON."""
        return json.dumps(self.document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    def summary(self) -> dict[str, Any]:
        """Who took it, when, where and which kinds; no values."""
        return {key: self.document[key] for key in ("id", "taken_at", "taken_by", "change_id", "incident_id", "environment", "scope", "sha256")} | {
            "kinds": sorted(self.kinds)}

    def select(self, kinds: Optional[Sequence[str]] = None, option: str = "kinds") -> dict[str, Any]:
        """The sections of ``kinds`` (all when None), in ``KINDS`` order; an ``InputError`` naming what the snapshot holds otherwise."""
        wanted = list(self.kinds) if kinds is None else list(kinds)
        unknown = [kind for kind in wanted if kind not in KINDS]
        if unknown:
            raise InputError(f"unknown kinds {unknown}", option=option, accepted=KINDS, system=SYSTEM)
        missing = [kind for kind in wanted if kind not in self.kinds]
        if missing:
            raise InputError(f"snapshot {self.id} holds no {', '.join(missing)}; it holds {sorted(self.kinds) or 'nothing'}", option=option,
                             accepted=sorted(self.kinds), system=SYSTEM)
        return {kind: self.kinds[kind] for kind in KINDS if kind in wanted}

    def check_scope(self, current_scope: Mapping[str, Any], environment: Optional[str] = None, option: str = "snapshot",
                    ignore: Iterable[str] = ()) -> None:
        """Refuse (``InputError`` naming both values) a snapshot taken in another environment, cluster, namespace, Redis,
        Unleash or database than ``current_scope`` (and ``environment``) names. Keys absent on either side are not compared."""
        skipped = set(ignore)
        pairs = [("environment", self.environment, environment)] if environment is not None else []
        pairs += [(key, self.scope.get(key), current_scope.get(key)) for key in SCOPE_KEYS if key not in skipped]
        different = [(key, taken, here) for key, taken, here in pairs
                     if taken is not None and here is not None and _same_place(taken) != _same_place(here) and key not in skipped]
        if different:
            names = "; ".join(f"{SCOPE_NAMES[key]}: the snapshot's is '{taken}', this restore's is '{here}'" for key, taken, here in different)
            raise InputError(f"snapshot {self.id} was taken elsewhere ({names})", option=option, system=SYSTEM, operation="snapshot check",
                             target=self.id, details={"different": [{"name": key, "snapshot": taken, "current": here} for key, taken, here in different]},
                             hint="Restore a snapshot taken in this environment (list them with the snapshot store), or point the "
                                  "connection options at the place the snapshot was taken.")


def _same_place(value: Any) -> Any:
    return value.rstrip("/") if isinstance(value, str) else value


def _field_problem(document: Mapping[str, Any]) -> Optional[str]:
    missing = [key for key in REQUIRED if key not in document]
    if missing:
        return f"lacks the fields {missing}"
    if not isinstance(document["id"], str) or not ID_PATTERN.match(document["id"]):
        return f"has the id {document['id']!r}, not of the form {ID_FORMAT}"
    if _parse_time(document["taken_at"]) is None:
        return f"has taken_at {document['taken_at']!r}, not an ISO 8601 time with an offset"
    if not isinstance(document["environment"], str) or not document["environment"]:
        return "has no environment"
    if not isinstance(document["scope"], dict) or not isinstance(document["kinds"], dict):
        return "has a scope or kinds that is not a mapping"
    unknown = sorted(set(document["kinds"]) - set(KINDS))
    if unknown:
        return f"holds unknown kinds {unknown} (known: {', '.join(KINDS)})"
    return None


# --- stores --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SnapshotInfo:
    """One stored snapshot as listed: who took it, when, where, which kinds; ``problem`` when it does not load (then the
    other fields are what could be read)."""

    id: str  # pylint: disable=invalid-name
    location: str
    taken_at: Optional[str] = None
    environment: Optional[str] = None
    taken_by: Optional[str] = None
    change_id: Optional[str] = None
    incident_id: Optional[str] = None
    kinds: tuple[str, ...] = ()
    problem: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "location": self.location, "taken_at": self.taken_at, "environment": self.environment,
                "taken_by": self.taken_by, "change_id": self.change_id, "incident_id": self.incident_id, "kinds": list(self.kinds),
                "problem": self.problem}

    def sort_key(self) -> tuple[Any, str]:
        moment = _parse_time(self.taken_at)
        return (moment.timestamp() if moment else float("-inf"), self.id)


def load_entry(snapshot_id: str, location: str, text: str | bytes) -> tuple[SnapshotInfo, Optional[Snapshot]]:
    """The listing entry of a stored document and the snapshot when it loads (a bad document is listed with its problem, not fatal)."""
    try:
        snapshot = Snapshot.load(text, location)
    except OfmRollbackError as exc:
        return SnapshotInfo(snapshot_id, location, problem=exc.reason), None
    document = snapshot.document
    problem = None if snapshot.id == snapshot_id else f"holds snapshot {snapshot.id}, not {snapshot_id}"
    entry = SnapshotInfo(snapshot_id, location, document["taken_at"], document["environment"], document["taken_by"], document["change_id"],
                         document["incident_id"], tuple(sorted(snapshot.kinds)), problem)
    return entry, (snapshot if problem is None else None)


class SnapshotStore:
    """What every store does: ``save``, ``list`` (newest first), ``get`` by id and ``latest`` of an environment.

    A store implements ``save``, ``_entries`` (id, location and text of every stored snapshot) and ``_read`` (the location and
    text of one id, or None).
    """

    system = SYSTEM
    where = "the store"

    def save(self, snapshot: Snapshot) -> str:
        raise NotImplementedError

    def _entries(self) -> Iterator[tuple[str, str, str | bytes]]:
        raise NotImplementedError

    def _read(self, snapshot_id: str) -> Optional[tuple[str, str | bytes]]:
        raise NotImplementedError

    def _loaded(self) -> list[tuple[SnapshotInfo, Optional[Snapshot]]]:
        return sorted((load_entry(*entry) for entry in self._entries()), key=lambda pair: pair[0].sort_key(), reverse=True)

    def list(self) -> list[SnapshotInfo]:
        """Every stored snapshot, newest first; ones that do not load carry their ``problem``."""
        return [entry for entry, _snapshot in self._loaded()]

    def get(self, snapshot_id: str, option: str = "snapshot_id") -> Snapshot:
        """The verified snapshot ``snapshot_id``; ``NotFoundError`` listing the latest ids when there is none."""
        check_id(snapshot_id, option)
        found = self._read(snapshot_id)
        if found is None:
            latest = [entry.id for entry in self.list() if entry.problem is None][:LATEST_SHOWN]
            raise NotFoundError(f"there is no snapshot {snapshot_id} in {self.where}; the latest are {latest or 'none'}", system=self.system,
                                operation="snapshot lookup", target=snapshot_id, details={"latest": latest},
                                hint=f"Check the id ({option}) and the store it was saved to.")
        location, text = found
        snapshot = Snapshot.load(text, location, option=option)
        if snapshot.id != snapshot_id:
            raise InputError(f"{location} holds snapshot {snapshot.id}, not {snapshot_id}", option=option, system=self.system,
                             operation="snapshot check", target=location, hint="The stored snapshot was renamed; do not restore it.")
        return snapshot

    def latest(self, environment: str) -> Snapshot:
        """The newest snapshot of ``environment`` that loads; ``NotFoundError`` naming the environments stored when there is none."""
        loaded = self._loaded()
        for entry, snapshot in loaded:
            if snapshot is not None and entry.environment == environment:
                return snapshot
        environments = sorted({entry.environment for entry, snapshot in loaded if snapshot is not None and entry.environment})
        raise NotFoundError(f"there is no snapshot of environment '{environment}' in {self.where}; it holds snapshots of {environments or 'none'}",
                            system=self.system, operation="snapshot lookup", target=environment,
                            hint="Take a snapshot first (before the change), or name the environment it was taken in.")


class DirectoryStore(SnapshotStore):
    """Snapshots as files ``<id>.json`` (mode 0600) in a directory (mode 0700 when created); each written once, atomically."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))
        self.where = f"directory {self.path}"

    def file(self, snapshot_id: str) -> str:
        return os.path.join(self.path, f"{check_id(snapshot_id)}.json")

    def save(self, snapshot: Snapshot) -> str:
        """Write the snapshot to a temporary file of the directory and rename it to ``<id>.json``, so no reader sees half a file;
        ``ConflictError`` when that id is stored already."""
        target = self.file(snapshot.id)
        try:
            os.makedirs(self.path, mode=DIR_MODE, exist_ok=True)
            if os.path.exists(target):
                raise ConflictError(f"snapshot {snapshot.id} is stored already", system=SYSTEM, operation="snapshot save", target=target,
                                    hint="Snapshots are written once; take a new one.")
            descriptor, temporary = tempfile.mkstemp(prefix=f".{snapshot.id}-", suffix=".tmp", dir=self.path)
            try:
                os.fchmod(descriptor, FILE_MODE)
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    handle.write(snapshot.to_json())
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, target)
            except BaseException:
                if os.path.exists(temporary):
                    os.unlink(temporary)
                raise
        except OSError as exc:
            raise OfmRollbackError(f"cannot write {target}: {exc.strerror or exc}", system=SYSTEM, operation="snapshot save", target=target,
                                   hint="Check that the directory is writable by this user, or choose another one.") from exc
        return target

    def _entries(self) -> Iterator[tuple[str, str, str | bytes]]:
        try:
            names = sorted(os.listdir(self.path))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise OfmRollbackError(f"cannot list {self.path}: {exc.strerror or exc}", system=SYSTEM, operation="snapshot list", target=self.path,
                                   hint="Check that the directory is readable by this user.") from exc
        for name in names:
            snapshot_id = name[:-len(".json")]
            if name.endswith(".json") and ID_PATTERN.match(snapshot_id):
                found = self._read(snapshot_id)
                if found is not None:
                    yield snapshot_id, found[0], found[1]

    def _read(self, snapshot_id: str) -> Optional[tuple[str, str | bytes]]:
        path = self.file(snapshot_id)
        try:
            with open(path, "rb") as handle:
                return path, handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise OfmRollbackError(f"cannot read {path}: {exc.strerror or exc}", system=SYSTEM, operation="snapshot read", target=path,
                                   hint="Check that the file is readable by this user.") from exc


class KubeSecretStore(SnapshotStore):
    """Snapshots as Secrets ``<prefix>-<id in lower case>`` of one namespace, so that AWX jobs on different nodes share them.

    Each Secret is labelled ``app.kubernetes.io/managed-by=ofm.rollback`` and ``ofm.rollback/snapshot-id=<id>``, holds the
    document in the data key ``snapshot.json`` and is immutable. ``client`` is a ``module_utils.kube_config.KubeConfig``.
    """

    def __init__(self, client: Any, namespace: str, prefix: str = "ofm-config-snapshot") -> None:
        self.client = client
        self.namespace = namespace
        self.prefix = prefix.rstrip("-")
        self.where = f"the Secrets {self.prefix}-* of namespace {namespace}"

    def secret_name(self, snapshot_id: str) -> str:
        return f"{self.prefix}-{check_id(snapshot_id).lower()}"

    def save(self, snapshot: Snapshot) -> str:
        """Create the snapshot's Secret (one request); ``ConflictError`` when it exists already."""
        name = self.secret_name(snapshot.id)
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "immutable": True,
                "metadata": {"name": name, "namespace": self.namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY, ID_LABEL: snapshot.id},
                             "annotations": {"ofm.rollback/taken-at": snapshot.document["taken_at"],
                                             "ofm.rollback/environment": snapshot.environment}},
                "data": {DATA_KEY: base64.b64encode(snapshot.to_json().encode("utf-8")).decode("ascii")}}
        self.client.create_secret(self.namespace, body)
        return f"Secret {self.namespace}/{name}"

    def _entries(self) -> Iterator[tuple[str, str, str | bytes]]:
        for item in self.client.list_secrets(self.namespace, f"{MANAGED_BY_LABEL}={MANAGED_BY}"):
            metadata = item.get("metadata") or {}
            snapshot_id = (metadata.get("labels") or {}).get(ID_LABEL, "")
            yield snapshot_id, f"Secret {self.namespace}/{metadata.get('name')}", _secret_text(item)

    def _read(self, snapshot_id: str) -> Optional[tuple[str, str | bytes]]:
        name = self.secret_name(snapshot_id)
        try:
            item = self.client.get_secret(self.namespace, name)
        except NotFoundError:
            return None
        return f"Secret {self.namespace}/{name}", _secret_text(item)


def _secret_text(item: Mapping[str, Any]) -> bytes:
    try:
        return base64.b64decode((item.get("data") or {}).get(DATA_KEY) or "", validate=True)
    except (binascii.Error, ValueError):
        return b""
