# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""traffic_split_info's main() against a real HAProxy (temporary config) and a fake Prometheus HTTP API."""
from __future__ import annotations

import functools
from typing import Any

import pytest
from unithelpers import FakeClock, documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import haproxy as haproxy_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client as http_client_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import prometheus as prometheus_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import traffic_measure as traffic_measure_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import traffic_wait as traffic_wait_fragment
from ansible_collections.ofm.rollback.plugins.module_utils import traffic
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HaproxyRuntimeClient
from ansible_collections.ofm.rollback.plugins.modules import traffic_split_info

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")

BACKEND = "ofm_api"


@pytest.fixture(name="runtime")
def fixture_runtime(haproxy_socket: str) -> HaproxyRuntimeClient:
    """The collection's client of the HAProxy at its configured 90/10 split."""
    return HaproxyRuntimeClient(haproxy_socket)


@pytest.fixture(name="clock")
def fixture_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(traffic_split_info, "wait_until_stable",
                        functools.partial(traffic.wait_until_stable, clock=lambda: clock.now, sleep=clock.sleep))
    return clock


def run(args: dict[str, Any], check_mode: bool = False) -> tuple[bool, dict[str, Any]]:
    failed, result, _warnings = run_module(traffic_split_info, args, check_mode)
    return failed, result


def test_reads_configured_and_measured_split(runtime, prometheus, haproxy_socket):
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url})
    assert not failed
    assert result["changed"] is False
    assert result["configured"] == {"stable_weight": 90, "canary_weight": 10, "canary_percent": 10.0,
                                    "source": f"HAProxy backend ofm_api at unix socket {haproxy_socket}"}
    measured = result["measured"]
    assert (measured["stable_share"], measured["canary_share"], measured["requests_per_second"], measured["window"]) == (0.9, 0.1, 10.0, "30s")
    assert prometheus.queries == ["sum by (version) (rate(http_requests_total[30s]))"]
    assert result["all_on_stable"] is False
    assert (result["polls"], result["waited_seconds"]) == (1, 0.0)
    assert [entry["status"] for entry in result["requests"]] == [200]
    assert result["msg"] == "The canary carries traffic: canary weight 10, stable weight 90; measured canary share 10.00% over 30s."


def test_no_prometheus_data_is_unknown(runtime, prometheus, haproxy_socket):
    runtime.set_weight(BACKEND, "canary", 0)
    prometheus.vectors = [{}]
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url})
    assert not failed
    assert result["measured"]["canary_share"] is None and result["measured"]["stable_share"] is None
    assert "no samples" in result["measured"]["unknown_reason"]
    assert result["all_on_stable"] is None
    assert result["msg"].startswith("Unknown whether the canary carries traffic")


def test_router_only_and_prometheus_only(runtime, prometheus, haproxy_socket):
    router_only = run({"haproxy_runtime_api": haproxy_socket, "haproxy_timeout": 2.0})[1]
    assert router_only["measured"] is None and router_only["configured"]["canary_weight"] == 10 and router_only["requests"] == []
    measured_only = run({"prometheus_url": prometheus.url, "selector": 'app="ofm-social-os"', "measure_window": "1m"})[1]
    assert measured_only["configured"] is None and measured_only["measured"]["canary_share"] == 0.1
    assert prometheus.queries == ['sum by (version) (rate(http_requests_total{app="ofm-social-os"}[1m]))']


def test_one_source_is_required():
    failed, result = run({})
    assert failed
    assert "one of the following is required: haproxy_runtime_api, prometheus_url" in result["msg"]


def test_wait_for_all_on_stable_polls_until_the_share_is_zero(runtime, prometheus, haproxy_socket, clock):
    runtime.set_weight(BACKEND, "stable", 100)
    runtime.set_weight(BACKEND, "canary", 0)
    prometheus.vectors = [{"stable": 9.0, "canary": 1.0}, {"stable": 9.5, "canary": 0.5}, {"stable": 10.0, "canary": 0.0}]
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url, "wait_for": "all_on_stable",
                          "wait_interval": 3})
    assert not failed
    assert result["all_on_stable"] is True and result["measured"]["canary_share"] == 0.0
    assert (result["polls"], result["waited_seconds"]) == (3, 6.0)
    assert clock.sleeps == [3.0, 3.0]
    assert result["msg"].startswith("All traffic is on stable")


def test_wait_timeout_fails_with_the_last_reading(runtime, prometheus, haproxy_socket, clock):
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url, "wait_for": "all_on_stable",
                          "wait_timeout": 5, "wait_interval": 2})
    assert failed
    assert result["error"]["type"] == "DeadlineExceeded"
    assert "the canary still had traffic after 4 reading(s) in 5s: canary weight 10" in result["msg"]
    assert result["configured"]["canary_weight"] == 10 and result["all_on_stable"] is False
    assert clock.sleeps == [2.0, 2.0, 1.0] and len(result["requests"]) == 4


def test_max_canary_share_tolerates_a_residue(runtime, prometheus, haproxy_socket, clock):
    runtime.set_weight(BACKEND, "canary", 0)
    prometheus.vectors = [{"stable": 99.0, "canary": 1.0}]
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url, "wait_for": "all_on_stable",
                          "max_canary_share": 0.02})
    assert not failed and result["all_on_stable"] is True and clock.sleeps == []


def test_check_mode_reads_once_without_waiting(runtime, prometheus, haproxy_socket, clock):
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url, "wait_for": "all_on_stable"},
                         check_mode=True)
    assert not failed
    assert result["polls"] == 1 and result["all_on_stable"] is False and clock.sleeps == []


@pytest.mark.parametrize("args, option", [
    ({"selector": "namespace=ofm"}, "selector"),
    ({"haproxy_backend": "ofm api"}, "haproxy_backend"),
    ({"wait_interval": 0}, "wait_interval"),
])
def test_bad_options_fail_before_reading(runtime, prometheus, haproxy_socket, args, option):
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "prometheus_url": prometheus.url, **args})
    assert failed
    assert result["error"]["option"] == option
    assert prometheus.queries == [] and result["requests"] == []


def test_unknown_server_names_the_servers_found(runtime, haproxy_socket):
    failed, result = run({"haproxy_runtime_api": haproxy_socket, "canary_server": "canary-v2"})
    assert failed
    assert "backend ofm_api has no server canary-v2; its servers: canary, stable" in result["msg"]


def test_docs_match_argument_spec():
    docs = documented_options(traffic_split_info, haproxy_fragment, traffic_measure_fragment, traffic_wait_fragment, prometheus_fragment, http_client_fragment)
    assert mismatches(traffic_split_info.ARGUMENT_SPEC, docs) == []
