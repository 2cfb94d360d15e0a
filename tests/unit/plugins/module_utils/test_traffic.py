# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The traffic split: router weights, measured shares, the verdicts on them, and waiting until all traffic is on stable."""
from __future__ import annotations

import math
from typing import Any, Optional

import pytest
import yaml
from unithelpers import FakeClock

from ansible_collections.ofm.rollback.plugins.doc_fragments import haproxy as haproxy_fragment
from ansible_collections.ofm.rollback.plugins.module_utils import traffic
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, DeadlineExceeded, InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import Series
from ansible_collections.ofm.rollback.plugins.module_utils.traffic import (
    ConfiguredSplit,
    HaproxyRouter,
    MeasuredSplit,
    TrafficMeter,
    TrafficReader,
    TrafficSplit,
)

SOURCE = "HAProxy backend ofm_api at unix socket /run/haproxy.sock"


class StubPrometheus:
    """Answers instant queries with canned ``{version: rate}`` vectors, one per call (the last repeats)."""

    def __init__(self, *answers: dict[Optional[str], float]) -> None:
        self.answers = list(answers)
        self.queries: list[str] = []
        self.http = HttpClient("http://prometheus.test:9090", system="Prometheus")

    def query(self, expr: str) -> list[Series]:
        self.queries.append(expr)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [Series({} if version is None else {"version": version}, [(1700000000.0, rate)]) for version, rate in answer.items()]


class StubRuntime:
    """``show servers state`` rows of one backend, changeable between readings."""

    def __init__(self, **weights: str) -> None:
        self.weights = dict(weights)
        self.target = "unix socket /run/haproxy.sock"
        self.commands: list[str] = []

    def show_servers_state(self, backend: str) -> list[dict[str, str]]:
        self.commands.append(f"show servers state {backend}")
        return [{"be_name": backend, "srv_name": name, "srv_uweight": weight} for name, weight in self.weights.items()]


def meter(*answers: dict[Optional[str], float], **kwargs: Any) -> TrafficMeter:
    return TrafficMeter(StubPrometheus(*answers), **kwargs)


def test_measured_shares_from_the_request_rates():
    measured = meter({"stable": 9.0, "canary": 1.0}).measure()
    assert measured == MeasuredSplit(window="30s", query="sum by (version) (rate(http_requests_total[30s]))",
                                     stable_share=0.9, canary_share=0.1, requests_per_second=10.0)


def test_query_uses_metric_label_selector_and_window():
    stub = StubPrometheus({"stable": 1.0})
    TrafficMeter(stub, window=90, version_label="track", metric="api_requests_total", selector='namespace="ofm-production"').measure()
    assert stub.queries == ['sum by (track) (rate(api_requests_total{namespace="ofm-production"}[1m30s]))']


@pytest.mark.parametrize("answer, reason", [
    ({}, "Prometheus has no samples for the query in the last 30s"),
    ({"stable": 0.0, "canary": 0.0}, "no requests in the last 30s"),
    ({"canary": math.nan, "stable": math.nan}, "Prometheus has no samples"),
    ({"v1.4.2": 3.0, None: 1.0}, "no series has version='stable' or 'canary' (found version='', version='v1.4.2')"),
])
def test_no_usable_data_is_unknown_not_zero(answer, reason):
    measured = meter(answer).measure()
    assert measured.canary_share is None and measured.stable_share is None and measured.requests_per_second is None
    assert reason in measured.unknown_reason
    assert TrafficSplit(None, measured).all_on_stable() is None
    assert TrafficSplit(None, measured).canary_carries_traffic() is None


def test_a_canary_without_series_has_no_share_while_stable_serves():
    measured = meter({"stable": 4.0, "other": 1.0}).measure()
    assert measured.canary_share == 0.0 and measured.stable_share == 0.8 and measured.requests_per_second == 5.0


def test_configured_percent_and_verdict():
    assert ConfiguredSplit(90, 10, SOURCE).canary_percent == 10.0
    assert ConfiguredSplit(3, 1, SOURCE).canary_percent == 25.0
    assert ConfiguredSplit(0, 0, SOURCE).canary_percent is None
    assert ConfiguredSplit(100, 0, SOURCE).all_on_stable is True
    assert ConfiguredSplit(0, 0, SOURCE).all_on_stable is False


def measured_share(canary: Optional[float]) -> MeasuredSplit:
    if canary is None:
        return MeasuredSplit("30s", "q", unknown_reason="no requests in the last 30s")
    return MeasuredSplit("30s", "q", stable_share=1 - canary, canary_share=canary, requests_per_second=10.0)


@pytest.mark.parametrize("canary_weight, canary_share, max_share, expected", [
    (0, 0.0, 0.0, True),
    (0, 0.02, 0.0, False),
    (0, 0.02, 0.05, True),
    (10, 0.0, 0.0, False),
    (0, None, 0.0, None),
    (10, None, 0.0, False),
])
def test_all_on_stable_needs_every_source(canary_weight, canary_share, max_share, expected):
    split = TrafficSplit(ConfiguredSplit(100 - canary_weight, canary_weight, SOURCE), measured_share(canary_share))
    assert split.all_on_stable(max_share) is expected


def test_the_router_decides_whether_the_canary_carries_traffic():
    lagging = TrafficSplit(ConfiguredSplit(100, 0, SOURCE), measured_share(0.08))
    assert lagging.canary_carries_traffic() is False
    assert TrafficSplit(ConfiguredSplit(90, 10, SOURCE), measured_share(0.0)).canary_carries_traffic() is True
    assert TrafficSplit(None, measured_share(0.0)).canary_carries_traffic() is False
    assert TrafficSplit(None, measured_share(0.01)).canary_carries_traffic() is True
    assert TrafficSplit(None, None).canary_carries_traffic() is None


def test_summary_and_description():
    split = TrafficSplit(ConfiguredSplit(90, 10, SOURCE), measured_share(0.1))
    assert split.summary() == {"stable_weight": 90, "canary_weight": 10}
    assert split.describe() == "canary weight 10, stable weight 90; measured canary share 10.00% over 30s"
    assert TrafficSplit(None, measured_share(0.1)).summary() == {"stable_share": 0.9, "canary_share": 0.1}
    assert TrafficSplit(None, measured_share(None)).describe() == "measured canary share unknown (no requests in the last 30s)"
    assert TrafficSplit(None, None).summary() == {}


def test_haproxy_router_reads_both_weights_in_one_command():
    runtime = StubRuntime(stable="90", canary="10", extra="5")
    configured = HaproxyRouter(runtime, "ofm_api", "stable", "canary").configured()
    assert configured == ConfiguredSplit(90, 10, f"HAProxy backend ofm_api at {runtime.target}")
    assert runtime.commands == ["show servers state ofm_api"]


def test_haproxy_router_names_the_servers_it_found():
    with pytest.raises(NotFoundError) as caught:
        HaproxyRouter(StubRuntime(blue="50", green="50"), "ofm_api", "stable", "canary").configured()
    assert "backend ofm_api has no server stable or canary; its servers: blue, green" in str(caught.value)
    assert "stable_server and canary_server" in caught.value.hint


def test_haproxy_router_rejects_a_weight_that_is_not_a_number():
    with pytest.raises(DataError) as caught:
        HaproxyRouter(StubRuntime(stable="90", canary="-"), "ofm_api", "stable", "canary").configured()
    assert "server canary has weight '-'" in str(caught.value)


@pytest.mark.parametrize("names, option", [
    (("ofm api", "stable", "canary"), "haproxy_backend"),
    (("ofm_api", "", "canary"), "stable_server"),
    (("ofm_api", "stable", "canary/1"), "canary_server"),
])
def test_haproxy_router_checks_names_up_front(names, option):
    with pytest.raises(InputError) as caught:
        HaproxyRouter(StubRuntime(), *names)
    assert caught.value.option == option


def reader_over(runtime: StubRuntime, prometheus: StubPrometheus) -> TrafficReader:
    return TrafficReader(HaproxyRouter(runtime, "ofm_api", "stable", "canary"), TrafficMeter(prometheus))


def test_wait_until_stable_polls_until_weight_and_share_are_zero():
    runtime = StubRuntime(stable="100", canary="0")
    prometheus = StubPrometheus({"stable": 9.0, "canary": 1.0}, {"stable": 9.0, "canary": 0.5}, {"stable": 10.0, "canary": 0.0})
    clock = FakeClock(start=100.0)
    result = traffic.wait_until_stable(reader_over(runtime, prometheus), timeout=60, interval=5, clock=lambda: clock.now, sleep=clock.sleep)
    assert result.all_on_stable is True and result.polls == 3
    assert result.split.measured.canary_share == 0.0
    assert clock.sleeps == [5, 5] and result.waited_seconds == 10.0
    assert len(prometheus.queries) == 3 and len(runtime.commands) == 3


def test_wait_until_stable_does_not_take_unknown_for_zero():
    clock = FakeClock(start=100.0)
    reader = reader_over(StubRuntime(stable="100", canary="0"), StubPrometheus({}))
    with pytest.raises(DeadlineExceeded) as caught:
        traffic.wait_until_stable(reader, timeout=10, interval=4, clock=lambda: clock.now, sleep=clock.sleep)
    assert clock.sleeps == [4, 4, 2]
    last = caught.value.last_state
    assert last.polls == 4 and last.all_on_stable is None
    assert "measured canary share unknown" in str(caught.value)
    assert caught.value.target == "HAProxy backend ofm_api at unix socket /run/haproxy.sock and Prometheus at http://prometheus.test:9090/"


def test_wait_until_stable_honours_max_canary_share():
    clock = FakeClock(start=100.0)
    reader = TrafficReader(meter=TrafficMeter(StubPrometheus({"stable": 98.0, "canary": 2.0})))
    result = traffic.wait_until_stable(reader, max_canary_share=0.05, clock=lambda: clock.now, sleep=clock.sleep)
    assert result.polls == 1 and clock.sleeps == []


def module_params(**overrides: Any) -> dict[str, Any]:
    params = {"haproxy_runtime_api": None, "haproxy_backend": "ofm_api", "stable_server": "stable", "canary_server": "canary",
              "haproxy_timeout": 5.0, "prometheus_url": None, "prometheus_username": None, "prometheus_password": None,
              "prometheus_token": None, "validate_certs": True, "ca_path": None, "timeout": 30.0, "retries": 3,
              "measure_window": "30s", "version_label": "version", "request_metric": "http_requests_total", "selector": "",
              "wait_for": "none", "wait_timeout": 300.0, "wait_interval": 2.0, "max_canary_share": 0.0}
    params.update(overrides)
    return params


def test_reader_from_options_builds_only_the_given_sources():
    assert not traffic.traffic_reader(module_params()).has_source
    haproxy_only = traffic.traffic_reader(module_params(haproxy_runtime_api="127.0.0.1:9999"))
    assert isinstance(haproxy_only.router, HaproxyRouter) and haproxy_only.meter is None
    assert haproxy_only.router.client.endpoint == ("127.0.0.1", 9999)
    prometheus_only = traffic.traffic_reader(module_params(prometheus_url="http://prom:9090", measure_window="1m", selector='app="ofm"'))
    assert prometheus_only.router is None
    assert prometheus_only.meter.query == 'sum by (version) (rate(http_requests_total{app="ofm"}[1m]))'


@pytest.mark.parametrize("overrides, option", [
    ({"version_label": "app.version"}, "version_label"),
    ({"request_metric": "http-requests"}, "request_metric"),
    ({"selector": "namespace=ofm"}, "selector"),
    ({"selector": '{namespace="ofm"}'}, "selector"),
    ({"measure_window": "30x"}, "measure_window"),
    ({"prometheus_url": "prom:9090"}, "prometheus_url"),
])
def test_measurement_options_are_checked(overrides, option):
    with pytest.raises(InputError) as caught:
        traffic.traffic_reader(module_params(**{"prometheus_url": "http://prom:9090", **overrides}))
    assert caught.value.option == option


@pytest.mark.parametrize("overrides, option", [
    ({"wait_timeout": 0.0}, "wait_timeout"),
    ({"wait_interval": -1.0}, "wait_interval"),
    ({"max_canary_share": 1.5}, "max_canary_share"),
])
def test_wait_options_are_checked(overrides, option):
    with pytest.raises(InputError) as caught:
        traffic.wait_options(module_params(**overrides))
    assert caught.value.option == option


def test_haproxy_doc_fragment_matches_the_router_spec():
    documented = yaml.safe_load(haproxy_fragment.ModuleDocFragment.DOCUMENTATION)["options"]
    assert sorted(documented) == sorted(traffic.HAPROXY_ROUTER_SPEC)
    for name, spec in traffic.HAPROXY_ROUTER_SPEC.items():
        assert (documented[name]["type"], documented[name].get("default")) == (spec["type"], spec.get("default")), name


def test_optional_prometheus_spec_only_drops_required():
    optional, shared = traffic.OPTIONAL_PROMETHEUS_SPEC["prometheus_url"], traffic.PROMETHEUS_SPEC["prometheus_url"]
    assert {**optional, "required": True} == shared
    assert optional["required"] is False and shared["required"] is True
