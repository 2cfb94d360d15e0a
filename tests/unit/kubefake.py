# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ``DynamicClient`` stand-in over the Kubernetes API test server's object store (``lab.services.kube.store``), in process.

The store does what the API server does with objects (the four patch formats, resourceVersion preconditions, generation,
dry runs, 404/409/422 refusals); this client turns its refusals into the ``ApiException`` the ``kubernetes`` client raises, so
the code under test sees what it sees over HTTP, without a server. ``faults`` (per verb) make the next calls fail; ``requests``
records every call; ``after_get`` lands a write right after a GET is answered (a concurrent writer).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError

from lab.services.kube import resources
from lab.services.kube.errors import ApiError
from lab.services.kube.selectors import label_selector
from lab.services.kube.store import Store, Write
from ansible_collections.ofm.rollback.plugins.module_utils.kube import Kube


def api_exception(status: int, message: str, reason: str = "Reason") -> ApiException:
    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps({"kind": "Status", "message": message, "code": status}).encode()
    return exc


def refused_connection() -> MaxRetryError:
    return MaxRetryError(None, "/api/v1", "Connection refused")


@dataclass
class Instance:
    value: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.value


@dataclass
class StoreResource:
    client: "StoreClient"
    resource: resources.ResourceType

    def _do(self, verb: str, action: Callable[[], Any]) -> Instance:
        self.client.requests.append(f"{verb} {self.resource.kind}")
        queued = self.client.faults.get(verb) or []
        if queued:
            raise queued.pop(0)
        try:
            return Instance(action())
        except ApiError as exc:
            raise api_exception(exc.code, exc.message, exc.reason) from exc

    def get(self, name: Optional[str] = None, namespace: Optional[str] = None, label_selector: Optional[str] = None) -> Instance:
        if name:
            answer = self._do("get", lambda: self.client.store.get(self.resource, namespace or "", name))
            hook = self.client.after_get.pop(0) if self.client.after_get else None
            if hook:
                hook()
            return answer
        return self._do("list", lambda: {"items": self.client.store.list(self.resource, namespace, _matcher(label_selector))[0]})

    def patch(self, body: Any, name: str, namespace: str, content_type: str, dry_run: Optional[str] = None) -> Instance:
        self.client.patches.append((content_type, body))
        return self._do("patch", lambda: self.client.store.patch(self.resource, namespace, name, content_type, json.dumps(body).encode(),
                                                                 Write(dry_run=dry_run == "All")))

    def create(self, body: Any, namespace: str) -> Instance:
        return self._do("create", lambda: self.client.store.create(self.resource, namespace, body))


def _matcher(selector: Optional[str]) -> Callable[[dict[str, Any]], bool]:
    return label_selector(selector) if selector else (lambda _obj: True)


class Resources:
    def __init__(self, client: "StoreClient") -> None:
        self.client = client

    def get(self, api_version: str, kind: str) -> StoreResource:
        found = resources.by_kind(api_version, kind)
        assert found is not None, f"the test server serves no {kind} of {api_version}"
        return StoreResource(self.client, found)


@dataclass
class StoreClient:
    """What ``Kube`` needs of a ``DynamicClient``, over a ``Store``."""

    store: Store = field(default_factory=Store)
    faults: dict[str, list[Exception]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    patches: list[tuple[str, Any]] = field(default_factory=list)
    after_get: list[Optional[Callable[[], None]]] = field(default_factory=list)

    @property
    def resources(self) -> Resources:
        return Resources(self)

    def kube(self, retries: int = 0) -> Kube:
        return Kube(self, retries=retries, retry_sleep=0, sleep=lambda _seconds: None)

    def create(self, api_version: str, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.store.create(resources.by_kind(api_version, kind), namespace, body)

    def read(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return self.store.get(resources.by_kind(api_version, kind), namespace, name)

    def write(self, api_version: str, kind: str, namespace: str, name: str, patch: Any,  # pylint: disable=too-many-arguments
              content_type: str = "application/merge-patch+json", subresource: Optional[str] = None) -> dict[str, Any]:
        return self.store.patch(resources.by_kind(api_version, kind), namespace, name, content_type, json.dumps(patch).encode(),
                                Write(subresource=subresource))
