"""Fixtures for the integration tests: they run against the lab that scripts/test.sh brings up."""
from __future__ import annotations

import json

import pytest
from labtest import Prometheus, run_lab, wait_until

from lab.config import LabConfig, load_config


@pytest.fixture(scope="session")
def lab() -> LabConfig:
    cfg = load_config()
    if not cfg.config_file.exists():
        pytest.fail(f"no lab at {cfg.state_dir}: run the suite with scripts/test.sh (it brings the lab up)")
    status = json.loads(run_lab("status", "--json", check=False).stdout)
    down = [row["component"] for row in status["components"] if row["state"] != "running"]
    if down:
        pytest.fail(f"lab components not running: {down}; see {cfg.state_dir}/logs")
    return cfg


@pytest.fixture(scope="session")
def prometheus(lab: LabConfig) -> Prometheus:
    prom = Prometheus(lab.url("prometheus"))
    wait_until(lambda: prom.query('ofm:traffic_share{version="canary"}'), 60, what="Prometheus recording the canary's traffic")
    return prom


@pytest.fixture()
def clean_lab(lab: LabConfig):
    """The lab in its after-up state before and after the test."""
    run_lab("reset")
    yield lab
    run_lab("reset")
