"""Fixtures for the integration tests: they run against the lab that scripts/test.sh brings up."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
# The Kubernetes targets (test server, real cluster) are defined in kubelab; importing them here makes them fixtures.
from kubelab import fixture_kube, fixture_kube_cluster  # noqa: F401  pylint: disable=unused-import
from labtest import Prometheus, Secrets, clean_stand_in, credentials, external_objects_turn, production_db_turn, run_lab, slo_wait, wait_until

from lab.config import LabConfig, load_config


@pytest.fixture(scope="session")
def lab() -> LabConfig:
    cfg = load_config()
    if not cfg.config_file.exists():
        pytest.fail(f"no lab at {cfg.state_dir}: run the suite with scripts/test.sh (it brings the lab up)")

    def down() -> list:
        status = json.loads(run_lab("status", "--json", check=False).stdout)
        return [row["component"] for row in status["components"] if row["state"] != "running"]

    # The shared-lab process stops a component on purpose for a fault test (the ops API, the Kubernetes API, Statuspage) and
    # starts it again within a minute or two: a session that begins meanwhile waits for it rather than failing every test.
    try:
        wait_until(lambda: not down(), timeout=240, interval=2, what="every lab component running")
    except pytest.fail.Exception:
        pytest.fail(f"lab components not running: {down()}; see {cfg.state_dir}/logs")
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


@pytest.fixture(name="vault")
def fixture_vault(tmp_path: Path) -> Path:
    """A vault password file for a snapshot's Secret values (the same one must open them at restore)."""
    path = tmp_path / "vault-pass"
    path.write_text("integration-test-vault")
    return path


@pytest.fixture(name="good_config")
def fixture_good_config(lab: LabConfig) -> Iterator[LabConfig]:
    """The lab's configuration as seeded (``lab config good``) before and after the test."""
    run_lab("config", "good")
    yield lab
    run_lab("config", "good")


@pytest.fixture(scope="module")
def slo_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slo-wait")


@pytest.fixture(scope="module")
def healthy_canary(lab: LabConfig, slo_workdir: Path) -> LabConfig:
    """The lab after a reset, once the canary's SLOs are all ok again."""
    run_lab("reset")
    slo_wait(lab, slo_workdir, "all_ok")
    return lab


@pytest.fixture(scope="module")
def breaching_canary(healthy_canary: LabConfig, slo_workdir: Path) -> Iterator[LabConfig]:
    """The canary answering errors until the breach is sustained, shared by a module's tests; reset afterwards."""
    lab = healthy_canary
    run_lab("canary", "bad", "errors")
    slo_wait(lab, slo_workdir, "breach")
    yield lab
    run_lab("reset")


# The shared-lab modules that write to the lab's "production" PostgreSQL take turns with the point-in-time recovery tests of
# the other process, which need it quiet (labtest.production_db_turn); so do those that need its db-writer's load (the
# recovery tests stop the writer for their turn).
PRODUCTION_DB_WRITERS = ("test_config_restore", "test_config_rollback_playbook", "test_lab_config", "test_external_rollback_playbook",
                         "test_validation_datalogs", "test_affected_customers_info")


# The modules that change the lab's external objects (zone ofm.social, moto's state, the Route, the platforms' apps) and put
# them back, in either process, take turns with each other and with `lab reset`/`lab external` (labtest.external_objects_turn).
EXTERNAL_OBJECT_USERS = ("test_lab_external", "test_dns_record", "test_alb_forward_weights", "test_openshift_route", "test_cloudfront",
                         "test_platforms", "test_external_rollback_playbook", "test_readme_commands")


@pytest.fixture(autouse=True)
def external_objects_user_turn(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.module.__name__.rsplit(".", 1)[-1] not in EXTERNAL_OBJECT_USERS:
        yield
        return
    with external_objects_turn(load_config()):
        yield


@pytest.fixture(autouse=True)
def production_db_writer_turn(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.module.__name__.rsplit(".", 1)[-1] not in PRODUCTION_DB_WRITERS:
        yield
        return
    with production_db_turn(load_config()):
        yield
