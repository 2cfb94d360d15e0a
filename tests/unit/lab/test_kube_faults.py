"""Fault knobs of the Kubernetes API test server (``/__lab/faults``): a watch expired with 410 Gone, as the HTTP status or
as the ERROR event of the stream (the two ways a real API server answers a watch from a compacted resourceVersion)."""
from __future__ import annotations

import itertools
import json

import pytest

from lab.services.kube.controllers import Controllers
from lab.services.kube.store import Store
from lab.services.kube_apiserver import KubeApi

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
WATCH = {"watch": "true", "timeoutSeconds": "1", "resourceVersion": "3"}


def api_with_fault(**fault) -> KubeApi:
    store = Store()
    api = KubeApi(store, Controllers(store))
    api.handle("POST", CONFIGMAPS, {}, {}, json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}).encode())
    answer = api.handle("PUT", "/__lab/faults", {}, {}, json.dumps(fault).encode())
    assert answer.status == 200, answer.body
    return api


def faults(api: KubeApi) -> list[dict]:
    return api.handle("GET", "/__lab/faults", {}, {}, b"").body["faults"]


def test_a_watch_is_answered_410_expired_as_the_http_status_and_lists_still_work():
    api = api_with_fault(status=410, verbs=["watch"], count=1)

    listed = api.handle("GET", CONFIGMAPS, {}, {}, b"")
    watched = api.handle("GET", CONFIGMAPS, WATCH, {}, b"")
    again = api.handle("GET", CONFIGMAPS, WATCH, {}, b"")

    assert listed.status == 200 and [item["metadata"]["name"] for item in listed.body["items"]] == ["a"]
    current = api.store.resource_version
    assert (watched.status, watched.events) == (410, None)
    assert watched.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": f"too old resource version: 3 ({current})", "reason": "Expired", "code": 410}
    assert again.status == 200 and again.events is not None  # count 1: the next watch is served
    assert faults(api) == []


def test_in_stream_a_watch_gets_200_and_one_error_event_with_the_410_status_then_the_stream_ends():
    api = api_with_fault(status=410, verbs=["watch"], paths=[CONFIGMAPS], in_stream=True, count=2)

    first = api.handle("GET", CONFIGMAPS, WATCH, {}, b"")

    assert first.status == 200
    events = list(itertools.islice(first.events, 5))
    assert [event["type"] for event in events] == ["ERROR"]
    assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")
    assert events[0]["object"]["message"].startswith("too old resource version: 3 (")
    assert faults(api)[0]["count"] == 1 and faults(api)[0]["in_stream"] is True


def test_in_stream_does_not_change_the_answer_to_other_verbs():
    api = api_with_fault(status=410, in_stream=True, count=1)

    got = api.handle("GET", CONFIGMAPS + "/a", {}, {}, b"")

    assert (got.status, got.events, got.body["reason"]) == (410, None, "Expired")


@pytest.mark.parametrize("fault, problem", [
    ({"in_stream": True}, "'in_stream' must be true or false, and true only with a status"),
    ({"status": 410, "in_stream": "yes"}, "'in_stream' must be true or false"),
])
def test_in_stream_is_checked(fault, problem):
    store = Store()
    api = KubeApi(store, Controllers(store))

    answer = api.handle("PUT", "/__lab/faults", {}, {}, json.dumps(fault).encode())

    assert answer.status == 400 and problem in answer.body["message"]
