# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot kind ``routes``: the backend weights of OpenShift Routes of one namespace.

The section is ``{route: {service: weight}}``, each Route's Services in its order (the first is ``spec.to``), so the kind is
``ordered``: a Route whose ``spec.to`` became another Service is a change of its order. A restore writes each Route that
differs with ONE merge patch of its whole backend list (``openshift_route.RouteClient.write``). Every Route the snapshot
holds must exist when the restore plans (``entries`` of the snapshot's section raises a ``NotFoundError`` naming the missing
ones, before anything is written). The connection is the actions' top-level Kubernetes options (``KUBE_SPEC``).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.config.external import ExternalKind
from ansible_collections.ofm.rollback.plugins.module_utils.config.plan import ORDER_KEY, REMOVE, Change
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import api_client
from ansible_collections.ofm.rollback.plugins.module_utils.openshift_route import (
    SYSTEM, Backend, RouteBackends, RouteClient, check_backends, check_weight)

NAME = "routes"
OPTIONS: dict[str, dict[str, Any]] = {
    "namespace": {"type": "str", "required": True},
    "names": {"type": "list", "elements": "str"},
    "timeout": {"type": "float", "default": 30.0},
}


class RoutesApplier:
    """The ``Applier`` (``plan.py``) of the kind ``routes``."""

    kind = NAME
    ordered = True

    def __init__(self, client: RouteClient, names: Optional[Sequence[str]] = None) -> None:
        self.client = client
        self.names = list(names) if names else None
        self.current: Optional[dict[str, RouteBackends]] = None
        self._read: Optional[dict[str, Any]] = None

    @property
    def round_trips(self) -> int:
        return self.client.round_trips

    def read(self) -> dict[str, Any]:
        routes = [self.client.read(name) for name in self.names] if self.names else self.client.read_all()
        self.current = {route.name: route for route in routes}
        self._read = {route.name: route.weights() for route in routes}
        return self._read

    def entries(self, section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The section checked (Services with weights 0..256, one to four per Route); for a snapshot's section after a
        ``read``, every Route it holds must exist now."""
        entries = {str(route): _weights(route, weights) for route, weights in (section or {}).items()}
        if self.current is not None and section is not self._read:
            missing = [route for route in entries if route not in self.current]
            if missing:
                raise NotFoundError(f"the snapshot holds Routes that namespace {self.client.namespace} no longer has (or that names leaves out): "
                                    f"{', '.join(missing)}", system=SYSTEM, operation="restore plan", target=f"namespace {self.client.namespace}",
                                    hint="Create them again or list them in names. Nothing was changed.")
        return entries

    def apply(self, changes: Sequence[Change]) -> None:
        """One merge patch of the Route's whole backend list, in the snapshot's order."""
        route = changes[0].target
        wanted = [Backend(change.key, change.after) for change in changes if change.key != ORDER_KEY and change.action != REMOVE]
        current = (self.current or {}).get(route)
        if current is None:
            raise NotFoundError(f"Route {route} was not read", system=SYSTEM, operation="restore", target=f"Route {self.client.namespace}/{route}")
        self.client.write(current, wanted)


def _weights(route: Any, weights: Any) -> dict[str, int]:
    if not isinstance(weights, Mapping):
        raise DataError(f"the snapshot's Route {route} is not a mapping of Service to weight", system=SYSTEM, operation="snapshot check",
                        target=str(route))
    checked = {str(service): check_weight(weight, f"routes.{route}.{service}") for service, weight in weights.items()}
    check_backends([Backend(service, weight) for service, weight in checked.items()], f"routes.{route}")
    return checked


def build(params: Mapping[str, Any]) -> RoutesApplier:
    settings = params.get(NAME) or {}
    client = RouteClient.from_params(params, namespace=settings.get("namespace"), timeout=settings.get("timeout"))
    return RoutesApplier(client, settings.get("names"))


def scope(params: Mapping[str, Any]) -> str:
    """The API server (from the kubeconfig or ``host``, no request made) and the namespace."""
    settings = params.get(NAME) or {}
    server = str(api_client(params).configuration.host or "").rstrip("/")
    return f"kubernetes {server} namespace {settings.get('namespace')}"


KIND = ExternalKind(name=NAME, options=OPTIONS, build=build, scope=scope, systems=("kubernetes",),
                    description="OpenShift Route backend weights")
