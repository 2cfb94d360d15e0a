"""incident_impact_info through the real ``ansible`` command against the lab's Prometheus (HTTPS, the lab CA), with incident
records written here: over the last minute of the running lab (the load generator's traffic) it counts requests and gives a
finite error budget, the same in check mode, and a rate window in plain seconds is a query Prometheus takes; a record from
before the lab existed gives every figure as a named gap, never a zero, and one in the future an empty window refused
naming ``since``; Prometheus down is a failure, or null figures with ``unavailable_is: unknown``. The bearer token (from
the environment, as the playbooks pass it) never shows."""
from __future__ import annotations

import json
import math
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import pytest
from labtest import run_play, tls

from lab.config import HOST, LabConfig

# Reads the lab's shared traffic (a canary fault of another test would move its numbers): runs in the shared-lab process.
pytestmark = pytest.mark.shared_lab

TOKEN = "itest-prometheus-token-SECRET-8d2c"
SLOS = ["p95_latency", "error_rate", "success_rate", "webhook_signature_verification", "db_connection_failures"]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def write_record(workdir: Path, started: float, duration: float = 10) -> Path:
    """An emergency procedure's JSON record: detected at ``started``, traffic moved to stable from +4 s to +8 s."""
    path = workdir / f"INC-9501-{datetime.fromtimestamp(started, timezone.utc):%Y-%m-%dT%H%M%SZ}.json"
    path.write_text(json.dumps({"incident_id": "INC-9501", "started_at": iso(started), "duration_seconds": duration, "traffic": {"all_on_stable": True},
                                "phases": [{"phase": "Execute rollback", "start": started + 2, "end": started + 4},
                                           {"phase": "Monitor traffic shift", "start": started + 4, "end": started + 8}]}))
    return path


def runs(lab: LabConfig, workdir: Path, record: Path, cases: dict[str, dict[str, Any]], check: tuple[str, ...] = (),
         prometheus_url: Optional[str] = None) -> dict[str, Any]:
    """Several module runs in one play (one ansible start-up), the token in the environment; each run's result by name (a
    case's own ``record`` replaces ``record``). None of them shows the token."""
    common = {"prometheus_url": prometheus_url or lab.url("prometheus"), "record": str(record), "retries": 0, **tls(lab)}
    tasks = [{"name": name, "ofm.rollback.incident_impact_info": {**common, **args}, "register": f"run_{index}", "ignore_errors": True,
              "check_mode": name in check} for index, (name, args) in enumerate(cases.items())]
    play = run_play(tasks, workdir, env={"PROMETHEUS_TOKEN": TOKEN})
    results = {name: play.result[f"run_{index}"] for index, name in enumerate(cases)}
    assert TOKEN not in play.output + json.dumps(results)
    return results


def test_the_last_minute_of_the_running_lab_has_requests_and_a_finite_error_budget(lab, prometheus, tmp_path):
    """An incident detected 40 s ago: the load generator's requests are counted over the window, the error rate has samples
    and a finite budget burned; check mode gives the same window; ``rate_window: 15`` (seconds) is sent as ``[15s]``."""
    now = math.floor(time.time())
    record = write_record(tmp_path, now - 40)
    window = {"since": iso(now - 70), "until": iso(now - 5), "resolution": 5}
    found = runs(lab, tmp_path, record, {"lab": {**window, "rate_window": "15s"}, "check mode": {**window, "rate_window": "15s"},
                                         "seconds": {**window, "rate_window": "15"}}, check=("check mode",))
    for name, result in found.items():
        assert not result.get("failed"), (name, result.get("msg"))
        assert result["window"] == {"since": window["since"], "until": window["until"], "step": 5.0}, name
        assert result["requests_total"] > 0 and 0 <= result["requests_failed"] <= result["requests_total"], name
        burned = result["error_budget_burned"]["error_rate"]
        assert isinstance(burned, float) and math.isfinite(burned) and burned >= 0, (name, burned)
        assert result["series"]["error_rate"] and all(0 <= value <= 1 for _t, value in result["series"]["error_rate"]), name
        assert not [gap for gap in result["gaps"] if "error_rate" in gap or "request counts" in gap], (name, result["gaps"])
        assert result["recovery"]["detected_at"] == iso(now - 40) and result["recovery"]["time_to_stable"] == "8s"
    assert all("[15s]" in query["query"] for query in found["seconds"]["queries"][:len(SLOS)]), found["seconds"]["queries"][0]


def test_a_record_from_before_the_lab_names_every_gap_and_one_in_the_future_is_refused(lab, prometheus, tmp_path):
    long_ago = write_record(tmp_path, datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp(), duration=60)
    future = write_record(tmp_path, time.time() + 3600)
    found = runs(lab, tmp_path, long_ago, {"long ago": {"lookback": "1m", "lookahead": "1m"}, "future": {"record": str(future)}})
    old = found["long ago"]
    assert not old.get("failed"), old.get("msg")
    between = "between 2019-12-31T23:59:00+00:00 and 2020-01-01T00:02:00+00:00"
    assert old["gaps"] == [f"no data for {name} {between}" for name in SLOS] + [f"no request counts {between}",
                                                                                "recovery not measured: no SLO data after the rollback"]
    assert old["error_budget_burned"] == {name: None for name in SLOS}
    assert (old["requests_total"], old["requests_failed"], old["recovery"]["slos_compliant_at"]) == (None, None, None)
    assert found["future"].get("failed") and found["future"]["error"]["option"] == "since", found["future"].get("msg")
    assert "the window is empty" in found["future"]["msg"]


def test_prometheus_down_fails_or_is_every_figure_null_when_unknown(lab, tmp_path):
    record = write_record(tmp_path, time.time() - 60)
    found = runs(lab, tmp_path, record, {"fail": {}, "unknown": {"unavailable_is": "unknown"}}, prometheus_url=f"https://{HOST}:{closed_port()}")
    assert found["fail"].get("failed") and found["fail"]["error"]["type"] == "UnavailableError", found["fail"].get("msg")
    unknown = found["unknown"]
    assert not unknown.get("failed"), unknown.get("msg")
    assert (unknown["window"], unknown["requests_total"], unknown["requests_failed"]) == (None, None, None)
    assert unknown["error_budget_burned"] == {name: None for name in SLOS}
    assert len(unknown["gaps"]) == 1 and unknown["gaps"][0].startswith("Prometheus could not be asked: ")
