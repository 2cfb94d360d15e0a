"""Patch formats and selectors of the Kubernetes API test server."""
from __future__ import annotations

import pytest

from lab.services.kube.errors import ApiError
from lab.services.kube.patches import json_patch, merge_patch, strategic_merge_patch
from lab.services.kube.selectors import field_selector, label_selector

POD = {"spec": {"containers": [
    {"name": "api", "image": "api:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "ports": [{"containerPort": 80}]},
    {"name": "sidecar", "image": "proxy:1"},
]}}


def test_strategic_merge_updates_container_by_name_and_keeps_the_others():
    patched = strategic_merge_patch(POD, {"spec": {"containers": [{"name": "api", "image": "api:2", "env": [{"name": "B", "value": "3"}]}]}})
    api, sidecar = patched["spec"]["containers"]
    assert api["image"] == "api:2"
    assert api["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
    assert api["ports"] == [{"containerPort": 80}]
    assert sidecar == {"name": "sidecar", "image": "proxy:1"}


def test_strategic_merge_directives_delete_and_replace():
    deleted = strategic_merge_patch(POD, {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}})
    assert [c["name"] for c in deleted["spec"]["containers"]] == ["api"]
    replaced = strategic_merge_patch(POD, {"spec": {"$patch": "replace", "containers": [{"name": "only", "image": "x:1"}]}})
    assert replaced["spec"] == {"containers": [{"name": "only", "image": "x:1"}]}
    assert strategic_merge_patch({"metadata": {"labels": {"a": "1"}}}, {"metadata": {"labels": {"a": None}}}) == {"metadata": {"labels": {}}}


def test_merge_patch_replaces_lists_and_removes_nulls():
    patched = merge_patch(POD, {"spec": {"containers": [{"name": "api", "image": "api:9"}]}, "status": None})
    assert patched == {"spec": {"containers": [{"name": "api", "image": "api:9"}]}}


def test_json_patch_operations_and_failures():
    doc = {"metadata": {"annotations": {"a/b": "1"}}, "spec": {"list": [1, 2]}}
    patched = json_patch(doc, [{"op": "replace", "path": "/metadata/annotations/a~1b", "value": "2"},
                               {"op": "add", "path": "/spec/list/-", "value": 3}, {"op": "remove", "path": "/spec/list/0"},
                               {"op": "test", "path": "/spec/list", "value": [2, 3]}])
    assert patched == {"metadata": {"annotations": {"a/b": "2"}}, "spec": {"list": [2, 3]}}
    with pytest.raises(ApiError) as missing:
        json_patch(doc, [{"op": "replace", "path": "/metadata/labels", "value": {}}])
    assert missing.value.code == 422
    with pytest.raises(ApiError) as failed_test:
        json_patch(doc, [{"op": "test", "path": "/spec/list", "value": []}])
    assert failed_test.value.code == 422


@pytest.mark.parametrize("selector, expected", [
    ("app=web", ["web-1", "web-2"]),
    ("app==web,tier!=db", ["web-1"]),
    ("tier in (db, cache)", ["web-2", "db"]),
    ("tier notin (db),app", ["web-1"]),
    ("!tier", ["web-1"]),
    ("tier", ["web-2", "db"]),
    ("", ["web-1", "web-2", "db"]),
])
def test_label_selectors(selector, expected):
    objects = [{"metadata": {"name": "web-1", "labels": {"app": "web"}}},
               {"metadata": {"name": "web-2", "labels": {"app": "web", "tier": "db"}}},
               {"metadata": {"name": "db", "labels": {"tier": "cache"}}}]
    matches = label_selector(selector)
    assert [obj["metadata"]["name"] for obj in objects if matches(obj)] == expected


def test_field_selectors_and_bad_selectors():
    obj = {"metadata": {"name": "web", "namespace": "prod"}}
    assert field_selector("metadata.name=web,metadata.namespace=prod")(obj)
    assert not field_selector("metadata.name!=web")(obj)
    with pytest.raises(ApiError) as unknown:
        field_selector("spec.replicas=1")
    assert unknown.value.code == 400
    with pytest.raises(ApiError):
        label_selector("app in (web")
