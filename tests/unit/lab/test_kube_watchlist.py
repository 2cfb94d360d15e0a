"""Streaming lists of the Kubernetes API test server (``sendInitialEvents=true``), as client-go's WatchList and helm v4 use them."""
from __future__ import annotations

import itertools
import json

from lab.services.kube.controllers import Controllers
from lab.services.kube.store import Store
from lab.services.kube_apiserver import INITIAL_EVENTS_END, KubeApi

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def api_with(*names: str) -> KubeApi:
    store = Store()
    api = KubeApi(store, Controllers(store))
    for name in names:
        api.handle("POST", CONFIGMAPS, {}, {}, json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}).encode())
    return api


def first_events(api: KubeApi, query: dict[str, str], count: int) -> list[dict]:
    answer = api.handle("GET", CONFIGMAPS, {"watch": "true", "timeoutSeconds": "1", **query}, {}, b"")
    return list(itertools.islice(answer.events, count))


def test_initial_events_end_with_a_bookmark_at_the_list_revision():
    api = api_with("a", "b")
    events = first_events(api, {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan", "allowWatchBookmarks": "true"}, 3)

    assert [(event["type"], event["object"]["metadata"].get("name")) for event in events] == [("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", None)]
    bookmark = events[2]["object"]
    assert bookmark["kind"] == "ConfigMap"
    assert bookmark["metadata"]["annotations"] == {INITIAL_EVENTS_END: "true"}
    assert bookmark["metadata"]["resourceVersion"] == events[1]["object"]["metadata"]["resourceVersion"]


def test_an_empty_list_still_ends_with_the_bookmark():
    events = first_events(api_with(), {"sendInitialEvents": "true"}, 1)
    assert events[0]["type"] == "BOOKMARK"


def test_changes_after_the_bookmark_follow_as_events():
    api = api_with("a")
    answer = api.handle("GET", CONFIGMAPS, {"watch": "true", "timeoutSeconds": "5", "sendInitialEvents": "true"}, {}, b"")
    assert [next(answer.events)["type"], next(answer.events)["type"]] == ["ADDED", "BOOKMARK"]
    api.handle("POST", CONFIGMAPS, {}, {}, json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}).encode())
    event = next(answer.events)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "c")
