# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the unit tests; the helpers behind them are in unithelpers.py."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from unithelpers import (HAPROXY_BACKEND, RUNNER, Addresses, FakeOpsApi, FakePrometheus, FakeSlack, FakeStatuspage, FakeUnleash, RedisServer, haproxy_command,
                         haproxy_running, moto_running, redis_running)

CREDENTIAL_VARIABLES = ("OFM_OPS_API_SESSION", "OFM_OPS_API_TOKEN", "OFM_OPS_API_URL", "PROMETHEUS_TOKEN", "PROMETHEUS_URL",
                        "SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "STATUSPAGE_API_KEY", "STATUSPAGE_PAGE_ID",
                        "K8S_AUTH_KUBECONFIG", "KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY",
                        "REDIS_URL", "REDIS_PASSWORD", "UNLEASH_URL", "UNLEASH_TOKEN")


@pytest.fixture(scope="module", name="moto_url")
def fixture_moto_url() -> Iterator[str]:
    """moto's server mode (the AWS stand-in) for a test module; its URL."""
    with moto_running() as url:
        yield url


@pytest.fixture(scope="module", name="haproxy_process")
def fixture_haproxy_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Addresses]:
    """A real HAProxy for the test module (skips when haproxy is not installed); see ``unithelpers.haproxy_running``."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    with haproxy_running(tmp_path_factory.mktemp("haproxy")) as addresses:
        yield addresses


@pytest.fixture(name="haproxy")
def fixture_haproxy(haproxy_process: Addresses) -> Addresses:
    """The module's HAProxy with backend ``ofm_api`` back at its configured split: stable 90, canary 10."""
    for server, weight in (("stable", 90), ("canary", 10)):
        haproxy_command(haproxy_process.admin, f"set server {HAPROXY_BACKEND}/{server} weight {weight}")
    return haproxy_process


@pytest.fixture(name="haproxy_socket")
def fixture_haproxy_socket(haproxy: Addresses) -> str:
    """The admin-level UNIX socket of the HAProxy at its configured split."""
    return haproxy.admin


@pytest.fixture(name="prometheus")
def fixture_prometheus() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    yield server
    server.close()


@pytest.fixture(name="slack")
def fixture_slack() -> Iterator[FakeSlack]:
    server = FakeSlack()
    yield server
    server.close()


@pytest.fixture(name="statuspage")
def fixture_statuspage() -> Iterator[FakeStatuspage]:
    server = FakeStatuspage()
    yield server
    server.close()


@pytest.fixture(name="unleash")
def fixture_unleash() -> Iterator[FakeUnleash]:
    """A fake Unleash admin API with the lab's toggles: publish_v2 off, new_composer and tiktok_direct_post on (production)."""
    server = FakeUnleash(publish_v2=False, new_composer=True, tiktok_direct_post=True)
    yield server
    server.close()


@pytest.fixture(scope="module", name="redis_process")
def fixture_redis_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the test module (skips when it is not installed); see ``unithelpers.redis_running``."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with redis_running(tmp_path_factory.mktemp("redis"), "unit-redis-pw-5e1f") as server:
        yield server


@pytest.fixture(name="redis_server")
def fixture_redis_server(redis_process: RedisServer) -> RedisServer:
    """The module's redis-server with its databases empty and no ACL user but the default one."""
    import redis  # pylint: disable=import-outside-toplevel
    client = redis.Redis(port=redis_process.port, password=redis_process.password, decode_responses=True)
    client.flushall()
    for user in client.acl_users():
        if user != "default":
            client.acl_deluser(user)
    client.close()
    return redis_process


@pytest.fixture(scope="module", name="tls_pki")
def fixture_tls_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The certificates of ``tls_pki.make_test_pki``, made once per test module."""
    from tls_pki import make_test_pki  # pylint: disable=import-outside-toplevel
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module", name="tls_server")
def fixture_tls_server(tls_pki: dict[str, Path]) -> Iterator[Any]:
    """A local TLS server presenting ``tls_pki``'s leaf of the SNI name asked for (the other-host one for an unknown name)."""
    from tls_pki import SniTlsServer  # pylint: disable=import-outside-toplevel
    server = SniTlsServer({name: files for name, files in tls_pki.items() if name != "bundle"}, default="wronghost.ofm.test")
    yield server
    server.close()


@pytest.fixture(autouse=True)
def no_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No module option falls back to a value from the caller's environment unless a test sets it."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["module", "in_process"])
def module_runner(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test twice: main() under AnsibleModule, and under the in-process stand-in of its action plugin."""
    RUNNER["mode"] = request.param
    yield request.param
    RUNNER["mode"] = "module"


@pytest.fixture(name="ops")
def fixture_ops() -> Iterator[FakeOpsApi]:
    """The fake ops API (unithelpers.FakeOpsApi) for one test."""
    server = FakeOpsApi()
    yield server
    server.close()
