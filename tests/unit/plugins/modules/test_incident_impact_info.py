# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""incident_impact_info: the error budget each kind of SLO burned (numbers worked out by hand below), when the SLOs are
compliant again, the window and the record it is read from (bad ones refused naming ``since`` and ``record``), and the
module's main() against a local fake Prometheus answering known series: the figures and recovery times, a missing series a
gap (never a zero), no 5xx series meaning no failed request, Prometheus down a failure or (``unavailable_is: unknown``)
null figures, and the bearer token never in a result. The lab's Prometheus: tests/integration/test_incident_impact_info.py."""
from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from unithelpers import FakeService, Received, Reply, documented_options, free_port, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client as http_client_fragment
from ansible_collections.ofm.rollback.plugins.doc_fragments import prometheus as prometheus_fragment
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.incident_impact import budget_burned, compliant_since, read_record, window
from ansible_collections.ofm.rollback.plugins.module_utils.slo import BUILTIN_SLOS
from ansible_collections.ofm.rollback.plugins.modules import incident_impact_info

pytestmark = pytest.mark.usefixtures("module_runner")

SLO = {slo.name: slo for slo in BUILTIN_SLOS}
NAMES = [slo.name for slo in BUILTIN_SLOS]
DAY, MONTH = 86400, 30 * 86400
TOKEN = "prom-bearer-SECRET-5b7e"
START = datetime(2025, 11, 4, 14, 0, tzinfo=timezone.utc).timestamp()
# The emergency procedure's record: detected at 14:00:00, rollback requested at 14:00:40, traffic on stable at 14:01:00.
RECORD = {"incident_id": "INC-7301", "started_at": "2025-11-04T14:00:00+00:00", "duration_seconds": 120, "traffic": {"all_on_stable": True},
          "phases": [{"phase": "Execute rollback", "start": START + 30, "end": START + 40},
                     {"phase": "Monitor traffic shift", "start": START + 40, "end": START + 60}]}
# The window 13:59:00 to 14:03:00 (240 s) at a 30 s step: samples at -60, -30, 0, 30, 60, 90, 120, 150 and 180 s from START.
WINDOW = {"since": "2025-11-04T13:59:00+00:00", "until": "2025-11-04T14:03:00+00:00", "resolution": 30, "slo_period": "1d", "rate_window": "1m"}
SERIES: dict[str, Optional[list[Any]]] = {
    "p95_latency": [1.0, 10.0, 12.0, 15.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    "error_rate": [0.0, 0.2, 0.3, 0.3, 0.1, 0.0, 0.0, 0.0, 0.0],
    "success_rate": [1.0, 0.55, 0.55, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    "webhook_signature_verification": None,
    "db_connection_failures": [0.0] * 9,
}
# The metric each SLO's query names, which is how the fake tells the queries apart.
METRICS = {"p95_latency": "http_request_duration_seconds_bucket", "error_rate": "http_requests_total", "success_rate": "publish_requests_total",
           "webhook_signature_verification": "webhook_signature_verified_total", "db_connection_failures": "db_connection_attempts_total"}


class FakePrometheus(FakeService):
    """Prometheus' query API: a range query answers the SLO's series of ``series`` (``canary`` for a query on the canary),
    one sample per step from ``start``, none for None; an instant ``increase`` of ``http_requests_total`` answers
    ``totals['requests_failed']`` when it matches 5xx statuses, else ``totals['requests_total']`` (None: no series)."""

    def __init__(self) -> None:
        self.series: dict[str, Optional[list[Any]]] = dict(SERIES)
        self.canary: dict[str, Optional[list[Any]]] = {"error_rate": [0.5] * 9}
        self.totals: dict[str, Optional[float]] = {"requests_total": 12000.4, "requests_failed": 1199.6}
        super().__init__()

    def answer(self, request: Received) -> Reply:
        form = request.form
        if request.path == "/api/v1/query_range":
            name = next(name for name, metric in METRICS.items() if metric in form["query"])
            values = (self.canary if 'version="canary"' in form["query"] else self.series).get(name)
            start, end, step = float(form["start"]), float(form["end"]), float(form["step"])
            samples = [[start + index * step, str(value)] for index, value in enumerate(values or []) if start + index * step <= end]
            return Reply(200, {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": samples}] if values else []}})
        if request.path == "/api/v1/query" and "increase(http_requests_total{" in form["query"]:
            value = self.totals["requests_failed" if 'status=~"5.."' in form["query"] else "requests_total"]
            result = [] if value is None else [{"metric": {}, "value": [float(form["time"]), str(value)]}]
            return Reply(200, {"status": "success", "data": {"resultType": "vector", "result": result}})
        return Reply(400, {"status": "error", "errorType": "bad_data", "error": f"unexpected {request.path} {form}"})


@pytest.fixture(name="prometheus")
def fixture_prometheus() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    yield server
    server.close()


@pytest.fixture(name="record")
def fixture_record(tmp_path: Path) -> Path:
    path = tmp_path / "INC-7301-2025-11-04T140000Z.json"
    path.write_text(json.dumps(RECORD))
    return path


def run(prometheus_url: str, record: Path, check_mode: bool = False, **args: Any) -> tuple[bool, dict[str, Any]]:
    failed, result, _warnings = run_module(incident_impact_info, {"prometheus_url": prometheus_url, "record": str(record), "retries": 0,
                                                                  **WINDOW, **args}, check_mode)
    return failed, result


def at(offset: float) -> str:
    return datetime.fromtimestamp(START + offset, timezone.utc).isoformat()


# --- the error budget and the recovery, by hand ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, values, window_seconds, period, burned", [
    # above its threshold: a 2 % mean 5xx share for 1 h against 1 % of 30 days: 0.02 x 3600 / (0.01 x 2592000) = 0.2778 %
    ("error_rate", [0.0, 0.02, 0.04], 3600, MONTH, 0.2778),
    # 20 % of connection attempts failing for 30 min against 5 % of a day: 0.2 x 1800 / (0.05 x 86400) = 8.3333 %
    ("db_connection_failures", [0.1, 0.3], 1800, DAY, 8.3333),
    # a full outage for a whole day, against 1 % of a day: 100 times the budget
    ("error_rate", [1.0, 1.0], DAY, DAY, 10000.0),
    # below its threshold: 85 % success, so 15 % bad, for 10 min against 5 % of a day: 0.15 x 600 / 4320 = 2.0833 %
    ("success_rate", [0.9, 0.8], 600, DAY, 2.0833),
    # 99.8 % of signatures verified, so 0.2 % bad, for 1 min against 0.1 % of a day: 0.002 x 60 / 86.4 = 0.1389 %
    ("webhook_signature_verification", [0.998, 0.998, 0.998], 60, DAY, 0.1389),
    # latency: 2 of 4 samples above 10 s (10.0 itself is not above) for 1 h against 5 % of a day: 0.5 x 3600 / 4320 = 41.6667 %
    ("p95_latency", [12.0, 10.0, 9.0, 30.0], 3600, DAY, 41.6667),
    # a p95 far below its threshold burns nothing: no sample above it, whatever the latency
    ("p95_latency", [9.9, 0.2], 3600, DAY, 0.0),
    # NaN (no traffic: 0/0) and infinite samples are dropped, not counted as 0 or as bad
    ("error_rate", [math.nan, 0.02, math.inf, -math.inf], 3600, MONTH, 0.2778),
])
def test_the_error_budget_burned_per_slo_kind(name, values, window_seconds, period, burned):
    samples = [(float(index), value) for index, value in enumerate(values)]
    assert budget_burned(SLO[name], samples, window_seconds, period) == pytest.approx(burned, abs=1e-4)


@pytest.mark.parametrize("values", [[], [math.nan, math.nan]])
def test_no_valid_sample_burns_no_known_budget(values):
    """Without a finite sample the budget burned is unknown (None), never 0."""
    assert budget_burned(SLO["error_rate"], [(0.0, value) for value in values], 3600, DAY) is None


def test_slos_are_compliant_from_the_first_sample_after_the_last_violation_of_any():
    series = {"error_rate": [[0, 0.3], [10, 0.3], [20, 0.0], [30, 0.0], [40, 0.0], [50, 0.0]],
              "p95_latency": [[0, 1.0], [10, 12.0], [20, 12.0], [30, 1.0], [40, 1.0], [50, 1.0]]}
    assert compliant_since([SLO["error_rate"], SLO["p95_latency"]], series, 0) == 30
    # Violations before the rollback do not count: compliant from the rollback on.
    assert compliant_since([SLO["error_rate"], SLO["p95_latency"]], series, 25) == 25
    # A NaN after the last violation is no evidence of compliance: the next finite sample is.
    assert compliant_since([SLO["error_rate"]], {"error_rate": [[0, 0.3], [10, math.nan], [20, 0.0]]}, 0) == 20


def test_no_compliance_while_an_slo_still_violates_at_the_end():
    series = {"error_rate": [[0, 0.3], [10, 0.0], [20, 0.2]], "p95_latency": [[0, 1.0], [10, 1.0], [20, 1.0]]}
    assert compliant_since([SLO["error_rate"], SLO["p95_latency"]], series, 0) is None


def test_no_compliance_without_any_sample_after_the_rollback():
    """Data that stop before the rollback (the service went dark) say nothing about recovery: not compliant at the rollback."""
    series = {"error_rate": [[0, 0.3], [10, 0.3]], "p95_latency": [[0, 1.0], [10, 1.0]], "success_rate": [[0, 1.0], [70, math.nan]]}
    assert compliant_since([SLO["error_rate"], SLO["p95_latency"], SLO["success_rate"]], series, 60) is None


def test_the_window_reaches_around_the_record_and_never_past_now():
    assert window(RECORD, None, None, 900, 900, now=START + DAY) == (START - 900, START + 120 + 900)
    assert window(RECORD, None, None, 900, 900, now=START + 300) == (START - 900, START + 300)
    assert window(RECORD, START - 60, START + 180, 900, 900, now=START + DAY) == (START - 60, START + 180)
    assert window({"started_at": "2025-11-04T14:00:00Z"}, None, None, 60, 60, now=START + DAY) == (START - 60, START + 60)


@pytest.mark.parametrize("since, until, now, shown", [
    (START + 300, START, START + DAY, "start at 2025-11-04T14:05:00+00:00 and end at 2025-11-04T14:00:00+00:00"),
    (START, START, START + DAY, "start at 2025-11-04T14:00:00+00:00 and end at 2025-11-04T14:00:00+00:00"),
    # a record of the future: its window starts 15 min before its start, after now
    (None, None, START - 3600, "start at 2025-11-04T13:45:00+00:00 and end at 2025-11-04T13:00:00+00:00"),
])
def test_an_empty_window_is_refused_naming_since(since, until, now, shown):
    with pytest.raises(InputError) as caught:
        window(RECORD, since, until, 900, 900, now=now)
    assert caught.value.option == "since" and f"the window is empty: it would {shown}" in str(caught.value)
    assert "a since before until (and before now)" in str(caught.value)


@pytest.mark.parametrize("content, says", [
    (None, "record: no incident record at"),
    ("{not json", "is not a readable JSON incident record"),
    ("", "is not a readable JSON incident record"),
    ("[1, 2]", "is not an incident record (no started_at)"),
    ('{"incident_id": "INC-7301", "duration_seconds": 60}', "is not an incident record (no started_at)"),
])
def test_a_bad_record_is_refused_naming_record(tmp_path, content, says):
    path = tmp_path / "INC-7301.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as caught:
        read_record(str(path))
    assert caught.value.option == "record" and says in str(caught.value) and str(path) in str(caught.value)


def test_a_directory_is_no_record(tmp_path):
    with pytest.raises(InputError) as caught:
        read_record(str(tmp_path))
    assert caught.value.option == "record" and "is not a readable JSON incident record" in str(caught.value)


def test_a_record_is_read_as_written(record):
    assert read_record(str(record)) == json.loads(json.dumps(RECORD))


# --- the module against a fake Prometheus ---------------------------------------------------------------------------------

def test_the_impact_over_the_window_with_the_numbers_worked_out_by_hand(prometheus, record):
    failed, result = run(prometheus.url, record, check_mode=True)
    assert not failed and result["changed"] is False
    assert result["window"] == {"since": "2025-11-04T13:59:00+00:00", "until": "2025-11-04T14:03:00+00:00", "step": 30.0}
    assert (result["requests_total"], result["requests_failed"]) == (12000, 1200)
    assert result["slo_period"] == "1d"
    # error rate: mean 0.9 / 9 = 0.1 for 240 s against 1 % of a day (864 s): 24 / 864 = 2.7778 %
    # publish success: bad 2 x 0.45 / 9 = 0.1 against 5 % of a day (4320 s): 24 / 4320 = 0.5556 %
    # p95: 2 of 9 samples above 10 s (10.0 is not): 240 x 2 / 9 / 4320 = 1.2346 %; no failed connection: 0 %, not unknown
    assert result["error_budget_burned"] == pytest.approx({"p95_latency": 1.2346, "error_rate": 2.7778, "success_rate": 0.5556,
                                                           "webhook_signature_verification": None, "db_connection_failures": 0.0}, abs=1e-4)
    assert result["error_budget_burned"]["webhook_signature_verification"] is None
    # The last violation after traffic reached stable (14:01:00) is the error rate's 0.1 there: compliant from 14:01:30.
    assert result["recovery"] == {"detected_at": at(0), "rollback_at": at(40), "traffic_on_stable_at": at(60), "slos_compliant_at": at(90),
                                  "time_to_recover": "1m30s", "time_to_stable": "1m"}
    assert result["gaps"] == ["no data for webhook_signature_verification between 2025-11-04T13:59:00+00:00 and 2025-11-04T14:03:00+00:00"]
    assert result["series"]["error_rate"] == [[START + offset, value] for offset, value in zip(range(-60, 181, 30), SERIES["error_rate"])]
    assert result["series"]["webhook_signature_verification"] == []
    assert result["canary_series"]["error_rate"] == [[START + offset, 0.5] for offset in range(-60, 181, 30)]
    assert result["canary_series"]["p95_latency"] == [], "a canary without data is no gap: the impact is on all traffic"
    assert result["thresholds"]["success_rate"] == {"threshold": 0.95, "comparison": "<", "description": SLO["success_rate"].description}


def test_the_queries_cover_the_window_on_all_traffic_and_on_the_canary(prometheus, record):
    failed, result = run(prometheus.url, record, selector='namespace="ofm-production"')
    assert not failed
    ranges = [form for form in prometheus.forms if "start" in form]
    assert len(ranges) == 10 and {(form["start"], form["end"], form["step"]) for form in ranges} == {(f"{START - 60:.3f}", f"{START + 180:.3f}", "30")}
    assert sum('version="canary"' in form["query"] for form in ranges) == 5
    assert all('namespace="ofm-production"' in form["query"] and "[1m]" in form["query"] for form in ranges)
    totals = [form for form in prometheus.forms if "start" not in form]
    assert [form["query"] for form in totals] == ['sum(increase(http_requests_total{namespace="ofm-production"}[240s]))',
                                                  'sum(increase(http_requests_total{namespace="ofm-production",status=~"5.."}[240s]))']
    assert {form["time"] for form in totals} == {f"{START + 180:.3f}"}
    assert [query["query"] for query in result["queries"]] == [form["query"] for form in prometheus.forms]


def test_no_5xx_series_means_no_failed_request_but_no_counts_is_a_gap(prometheus, record):
    prometheus.totals["requests_failed"] = None
    failed, result = run(prometheus.url, record)
    assert not failed and (result["requests_total"], result["requests_failed"]) == (12000, 0)
    assert not [gap for gap in result["gaps"] if "request counts" in gap]
    prometheus.totals["requests_total"] = None
    failed, result = run(prometheus.url, record)
    assert not failed and (result["requests_total"], result["requests_failed"]) == (None, None)
    assert "no request counts between 2025-11-04T13:59:00+00:00 and 2025-11-04T14:03:00+00:00" in result["gaps"]


def test_without_any_data_every_figure_is_a_gap_never_a_zero(prometheus, record):
    """No traffic at all: each SLO's series is NaN (0/0) or missing, no request counter."""
    prometheus.series = {name: ["NaN"] * 9 if index % 2 else None for index, name in enumerate(NAMES)}
    prometheus.canary = {}
    prometheus.totals = {"requests_total": None, "requests_failed": None}
    failed, result = run(prometheus.url, record)
    assert not failed
    assert result["error_budget_burned"] == {name: None for name in NAMES}
    assert (result["requests_total"], result["requests_failed"]) == (None, None)
    assert result["series"] == {name: [] for name in NAMES}
    assert result["recovery"]["slos_compliant_at"] is None and result["recovery"]["time_to_recover"] is None
    assert result["recovery"]["time_to_stable"] == "1m", "the record's own times are known without Prometheus' data"
    between = "between 2025-11-04T13:59:00+00:00 and 2025-11-04T14:03:00+00:00"
    assert result["gaps"] == [f"no data for {name} {between}" for name in NAMES] + [
        f"no request counts {between}", "recovery not measured: no SLO data after the rollback"]


def test_data_that_stop_before_traffic_is_on_stable_measure_no_recovery(prometheus, record):
    """The series end at 14:00:30, before the rollback moved traffic to stable at 14:01:00: nothing says the SLOs recovered."""
    prometheus.series = {name: values[:4] if values else None for name, values in SERIES.items()}
    failed, result = run(prometheus.url, record)
    assert not failed and result["series"]["error_rate"][-1] == [START + 30, 0.3]
    assert result["recovery"]["slos_compliant_at"] is None and result["recovery"]["time_to_recover"] is None
    assert "recovery not measured: no SLO data after the rollback" in result["gaps"]


def test_an_slo_still_violating_at_the_end_is_no_recovery(prometheus, record):
    prometheus.series["error_rate"] = [0.3] * 9
    failed, result = run(prometheus.url, record)
    assert not failed and result["recovery"]["slos_compliant_at"] is None and result["recovery"]["time_to_recover"] is None
    assert result["gaps"][-1] == "recovery not measured: an SLO still violates its threshold at the end of the window"
    # 0.3 for the whole 240 s against 864 s: 72 / 864 = 8.3333 %
    assert result["error_budget_burned"]["error_rate"] == pytest.approx(8.3333, abs=1e-4)


def test_the_default_window_is_the_records_time_with_lookback_and_lookahead(prometheus, record):
    failed, result = run(prometheus.url, record, since=None, until=None, resolution=0, lookback="2m", lookahead="1m")
    assert not failed
    # 14:00:00 - 2m to 14:00:00 + 120 s + 1m: 300 s, so a step of 300 / 240 = 1.25 s
    assert result["window"] == {"since": "2025-11-04T13:58:00+00:00", "until": "2025-11-04T14:03:00+00:00", "step": 1.25}
    assert f"{START + 180:.3f}" == prometheus.forms[-1]["time"] and "[300s]" in prometheus.forms[-1]["query"]


def test_a_rate_window_in_seconds_is_sent_as_a_promql_duration(prometheus, record):
    """``rate_window: 90`` is 90 s; PromQL needs a unit in a range (``[90]`` is a parse error), so the queries say ``[1m30s]``."""
    failed, result = run(prometheus.url, record, rate_window="90")
    assert not failed
    ranges = [form["query"] for form in prometheus.forms if "start" in form]
    assert len(ranges) == 10 and all("[1m30s]" in query and "[90]" not in query for query in ranges)


def test_max_points_thins_each_series_evenly(prometheus, record):
    failed, result = run(prometheus.url, record, max_points=4)
    assert not failed
    assert [point[0] - START for point in result["series"]["error_rate"]] == [-60, 30, 120]


@pytest.mark.parametrize("unavailable_is", ["fail", "unknown"])
def test_a_bad_record_fails_naming_record_before_any_query(prometheus, tmp_path, unavailable_is):
    failed, result = run(prometheus.url, tmp_path / "INC-7301-missing.json", unavailable_is=unavailable_is)
    assert failed and result["error"]["option"] == "record" and "no incident record at" in result["msg"]
    assert prometheus.received == [] and result["requests"] == []


@pytest.mark.parametrize("args, option", [
    ({"since": "2025-11-04T14:05:00+00:00"}, "since"),
    ({"since": "the day before"}, "since"),
    ({"until": "later"}, "until"),
    ({"lookback": "15 minutes", "since": None}, "lookback"),
    ({"slo_period": "a month"}, "slo_period"),
    ({"rate_window": "five minutes"}, "rate_window"),
])
def test_bad_input_fails_naming_the_option_before_any_query(prometheus, record, args, option):
    failed, result = run(prometheus.url, record, unavailable_is="unknown", **args)
    assert failed and result["error"]["option"] == option, result["msg"]
    assert prometheus.received == []


@pytest.mark.parametrize("unavailable_is", ["fail", "unknown"])
def test_a_query_prometheus_rejects_fails_even_with_unavailable_is_unknown(prometheus, record, unavailable_is):
    prometheus.script(Reply(400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 12"}))
    failed, result = run(prometheus.url, record, unavailable_is=unavailable_is)
    assert failed and result["error"]["type"] == "InputError" and "bad_data: parse error at char 12" in result["msg"]
    assert len(result["requests"]) == 1


def test_prometheus_down_fails_the_task_by_default(record):
    failed, result = run(f"http://127.0.0.1:{free_port()}", record)
    assert failed and result["error"]["type"] == "UnavailableError" and "could not connect" in result["msg"]
    assert len(result["requests"]) == 1 and "window" not in result


def test_prometheus_down_is_every_figure_null_with_the_reason_when_unknown(record):
    failed, result = run(f"http://127.0.0.1:{free_port()}", record, unavailable_is="unknown")
    assert not failed and result["changed"] is False
    assert (result["window"], result["requests_total"], result["requests_failed"]) == (None, None, None)
    assert result["error_budget_burned"] == {name: None for name in NAMES}
    assert result["recovery"] == {"detected_at": "2025-11-04T14:00:00+00:00"}
    assert len(result["gaps"]) == 1 and result["gaps"][0].startswith("Prometheus could not be asked: Prometheus: POST /api/v1/query_range on ")
    assert "could not connect" in result["unavailable"] and len(result["requests"]) == 1, "once Prometheus failed, nothing is asked again"
    assert set(result["thresholds"]) == set(NAMES)


def test_prometheus_answering_503_is_unavailable_too(prometheus, record):
    prometheus.script(*[Reply(503, "Service Unavailable")] * 3)
    failed, result = run(prometheus.url, record, unavailable_is="unknown")
    assert not failed and result["requests_total"] is None and result["gaps"][0].startswith("Prometheus could not be asked")
    assert "503" in result["unavailable"]


def test_the_bearer_token_is_sent_and_never_in_the_result(prometheus, record):
    failed, result = run(prometheus.url, record, prometheus_token=TOKEN)
    assert not failed and result["requests_total"] == 12000
    assert {request.headers.get("Authorization") for request in prometheus.received} == {f"Bearer {TOKEN}"}
    assert TOKEN not in json.dumps(result)
    # Prometheus (or a proxy before it) echoing the request's header in its error: the message keeps the error, not the token.
    prometheus.script(Reply(400, {"status": "error", "errorType": "bad_data", "error": f"rejected: Authorization: Bearer {TOKEN}"}))
    failed, result = run(prometheus.url, record, prometheus_token=TOKEN, unavailable_is="unknown")
    assert failed and "bad_data: rejected: Authorization:" in result["msg"]
    assert TOKEN not in json.dumps(result)


def test_the_token_from_the_environment_is_used_and_never_in_the_result(prometheus, record, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_TOKEN", TOKEN)
    failed, result = run(prometheus.url, record)
    assert not failed and prometheus.received[0].headers.get("Authorization") == f"Bearer {TOKEN}"
    assert TOKEN not in json.dumps(result)


def test_the_window_ends_now_at_the_latest(prometheus, tmp_path):
    """A record of an incident still going on: the window stops at now, and the last sample is not in the future."""
    started = time.time() - 120
    path = tmp_path / "INC-7302.json"
    path.write_text(json.dumps({"started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(), "duration_seconds": 0}))
    failed, result, _warnings = run_module(incident_impact_info, {"prometheus_url": prometheus.url, "record": str(path), "lookback": "1m",
                                                                  "lookahead": "1h", "resolution": 30})
    assert not failed
    until = datetime.fromisoformat(result["window"]["until"]).timestamp()  # whole seconds
    assert time.time() - 5 <= until <= time.time() and all(point[0] < until + 1 for point in result["series"]["error_rate"])


def test_docs_match_argument_spec():
    docs = documented_options(incident_impact_info, prometheus_fragment, http_client_fragment)
    assert mismatches(incident_impact_info.ARGUMENT_SPEC, docs) == []
