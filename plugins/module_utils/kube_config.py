# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration a Deployment reads from Kubernetes: ConfigMap and Secret data, the pod template's env, and the restart
that makes running pods read it again.

Values are text. Bytes that are not UTF-8 text (a Secret's binary value, a ConfigMap's ``binaryData``) are kept as
``BINARY_MARKER`` + their base64; a text value that happens to start with ``MARKER`` is kept as ``TEXT_MARKER`` + itself,
so every value reads back to exactly what was there (``encode_value``/``decode_value``).

Every call is one request to the API server (``round_trips`` counts them, retries included; the API discovery the
``DynamicClient`` does once per group version, when it is built or first meets a kind, is not counted, but its failures are
retried and mapped as the call's), and every write of an object is one request conditional on the object as it was read
(see ``KubeConfig.replace_data`` and ``KubeConfig.replace_env``).
"""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar

from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, DataError, InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import (
    SYSTEM, WORKLOAD_API_VERSION, Kube, Readiness, deployment_readiness, wait_until)

T = TypeVar("T")

MARKER = "ofm.rollback:"
BINARY_MARKER = MARKER + "base64:"
TEXT_MARKER = MARKER + "text:"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
DATA_KINDS = ("ConfigMap", "Secret")


# --- values --------------------------------------------------------------------------------------

def encode_value(raw: bytes | str, binary: bool = False) -> str:
    """The text form of a value: text as it is, bytes that are not UTF-8 (or any bytes when ``binary``) as ``BINARY_MARKER``
    + base64, text starting with ``MARKER`` as ``TEXT_MARKER`` + the text."""
    if isinstance(raw, bytes):
        if not binary:
            try:
                return encode_value(raw.decode("utf-8"))
            except UnicodeDecodeError:
                pass
        return BINARY_MARKER + base64.b64encode(raw).decode("ascii")
    return TEXT_MARKER + raw if raw.startswith(MARKER) else raw


def is_binary(value: str) -> bool:
    """Whether ``value`` is the text form of bytes kept in base64 (``BINARY_MARKER``)."""
    return value.startswith(BINARY_MARKER)


def decode_value(value: str, key: str = "value") -> bytes:
    """The bytes a text form stands for; ``InputError`` naming ``key`` for a marked value that is not valid."""
    if value.startswith(BINARY_MARKER):
        try:
            return base64.b64decode(value[len(BINARY_MARKER):], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError(f"the value of '{key}' starts with {BINARY_MARKER} but the rest is not base64", system=SYSTEM,
                             operation="value decoding", target=key) from exc
    if value.startswith(TEXT_MARKER):
        return value[len(TEXT_MARKER):].encode("utf-8")
    if value.startswith(MARKER):
        raise InputError(f"the value of '{key}' starts with {MARKER} but is neither {BINARY_MARKER}<base64> nor {TEXT_MARKER}<text>",
                         system=SYSTEM, operation="value decoding", target=key)
    return value.encode("utf-8")


def decode_text(value: str, key: str = "value") -> str:
    """The text a (non-binary) text form stands for."""
    return decode_value(value, key).decode("utf-8")


def _b64(value: str, key: str) -> str:
    return base64.b64encode(decode_value(value, key)).decode("ascii")


def secret_values(data: Optional[Mapping[str, str]]) -> dict[str, str]:
    """A Secret's ``data`` (base64 per key) as text forms."""
    values = {}
    for key, encoded in (data or {}).items():
        try:
            values[key] = encode_value(base64.b64decode(encoded or "", validate=True))
        except (binascii.Error, ValueError) as exc:
            raise DataError(f"the Secret's key '{key}' is not base64", system=SYSTEM, operation="read", target=key) from exc
    return values


def configmap_values(obj: Mapping[str, Any]) -> dict[str, str]:
    """A ConfigMap's ``data`` and ``binaryData`` as text forms (``binaryData`` always marked binary, so it goes back there)."""
    values = {key: encode_value(value) for key, value in (obj.get("data") or {}).items()}
    for key, encoded in (obj.get("binaryData") or {}).items():
        values[key] = BINARY_MARKER + (encoded or "")
    return values


# --- objects -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataObject:
    """A ConfigMap's or Secret's values (text forms) as read, with the resourceVersion a write is conditional on."""

    kind: str
    namespace: str
    name: str
    resource_version: str
    values: dict[str, str]

    @property
    def target(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class ContainerEnv:
    """One container of a pod template: its index, inline ``env`` entries (``value`` or ``valueFrom``) and ``envFrom`` sources."""

    name: str
    index: int
    env: list[dict[str, Any]]
    env_from: list[dict[str, Any]]


@dataclass(frozen=True)
class References:
    """The ConfigMaps and Secrets a pod template reads, each with how: ``env`` (read when a pod starts, so a change needs a
    restart) and/or ``volume`` (a mounted file the kubelet refreshes in place, unless mounted with ``subPath``)."""

    configmaps: dict[str, set[str]] = field(default_factory=dict)
    secrets: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, name: Optional[str], how: str) -> None:
        if name:
            (self.configmaps if kind == "ConfigMap" else self.secrets).setdefault(name, set()).add(how)

    def of(self, kind: str) -> dict[str, set[str]]:
        return self.configmaps if kind == "ConfigMap" else self.secrets

    def as_dict(self) -> dict[str, dict[str, list[str]]]:
        return {"configmaps": {name: sorted(how) for name, how in sorted(self.configmaps.items())},
                "secrets": {name: sorted(how) for name, how in sorted(self.secrets.items())}}


@dataclass(frozen=True)
class DeploymentEnv:
    """A Deployment's pod-template env per container, what it references, and the generation a write is conditional on."""

    namespace: str
    name: str
    generation: Optional[int]
    resource_version: str
    containers: dict[str, ContainerEnv]
    references: References

    @property
    def target(self) -> str:
        return f"Deployment {self.namespace}/{self.name}"

    def container(self, name: str) -> ContainerEnv:
        if name not in self.containers:
            raise NotFoundError(f"{self.target} has no container '{name}'; its containers are {sorted(self.containers)}", system=SYSTEM,
                                operation="read env", target=f"{self.target}/{name}", hint="Check the container name.")
        return self.containers[name]


def pod_template_env(obj: Mapping[str, Any]) -> DeploymentEnv:
    """The env of a Deployment (as the API returns it) per container, and the ConfigMaps/Secrets its pod template reads."""
    metadata = obj.get("metadata") or {}
    pod_spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    references = References()
    containers = {}
    for index, container in enumerate(pod_spec.get("containers") or []):
        env, env_from = list(container.get("env") or []), list(container.get("envFrom") or [])
        containers[container["name"]] = ContainerEnv(container["name"], index, env, env_from)
    for container in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or []):
        for entry in container.get("envFrom") or []:
            references.add("ConfigMap", (entry.get("configMapRef") or {}).get("name"), "env")
            references.add("Secret", (entry.get("secretRef") or {}).get("name"), "env")
        for entry in container.get("env") or []:
            source = entry.get("valueFrom") or {}
            references.add("ConfigMap", (source.get("configMapKeyRef") or {}).get("name"), "env")
            references.add("Secret", (source.get("secretKeyRef") or {}).get("name"), "env")
    _volume_references(pod_spec, references)
    return DeploymentEnv(metadata.get("namespace", ""), metadata.get("name", ""), metadata.get("generation"),
                         metadata.get("resourceVersion", ""), containers, references)


def _volume_references(pod_spec: Mapping[str, Any], references: References) -> None:
    """Volumes of ConfigMaps/Secrets; mounted with ``subPath`` they are never refreshed, as if read at start (``env``)."""
    sub_path = {mount.get("name") for container in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or [])
                for mount in container.get("volumeMounts") or [] if mount.get("subPath") or mount.get("subPathExpr")}
    for volume in pod_spec.get("volumes") or []:
        how = "env" if volume.get("name") in sub_path else "volume"
        references.add("ConfigMap", (volume.get("configMap") or {}).get("name"), how)
        references.add("Secret", (volume.get("secret") or {}).get("secretName"), how)
        for source in (volume.get("projected") or {}).get("sources") or []:
            references.add("ConfigMap", (source.get("configMap") or {}).get("name"), how)
            references.add("Secret", (source.get("secret") or {}).get("name"), how)


def data_patch(obj: DataObject, wanted: Mapping[str, str]) -> Optional[dict[str, Any]]:
    """The merge patch that turns ``obj``'s values into ``wanted`` exactly, conditional on ``obj``'s resourceVersion; None when
    nothing changes. Keys not in ``wanted`` are set to null (removed); a ConfigMap key moving between ``data`` and
    ``binaryData`` is nulled in the field it leaves."""
    if dict(obj.values) == dict(wanted):
        return None
    fields: dict[str, dict[str, Optional[str]]] = {}
    for key in obj.values:
        if key not in wanted:
            fields.setdefault(_field(obj.kind, obj.values[key]), {})[key] = None
    for key, value in wanted.items():
        if obj.values.get(key) == value:
            continue
        into = _field(obj.kind, value)
        if key in obj.values and _field(obj.kind, obj.values[key]) != into:
            fields.setdefault(_field(obj.kind, obj.values[key]), {})[key] = None
        if obj.kind == "Secret":
            fields.setdefault(into, {})[key] = _b64(value, key)
        elif into == "binaryData":
            fields.setdefault(into, {})[key] = base64.b64encode(decode_value(value, key)).decode("ascii")
        else:
            fields.setdefault(into, {})[key] = decode_text(value, key)
    return {"metadata": {"resourceVersion": obj.resource_version}, **fields}


def _field(kind: str, value: str) -> str:
    return "binaryData" if kind == "ConfigMap" and is_binary(value) else "data"


def merged_env(current: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]], keep: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``wanted`` with the entries of ``current`` named in ``keep`` left where they were (by index): how the env kind is restored
    without touching a variable another kind owns (``FEATURE_FLAGS``, owned by the flags)."""
    result = [dict(entry) for entry in wanted if entry.get("name") not in keep]
    for index, entry in enumerate(current):
        if entry.get("name") in keep:
            result.insert(min(index, len(result)), dict(entry))
    return result


def _indexes(deployment: DeploymentEnv) -> dict[str, int]:
    return {name: container.index for name, container in deployment.containers.items()}


def restart_stamp(now: Optional[datetime] = None) -> str:
    """The ``kubectl.kubernetes.io/restartedAt`` value: RFC 3339 in UTC, to the second (``2026-12-04T07:39:00Z``)."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- client --------------------------------------------------------------------------------------

class KubeConfig:
    """ConfigMaps, Secrets and Deployment env through a ``Kube`` client, counting its requests in ``round_trips``."""

    def __init__(self, kube: Kube, clock: Optional[Callable[[], float]] = None, sleep: Optional[Callable[[float], None]] = None) -> None:
        self.kube = kube
        self.round_trips = 0
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "KubeConfig":
        """A client from the ``KUBE_SPEC`` connection options."""
        return cls(Kube.from_params(params))

    def _call(self, operation: str, target: str, function: Callable[[], T]) -> T:
        def counted() -> T:
            self.round_trips += 1
            return function()
        return self.kube.call(operation, target, counted)

    def _get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return self._call("get", f"{kind} {namespace}/{name}",
                          lambda: self.kube.resource(api_version, kind).get(name=name, namespace=namespace).to_dict())

    def _patch(self, api_version: str, kind: str, namespace: str, name: str, body: Any, content_type: str,  # pylint: disable=too-many-arguments
               dry_run: bool, operation: str = "patch") -> dict[str, Any]:
        query = {"dry_run": "All"} if dry_run else {}
        return self._call(operation, f"{kind} {namespace}/{name}", lambda: self.kube.resource(api_version, kind).patch(
            body=body, name=name, namespace=namespace, content_type=content_type, **query).to_dict())

    # ConfigMaps and Secrets

    def read_data(self, kind: str, namespace: str, name: str) -> DataObject:
        """The values of ConfigMap or Secret ``name`` (Secret values base64-decoded; see the module's text forms)."""
        if kind not in DATA_KINDS:
            raise InputError(f"'{kind}' is not a kind that holds data", option="kind", accepted=DATA_KINDS, system=SYSTEM)
        obj = self._get("v1", kind, namespace, name)
        values = secret_values(obj.get("data")) if kind == "Secret" else configmap_values(obj)
        return DataObject(kind, namespace, name, (obj.get("metadata") or {}).get("resourceVersion", ""), values)

    def read_configmap(self, namespace: str, name: str) -> DataObject:
        return self.read_data("ConfigMap", namespace, name)

    def read_secret(self, namespace: str, name: str) -> DataObject:
        return self.read_data("Secret", namespace, name)

    def replace_data(self, obj: DataObject, wanted: Mapping[str, str], dry_run: bool = False) -> DataObject:
        """Make the object's values exactly ``wanted`` (keys not in it removed) in one request; no request when they already are.

        The request is a JSON merge patch (``data_patch``): changed and added keys with their values, removed keys as null,
        and ``metadata.resourceVersion`` of the read. Why a merge patch with the resourceVersion, and not a JSON patch with a
        ``test`` op as ``k8s_rollout_undo`` sends:

        - the API server treats a resourceVersion in a patch as a precondition: when the object was written since it was read
          it refuses the patch with 409 Conflict, on a real cluster as on the test server, so a concurrent write is never
          clobbered and the refusal says what it is (a failed JSON patch ``test`` is a 422, the status of an invalid object
          too, which k8s_rollout_undo has to tell apart by reading again);
        - the resourceVersion suits these kinds: ConfigMaps and Secrets have no status and no controller that writes them,
          so their resourceVersion moves only when someone changes them (a Deployment's moves with every status update,
          which is why k8s_rollout_undo tests the generation instead, and so does ``replace_env``);
        - nulls remove exactly the keys the read had and ``wanted`` lacks; with the precondition the read is the object, so the
          result is ``wanted`` exactly, and the patch carries only the keys that change.

        ``ConflictError`` (nothing written) when the object changed since read: read it again and plan again.
        """
        body = data_patch(obj, wanted)
        if body is None:
            return obj
        try:
            answer = self._patch("v1", obj.kind, obj.namespace, obj.name, body, MERGE_PATCH, dry_run, operation="replace data")
        except ConflictError as exc:
            exc.reason = f"{obj.target} was changed since it was read (resourceVersion {obj.resource_version}); nothing was written to it"
            exc.hint = "Read it again and plan the restore again (run the restore again)."
            raise
        values = secret_values(answer.get("data")) if obj.kind == "Secret" else configmap_values(answer)
        return DataObject(obj.kind, obj.namespace, obj.name, (answer.get("metadata") or {}).get("resourceVersion", ""), values)

    # Deployments

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        return self._get(WORKLOAD_API_VERSION, "Deployment", namespace, name)

    def read_env(self, namespace: str, name: str) -> DeploymentEnv:
        """The Deployment's pod-template env per container and the ConfigMaps/Secrets it references."""
        return pod_template_env(self.read_deployment(namespace, name))

    def replace_env(self, deployment: DeploymentEnv, wanted: Mapping[str, Sequence[Mapping[str, Any]]], dry_run: bool = False) -> bool:
        """Make the inline env of each container named in ``wanted`` exactly its list (entries in that order), in one JSON patch
        of the Deployment; False (no request) when every one already is.

        The patch replaces ``/spec/template/spec/containers/<index>/env`` whole (a strategic merge patch merges env by name: it
        can neither drop an entry without a directive nor keep the order), on condition (``test`` ops) that each container is
        still at its index and the Deployment's ``metadata.generation`` is the one read: the generation moves only when the spec
        changes, not with the status updates of a rollout (its resourceVersion does). A failed test is a 422, as an invalid env
        is; the Deployment is then read again, and when its generation or its containers moved the refusal is a
        ``ConflictError`` (nothing was written).
        """
        body: list[dict[str, Any]] = []
        for name, entries in wanted.items():
            current = deployment.container(name)
            if [dict(entry) for entry in current.env] == [dict(entry) for entry in entries]:
                continue
            path = f"/spec/template/spec/containers/{current.index}"
            body.append({"op": "test", "path": f"{path}/name", "value": name})
            body.append({"op": "remove", "path": f"{path}/env"} if not entries else
                        {"op": "add", "path": f"{path}/env", "value": [copy.deepcopy(dict(entry)) for entry in entries]})
        if not body:
            return False
        if deployment.generation is not None:
            body.insert(0, {"op": "test", "path": "/metadata/generation", "value": deployment.generation})
        else:
            body.insert(0, {"op": "test", "path": "/metadata/resourceVersion", "value": deployment.resource_version})
        try:
            self._patch(WORKLOAD_API_VERSION, "Deployment", deployment.namespace, deployment.name, body, JSON_PATCH, dry_run, operation="replace env")
        except (ConflictError, InputError) as exc:
            if exc.status not in (409, 422):
                raise
            fresh = self.read_env(deployment.namespace, deployment.name)
            if deployment.generation is not None:
                moved = fresh.generation != deployment.generation
            else:
                moved = fresh.resource_version != deployment.resource_version
            moved = moved or _indexes(fresh) != _indexes(deployment)
            if exc.status == 422 and not moved:
                raise
            raise ConflictError(f"{deployment.target} was changed since it was read (generation {deployment.generation}, now "
                                f"{fresh.generation}); its env was not written", system=SYSTEM, operation="replace env",
                                target=deployment.target, status=exc.status,
                                hint="Read it again and plan the restore again (run the restore again).") from exc
        return True

    def patch_deployment(self, namespace: str, name: str, body: Any,  # pylint: disable=too-many-arguments
                         content_type: str = JSON_PATCH, dry_run: bool = False, operation: str = "patch") -> dict[str, Any]:
        """One patch of Deployment ``name`` (a JSON patch by default, such as a conditional one of a single env entry)."""
        return self._patch(WORKLOAD_API_VERSION, "Deployment", namespace, name, body, content_type, dry_run, operation=operation)

    def restart(self, namespace: str, name: str, now: Optional[datetime] = None, dry_run: bool = False) -> str:
        """Roll the Deployment's pods as ``kubectl rollout restart`` does: the pod template annotation ``RESTARTED_AT`` set to
        the time (one strategic merge patch); returns the time written."""
        stamp = restart_stamp(now)
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        self._patch(WORKLOAD_API_VERSION, "Deployment", namespace, name, body, STRATEGIC_PATCH, dry_run, operation="rollout restart")
        return stamp

    def wait_rollout(self, namespace: str, name: str, timeout: float, interval: float = 2.0) -> Readiness:
        """Poll the Deployment until its rollout is complete (``kube.deployment_readiness``); ``RolloutFailed`` at once on a
        ProgressDeadlineExceeded, ``DeadlineExceeded`` after ``timeout`` seconds."""
        extra: dict[str, Any] = {}
        if self._clock is not None:
            extra["clock"] = self._clock
        if self._sleep is not None:
            extra["sleep"] = self._sleep
        return wait_until(lambda: self.read_deployment(namespace, name), deployment_readiness, target=f"Deployment {namespace}/{name}",
                          timeout=timeout, sleep_seconds=interval, **extra)

    # Secrets as a store (config.snapshot.KubeSecretStore)

    def create_secret(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name = (body.get("metadata") or {}).get("name", "")
        return self._call("create", f"Secret {namespace}/{name}",
                          lambda: self.kube.resource("v1", "Secret").create(body=dict(body), namespace=namespace).to_dict())

    def list_secrets(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        found = self._call("list", f"Secrets in namespace {namespace}",
                           lambda: self.kube.resource("v1", "Secret").get(namespace=namespace, label_selector=label_selector).to_dict())
        return found.get("items") or []

    def get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        return self._get("v1", "Secret", namespace, name)
