# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One rollback at a time: a lease a run takes before it changes anything, renewed while the run lives.

Where the lease lives (the choice, and why):

- ``kubernetes`` (the default): a ``coordination.k8s.io/v1`` Lease in the cluster the rollback acts on. Every place a
  rollback starts from (a laptop, an AWX job pod, the event-driven trigger) already reaches that API with its own
  credentials, the API serialises writes (``resourceVersion``: two runs that race get one 200 and one 409), a Lease has a
  holder, an acquire time, a renew time and a duration by design, and ``kubectl get lease -n <ns>`` shows it to people.
- ``file``: a lock file on a path (``lock_dir``, a shared mount for several controllers), written under ``flock``. It is the
  fallback for the night the Kubernetes API is down (the emergency path then rolls back through the ops API anyway).
  A PostgreSQL advisory lock was not chosen: it lives only as long as one database session, and an Ansible run has no
  session that lasts from its first task to its last.

A lease is held by one run: ``<host>:<pid>:<process start>`` of the ``ansible-playbook`` process, with the incident,
operator and procedure beside it. It expires ``ttl`` after its last renewal; a renewer process (started by ``hold``)
renews it every third of ``ttl`` while the ``ansible-playbook`` process lives, so a run that is killed leaves a lease that
expires on its own. A holder on this host whose process is gone is dead at once: its lease is taken over.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Protocol

from ansible_collections.ofm.rollback.plugins.module_utils import kube_rest
from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, InputError, OfmRollbackError, UnavailableError

SYSTEM = "lease"
LEASE_API = "coordination.k8s.io/v1"
ANNOTATION = "rollback.ofm.social/"
HOLDER_FIELDS = ("incident_id", "operator", "procedure", "target", "host", "pid")


@dataclass
class Holder:
    """Who holds a lease, and until when (epoch seconds)."""

    identity: str
    incident_id: str = ""
    operator: str = ""
    procedure: str = ""
    target: str = ""
    host: str = ""
    pid: int = 0
    acquired: float = 0.0
    renewed: float = 0.0
    ttl: float = 60.0
    transitions: int = 0

    def expires(self) -> float:
        return self.renewed + self.ttl

    def expired(self, now: float) -> bool:
        return now >= self.expires()

    def dead_here(self, host: str) -> bool:
        """True when the holder ran on this host and its process is gone (or is another process with the same pid)."""
        if not self.host or self.host != host or not self.pid:
            return False
        return process_identity(self.pid, host) != self.identity

    def describe(self, now: float) -> str:
        who = f"{self.operator or 'an unknown operator'} ({self.incident_id or 'no incident'}, {self.procedure or 'a rollback'})"
        return (f"{who} on {self.host or 'an unknown host'} (pid {self.pid or '?'}) since {utc(self.acquired)}, "
                f"renewed {max(0, int(now - self.renewed))} s ago, expires {utc(self.expires())} unless renewed")

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(acquired_at=utc(self.acquired), renewed_at=utc(self.renewed), expires_at=utc(self.expires()))
        return data


def utc(epoch: float) -> str:
    """A time people read, with its zone."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def micro_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: Optional[str]) -> float:
    if not text:
        return 0.0
    value = text.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return 0.0


def process_identity(pid: int, host: Optional[str] = None) -> str:
    """``<host>:<pid>:<start time in clock ticks>``: unique for a process even when its pid is reused later."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        started = stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = "gone"
    return f"{host or socket.gethostname()}:{pid}:{started}"


def run_process_pid() -> int:
    """The pid of the ``ansible-playbook`` (or ``ansible-runner``) process this module runs under; else the parent's."""
    pid = os.getpid()
    for _level in range(8):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            command = Path(f"/proc/{parent}/cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError, IndexError):
            break
        if b"ansible-playbook" in command or b"ansible-runner" in command:
            return parent
        if parent <= 1:
            break
        pid = parent
    return os.getppid()


class Store(Protocol):
    backend: str
    where: str

    def read(self, name: str) -> tuple[Optional[Holder], Optional[str]]:
        """The holder (None when free) and a version to write against (None when the lease does not exist)."""

    def write(self, name: str, holder: Optional[Holder], version: Optional[str], transitions: int = 0) -> None:
        """Create (version None) or replace (only if still at ``version``) the lease; ``holder`` None releases it (keeping the
        count of ``transitions``). Raises ConflictError when another writer came first."""


class KubeStore:
    """Leases as ``coordination.k8s.io/v1`` Lease objects in ``namespace``, through ``transport`` (``kube_rest.RestClient``,
    else ``ClientTransport`` over the ``kubernetes`` client): ``request(method, path, body, operation)`` returns the
    (status, body) of any answer and raises the collection's errors when there is none."""

    backend = "kubernetes"

    def __init__(self, transport: Any, namespace: str) -> None:
        self.transport = transport
        self.namespace = namespace
        self.where = f"Lease in namespace {namespace}"

    def _path(self, name: Optional[str] = None) -> str:
        base = f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"
        return f"{base}/{name}" if name else base

    def _call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> tuple[int, dict[str, Any]]:
        """(status, object); 404 is (404, {}), 409 a ConflictError, other failures the collection's errors."""
        operation = f"{method.lower()} Lease"
        status, data = self.transport.request(method, path, body, operation)
        if status == 404:
            return 404, {}
        if status == 409:
            raise ConflictError("another run wrote the lease first", system=SYSTEM, operation=method.lower(), target=path)
        if status >= 400:
            raise kube_rest.error_for_status(status, kube_rest.status_reason(status, data), operation, path)
        try:
            return status, json.loads(data or b"{}")
        except ValueError as exc:
            raise UnavailableError(f"HTTP {status} with a body that is not JSON", system=SYSTEM, operation=operation, target=path,
                                   sent=True) from exc

    def read(self, name: str) -> tuple[Optional[Holder], Optional[str]]:
        status, obj = self._call("GET", self._path(name))
        if status == 404:
            return None, None
        return holder_from_lease(obj), obj["metadata"]["resourceVersion"]

    def write(self, name: str, holder: Optional[Holder], version: Optional[str], transitions: int = 0) -> None:
        body = lease_object(name, self.namespace, holder, version, transitions)
        if version is None:
            self._call("POST", self._path(), body)
        else:
            self._call("PUT", self._path(name), body)


class ClientTransport:
    """``KubeStore``'s requests through the ``kubernetes`` client's ``ApiClient`` (its authentication: exec plugins, auth
    providers), for both generations of the generated client."""

    def __init__(self, api_client: Any) -> None:
        self.api = api_client

    def request(self, method: str, path: str, body: Optional[dict[str, Any]], operation: str) -> tuple[int, bytes]:
        # pylint: disable-next=import-outside-toplevel
        from ansible_collections.ofm.rollback.plugins.module_utils.kube import _client_errors, map_error
        from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        try:
            if not hasattr(self.api, "param_serialize"):  # kubernetes < 35: call_api raises ApiException for an error status
                response = self.api.call_api(path, method, header_params=headers, body=body, auth_settings=["BearerToken"],
                                             _preload_content=False, _return_http_data_only=True)
                return response.status, response.data
            verb, url, sent_headers, sent_body, post = self.api.param_serialize(method=method, resource_path=path, header_params=headers,
                                                                                body=body, auth_settings=["BearerToken"])
            response = self.api.call_api(verb, url, header_params=sent_headers, body=sent_body, post_params=post)
            return response.status, response.read()
        except ApiException as exc:
            if exc.status:
                return exc.status, (exc.body or b"") if isinstance(exc.body, bytes) else str(exc.body or "").encode("utf-8")
            raise map_error(exc, operation, path) from exc
        except _client_errors() as exc:
            raise map_error(exc, operation, path) from exc


def kube_store(connection: Mapping[str, Any], namespace: str, timeout: float = 5.0) -> KubeStore:
    """The Lease store of the connection options: plain HTTPS when the kubeconfig allows (``kube_rest``), else the
    ``kubernetes`` client."""
    end = kube_rest.endpoint(connection)
    if end is not None:
        return KubeStore(kube_rest.RestClient(end, timeout), namespace)
    from ansible_collections.ofm.rollback.plugins.module_utils.kube import api_client  # pylint: disable=import-outside-toplevel
    return KubeStore(ClientTransport(api_client(connection, timeout=timeout)), namespace)


def lease_object(name: str, namespace: str, holder: Optional[Holder], version: Optional[str], transitions: int = 0) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "ofm.rollback"}}
    if version is not None:
        metadata["resourceVersion"] = version
    spec: dict[str, Any] = {"leaseTransitions": transitions}
    if holder is not None:
        metadata["annotations"] = {ANNOTATION + key.replace("_", "-"): str(getattr(holder, key)) for key in HOLDER_FIELDS}
        spec = {"holderIdentity": holder.identity, "leaseDurationSeconds": int(round(holder.ttl)),
                "acquireTime": micro_time(holder.acquired), "renewTime": micro_time(holder.renewed),
                "leaseTransitions": holder.transitions}
    return {"apiVersion": LEASE_API, "kind": "Lease", "metadata": metadata, "spec": spec}


def holder_from_lease(obj: Mapping[str, Any]) -> Optional[Holder]:
    spec = obj.get("spec") or {}
    if not spec.get("holderIdentity"):
        return None
    notes = (obj.get("metadata") or {}).get("annotations") or {}
    values = {key: notes.get(ANNOTATION + key.replace("_", "-"), "") for key in HOLDER_FIELDS}
    try:
        pid = int(values.pop("pid") or 0)
    except ValueError:
        pid = 0
    return Holder(identity=spec["holderIdentity"], pid=pid, acquired=parse_micro_time(spec.get("acquireTime")),
                  renewed=parse_micro_time(spec.get("renewTime")), ttl=float(spec.get("leaseDurationSeconds") or 0),
                  transitions=int(spec.get("leaseTransitions") or 0), **values)


class FileStore:
    """Leases as ``<dir>/<name>.json``, each read-modify-write under an exclusive ``flock`` of ``<dir>/<name>.lock``."""

    backend = "file"

    def __init__(self, directory: str) -> None:
        self.dir = Path(directory).expanduser()
        self.where = f"lock file in {self.dir}"
        self._locks: dict[str, int] = {}

    def _file(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def _locked(self, name: str) -> int:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            handle = os.open(self.dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise UnavailableError(f"cannot open the lock file: {exc.strerror}", system=SYSTEM, operation="lock", target=str(self.dir),
                                   hint="Set lock_dir to a writable directory (a shared mount when runs start on several hosts).") from exc
        fcntl.flock(handle, fcntl.LOCK_EX)
        return handle

    def read(self, name: str) -> tuple[Optional[Holder], Optional[str]]:
        handle = self._locked(name)
        try:
            text = self._file(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            os.close(handle)
            return None, None
        os.close(handle)
        data = json.loads(text or "{}")
        holder = Holder(**{k: v for k, v in data.get("holder", {}).items() if k in Holder.__dataclass_fields__}) if data.get("holder") else None
        return holder, str(data.get("version", 0))

    def write(self, name: str, holder: Optional[Holder], version: Optional[str], transitions: int = 0) -> None:
        handle = self._locked(name)
        try:
            path = self._file(name)
            try:
                current = str(json.loads(path.read_text(encoding="utf-8") or "{}").get("version", 0))
            except FileNotFoundError:
                current = None
            if current != version:
                raise ConflictError("another run wrote the lock file first", system=SYSTEM, operation="write", target=str(path))
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"version": int(version or 0) + 1, "holder": asdict(holder) if holder else None}), encoding="utf-8")
            os.replace(temporary, path)
        finally:
            os.close(handle)


@dataclass
class Outcome:
    acquired: bool
    changed: bool
    holder: Optional[Holder]
    previous: Optional[Holder] = None
    took_over: str = ""  # why the previous holder's lease was taken: "expired", "dead", "takeover" ("" when it was free)
    waited: float = 0.0
    attempts: int = 0
    notes: list[str] = field(default_factory=list)


class LeaseHeld(OfmRollbackError):
    """Another live run holds the lease."""

    def __init__(self, name: str, holder: Holder, now: float, store: Store, waited: float) -> None:
        waited_text = f" after waiting {int(waited)} s" if waited else ""
        super().__init__(f"another rollback holds the lease {name} ({store.where}){waited_text}: {holder.describe(now)}", system=SYSTEM,
                         operation="acquire", target=name,
                         hint=("Nothing was changed. Talk to that operator; to queue behind the run set the wait (e.g. -e rollback_lease_wait=10m); "
                               "take the lease over only when you know that run is dead (-e rollback_lease_takeover=true)."))
        self.holder = holder


def acquire(store: Store, name: str, me: Holder, *, wait: float = 0.0, takeover: bool = False, poll: float = 1.0,
            clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep, check_mode: bool = False) -> Outcome:
    """Take ``name`` for ``me`` (or renew it when ``me`` holds it); wait up to ``wait`` seconds for a live holder to let go."""
    started = clock()
    attempts = 0
    while True:
        attempts += 1
        now = clock()
        current, version = store.read(name)
        reason = ""
        if current is not None and current.identity != me.identity:
            if current.expired(now):
                reason = "expired"
            elif current.dead_here(me.host):
                reason = "dead"
            elif takeover:
                reason = "takeover"
            else:
                if now - started < wait:
                    sleep(min(poll, max(0.05, wait - (now - started))))
                    continue
                raise LeaseHeld(name, current, now, store, now - started)
        mine = current is not None and current.identity == me.identity
        holder = Holder(**{**asdict(me), "acquired": current.acquired if mine else now, "renewed": now,
                           "transitions": (current.transitions + (0 if mine else 1)) if current else 0})
        if check_mode:
            return Outcome(True, not mine, holder, current, reason, now - started, attempts)
        try:
            store.write(name, holder, version)
        except ConflictError:
            if attempts > 20:
                raise
            continue  # another run wrote between our read and write: read again
        return Outcome(True, not mine, holder, current if not mine else None, reason, now - started, attempts)


def release(store: Store, name: str, me: Holder, check_mode: bool = False) -> tuple[bool, Optional[Holder]]:
    """Free ``name`` when ``me`` holds it; (changed, the holder found)."""
    for _attempt in range(20):
        current, version = store.read(name)
        if current is None or current.identity != me.identity:
            return False, current
        if check_mode:
            return True, current
        try:
            store.write(name, None, version, current.transitions)
            return True, current
        except ConflictError:
            continue
    return False, None


def renew_once(store: Store, name: str, me: Holder, clock: Callable[[], float] = time.time) -> bool:
    """Renew ``name`` if ``me`` still holds it; False when it was released or taken over (the renewer then stops)."""
    current, version = store.read(name)
    if current is None or current.identity != me.identity:
        return False
    store.write(name, Holder(**{**asdict(current), "renewed": clock()}), version)
    return True


def renew_while_alive(store: Store, name: str, me: Holder, watch_pid: int, interval: float,
                      alive: Callable[[int], bool], clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> str:
    """Renew every ``interval`` seconds while ``watch_pid`` lives and ``me`` holds the lease; why it stopped."""
    next_renewal = clock() + interval
    while True:
        if not alive(watch_pid):
            return "the run's process ended: the lease expires unless the run released it"
        if clock() >= next_renewal:
            try:
                if not renew_once(store, name, me, clock):
                    return "the lease was released or taken over"
            except OfmRollbackError:
                pass  # the API is unreachable for now: try again at the next turn, the lease has ttl to spare
            next_renewal = clock() + interval
        sleep(min(0.5, interval))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return process_identity(pid) != "" and Path(f"/proc/{pid}").exists() and _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def start_renewer(spec: Mapping[str, Any]) -> int:
    """Start the renewer as a process of its own (its session, no inherited descriptors); the settings go through a pipe,
    never argv or the environment, since they may hold a token. Returns its pid."""
    root = str(Path(os.path.abspath(__file__)).parents[5])  # the directory that holds ansible_collections/ (symlinks kept)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from ansible_collections.ofm.rollback.plugins.module_utils.lease import renewer_main; renewer_main()")
    process = subprocess.Popen([sys.executable, "-c", code, root], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                               stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
    if process.stdin is None:
        raise RuntimeError("the renewer's stdin is not a pipe")
    process.stdin.write(json.dumps(spec).encode("utf-8"))
    process.stdin.close()
    return process.pid


def store_from_spec(spec: Mapping[str, Any]) -> Store:
    if spec["backend"] == "file":
        return FileStore(spec["lock_dir"])
    return kube_store(spec["connection"], spec["namespace"], spec.get("timeout", 5.0))


class StoreWhenNeeded:
    """A store made at its first use.

    The renewer starts as the run takes the lease, and its first renewal is an interval away: making the store at once
    would import its client (the Kubernetes client: about half a second of CPU) while the run does its most urgent steps,
    the ones before the rollback, on the same cores.
    """

    def __init__(self, make: Callable[[], Store]) -> None:
        self._make = make
        self._store: Optional[Store] = None

    def __getattr__(self, attribute: str) -> Any:
        if self._store is None:
            self._store = self._make()
        return getattr(self._store, attribute)


def renewer_main() -> None:
    """The renewer process: reads its settings from stdin, renews until the run ends or lets go."""
    spec = json.loads(sys.stdin.read())
    holder = Holder(**spec["holder"])
    store = StoreWhenNeeded(lambda: store_from_spec(spec))
    renew_while_alive(store, spec["name"], holder, int(spec["watch_pid"]), float(spec["interval"]), pid_alive)  # type: ignore[arg-type]


def checked_name(name: str) -> str:
    """A lease name the Kubernetes API and a file name both accept."""
    if not name or len(name) > 63 or not all(c.isalnum() and c.islower() or c.isdigit() or c == "-" for c in name) \
            or name.startswith("-") or name.endswith("-"):
        raise InputError(f"{name!r} is not a lease name", option="name",
                         accepted="1-63 lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. ofm-rollback-emergency-ofm-api)")
    return name
