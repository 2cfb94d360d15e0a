"""Stand-in for the Kubernetes control plane: a Kubernetes API test server.

No control plane (kube-apiserver, etcd, controller-manager) can run on the lab machines, yet the
collection drives Kubernetes through the official ``kubernetes`` Python client, ``kubectl`` and
``helm``. This server speaks the parts of the Kubernetes API those clients use, on loopback (HTTPS with ``--tls-cert``,
as the lab runs it; plain HTTP without): discovery (``/version``, ``/api``, ``/apis``, per group version, a minimal OpenAPI v3),
get/list/watch (streaming lists too)/create/update/patch/delete with label and field selectors, the four patch formats,
``resourceVersion`` conflicts, ``generation``, the ``status`` and ``scale`` subresources, ``dryRun``,
and ``Status`` error bodies shaped like the real server's. A background thread plays the controllers
the collection relies on (Deployment -> ReplicaSets with revisions, StatefulSet and DaemonSet
ControllerRevisions, Argo Rollouts canary status), so ``kubectl rollout history/undo/status`` work.

State lives in memory and is saved to ``--state-file`` (JSON) on shutdown and loaded on start. It
writes a kubeconfig (``--kubeconfig``, naming ``--ca-file`` as the cluster's certificate authority) so
``KUBECONFIG=<file> kubectl ...`` talks to it. ``/__lab/*``
routes (loopback only, no auth) inject faults (``/__lab/faults``: latency, then an error status for matching verbs and paths;
a watch can be answered ``410 Gone`` "too old resource version" either as the HTTP status or, with ``in_stream``, as the
ERROR event of a 200 stream, the two ways a real server expires a watch after etcd's compaction), mark images as broken
and arm races (``/__lab/races``: writes that land right after a client's read is answered, as a deploy landing between
a module's read and its patch). With ``--seed-ofm`` it holds the OFM Social OS objects of the lab
(``lab.services.kube.seed``) from the start, and ``POST /__lab/seed`` brings them back; the values of
their Secret come from the environment variable ``OFM_LAB_OFM_SECRETS`` (a JSON object), never the command line.

Authentication: none by default (the cluster admin); ``--token-file`` requires that one bearer token. ``--rbac-file`` adds
users by bearer token with RBAC rules (``lab.services.kube.rbac``): SelfSubjectAccessReviews (``kubectl auth can-i``) are
answered from them and SelfSubjectReviews (``kubectl auth whoami``) name them; with ``--rbac-enforce`` their other resource
requests are refused (403 Forbidden) unless a rule allows them.
"""
from __future__ import annotations

import json
import os
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Generator, Iterator, Optional
from urllib.parse import parse_qs, urlsplit

from lab.services.httpbase import base_parser, serve, tls_context
from lab.services.kube import errors, pods, protobuf, rbac, resources, seed, tables
from lab.services.kube.controllers import Controllers
from lab.services.kube.errors import ApiError
from lab.services.kube.resources import ResourceType
from lab.services.kube.selectors import field_selector, label_selector
from lab.services.kube.store import PATCH_TYPES, Store, WatchEvent, Write

LAB_PREFIX = "/__lab/"
VERB_OF_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
MAX_WATCH_SECONDS = 1800
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass
class Answer:
    """A response: JSON body, or a stream of watch events."""

    status: int
    body: Any = None
    events: Optional[Iterator[dict[str, Any]]] = None


@dataclass
class Fault:
    """Injected misbehaviour for matching requests: latency, then an error status (0: none).

    ``in_stream``: a matching watch is answered 200 with the error as its one ERROR event, then the stream ends (a real
    server's watch cache expires a watch so, e.g. 410 "too old resource version"); other requests get the error status."""

    latency_ms: int = 0
    status: int = 0
    count: int = -1
    verbs: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    in_stream: bool = False

    def matches(self, verb: str, path: str) -> bool:
        return (not self.verbs or verb in self.verbs) and (not self.paths or any(path.startswith(prefix) for prefix in self.paths))


def parse_fault(body: Any) -> Fault:
    if not isinstance(body, dict):
        raise errors.bad_request("a fault is a JSON object with latency_ms, status, count, verbs and paths")
    fault = Fault(latency_ms=body.get("latency_ms", 0), status=body.get("status", 0), count=body.get("count", -1),
                  verbs=body.get("verbs") or [], paths=body.get("paths") or [], in_stream=body.get("in_stream", False))
    checks = [
        (isinstance(fault.latency_ms, int) and 0 <= fault.latency_ms <= 300000, "'latency_ms' must be an integer from 0 to 300000"),
        (isinstance(fault.status, int) and (fault.status == 0 or 400 <= fault.status <= 599), "'status' must be 0 or an HTTP error status"),
        (isinstance(fault.count, int) and (fault.count > 0 or fault.count == -1), "'count' must be positive, or -1 for until cleared"),
        (isinstance(fault.verbs, list) and all(isinstance(verb, str) for verb in fault.verbs), "'verbs' must be a list of verbs"),
        (isinstance(fault.paths, list) and all(isinstance(path, str) and path.startswith("/") for path in fault.paths),
         "'paths' must be a list of absolute path prefixes"),
        (isinstance(fault.in_stream, bool) and (not fault.in_stream or fault.status != 0), "'in_stream' must be true or false, and true "
         "only with a status"),
    ]
    for ok, problem in checks:
        if not ok:
            raise errors.bad_request(f"fault {problem}")
    return fault


def fault_error(fault: Fault, since: Optional[str] = None, current: int = 0) -> ApiError:
    """The error of ``fault`` as the real server words it; a 410 names the resourceVersion asked (``since``) and the oldest one
    the server still has (``current``), as etcd's compaction makes a watch too old."""
    if fault.status == 410:
        return errors.gone(f"too old resource version: {since or 0} ({current})")
    if fault.status == 409:
        return ApiError(409, "Conflict", "Operation cannot be fulfilled: the object has been modified; please apply your changes to "
                        "the latest version and try again (injected fault)", {})
    if fault.status >= 500:
        return errors.internal(f"injected fault (HTTP {fault.status})") if fault.status == 500 else \
            ApiError(fault.status, "ServiceUnavailable" if fault.status == 503 else "InternalError", f"injected fault (HTTP {fault.status})")
    return ApiError(fault.status, "BadRequest", f"injected fault (HTTP {fault.status})")


@dataclass
class Race:
    """Writes that land on the object at ``path`` right after a matching request (``verbs``) to ``after`` (default: ``path``)
    is answered.

    Each matching request lands the next write (a patch of ``content_type``) once its answer is ready, so the client holds
    the object as it was and its next write is based on a stale read; the race is disarmed when no write is left.
    """

    path: str
    content_type: str
    writes: list[Any]
    verbs: list[str] = field(default_factory=lambda: ["get"])
    after: str = ""

    def __post_init__(self) -> None:
        self.after = self.after or self.path


def parse_race(body: Any) -> Race:
    if not isinstance(body, dict):
        raise errors.bad_request("a race is a JSON object with path, content_type, writes, verbs and after")
    race = Race(path=str(body.get("path") or "").rstrip("/"), content_type=body.get("content_type") or "application/strategic-merge-patch+json",
                writes=body.get("writes"), verbs=body.get("verbs") or ["get"], after=str(body.get("after") or "").rstrip("/"))
    target = parse_target(race.path)
    checks = [
        (target is not None and target.name is not None and target.subresource is None, "'path' must name one object, e.g. "
         "/apis/apps/v1/namespaces/default/deployments/web"),
        (race.content_type in PATCH_TYPES, f"'content_type' must be one of {', '.join(PATCH_TYPES)}"),
        (isinstance(race.writes, list) and bool(race.writes), "'writes' must be a non-empty list of patches"),
        (isinstance(race.verbs, list) and all(isinstance(verb, str) for verb in race.verbs), "'verbs' must be a list of verbs"),
        (parse_target(race.after) is not None, "'after' must be a resource path, e.g. /apis/apps/v1/namespaces/default/replicasets"),
    ]
    for ok, problem in checks:
        if not ok:
            raise errors.bad_request(f"race {problem}")
    return race


@dataclass
class Target:
    """What a resource URL names."""

    resource: ResourceType
    namespace: Optional[str]
    name: Optional[str] = None
    subresource: Optional[str] = None


def parse_target(path: str) -> Optional[Target]:
    """``/apis/apps/v1/namespaces/ns/deployments/web/scale`` -> Target; None when the path is no resource URL."""
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = resources.find(group, version, rest[0])
    if resource is None or (namespace is not None and not resource.namespaced):
        return None
    target = Target(resource, namespace if resource.namespaced else "", *rest[1:])
    if target.subresource and target.subresource not in resource.subresources:
        return None
    return target


def request_verb(method: str, path: str, query: dict[str, str]) -> str:
    """The Kubernetes verb of a request: get, list, watch, create, update, patch, delete or deletecollection."""
    target = parse_target(path)
    collection = target is not None and target.name is None
    if method == "GET":
        return ("watch" if query.get("watch") in ("true", "1") else "list") if collection else "get"
    if method == "DELETE" and collection:
        return "deletecollection"
    return VERB_OF_METHOD.get(method, method.lower())


class KubeApi:  # pylint: disable=too-many-public-methods
    """The API server's behaviour, independent of HTTP plumbing (``handle`` takes method, path, query, headers, body)."""

    def __init__(self, store: Store, controllers: Controllers, token: Optional[str] = None, server_address: str = "127.0.0.1:0",
                 users: Optional[dict[str, rbac.User]] = None, enforce: bool = False):
        self.store = store
        self.seed_secrets: Optional[dict[str, str]] = None
        self.controllers = controllers
        self.token = token
        self.users = users or {}
        self.enforce = enforce
        self.server_address = server_address
        self.stopping = threading.Event()
        self._faults: list[Fault] = []
        self._faults_lock = threading.Lock()
        self._races: list[Race] = []
        self._landed: list[dict[str, Any]] = []
        # version label -> the application log its pods' log subresource answers (lab/services/kube/pods.py)
        self.pod_logs: dict[str, Path] = {}

    # entry point

    def handle(self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes,  # pylint: disable=too-many-arguments
               loopback: bool = True) -> Answer:
        try:
            if path.startswith(LAB_PREFIX):
                if not loopback:
                    return Answer(403, {"error": "lab control routes answer loopback clients only"})
                return self._lab(method, path, body)
            if path in ("/health", "/healthz", "/livez", "/readyz"):
                return Answer(200, {"ok": True, "service": "kube-apiserver-stand-in"} if path == "/health" else "ok")
            user = self._authenticate(headers)
            injected = self._inject_fault(method, path, query)
            if injected is not None:
                return injected
            if path.rstrip("/") == rbac.SSAR_PATH and method == "POST":
                return Answer(201, rbac.review(user, _json(body)))
            if path.rstrip("/") == rbac.SSR_PATH and method == "POST":
                return Answer(201, rbac.who(user))
            if self.enforce:
                self._authorize(user, method, path, query)
            answer = self._route(method, path, query, headers, body)
            self._land_race(method, path, query)
            return answer
        except ApiError as exc:
            return Answer(exc.code, exc.status())

    def _authenticate(self, headers: Any) -> rbac.User:
        """The caller: a user of the RBAC file by its bearer token, else the cluster admin: with the --token-file token, or
        with no token at all when none is required; any other bearer token is unauthorized."""
        given = headers.get("Authorization") or ""
        user = self.users.get(given[len("Bearer "):]) if given.startswith("Bearer ") else None
        if user is not None:
            return user
        if self.token and given == f"Bearer {self.token}":
            return rbac.ADMIN
        if not self.token and given == f"Bearer {OPEN_ADMIN_TOKEN}":
            return rbac.ADMIN
        if self.token or (self.users and given.startswith("Bearer ")):
            raise errors.unauthorized()
        return rbac.ADMIN

    def _authorize(self, user: rbac.User, method: str, path: str, query: dict[str, str]) -> None:
        """403 Forbidden for a resource request that ``user``'s rules do not allow (discovery and other paths pass)."""
        target = parse_target(path)
        if target is None or user.admin:
            return
        attributes = {"verb": request_verb(method, path, query), "group": target.resource.group, "resource": target.resource.plural,
                      "subresource": target.subresource or "", "name": target.name or "", "namespace": target.namespace or ""}
        if not rbac.allows(user, attributes)[0]:
            raise errors.forbidden(user.name, attributes["verb"], target.resource.plural, target.resource.group, target.name or "",
                                   target.namespace or "", target.subresource or "")

    def _inject_fault(self, method: str, path: str, query: dict[str, str]) -> Optional[Answer]:
        """Apply the first fault that matches the request: sleep its latency, then raise its error, or for a watch with
        ``in_stream`` return the 200 stream of its one ERROR event; None when the request goes on as usual."""
        verb = request_verb(method, path, query)
        with self._faults_lock:
            fault = next((fault for fault in self._faults if fault.matches(verb, path)), None)
            if fault is None:
                return None
            if fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
        if fault.latency_ms:
            time.sleep(fault.latency_ms / 1000)
        if not fault.status:
            return None
        error = fault_error(fault, query.get("resourceVersion"), self.store.resource_version)
        if fault.in_stream and verb == "watch":
            return Answer(200, events=iter([{"type": "ERROR", "object": error.status()}]))
        raise error

    def _land_race(self, method: str, path: str, query: dict[str, str]) -> None:
        """Land the next write of the race armed for this request, after its answer is made (the client reads the old object)."""
        verb = request_verb(method, path, query)
        with self._faults_lock:
            race = next((race for race in self._races if race.after == path.rstrip("/") and verb in race.verbs), None)
            if race is None:
                return
            write = race.writes.pop(0)
            if not race.writes:
                self._races.remove(race)
        target = parse_target(race.path)
        if target is None or target.name is None:
            return
        landed: dict[str, Any] = {"path": race.path, "after": f"{verb} {path}"}
        try:
            landed["resourceVersion"] = self.store.patch(target.resource, target.namespace or "", target.name, race.content_type,
                                                         json.dumps(write).encode())["metadata"]["resourceVersion"]
        except ApiError as exc:  # the client's request was answered; a write that cannot land is reported, not sent to it
            landed["error"] = exc.status()
        with self._faults_lock:
            self._landed.append(landed)

    # discovery

    def _route(self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes) -> Answer:
        pod_request = pods.matches(path)
        if pod_request is not None and method == "GET":
            status, found = pods.answer(self.store, pod_request, query, self.pod_logs)
            return Answer(status, found)
        discovery = self._discovery(path.rstrip("/") or "/")
        if discovery is not None:
            if method != "GET":
                raise errors.method_not_allowed()
            return discovery
        target = parse_target(path)
        if target is None:
            raise errors.path_not_found()
        return self._resource(method, target, query, headers, body)

    def _discovery(self, path: str) -> Optional[Answer]:
        documents: dict[str, Any] = {
            "/version": resources.SERVER_VERSION,
            "/api": resources.api_versions(self.server_address),
            "/apis": resources.api_group_list(),
            "/openapi/v3": resources.openapi_v3_index(),
        }
        if path in documents:
            return Answer(200, documents[path])
        parts = path.strip("/").split("/")
        if parts[:2] == ["openapi", "v3"] and len(parts) >= 4:
            group, version = ("", parts[3]) if parts[2] == "api" else (parts[3], parts[4] if len(parts) > 4 else "")
            document = resources.openapi_v3_document(group, version)
            return Answer(200, document) if document else None
        if parts == ["api", "v1"]:
            return Answer(200, resources.resource_list("", "v1"))
        if parts[0] == "apis" and len(parts) == 2:
            group = resources.api_group(parts[1])
            return Answer(200, group) if group else None
        if parts[0] == "apis" and len(parts) == 3:
            listing = resources.resource_list(parts[1], parts[2])
            return Answer(200, listing) if listing else None
        return None

    # resources

    def _resource(self, method: str, target: Target, query: dict[str, str], headers: Any, body: bytes) -> Answer:  # pylint: disable=too-many-arguments
        write = Write(subresource=target.subresource, dry_run=_dry_run(query))
        resource, namespace = target.resource, target.namespace
        if target.name is None:
            if method == "GET":
                return self._list_or_watch(target, query, headers)
            if method == "POST":
                return Answer(201, self.store.create(resource, namespace or "", _json(body), write))
            if method == "DELETE":
                return self._delete_collection(target, query)
            raise errors.method_not_allowed()
        name = target.name
        if target.subresource == "scale":
            if method == "GET":
                return Answer(200, self.store.scale(resource, namespace or "", name))
            if method == "PUT":
                return Answer(200, self.store.update_scale(resource, namespace or "", name, _json(body), write))
        if method == "GET":
            obj = self.store.get(resource, namespace or "", name)
            return Answer(200, _as_table(resource, [obj], obj["metadata"]["resourceVersion"]) if _wants_table(headers) else obj)
        if method == "PUT":
            return Answer(200, self.store.update(resource, namespace or "", name, _json(body), write))
        if method == "PATCH":
            return self._patch(target, headers, body, write)
        if method == "DELETE" and not target.subresource:
            options = _json(body) if body else {}
            propagation = query.get("propagationPolicy") or (options or {}).get("propagationPolicy") or "Background"
            return Answer(200, self.store.delete(resource, namespace or "", name, propagation, write.dry_run))
        raise errors.method_not_allowed()

    def _patch(self, target: Target, headers: Any, body: bytes, write: Write) -> Answer:
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        existed = target.subresource is not None or self._exists(target)
        obj = self.store.patch(target.resource, target.namespace or "", target.name or "", content_type, body, write)
        return Answer(200 if existed else 201, obj)

    def _exists(self, target: Target) -> bool:
        try:
            self.store.get(target.resource, target.namespace or "", target.name or "")
        except ApiError:
            return False
        return True

    def _list_or_watch(self, target: Target, query: dict[str, str], headers: Any) -> Answer:
        labels, fields = label_selector(query.get("labelSelector")), field_selector(query.get("fieldSelector"))

        def matches(obj: dict[str, Any]) -> bool:
            return labels(obj) and fields(obj)

        if query.get("watch") in ("true", "1"):
            return Answer(200, events=self._watch(target, matches, query))
        items, revision = self.store.list(target.resource, target.namespace, matches)
        if _wants_table(headers):
            return Answer(200, _as_table(target.resource, items, str(revision)))
        return Answer(200, {"kind": f"{target.resource.kind}List", "apiVersion": target.resource.api_version,
                            "metadata": {"resourceVersion": str(revision)}, "items": items})

    def _watch(self, target: Target, matches: Any, query: dict[str, str]) -> Iterator[dict[str, Any]]:
        timeout = min(int(query.get("timeoutSeconds") or MAX_WATCH_SECONDS), MAX_WATCH_SECONDS)
        deadline = time.monotonic() + timeout

        def stop() -> bool:
            return self.stopping.is_set() or time.monotonic() >= deadline

        since = query.get("resourceVersion")
        try:
            if query.get("sendInitialEvents") == "true":
                since = yield from self._initial_events(target, matches)
            event: WatchEvent
            for event in self.store.watch(target.resource, target.namespace, matches, since, stop):
                yield {"type": event.type, "object": event.object}
        except ApiError as exc:
            yield {"type": "ERROR", "object": exc.status()}

    def _initial_events(self, target: Target, matches: Any) -> Generator[dict[str, Any], None, str]:
        """A streaming list (``sendInitialEvents=true``, as client-go's WatchList and helm v4 ask): ADDED for every
        current object, then the BOOKMARK that marks the end of the initial events. Returns the revision to watch from."""
        items, revision = self.store.list(target.resource, target.namespace, matches)
        for item in items:
            yield {"type": "ADDED", "object": item}
        yield {"type": "BOOKMARK", "object": {
            "kind": target.resource.kind, "apiVersion": target.resource.api_version,
            "metadata": {"resourceVersion": str(revision), "annotations": {INITIAL_EVENTS_END: "true"}}}}
        return str(revision)

    def _delete_collection(self, target: Target, query: dict[str, str]) -> Answer:
        labels, fields = label_selector(query.get("labelSelector")), field_selector(query.get("fieldSelector"))
        items, _revision = self.store.list(target.resource, target.namespace, lambda obj: labels(obj) and fields(obj))
        for item in items:
            self.store.delete(target.resource, item["metadata"].get("namespace", ""), item["metadata"]["name"],
                              query.get("propagationPolicy") or "Background", _dry_run(query))
        return Answer(200, {"kind": f"{target.resource.kind}List", "apiVersion": target.resource.api_version,
                            "metadata": {"resourceVersion": str(self.store.resource_version)}, "items": items})

    # lab control

    def _lab(self, method: str, path: str, body: bytes) -> Answer:
        if path == "/__lab/faults":
            return self._lab_faults(method, body)
        if path == "/__lab/seed":
            return self._lab_seed(method, body)
        if path == "/__lab/races":
            return self._lab_races(method, body)
        if path == "/__lab/broken-images":
            if method == "PUT":
                images = _json(body).get("images") if isinstance(_json(body), dict) else None
                if not isinstance(images, list) or not all(isinstance(image, str) for image in images):
                    raise errors.bad_request('broken images: PUT {"images": ["repo/name:tag", ...]}')
                self.controllers.broken_images = set(images)
            elif method != "GET":
                raise errors.method_not_allowed()
            return Answer(200, {"images": sorted(self.controllers.broken_images), "marker": "an image whose tag contains 'broken'"})
        raise errors.path_not_found()

    def _lab_seed(self, method: str, body: bytes) -> Answer:
        """GET: whether the OFM objects are in their seeded state; POST: put them back in it (``{"scope": "config"}``: only
        the API's ConfigMap, Secret and container env, see ``seed.seed_config``)."""
        if method == "POST":
            payload = _json(body) or {}
            scope = payload.get("scope", "all") if isinstance(payload, dict) else None
            if scope not in ("all", "config"):
                raise errors.bad_request('seed: POST {"scope": "all"} (the default) or {"scope": "config"}')
            run = seed.seed_config if scope == "config" else seed.seed
            with self.controllers.lock:
                try:
                    changed = run(self.store, self.controllers.tick, self.seed_secrets)
                except RuntimeError as exc:
                    raise errors.internal(str(exc)) from exc
            return Answer(200, {"seeded": True, "scope": scope, "changed": changed, "namespace": seed.NAMESPACE})
        if method != "GET":
            raise errors.method_not_allowed()
        return Answer(200, {"seeded": seed.is_seeded(self.store, self.seed_secrets), "config_seeded": seed.config_seeded(self.store, self.seed_secrets),
                            "namespace": seed.NAMESPACE})

    def _lab_races(self, method: str, body: bytes) -> Answer:
        """PUT arms races (one, or ``{"races": [...]}``; replaces the armed ones), DELETE disarms them and forgets the landed
        writes; every answer lists the armed races and the writes that landed."""
        with self._faults_lock:
            if method == "PUT":
                payload = _json(body)
                rules = payload.get("races") if isinstance(payload, dict) and "races" in payload else [payload]
                self._races = [parse_race(rule) for rule in rules or []]
            elif method == "DELETE":
                self._races, self._landed = [], []
            elif method != "GET":
                raise errors.method_not_allowed()
            return Answer(200, {"races": [vars(race) for race in self._races], "landed": list(self._landed)})

    def _lab_faults(self, method: str, body: bytes) -> Answer:
        with self._faults_lock:
            if method == "PUT":
                payload = _json(body)
                rules = payload.get("faults") if isinstance(payload, dict) and "faults" in payload else [payload]
                self._faults = [parse_fault(rule) for rule in rules or []]
            elif method == "DELETE":
                self._faults = []
            elif method != "GET":
                raise errors.method_not_allowed()
            return Answer(200, {"faults": [vars(fault) for fault in self._faults]})


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError as exc:
        raise errors.bad_request(f"the body of the request is not JSON: {exc}") from exc


def _dry_run(query: dict[str, str]) -> bool:
    value = query.get("dryRun")
    if value not in (None, "", "All"):
        raise errors.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    return value == "All"


def _wants_table(headers: Any) -> bool:
    return "as=Table" in (headers.get("Accept") or "")


def _as_table(resource: ResourceType, items: list[dict[str, Any]], revision: str) -> dict[str, Any]:
    return tables.table(resource.kind, items, revision)


def make_handler(api: KubeApi) -> type:
    """The HTTP handler class: JSON answers, and chunked streams for watches."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "kube-apiserver-stand-in"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
            if os.environ.get("OFM_LAB_ACCESS_LOG") == "1":
                sys.stderr.write(f"{self.address_string()} {format % args}\n")

        def _dispatch(self) -> None:
            split = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(split.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            loopback = self.client_address[0] in ("127.0.0.1", "::1") or self.client_address[0].startswith("127.")
            if (self.headers.get("Content-Type") or "").startswith(protobuf.PROTOBUF) and self.command in ("POST", "PUT"):
                try:
                    body = json.dumps(protobuf.decode(body)).encode()
                except (ApiError, ValueError, IndexError) as exc:
                    failure = exc if isinstance(exc, ApiError) else errors.bad_request(f"the protobuf body cannot be decoded: {exc}")
                    self._send(Answer(failure.code, failure.status()))
                    return
            if (self.headers.get("Content-Type") or "").startswith(protobuf.PROTOBUF) and self.command == "DELETE":
                body = b""  # protobuf DeleteOptions (helm uninstall's typed client): the defaults are what this server does anyway
            answer = api.handle(self.command, split.path, query, self.headers, body, loopback)
            if answer.events is not None:
                self._stream(answer.events)
            else:
                self._send(answer)

        def _send(self, answer: Answer) -> None:
            payload = answer.body.encode() if isinstance(answer.body, str) else json.dumps(answer.body).encode()
            content_type = "text/plain; charset=utf-8" if isinstance(answer.body, str) else "application/json"
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Cache-Control", "no-cache, private")
                self.end_headers()
                self.wfile.write(payload)
            except (ConnectionError, ssl.SSLError):  # the client went away (over TLS, maybe without close_notify)
                self.close_connection = True

        def _stream(self, events: Iterator[dict[str, Any]]) -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Cache-Control", "no-cache, private")
                self.end_headers()
                self.wfile.flush()
                for event in events:
                    line = json.dumps(event).encode() + b"\n"
                    self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except (ConnectionError, ssl.SSLError):  # the client went away (over TLS, maybe without close_notify)
                pass
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    return Handler


# Without --token-file every request is the cluster admin; the kubeconfig still names a bearer token, this one, because
# kubectl prompts for a basic-auth username when an https cluster's user has no credentials at all. It grants nothing a
# request without a token does not have, so it is not a secret.
OPEN_ADMIN_TOKEN = "ofm-lab-open-cluster-admin"


def write_kubeconfig(path: Path, server: str, token: Optional[str], namespace: str = "default", ca_file: Optional[Path] = None) -> None:
    """A kubeconfig (mode 0600) whose current context talks to this server (trusting ``ca_file`` for an https ``server``)."""
    user: dict[str, Any] = {"token": token or OPEN_ADMIN_TOKEN}
    cluster: dict[str, Any] = {"server": server}
    if ca_file:
        cluster["certificate-authority"] = str(ca_file)
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "ofm-lab", "cluster": cluster}],
        "users": [{"name": "ofm-lab", "user": user}],
        "contexts": [{"name": "ofm-lab", "context": {"cluster": "ofm-lab", "user": "ofm-lab", "namespace": namespace}}],
        "current-context": "ofm-lab",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)


def seed_secrets_from_env(parser: Any) -> Optional[dict[str, str]]:
    """The values of the seeded Secret's keys from ``OFM_LAB_OFM_SECRETS``; None (placeholders) when it is not set."""
    text = os.environ.get("OFM_LAB_OFM_SECRETS")
    if not text:
        return None
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, dict) or sorted(values) != sorted(seed.SECRET_KEYS) or not all(isinstance(v, str) and v for v in values.values()):
        parser.error(f"OFM_LAB_OFM_SECRETS must be a JSON object with a non-empty string for each of {', '.join(seed.SECRET_KEYS)}")
    return values


def main(argv: Optional[list[str]] = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig for this server here")
    parser.add_argument("--token-file", type=Path, help="require 'Authorization: Bearer <token>' with the token in this file")
    parser.add_argument("--rbac-file", type=Path, help="JSON {token: {user, rules}}: users that SelfSubjectAccessReviews answer for")
    parser.add_argument("--rbac-enforce", action="store_true", help="refuse (403) the requests of --rbac-file users that their rules do not allow")
    parser.add_argument("--state-file", type=Path, help="load objects from this JSON file on start, save them there on stop")
    parser.add_argument("--tick", type=float, default=0.2, help="seconds between controller passes")
    parser.add_argument("--broken-image", action="append", default=[], help="an image that never becomes ready (repeatable)")
    parser.add_argument("--pod-log", action="append", default=[], metavar="VERSION=FILE",
                        help="the log that the pods labelled version=VERSION answer (repeatable)")
    parser.add_argument("--seed-ofm", action="store_true", help="start with the lab's OFM Social OS objects (namespace ofm-production)")
    parser.add_argument("--ca-file", type=Path, help="the CA that signed --tls-cert, named in the --kubeconfig written")
    args = parser.parse_args(argv)
    tls = tls_context(args)
    token = args.token_file.read_text().strip() if args.token_file else None
    store = Store()
    if args.state_file and args.state_file.exists():
        store.restore(json.loads(args.state_file.read_text()))
    controllers = Controllers(store, broken_images=set(args.broken_image))
    seed_secrets = seed_secrets_from_env(parser)
    if args.seed_ofm:
        seed.seed(store, controllers.tick, seed_secrets)
    api = KubeApi(store, controllers, token, f"{args.host}:{args.port}", users=rbac.load(args.rbac_file),
                  enforce=args.rbac_enforce)
    api.seed_secrets = seed_secrets
    api.pod_logs = {version: Path(path) for version, _eq, path in (item.partition("=") for item in args.pod_log)}
    if args.kubeconfig:
        scheme = "https" if tls else "http"
        write_kubeconfig(args.kubeconfig, f"{scheme}://{args.host}:{args.port}", token, ca_file=args.ca_file if tls else None)
    worker = threading.Thread(target=controllers.run, args=(args.tick, api.stopping), name="controllers", daemon=True)
    worker.start()

    def on_stop() -> None:
        api.stopping.set()
        worker.join(timeout=5)
        if args.state_file:
            args.state_file.parent.mkdir(parents=True, exist_ok=True)
            # 0600: the objects include Secrets.
            descriptor = os.open(args.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(store.snapshot(), handle)

    serve(args.host, args.port, make_handler(api), on_stop, tls=tls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
