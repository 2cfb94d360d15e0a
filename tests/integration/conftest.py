"""Fixtures for the integration tests: they run against the lab that scripts/test.sh brings up."""
from __future__ import annotations

import json
from typing import Iterator

import pytest
# The Kubernetes targets (test server, real cluster) are defined in kubelab; importing them here makes them fixtures.
from kubelab import fixture_kube, fixture_kube_cluster  # noqa: F401  pylint: disable=unused-import
from labtest import Prometheus, Secrets, clean_stand_in, credentials, run_lab, wait_until

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
def clean_lab(lab: LabConfig) -> Iterator[LabConfig]:
    """The lab in its after-up state before and after the test."""
    run_lab("reset")
    yield lab
    run_lab("reset")


@pytest.fixture(name="secrets")
def fixture_secrets(lab: LabConfig) -> Secrets:
    """The lab's generated credentials."""
    return credentials(lab)


@pytest.fixture(name="slack")
def fixture_slack(lab: LabConfig) -> Iterator[str]:
    """The Slack stand-in's URL, with no messages and no fault."""
    with clean_stand_in(lab.url("slack")) as url:
        yield url


@pytest.fixture(name="statuspage")
def fixture_statuspage(lab: LabConfig) -> Iterator[str]:
    """The Statuspage stand-in's URL, with no incidents and no fault."""
    with clean_stand_in(lab.url("statuspage")) as url:
        yield url
