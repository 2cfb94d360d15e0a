"""Just enough of Kubernetes' protobuf encoding to read what ``kubectl create namespace|configmap|secret`` sends.

kubectl's typed clients send ``application/vnd.kubernetes.protobuf`` bodies: the magic ``k8s\\0`` and a
``runtime.Unknown`` envelope (typeMeta, raw). Decoding needs the schema of each kind; this module knows
the fields of ObjectMeta (name, generateName, namespace, labels, annotations) and of Namespace,
ConfigMap and Secret, and the resource attributes of the review kinds (``kubectl auth can-i|whoami``).
Other kinds get 415 so the caller sends JSON instead (e.g. ``kubectl apply``).
"""
from __future__ import annotations

import base64
from typing import Any, Iterator

from lab.services.kube.errors import ApiError

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, Any]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited fields."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position:position + length], position + length
        else:
            raise ValueError(f"protobuf wire type {wire} is not used by the kinds this server decodes")
        yield number, value


def _map_entry(data: bytes) -> tuple[str, bytes]:
    entry = dict(fields(data))
    return entry.get(1, b"").decode(), entry.get(2, b"")


def _metadata(data: bytes) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for number, value in fields(data):
        if number in (1, 2, 3) and value:
            metadata[{1: "name", 2: "generateName", 3: "namespace"}[number]] = value.decode()
        elif number in (11, 12):
            key, item = _map_entry(value)
            metadata.setdefault("labels" if number == 11 else "annotations", {})[key] = item.decode()
    return metadata


def _object(kind: str, data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in fields(data):
        if number == 1:
            obj["metadata"] = _metadata(value)
        elif kind == "Secret" and number == 3:
            if value:
                obj["type"] = value.decode()
        elif kind in ("ConfigMap", "Secret") and number in (2, 3):
            key, item = _map_entry(value)
            if kind == "ConfigMap" and number == 2:
                obj.setdefault("data", {})[key] = item.decode()
            else:
                obj.setdefault("data" if kind == "Secret" else "binaryData", {})[key] = base64.b64encode(item).decode()
    return obj


# What ``kubectl auth can-i`` and ``kubectl auth whoami`` send: SelfSubjectAccessReview {metadata 1, spec 2 {resourceAttributes 1}},
# ResourceAttributes {namespace 1, verb 2, group 3, version 4, resource 5, subresource 6, name 7}; a SelfSubjectReview has no spec.
REVIEWS = (("authorization.k8s.io/v1", "SelfSubjectAccessReview"), ("authentication.k8s.io/v1", "SelfSubjectReview"))
RESOURCE_ATTRIBUTES = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"}


def _review(data: bytes) -> dict[str, Any]:
    spec = dict(fields(dict(fields(data)).get(2, b"")))
    if 1 not in spec:
        return {"spec": {}}
    attributes = {RESOURCE_ATTRIBUTES[number]: value.decode() for number, value in fields(spec[1]) if number in RESOURCE_ATTRIBUTES}
    return {"spec": {"resourceAttributes": attributes}}


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded Namespace, ConfigMap or Secret; 415 for anything else."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body without the k8s magic prefix")
    envelope = dict(fields(body[len(MAGIC):]))
    type_meta = dict(fields(envelope.get(1, b"")))
    api_version, kind = type_meta.get(1, b"").decode(), type_meta.get(2, b"").decode()
    if (api_version, kind) in REVIEWS:
        return {"apiVersion": api_version, "kind": kind, **_review(envelope.get(2, b""))}
    if (api_version, kind) not in (("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret")):
        raise ApiError(415, "UnsupportedMediaType", f"the test server decodes protobuf only for Namespace, ConfigMap and Secret, not "
                       f"{api_version}/{kind}; send application/json (e.g. kubectl apply -f) instead")
    return {"apiVersion": api_version, "kind": kind, **_object(kind, envelope.get(2, b""))}
