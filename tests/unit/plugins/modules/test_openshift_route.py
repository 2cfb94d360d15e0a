# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openshift_route: the module over the Kubernetes test server's store (both runners): change, diff, idempotence, check
mode, bad input before any request, and the API key never in the result."""
from __future__ import annotations

import json

import pytest
from kubefake import StoreClient
from unithelpers import documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import kube
from ansible_collections.ofm.rollback.plugins.module_utils import openshift_route as client_module
from ansible_collections.ofm.rollback.plugins.modules import openshift_route

pytestmark = pytest.mark.usefixtures("module_runner")

NS = "ofm-production"
API = "route.openshift.io/v1"
STABLE, CANARY = "ofm-social-os-api", "ofm-social-os-api-canary"
TOKEN = "sha256~route-unit-token-0123456789"


@pytest.fixture(name="server")
def fixture_server(monkeypatch: pytest.MonkeyPatch) -> StoreClient:
    server = StoreClient()
    server.create("v1", "Namespace", "", {"metadata": {"name": NS}})
    spec = {"to": {"name": STABLE, "weight": 90}, "alternateBackends": [{"name": CANARY, "weight": 10}]}
    server.create(API, "Route", NS, {"metadata": {"name": "ofm-api"}, "spec": spec})
    monkeypatch.setattr(client_module.Kube, "from_params", classmethod(lambda _cls, _params, timeout=None: server.kube()))
    return server


def args(**extra):
    return {"name": "ofm-api", "namespace": NS, "host": "http://127.0.0.1:1", "api_key": TOKEN, **extra}


def weights(server: StoreClient) -> list:
    found = server.read(API, "Route", NS, "ofm-api")["spec"]
    return [(b["name"], b["weight"]) for b in [found["to"]] + found["alternateBackends"]]


def test_docs_match_the_argument_spec():
    assert mismatches(openshift_route.ARGUMENT_SPEC, documented_options(openshift_route, kube)) == []


def test_weights_change_diff_and_a_second_run_changes_nothing(server):
    failed, result, _warnings = run_module(openshift_route, args(weights={STABLE: 100, CANARY: 0}))
    assert not failed and result["changed"] is True
    assert result["diff"]["before"]["backends"] == [{"service": STABLE, "weight": 90}, {"service": CANARY, "weight": 10}]
    assert result["diff"]["after"]["backends"] == [{"service": STABLE, "weight": 100}, {"service": CANARY, "weight": 0}]
    assert result["weights"] == {STABLE: 100, CANARY: 0} and len(result["patches"]) == 1
    assert weights(server) == [(STABLE, 100), (CANARY, 0)]

    failed, again, _warnings = run_module(openshift_route, args(weights={STABLE: 100, CANARY: 0}))
    assert not failed and again["changed"] is False and again["patches"] == [] and len(server.patches) == 1
    assert TOKEN not in json.dumps(result) + json.dumps(again)


def test_check_mode_sends_nothing(server):
    failed, result, _warnings = run_module(openshift_route, args(backends=[{"service": CANARY, "weight": 1}]), check_mode=True)
    assert not failed and result["changed"] is True and result["current"] == [{"service": CANARY, "weight": 1}]
    assert server.patches == [] and weights(server) == [(STABLE, 90), (CANARY, 10)]


def test_exact_backends_replace_the_list(server):
    failed, result, _warnings = run_module(openshift_route, args(backends=[{"service": STABLE, "weight": 100}]))
    assert not failed and result["changed"] and weights(server) == [(STABLE, 100)]


def test_all_weights_zero_warns(server):
    failed, _result, warnings = run_module(openshift_route, args(weights={STABLE: 0, CANARY: 0}))
    assert not failed and any("sends no requests" in warning for warning in warnings)


@pytest.mark.parametrize("extra, option", [({"weights": {CANARY: 257}}, f"weights.{CANARY}"), ({"weights": {"ofm-nope": 1}}, "weights"),
                                           ({"backends": [{"service": STABLE, "weight": -3}]}, "backends[0].weight"),
                                           ({"timeout": 0}, "timeout")])
def test_bad_input_fails_naming_the_option_and_sends_nothing(server, extra, option):
    failed, result, _warnings = run_module(openshift_route, args(**extra))
    assert failed and result["error"]["option"] == option and result["changed"] is False and result["patches"] == []
    assert server.patches == [] and TOKEN not in json.dumps(result)


def test_weights_and_backends_are_exclusive(server):
    failed, result, _warnings = run_module(openshift_route, args(weights={STABLE: 1}, backends=[{"service": STABLE, "weight": 1}]))
    assert failed and "mutually exclusive" in result["msg"]
