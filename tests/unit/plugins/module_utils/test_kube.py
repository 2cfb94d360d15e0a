# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes connection options, error mapping, retries and the readiness table."""
from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from ansible_collections.ofm.rollback.plugins.module_utils import kube
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthorizationError, ConflictError, DeadlineExceeded, InputError, NotFoundError, UnavailableError)


def api_exception(status: int, message: str = "boom") -> ApiException:
    exc = ApiException(status=status, reason="Reason")
    exc.body = json.dumps({"kind": "Status", "message": message}).encode()
    return exc


@pytest.mark.parametrize("status, error_type", [(404, NotFoundError), (409, ConflictError), (403, AuthorizationError),
                                                (503, UnavailableError), (422, InputError)])
def test_api_errors_map_to_the_collection_errors(status, error_type):
    error = kube.map_error(api_exception(status, "deployments.apps \"web\" not found"), "get", "Deployment default/web")
    assert isinstance(error, error_type)
    assert error.status == status
    assert str(error).startswith(f'Kubernetes API: get on Deployment default/web failed: HTTP {status}: deployments.apps "web" not found.')


def test_a_refused_connection_is_unavailable_and_unsent():
    error = kube.map_error(MaxRetryError(None, "/apis", "Connection refused"), "API discovery", "http://127.0.0.1:1")
    assert isinstance(error, UnavailableError) and error.sent is False
    assert "Connection refused" in error.reason


def test_transient_errors_are_retried_then_reported_with_the_attempts():
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        raise api_exception(503)

    with pytest.raises(UnavailableError) as caught:
        kube.call_mapped(flaky, "get", "x", retries=2, sleep=lambda _s: None)
    assert len(calls) == 3 and caught.value.attempts == 3


def test_a_not_found_is_not_retried():
    calls: list[int] = []

    def missing() -> str:
        calls.append(1)
        raise api_exception(404)

    with pytest.raises(NotFoundError):
        kube.call_mapped(missing, "get", "x", retries=3, sleep=lambda _s: None)
    assert len(calls) == 1


def test_a_transient_error_then_success_returns_the_value():
    answers: list[Any] = [api_exception(502), "ok"]

    def recovering() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert kube.call_mapped(recovering, "get", "x", retries=1, sleep=lambda _s: None) == "ok"


def deployment(**status: Any) -> dict[str, Any]:
    base = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}
    return {"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": {**base, **status}}


@pytest.mark.parametrize("status, ready, fragment", [
    ({}, True, "3 of 3 replicas updated and available"),
    ({"observedGeneration": 1}, False, "observe the new generation"),
    ({"updatedReplicas": 1}, False, "1 of 3 replicas updated"),
    ({"replicas": 4}, False, "1 old replicas pending termination"),
    ({"availableReplicas": 2}, False, "2 of 3 updated replicas available"),
])
def test_deployment_readiness(status, ready, fragment):
    readiness = kube.READINESS["Deployment"](deployment(**status))
    assert readiness.ready is ready and fragment in readiness.message and not readiness.failed


def test_a_deployment_past_its_progress_deadline_has_failed():
    condition = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": 'ReplicaSet "web-1" has timed out progressing.'}
    readiness = kube.deployment_readiness(deployment(updatedReplicas=1, conditions=[condition]))
    assert readiness.failed and readiness.message == 'ProgressDeadlineExceeded: ReplicaSet "web-1" has timed out progressing.'


def test_statefulset_and_daemonset_readiness():
    sts = {"metadata": {"generation": 1}, "spec": {"replicas": 2},
           "status": {"observedGeneration": 1, "updateRevision": "db-2", "currentRevision": "db-1", "readyReplicas": 2}}
    assert not kube.READINESS["StatefulSet"](sts).ready
    sts["status"]["currentRevision"] = "db-2"
    assert kube.READINESS["StatefulSet"](sts).ready
    ds = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 1,
                                                    "numberAvailable": 2}}
    assert not kube.READINESS["DaemonSet"](ds).ready
    ds["status"]["updatedNumberScheduled"] = 2
    assert kube.READINESS["DaemonSet"](ds).ready


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_returns_once_ready():
    states = [deployment(updatedReplicas=1), deployment()]
    clock = FakeClock()
    readiness = kube.wait_until(lambda: states.pop(0), kube.deployment_readiness, target="t", timeout=10, sleep_seconds=1,
                                clock=clock, sleep=clock.sleep)
    assert readiness.ready and clock.now == 1
    assert (readiness.polls, readiness.elapsed, readiness.obj) == (2, 1, deployment())


def test_the_check_mode_twin_reads_once_and_reports_a_failed_rollout_without_raising():
    condition = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out"}
    reads = []
    waited = kube.read_readiness(lambda: reads.append(1) or deployment(conditions=[condition]), kube.deployment_readiness)
    assert reads == [1] and (waited.polls, waited.elapsed) == (1, 0.0)
    assert not waited.ready and waited.readiness.failed and waited.message == "ProgressDeadlineExceeded: timed out"
    assert kube.read_readiness(deployment, kube.deployment_readiness).ready


def test_wait_fails_fast_on_a_failed_rollout():
    condition = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out"}
    clock = FakeClock()
    with pytest.raises(kube.RolloutFailed) as caught:
        kube.wait_until(lambda: deployment(conditions=[condition]), kube.deployment_readiness, target="Deployment default/web",
                        timeout=100, sleep_seconds=1, clock=clock, sleep=clock.sleep)
    assert clock.now == 0 and "ProgressDeadlineExceeded: timed out" in str(caught.value)


def test_wait_gives_up_at_the_deadline_with_the_last_state():
    clock = FakeClock()
    with pytest.raises(DeadlineExceeded) as caught:
        kube.wait_until(lambda: deployment(availableReplicas=1), kube.deployment_readiness, target="t", timeout=5, sleep_seconds=2,
                        clock=clock, sleep=clock.sleep)
    assert caught.value.last_state["availableReplicas"] == 1 and "1 of 3 updated replicas available" in caught.value.reason


def test_a_missing_kubeconfig_names_the_option(tmp_path):
    with pytest.raises(InputError) as caught:
        kube.api_client({"kubeconfig": str(tmp_path / "absent"), "context": None, "host": None, "api_key": None, "ca_cert": None,
                         "validate_certs": True})
    assert caught.value.option == "kubeconfig"


def test_host_and_api_key_override_without_a_kubeconfig():
    client = kube.api_client({"kubeconfig": None, "context": None, "host": "https://k8s.example.com:6443", "api_key": "s3cret",
                              "ca_cert": "/etc/ca.pem", "validate_certs": False})
    assert client.configuration.host == "https://k8s.example.com:6443"
    assert client.configuration.api_key == {"authorization": "Bearer s3cret"}
    assert client.configuration.ssl_ca_cert == "/etc/ca.pem" and client.configuration.verify_ssl is False


def test_a_read_timeout_is_reported_as_no_answer_and_a_refused_connection_as_cannot_connect():
    hanging = MaxRetryError(None, "/api", ReadTimeoutError(None, "/api", "Read timed out. (read timeout=1)"))
    refused = MaxRetryError(None, "/api", NewConnectionError(None, "Connection refused"))
    assert "no answer in time" in str(kube.map_error(hanging, "get", "Route ns/r"))
    assert "cannot connect" in str(kube.map_error(refused, "get", "Route ns/r"))


def test_a_timeout_is_given_to_every_request_the_caller_sets_none_for():
    seen = []
    client = kube.api_client({"host": "http://127.0.0.1:1"}, timeout=2.5)

    def pool_request(*_args: Any, **kwargs: Any) -> None:
        seen.append(kwargs.get("timeout"))
        raise OSError("stop")

    client.rest_client.pool_manager.request = pool_request
    for timeout in (None, 9):
        try:
            client.rest_client.request("GET", "http://127.0.0.1:1/api", _request_timeout=timeout)
        except OSError:
            pass
    assert [value.total for value in seen] == [2.5, 9]
    assert client.configuration.retries == 0
