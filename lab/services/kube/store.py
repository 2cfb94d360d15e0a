"""The in-memory object store: CRUD, patches, resourceVersion, generation, owners, and watch events."""
from __future__ import annotations

import copy
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional

import yaml

from lab.services.kube import errors, patches, resources
from lab.services.kube.resources import ResourceType
from lab.services.kube.selectors import selector_string
from lab.services.kube.validation import apply_defaults, drop_nulls, validate

EVENT_LOG_SIZE = 10000
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (MERGE_PATCH, JSON_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

Matcher = Callable[[dict[str, Any]], bool]
Key = tuple[str, str, str]


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def resource_key(resource: ResourceType) -> str:
    return f"{resource.group}/{resource.plural}"


@dataclass(frozen=True)
class WatchEvent:
    resource_version: int
    resource: str
    type: str
    object: dict[str, Any]


@dataclass(frozen=True)
class Write:
    """How a write is made: through a subresource, as a dry run, or by a controller."""

    subresource: Optional[str] = None
    dry_run: bool = False


class Store:
    """Objects by (resource, namespace, name); every change gets the next global resourceVersion."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._objects: dict[Key, dict[str, Any]] = {}
        self._revision = 0
        self._events: deque[WatchEvent] = deque(maxlen=EVENT_LOG_SIZE)
        self._service_ips = 0
        for namespace in BUILTIN_NAMESPACES:
            self.create(resources.NAMESPACES, "", {"metadata": {"name": namespace}})

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._revision

    # reads

    def get(self, resource: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            obj = self._objects.get((resource_key(resource), namespace, name))
            if obj is None:
                raise errors.not_found(resource.plural, resource.group, name)
            return copy.deepcopy(obj)

    def list(self, resource: ResourceType, namespace: Optional[str], matches: Matcher = lambda obj: True) -> tuple[list[dict[str, Any]], int]:
        """Matching objects sorted by namespace and name, and the resourceVersion of the list."""
        key = resource_key(resource)
        with self._lock:
            items = [copy.deepcopy(obj) for (kind, ns, _name), obj in sorted(self._objects.items())
                     if kind == key and (namespace is None or ns == namespace) and matches(obj)]
            return items, self._revision

    def owned_by(self, owner: dict[str, Any], resource: ResourceType) -> list[dict[str, Any]]:
        uid = owner["metadata"]["uid"]
        items, _revision = self.list(resource, owner["metadata"].get("namespace", ""),
                                     lambda obj: any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or []))
        return items

    # writes

    def create(self, resource: ResourceType, namespace: str, body: Any, write: Write = Write()) -> dict[str, Any]:
        obj = self._checked_body(resource, namespace, body)
        metadata = obj["metadata"]
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + uuid.uuid4().hex[:5]
        apply_defaults(resource, obj)
        validate(resource, obj)
        with self._lock:
            name = metadata["name"]
            if resource.namespaced and (resource_key(resources.NAMESPACES), "", namespace) not in self._objects:
                raise errors.not_found("namespaces", "", namespace)
            if (resource_key(resource), namespace, name) in self._objects:
                raise errors.already_exists(resource.plural, resource.group, name)
            for key in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "generation"):
                metadata.pop(key, None)
            metadata.update(uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339())
            if resource.generation:
                metadata["generation"] = 1
            self._initial_status(resource, obj)
            return self._store(resource, namespace, obj, "ADDED", write.dry_run)

    def update(self, resource: ResourceType, namespace: str, name: str, body: Any, write: Write = Write()) -> dict[str, Any]:
        obj = self._checked_body(resource, namespace, body)
        if obj["metadata"].get("name") != name:
            raise errors.bad_request(f"the name of the object ({obj['metadata'].get('name')}) does not match the name on the URL ({name})")
        with self._lock:
            current = self.get(resource, namespace, name)
            wanted = obj["metadata"].get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise errors.conflict(resource.plural, resource.group, name)
            return self._replace(resource, namespace, current, obj, write)

    def patch(self, resource: ResourceType, namespace: str, name: str, content_type: str, raw: bytes,  # pylint: disable=too-many-arguments
              write: Write = Write()) -> dict[str, Any]:
        body = _parse_patch(content_type, raw)
        with self._lock:
            try:
                current = self.get(resource, namespace, name)
            except errors.ApiError:
                if content_type != APPLY_PATCH or write.subresource:
                    raise
                return self.create(resource, namespace, body, write)
            if write.subresource == "scale":
                return self._patch_scale(resource, namespace, current, content_type, body, write)
            patched = _patched(current, content_type, body, custom=resource.group == "argoproj.io")
            # As the real server: a patch is applied to the stored object and the result is stored with its resourceVersion as
            # precondition, so a resourceVersion the patch put in (a merge or strategic ``metadata.resourceVersion``, a JSON patch
            # ``replace`` of ``/metadata/resourceVersion``) that is not the stored one is a 409 Conflict; a failed JSON patch
            # ``test`` op is a 422 (patches.json_patch).
            wanted = (patched.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise errors.conflict(resource.plural, resource.group, name)
            patched.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
            return self._replace(resource, namespace, current, patched, write)

    def delete(self, resource: ResourceType, namespace: str, name: str, propagation: str = "Background", dry_run: bool = False) -> dict[str, Any]:
        with self._lock:
            current = self.get(resource, namespace, name)
            if not dry_run:
                self._remove(resource, namespace, current, propagation)
            details: dict[str, Any] = {"name": name}
            if resource.group:
                details["group"] = resource.group
            details.update(kind=resource.plural, uid=current["metadata"]["uid"])
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    # scale subresource

    def scale(self, resource: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        return scale_of(self.get(resource, namespace, name))

    def update_scale(self, resource: ResourceType, namespace: str, name: str, body: Any, write: Write) -> dict[str, Any]:
        with self._lock:
            current = self.get(resource, namespace, name)
            wanted = ((body or {}).get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise errors.conflict(resource.plural, resource.group, name)
            return self._set_replicas(resource, namespace, current, ((body or {}).get("spec") or {}).get("replicas"), write)

    def _patch_scale(self, resource: ResourceType, namespace: str, current: dict[str, Any], content_type: str, body: Any,  # pylint: disable=too-many-arguments
                     write: Write) -> dict[str, Any]:
        patched = _patched(scale_of(current), content_type, body, custom=False)
        return self._set_replicas(resource, namespace, current, (patched.get("spec") or {}).get("replicas"), write)

    def _set_replicas(self, resource: ResourceType, namespace: str, current: dict[str, Any], replicas: Any, write: Write) -> dict[str, Any]:
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("Scale", "autoscaling", current["metadata"]["name"],
                                 [("spec.replicas", f"Invalid value: {replicas}", "must be greater than or equal to 0")])
        wanted = copy.deepcopy(current)
        wanted["spec"]["replicas"] = replicas
        return scale_of(self._replace(resource, namespace, current, wanted, Write(dry_run=write.dry_run)))

    # watch

    def watch(self, resource: ResourceType, namespace: Optional[str], matches: Matcher, since: Optional[str],
              stop: Callable[[], bool]) -> Iterator[WatchEvent]:
        """Events after ``since`` (or ADDED for every current object when it is empty or "0") until ``stop()``."""
        key = resource_key(resource)
        if since in (None, "", "0"):
            items, last = self.list(resource, namespace, matches)
            for item in items:
                yield WatchEvent(last, key, "ADDED", item)
        else:
            last = self._checked_since(since)
        while not stop():
            with self._changed:
                pending = [event for event in self._events if event.resource_version > last]
                if not pending:
                    self._changed.wait(timeout=0.5)
                    continue
            last = pending[-1].resource_version
            for event in pending:
                if event.resource == key and (namespace is None or event.object["metadata"].get("namespace", "") == namespace) \
                        and matches(event.object):
                    yield event

    def _checked_since(self, since: str) -> int:
        if not since.isdigit():
            raise errors.bad_request(f'invalid resource version "{since}"')
        with self._lock:
            oldest = self._events[0].resource_version if self._events else self._revision + 1
            if int(since) < oldest - 1 and len(self._events) == self._events.maxlen:
                raise errors.gone(f"too old resource version: {since} ({oldest - 1})")
        return int(since)

    # persistence

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"resourceVersion": self._revision, "objects": [
                {"resource": kind, "object": obj} for (kind, _ns, _name), obj in sorted(self._objects.items())]}

    def restore(self, data: dict[str, Any]) -> None:
        with self._lock:
            self._objects.clear()
            for entry in data.get("objects", []):
                obj = entry["object"]
                self._objects[(entry["resource"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])] = obj
            self._revision = int(data.get("resourceVersion", 0))

    # internals

    def _checked_body(self, resource: ResourceType, namespace: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body of a {resource.kind} must be a JSON object")
        obj = drop_nulls(body)
        if obj.get("kind", resource.kind) != resource.kind or obj.get("apiVersion", resource.api_version) != resource.api_version:
            raise errors.bad_request(f"the API version in the data ({obj.get('apiVersion')}) does not match the expected API version "
                                     f"({resource.api_version})" if obj.get("apiVersion", resource.api_version) != resource.api_version
                                     else f'{obj.get("kind")} in version "{resource.version}" cannot be handled as a {resource.kind}')
        obj["kind"], obj["apiVersion"] = resource.kind, resource.api_version
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise errors.bad_request("metadata must be a JSON object")
        if resource.namespaced:
            if metadata.get("namespace", namespace) != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        return obj

    def _initial_status(self, resource: ResourceType, obj: dict[str, Any]) -> None:
        if resource.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif resource.kind == "Service":
            self._service_ips += 1
            obj["spec"].setdefault("clusterIP", f"10.96.{self._service_ips // 250}.{self._service_ips % 250 + 2}")
            obj["spec"].setdefault("clusterIPs", [obj["spec"]["clusterIP"]])
            obj["status"] = {"loadBalancer": {}}
        elif resource.has_status():
            obj["status"] = {}

    def _replace(self, resource: ResourceType, namespace: str, current: dict[str, Any], wanted: dict[str, Any], write: Write) -> dict[str, Any]:
        obj = copy.deepcopy(current) if write.subresource == "status" else drop_nulls(wanted)
        if write.subresource == "status":
            obj["status"] = drop_nulls(wanted.get("status"))
        elif resource.has_status():
            obj["status"] = copy.deepcopy(current.get("status"))
        obj["kind"], obj["apiVersion"] = resource.kind, resource.api_version
        metadata = obj.setdefault("metadata", {})
        for key in ("uid", "creationTimestamp", "name", "namespace", "generation", "resourceVersion"):
            if key in current["metadata"]:
                metadata[key] = current["metadata"][key]
            else:
                metadata.pop(key, None)
        apply_defaults(resource, obj)
        validate(resource, obj)
        if resource.generation and obj.get("spec") != current.get("spec"):
            metadata["generation"] = current["metadata"].get("generation", 0) + 1
        if obj == current:
            return current
        return self._store(resource, namespace, obj, "MODIFIED", write.dry_run)

    def _store(self, resource: ResourceType, namespace: str, obj: dict[str, Any], event: str, dry_run: bool) -> dict[str, Any]:
        if dry_run:
            obj["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion") or str(self._revision)
            return obj
        self._revision += 1
        obj["metadata"]["resourceVersion"] = str(self._revision)
        self._objects[(resource_key(resource), namespace, obj["metadata"]["name"])] = obj
        self._events.append(WatchEvent(self._revision, resource_key(resource), event, copy.deepcopy(obj)))
        self._changed.notify_all()
        return copy.deepcopy(obj)

    def _remove(self, resource: ResourceType, namespace: str, obj: dict[str, Any], propagation: str) -> None:
        del self._objects[(resource_key(resource), namespace, obj["metadata"]["name"])]
        self._revision += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self._revision)
        self._events.append(WatchEvent(self._revision, resource_key(resource), "DELETED", gone))
        self._changed.notify_all()
        uid = obj["metadata"]["uid"]
        for (kind, ns, _name), dependent in list(self._objects.items()):
            owned = resource.kind == "Namespace" and ns == obj["metadata"]["name"]
            refs = dependent["metadata"].get("ownerReferences") or []
            if not owned and not any(ref.get("uid") == uid for ref in refs):
                continue
            dependent_type = _type_of(kind)
            if propagation == "Orphan" and not owned:
                dependent = copy.deepcopy(dependent)
                dependent["metadata"]["ownerReferences"] = [ref for ref in refs if ref.get("uid") != uid] or None
                if dependent["metadata"]["ownerReferences"] is None:
                    del dependent["metadata"]["ownerReferences"]
                self._store(dependent_type, ns, dependent, "MODIFIED", False)
            elif (kind, ns, dependent["metadata"]["name"]) in self._objects:
                self._remove(dependent_type, ns, dependent, propagation)


def _type_of(key: str) -> ResourceType:
    group, plural = key.split("/", 1)
    return next(resource for resource in resources.RESOURCES if (resource.group, resource.plural) == (group, plural))


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a workload."""
    metadata = obj["metadata"]
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {key: metadata[key] for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if key in metadata},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": selector_string((obj.get("spec") or {}).get("selector"))},
    }


def _patched(current: dict[str, Any], content_type: str, body: Any, custom: bool) -> dict[str, Any]:
    """``current`` with the patch applied; custom resources take no strategic merge patches, as on a real server."""
    if content_type == JSON_PATCH:
        patched = patches.json_patch(current, body)
    elif content_type == MERGE_PATCH or (custom and content_type == APPLY_PATCH):
        patched = patches.merge_patch(current, body)
    elif custom:
        raise errors.unsupported_media_type(content_type)
    else:
        patched = patches.strategic_merge_patch(current, body)
    if not isinstance(patched, dict):
        raise errors.bad_request("the patch does not produce a JSON object")
    return patched


def _parse_patch(content_type: str, raw: bytes) -> Any:
    if content_type not in PATCH_TYPES:
        raise errors.unsupported_media_type(content_type)
    try:
        return yaml.safe_load(raw) if content_type == APPLY_PATCH else json.loads(raw or b"null")
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from exc
