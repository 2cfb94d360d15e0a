# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes access for the modules: the shared connection options, a client built from them, errors mapped to the
collection's hierarchy, and a waiter with one table of readiness predicates per kind.

``KUBE_SPEC`` (in ``kube_rest``, which needs no ``kubernetes`` client) has the doc fragment ``ofm.rollback.kube``, kept in step by a unit test.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, TypeVar

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    DeadlineExceeded, InputError, NotFoundError, OfmRollbackError,
    RolloutFailed, UnavailableError)
from ansible_collections.ofm.rollback.plugins.module_utils.input_check import K8S_NAME, K8S_NAME_HELP
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import SYSTEM, TRANSIENT_STATUSES, error_for_status
from ansible_collections.ofm.rollback.plugins.module_utils.polling import Polled, Poller, read_once

try:
    from kubernetes import client as kube_client
    from kubernetes import config as kube_config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.exceptions import NewConnectionError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout
    KUBERNETES_IMPORT_ERROR: Optional[ImportError] = None
except ImportError as import_error:  # pragma: no cover - reported by require_kubernetes()
    KUBERNETES_IMPORT_ERROR = import_error

T = TypeVar("T")

WORKLOAD_API_VERSION = "apps/v1"


def require_kubernetes() -> None:
    """Raise an ``InputError`` naming the package when the ``kubernetes`` client is not installed."""
    if KUBERNETES_IMPORT_ERROR is not None:
        raise InputError(f"the Python package 'kubernetes' cannot be imported: {KUBERNETES_IMPORT_ERROR}", system=SYSTEM,
                         operation="client setup", hint="Install it on the host that runs the module: pip install kubernetes.")


def api_client(params: Mapping[str, Any], timeout: Optional[float] = None) -> "kube_client.ApiClient":
    """An ``ApiClient`` from the ``KUBE_SPEC`` options: a kubeconfig (and context) when given or found, overridden by host/api_key.

    With ``timeout``, every request (API discovery included) gives up after that many seconds without an answer, and is not
    retried by urllib3 (``Kube`` retries, counted)."""
    require_kubernetes()
    configuration = kube_client.Configuration()
    if params.get("kubeconfig") or not params.get("host"):
        try:
            kube_config.load_kube_config(config_file=params.get("kubeconfig"), context=params.get("context"),
                                         client_configuration=configuration, persist_config=False)
        except (ConfigException, OSError) as exc:
            raise InputError(f"cannot load the kubeconfig: {exc}", system=SYSTEM, operation="client setup", option="kubeconfig",
                             hint="Set kubeconfig (or K8S_AUTH_KUBECONFIG/KUBECONFIG) to a readable file, or set host and api_key.") from exc
    if params.get("host"):
        configuration.host = params["host"]
    if params.get("api_key"):
        configuration.api_key = {"authorization": f"Bearer {params['api_key']}"}
    if params.get("ca_cert"):
        configuration.ssl_ca_cert = params["ca_cert"]
    configuration.verify_ssl = params.get("validate_certs", True)
    if timeout:
        configuration.retries = 0
    client = kube_client.ApiClient(configuration)
    if timeout:
        _default_timeout(client, timeout)
    return client


def _default_timeout(client: "kube_client.ApiClient", timeout: float) -> None:
    """Give every request of ``client`` the ``timeout`` unless the caller set one (the generated client sets none)."""
    request = client.rest_client.request

    def timed(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("_request_timeout") is None:
            kwargs["_request_timeout"] = timeout
        return request(*args, **kwargs)

    client.rest_client.request = timed


@dataclass(frozen=True)
class ReviewApi:
    """What the credentials may do (``authorization.k8s.io/v1``, SelfSubjectAccessReview) and who they are
    (``authentication.k8s.io/v1``, SelfSubjectReview), asked of the API server at ``host``."""

    authorization: Any
    authentication: Any
    host: str

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "ReviewApi":
        """The typed APIs with the ``KUBE_SPEC`` options' credentials (no API discovery, unlike ``Kube.from_params``)."""
        client = api_client(params)
        return cls(kube_client.AuthorizationV1Api(client), kube_client.AuthenticationV1Api(client), client.configuration.host)


def map_error(exc: Exception, operation: str, target: str) -> OfmRollbackError:
    """The collection's error for a failed Kubernetes call."""
    return error_for_status(getattr(exc, "status", None), _api_reason(exc), operation, target)


def _api_reason(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, (bytes, str)) and body:
        try:
            message = json.loads(body).get("message")
            if message:
                return f"HTTP {exc.status}: {message}"  # type: ignore[attr-defined]
        except ValueError:
            pass
    status = getattr(exc, "status", None)
    if status:
        return f"HTTP {status}: {getattr(exc, 'reason', exc)}"
    return f"no answer in time: {exc}" if _timed_out(exc) else f"cannot connect: {exc}"


def _timed_out(exc: Exception) -> bool:
    """Whether a connection failure is a timeout (a server that accepts and never answers), also when urllib3 wrapped it."""
    if KUBERNETES_IMPORT_ERROR is not None:
        return False
    for error in (exc, getattr(exc, "reason", None)):
        # urllib3 makes a refused connection (NewConnectionError) a kind of connect timeout too
        if isinstance(error, Urllib3Timeout) and not isinstance(error, NewConnectionError):
            return True
    return False


def is_transient(exc: Exception) -> bool:
    status = getattr(exc, "status", None)
    return status is None or status in TRANSIENT_STATUSES


class Kube:
    """A ``DynamicClient`` whose calls raise the collection's errors and retry transient failures."""

    def __init__(self, client: Any, retries: int = 3, retry_sleep: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.retries = retries
        self.retry_sleep = retry_sleep
        self.sleep = sleep

    @classmethod
    def from_params(cls, params: Mapping[str, Any], timeout: Optional[float] = None, retries: int = 3) -> "Kube":
        """A client from the ``KUBE_SPEC`` options; ``timeout``: seconds each request may take (see ``api_client``)."""
        require_kubernetes()
        client = api_client(params, timeout)
        return cls(call_mapped(lambda: DynamicClient(client), "API discovery", client.configuration.host, retries=retries, sleep=time.sleep),
                   retries=retries)

    def resource(self, api_version: str, kind: str) -> Any:
        try:
            return self.client.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError as exc:
            raise NotFoundError(f"the server has no resource type {kind} in {api_version}", system=SYSTEM, operation="API discovery",
                                target=kind, hint="Install the CRD (for Argo Rollouts: argoproj.io/v1alpha1) or check the apiVersion.") from exc

    def call(self, operation: str, target: str, function: Callable[[], T]) -> T:
        return call_mapped(function, operation, target, retries=self.retries, sleep=self.sleep, retry_sleep=self.retry_sleep)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        checked_names(kind, namespace=namespace, name=name)
        resource = self.resource(api_version, kind)
        return self.call("get", f"{kind} {namespace}/{name}", lambda: resource.get(name=name, namespace=namespace).to_dict())

    def list(self, api_version: str, kind: str, namespace: str, label_selector: Optional[str] = None) -> list[dict[str, Any]]:
        checked_names(kind, namespace=namespace)
        resource = self.resource(api_version, kind)
        found = self.call("list", f"{kind} in namespace {namespace}", lambda: resource.get(namespace=namespace, label_selector=label_selector))
        return found.to_dict().get("items") or []

    def patch(self, api_version: str, kind: str, namespace: str, name: str, body: Any, *, content_type: str,  # pylint: disable=too-many-arguments
              subresource: Optional[str] = None, dry_run: bool = False) -> dict[str, Any]:
        checked_names(kind, namespace=namespace, name=name)
        resource = self.resource(api_version, kind)
        if subresource:
            resource = getattr(resource, subresource)
        query = {"dry_run": "All"} if dry_run else {}
        target = f"{kind} {namespace}/{name}" + (f"/{subresource}" if subresource else "")
        return self.call("patch", target, lambda: resource.patch(body=body, name=name, namespace=namespace, content_type=content_type,
                                                                 **query).to_dict())


def checked_names(kind: str, **names: Optional[str]) -> None:
    """Refuse a namespace or an object name that is not a Kubernetes name before any request: the client puts them into the
    request's path as they are, so ``../`` or ``?`` in one would address another object."""
    for option, value in names.items():
        if value is not None and not (isinstance(value, str) and K8S_NAME.match(value)):
            raise InputError(f"{kind} {option} {value!r} is not a Kubernetes name", system=SYSTEM, option=option, accepted=K8S_NAME_HELP)


def checked_options(params: Mapping[str, Any], kind: str, *, above_zero: tuple[str, ...] = (), not_negative: tuple[str, ...] = ()) -> None:
    """A module's ``namespace`` and ``name`` as Kubernetes names and its numbers in range, before any request (even discovery)."""
    checked_names(kind, namespace=params.get("namespace"), name=params.get("name"))
    for option in above_zero + not_negative:
        value = params.get(option)
        if value is not None and (value <= 0 if option in above_zero else value < 0):
            raise InputError(f"{option} must be {'above' if option in above_zero else 'at least'} 0, got {value:g}", system=SYSTEM,
                             option=option, accepted="a number above 0" if option in above_zero else "0 or more")


def call_mapped(function: Callable[[], T], operation: str, target: str, *, retries: int, sleep: Callable[[float], None],
                retry_sleep: float = 1.0) -> T:
    """``function()``, retried on transient errors (connection failures, 429, 5xx), with failures mapped to the collection's errors."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return function()
        except _client_errors() as exc:
            if attempt > retries or not is_transient(exc):
                error = map_error(exc, operation, target)
                if isinstance(error, UnavailableError):
                    error.attempts = attempt
                raise error from exc
        sleep(retry_sleep)


def _client_errors() -> tuple[type[BaseException], ...]:
    if KUBERNETES_IMPORT_ERROR is not None:
        return ()
    return (ApiException, DynamicApiError, Urllib3Error, OSError)


# --- readiness ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Readiness:
    """Whether a workload has finished rolling out; ``failed`` means it never will without intervention."""

    ready: bool
    message: str
    failed: bool = False


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return {}


def deployment_readiness(obj: Mapping[str, Any]) -> Readiness:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    wanted = spec.get("replicas", 1)
    progressing = _condition(obj, "Progressing")
    if progressing.get("status") == "False" or progressing.get("reason") == "ProgressDeadlineExceeded":
        return Readiness(False, f"ProgressDeadlineExceeded: {progressing.get('message', 'the rollout made no progress')}", failed=True)
    if status.get("observedGeneration", 0) < (obj.get("metadata") or {}).get("generation", 0):
        return Readiness(False, "waiting for the controller to observe the new generation")
    updated, available, total = status.get("updatedReplicas", 0), status.get("availableReplicas", 0), status.get("replicas", 0)
    if updated < wanted:
        return Readiness(False, f"{updated} of {wanted} replicas updated")
    if total > updated:
        return Readiness(False, f"{total - updated} old replicas pending termination")
    if available < wanted:
        return Readiness(False, f"{available} of {wanted} updated replicas available")
    return Readiness(True, f"{available} of {wanted} replicas updated and available")


def statefulset_readiness(obj: Mapping[str, Any]) -> Readiness:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    wanted = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < (obj.get("metadata") or {}).get("generation", 0):
        return Readiness(False, "waiting for the controller to observe the new generation")
    if status.get("updateRevision") != status.get("currentRevision"):
        return Readiness(False, f"{status.get('updatedReplicas', 0)} of {wanted} pods at revision {status.get('updateRevision')}")
    if status.get("readyReplicas", 0) < wanted:
        return Readiness(False, f"{status.get('readyReplicas', 0)} of {wanted} pods ready")
    return Readiness(True, f"{wanted} pods at revision {status.get('currentRevision')} and ready")


def daemonset_readiness(obj: Mapping[str, Any]) -> Readiness:
    status = obj.get("status") or {}
    wanted = status.get("desiredNumberScheduled", 0)
    if status.get("observedGeneration", 0) < (obj.get("metadata") or {}).get("generation", 0):
        return Readiness(False, "waiting for the controller to observe the new generation")
    if status.get("updatedNumberScheduled", 0) < wanted:
        return Readiness(False, f"{status.get('updatedNumberScheduled', 0)} of {wanted} pods updated")
    if status.get("numberAvailable", 0) < wanted:
        return Readiness(False, f"{status.get('numberAvailable', 0)} of {wanted} updated pods available")
    return Readiness(True, f"{wanted} pods updated and available")


READINESS: dict[str, Callable[[Mapping[str, Any]], Readiness]] = {
    "Deployment": deployment_readiness,
    "StatefulSet": statefulset_readiness,
    "DaemonSet": daemonset_readiness,
}


@dataclass(frozen=True)
class Waited:
    """The end of a wait: the object as last read, its readiness, how many reads it took and how long."""

    obj: dict[str, Any]
    readiness: Readiness
    polls: int
    elapsed: float

    @classmethod
    def judged(cls, polled: Polled[dict[str, Any]], predicate: Callable[[Mapping[str, Any]], Readiness]) -> "Waited":
        return cls(polled.value, predicate(polled.value), polled.polls, polled.elapsed)

    @property
    def ready(self) -> bool:
        return self.readiness.ready

    @property
    def message(self) -> str:
        return self.readiness.message


def wait_until(read: Callable[[], dict[str, Any]], predicate: Callable[[Mapping[str, Any]], Readiness], *, target: str, timeout: float,
               sleep_seconds: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Waited:
    """Poll ``read()`` until ``predicate`` says ready; raise ``RolloutFailed`` at once on a failed rollout, ``DeadlineExceeded`` at the deadline.

    ``read_readiness`` is its check-mode twin."""
    def ready(obj: dict[str, Any]) -> bool:
        readiness = predicate(obj)
        if readiness.failed:
            raise RolloutFailed(readiness.message, system=SYSTEM, operation="wait for rollout", target=target,
                                details={"status": obj.get("status")})
        return readiness.ready

    def timed_out(obj: dict[str, Any], _polls: int, _elapsed: float) -> Exception:
        return DeadlineExceeded(f"not ready after {timeout:g}s: {predicate(obj).message}", system=SYSTEM, operation="wait for rollout",
                                target=target, timeout=timeout, last_state=obj.get("status"))

    return Waited.judged(Poller(timeout=timeout, interval=sleep_seconds, clock=clock, sleep=sleep).until(read, ready, timed_out), predicate)


def read_readiness(read: Callable[[], dict[str, Any]], predicate: Callable[[Mapping[str, Any]], Readiness]) -> Waited:
    """The check-mode twin of ``wait_until``: one read, judged; no wait, no deadline, and a failed rollout is reported, not raised."""
    return Waited.judged(read_once(read, lambda obj: predicate(obj).ready), predicate)
