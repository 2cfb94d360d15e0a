# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend weights of OpenShift Routes (``route.openshift.io/v1``), through the kubernetes dynamic client of ``kube.py``.

A Route sends its requests to up to four Services by weight: ``spec.to`` and up to three ``spec.alternateBackends``, each
weight an integer from 0 (no requests) to 256. ``alternateBackends`` is a list the API server replaces whole (with a merge
patch as with a strategic one), so a write always sends the Route's whole backend list: ``spec.to`` and every alternate
backend, in ONE merge patch conditional on the ``resourceVersion`` read (a Route someone changed in between is a
``ConflictError`` and nothing is written).

Backends are named by their Service. ``desired_backends`` turns what a caller wants into the whole list: new weights for
Services the Route has (a Service it does not have is an ``InputError`` unless it is added explicitly), or an exact list.
Every check runs before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import checked_timeout, checked_weight
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import SYSTEM, Kube

ROUTE_API_VERSION = "route.openshift.io/v1"
ROUTE_KIND = "Route"
MERGE_PATCH = "application/merge-patch+json"
MAX_WEIGHT = 256
DEFAULT_WEIGHT = 100
MAX_ALTERNATES = 3
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Backend:
    """One backend of a Route: a Service and its weight."""

    service: str
    weight: int

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "weight": self.weight}


@dataclass(frozen=True)
class RouteBackends:
    """A Route's backends as read: ``spec.to`` first, then ``alternateBackends`` in order."""

    namespace: str
    name: str
    backends: tuple[Backend, ...]
    resource_version: str = ""

    @property
    def target(self) -> str:
        return route_target(self.namespace, self.name)

    def weights(self) -> dict[str, int]:
        """``{service: weight}`` in the Route's order (the first is ``spec.to``)."""
        return {backend.service: backend.weight for backend in self.backends}

    def as_list(self) -> list[dict[str, Any]]:
        return [backend.as_dict() for backend in self.backends]


def route_target(namespace: str, name: str) -> str:
    return f"Route {namespace}/{name}"


def check_weight(value: Any, option: str) -> int:
    """``value`` as a Route weight (an integer from 0 to 256), else an ``InputError`` naming ``option``."""
    return checked_weight(value, option, maximum=MAX_WEIGHT, what="Route weight", system=SYSTEM)


def check_backends(backends: Sequence[Backend], option: str) -> tuple[Backend, ...]:
    """``backends`` if a Route can hold them: one to four, each Service once."""
    if not backends:
        raise InputError("a Route needs at least one backend (spec.to)", system=SYSTEM, option=option,
                         accepted=f"1 to {MAX_ALTERNATES + 1} backends")
    if len(backends) > MAX_ALTERNATES + 1:
        raise InputError(f"{len(backends)} backends: a Route has spec.to and at most {MAX_ALTERNATES} alternateBackends", system=SYSTEM,
                         option=option, accepted=f"1 to {MAX_ALTERNATES + 1} backends")
    services = [backend.service for backend in backends]
    twice = sorted({service for service in services if services.count(service) > 1})
    if twice:
        raise InputError(f"the Services {twice} are named more than once", system=SYSTEM, option=option, accepted="each Service once")
    return tuple(backends)


def parse_backends(items: Iterable[Mapping[str, Any]], option: str = "backends") -> tuple[Backend, ...]:
    """An exact backend list from ``[{service, weight}]`` (the first becomes ``spec.to``)."""
    backends = []
    for index, item in enumerate(items):
        service = item.get("service")
        if not isinstance(service, str) or not service:
            raise InputError(f"{option}[{index}] names no Service", system=SYSTEM, option=f"{option}[{index}].service", accepted="a Service name")
        backends.append(Backend(service, check_weight(item.get("weight"), f"{option}[{index}].weight")))
    return check_backends(backends, option)


def desired_backends(current: RouteBackends, weights: Optional[Mapping[str, Any]] = None, backends: Optional[Sequence[Backend]] = None,
                     add: bool = False) -> tuple[Backend, ...]:
    """The Route's whole backend list after the change: ``backends`` exactly, or the current list with the ``weights`` of the
    Services named (``add``: Services the Route does not have become alternate backends; without it they are an error)."""
    if backends is not None:
        return check_backends(backends, "backends")
    wanted = {str(service): check_weight(weight, f"weights.{service}") for service, weight in (weights or {}).items()}
    unknown = [service for service in wanted if service not in current.weights()]
    if unknown and not add:
        raise InputError(f"{current.target} has no backend Service {', '.join(unknown)}", system=SYSTEM, option="weights",
                         accepted=f"the Route's Services ({', '.join(current.weights())}), or set add to make the others alternate backends")
    result = [Backend(backend.service, wanted.get(backend.service, backend.weight)) for backend in current.backends]
    result += [Backend(service, wanted[service]) for service in unknown]
    return check_backends(result, "weights")


def backends_of(obj: Mapping[str, Any]) -> RouteBackends:
    """The backends of a Route object as the API returns it."""
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    target = route_target(metadata.get("namespace", ""), metadata.get("name", ""))
    found = []
    for entry in [spec.get("to")] + list(spec.get("alternateBackends") or []):
        if not isinstance(entry, Mapping) or not entry.get("name") or entry.get("kind", "Service") != "Service":
            raise DataError(f"{target} has a backend that is not a named Service: {entry!r}", system=SYSTEM, operation="read", target=target)
        weight = entry.get("weight")
        found.append(Backend(entry["name"], DEFAULT_WEIGHT if weight is None else int(weight)))
    return RouteBackends(metadata.get("namespace", ""), metadata.get("name", ""), tuple(found), str(metadata.get("resourceVersion") or ""))


def patch_body(backends: Sequence[Backend], resource_version: str = "") -> dict[str, Any]:
    """The one merge patch that makes a Route's backends ``backends``: ``spec.to`` and the whole ``alternateBackends`` list,
    conditional on ``resource_version`` when given."""
    entries = [{"kind": "Service", "name": backend.service, "weight": backend.weight} for backend in backends]
    body: dict[str, Any] = {"spec": {"to": entries[0], "alternateBackends": entries[1:]}}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    return body


def sent_patch(body: Mapping[str, Any]) -> dict[str, Any]:
    """A patch as results show it: the backends, without the precondition."""
    return {"spec": body["spec"]}


class RouteClient:
    """Reads and writes the backends of the Routes of one namespace; ``round_trips`` counts the requests."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        if not namespace:
            raise InputError("no namespace given", system=SYSTEM, option="namespace", accepted="a namespace name")
        self.kube = kube
        self.namespace = namespace
        self.round_trips = 0
        self.patches: list[dict[str, Any]] = []

    @classmethod
    def from_params(cls, params: Mapping[str, Any], namespace: Optional[str] = None, timeout: Optional[float] = None) -> "RouteClient":
        """A client from the ``KUBE_SPEC`` options, for ``namespace`` (default: the option ``namespace``)."""
        timeout = checked_timeout(DEFAULT_TIMEOUT if timeout is None else timeout, "timeout", system=SYSTEM)
        namespace = namespace or params.get("namespace") or ""
        if not namespace:
            raise InputError("no namespace given", system=SYSTEM, option="namespace", accepted="a namespace name")
        return cls(Kube.from_params(params, timeout=timeout), namespace)

    def read(self, name: str) -> RouteBackends:
        self.round_trips += 1
        return backends_of(self.kube.get(ROUTE_API_VERSION, ROUTE_KIND, self.namespace, name))

    def read_all(self) -> list[RouteBackends]:
        """Every Route of the namespace."""
        self.round_trips += 1
        return [backends_of(obj) for obj in self.kube.list(ROUTE_API_VERSION, ROUTE_KIND, self.namespace)]

    def write(self, current: RouteBackends, backends: Sequence[Backend]) -> RouteBackends:
        """One merge patch that makes ``current``'s Route hold ``backends``, conditional on the resourceVersion read; the
        backends as the API server then holds them."""
        body = patch_body(check_backends(backends, "backends"), current.resource_version)
        self.round_trips += 1
        written = backends_of(self.kube.patch(ROUTE_API_VERSION, ROUTE_KIND, self.namespace, current.name, body, content_type=MERGE_PATCH))
        self.patches.append({"route": current.target, "patch": sent_patch(body)})
        return written


@dataclass(frozen=True)
class RouteChange:
    """What a change of one Route's backends did (or, in check mode, would do)."""

    before: RouteBackends
    after: tuple[Backend, ...]
    patches: tuple[dict[str, Any], ...] = ()

    @property
    def changed(self) -> bool:
        return self.after != self.before.backends

    def result(self) -> dict[str, Any]:
        before = {"backends": self.before.as_list()}
        after = {"backends": [backend.as_dict() for backend in self.after]}
        warnings = []
        if all(backend.weight == 0 for backend in self.after):
            warnings.append(f"every backend of {self.before.target} has weight 0: the Route sends no requests anywhere")
        return {"changed": self.changed, "route": self.before.target, "previous": before["backends"], "current": after["backends"],
                "weights": {backend.service: backend.weight for backend in self.after}, "patches": list(self.patches),
                "diff": {"before": before, "after": after}, "warnings": warnings}


def set_backends(client: RouteClient, name: str, *, weights: Optional[Mapping[str, Any]] = None, backends: Optional[Sequence[Backend]] = None,
                 add: bool = False, check_mode: bool = False) -> RouteChange:
    """Read Route ``name``, work out its whole backend list, and write it with one patch when it differs (never in check mode)."""
    for service, weight in (weights or {}).items():
        check_weight(weight, f"weights.{service}")
    current = client.read(name)
    wanted = desired_backends(current, weights, backends, add)
    if wanted == current.backends or check_mode:
        return RouteChange(current, wanted)
    written = client.write(current, wanted)
    return RouteChange(current, written.backends, tuple(client.patches))
