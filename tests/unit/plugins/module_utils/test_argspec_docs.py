# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared argument specs and their doc fragments must say the same thing; the clients' ``from_params`` build clients from them."""
from __future__ import annotations

from typing import Any

import pytest
import yaml
from ansible.module_utils.common.parameters import env_fallback as ansible_env_fallback
from unithelpers import doc_options, documented_options, mismatches

from ansible_collections.ofm.rollback.plugins.doc_fragments import (
    alertmanager, aws, http_client, kube, ops_api, pg_connection, prometheus, redis, traffic_measure, traffic_wait, unleash)
from ansible_collections.ofm.rollback.plugins.module_utils import argspec
from ansible_collections.ofm.rollback.plugins.module_utils import aws as aws_utils
from ansible_collections.ofm.rollback.plugins.module_utils import kube_rest as kube_utils
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import connection as pg_connection_utils
from ansible_collections.ofm.rollback.plugins.module_utils import traffic
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.http import BasicAuth, BearerAuth, SessionCookieAuth
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import OpsApiClient
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient
from ansible_collections.ofm.rollback.plugins.module_utils.tls import TlsOptions
from ansible_collections.ofm.rollback.plugins.modules import pg_pitr_restore, pg_rollback_report, pg_validate, slo_check

PAIRS = [
    (argspec.HTTP_CLIENT_SPEC, http_client.ModuleDocFragment.DOCUMENTATION),
    (argspec.PROMETHEUS_SPEC, prometheus.ModuleDocFragment.DOCUMENTATION),
    (argspec.OPS_API_SPEC, ops_api.ModuleDocFragment.DOCUMENTATION),
    (kube_utils.KUBE_SPEC, kube.ModuleDocFragment.DOCUMENTATION),
    (traffic.TRAFFIC_MEASURE_SPEC, traffic_measure.ModuleDocFragment.DOCUMENTATION),
    (traffic.WAIT_SPEC, traffic_wait.ModuleDocFragment.DOCUMENTATION),
    (pg_connection_utils.PG_COMMON_ARGUMENT_SPEC, pg_connection.ModuleDocFragment.DOCUMENTATION),
    (pg_connection_utils.APP_ARGUMENT_SPEC, pg_connection.ModuleDocFragment.APP),
    (pg_connection_utils.DATABASE_ARGUMENT_SPEC, pg_connection.ModuleDocFragment.DATABASE),
    (argspec.REDIS_SPEC, redis.ModuleDocFragment.DOCUMENTATION),
    (argspec.UNLEASH_SPEC, unleash.ModuleDocFragment.DOCUMENTATION),
    (aws_utils.AWS_SPEC, aws.ModuleDocFragment.DOCUMENTATION),
    (argspec.ALERTMANAGER_SPEC, alertmanager.ModuleDocFragment.DOCUMENTATION),
]


PAIR_IDS = ["http_client", "prometheus", "ops_api", "kube", "traffic_measure", "traffic_wait", "pg_connection", "pg_connection.app",
            "pg_connection.database", "redis",
            "unleash", "aws", "alertmanager"]


@pytest.mark.parametrize("spec, documentation", PAIRS, ids=PAIR_IDS)
def test_doc_fragment_matches_shared_spec(spec, documentation):
    assert mismatches(spec, doc_options(documentation)) == []


def test_mismatch_detection_catches_a_drift():
    drifted = {**argspec.HTTP_CLIENT_SPEC, "timeout": {"type": "float", "default": 10.0}, "extra": {"type": "str"}}
    problems = mismatches(drifted, doc_options(http_client.ModuleDocFragment.DOCUMENTATION))
    assert "timeout: default is 10.0 in the spec, 30.0 in the docs" in problems
    assert "extra: in the spec, not documented" in problems


def test_slo_check_docs_match_its_argument_spec():
    assert mismatches(slo_check.ARGUMENT_SPEC, documented_options(slo_check, http_client, prometheus)) == []


def test_pg_validate_docs_match_its_argument_spec():
    docs = {}
    for fragment in (pg_connection.ModuleDocFragment.DOCUMENTATION, pg_connection.ModuleDocFragment.APP, pg_validate.DOCUMENTATION):
        docs.update(doc_options(fragment))
    assert mismatches(pg_validate.ARGUMENT_SPEC, docs) == []


def test_pg_pitr_restore_and_pg_validate_take_the_same_postgresql_connection_options():
    for module in (pg_pitr_restore, pg_validate):
        doc = yaml.safe_load(module.DOCUMENTATION)
        assert "ofm.rollback.pg_connection" in doc["extends_documentation_fragment"], module.__name__
        for name, option in pg_connection_utils.PG_COMMON_ARGUMENT_SPEC.items():
            assert module.ARGUMENT_SPEC[name] is option, f"{module.__name__} takes its own {name}"
            assert name not in (doc.get("options") or {}), f"{module.__name__} documents {name} itself"


def test_pg_rollback_report_docs_match_its_argument_spec():
    assert mismatches(pg_rollback_report.ARGUMENT_SPEC, doc_options(pg_rollback_report.DOCUMENTATION)) == []


def params(**overrides: Any) -> dict[str, Any]:
    values = {"validate_certs": True, "ca_path": None, "timeout": 30.0, "retries": 3, "prometheus_url": "http://prom:9090",
              "prometheus_username": None, "prometheus_password": None, "prometheus_token": None,
              "ops_api_url": argspec.DEFAULT_OPS_API_URL, "ops_api_session_cookie": None, "ops_api_token": None}
    values.update(overrides)
    return values


def test_http_client_kwargs_map_options():
    kwargs = argspec.http_client_kwargs(params(validate_certs=True, ca_path="/etc/ca.pem", timeout=2.0, retries=1), "prometheus_url")
    assert kwargs == {"verify": True, "ca_path": "/etc/ca.pem", "connect_timeout": 2.0, "read_timeout": 2.0, "retries": 1,
                      "tls_options": TlsOptions("ca_path", "validate_certs", "prometheus_url")}
    assert argspec.http_client_kwargs(params())["connect_timeout"] == argspec.DEFAULT_CONNECT_TIMEOUT


@pytest.mark.parametrize("overrides, option", [({"timeout": 0.0}, "timeout"), ({"retries": -1}, "retries"),
                                               ({"prometheus_url": "prom:9090"}, "prometheus_url"),
                                               ({"prometheus_url": "ftp://prom"}, "prometheus_url")])
def test_bad_client_options_name_the_option(overrides, option):
    with pytest.raises(InputError) as caught:
        PrometheusClient.from_params(params(**overrides))
    assert caught.value.option == option


@pytest.mark.parametrize("factory, option, example", [
    (PrometheusClient.from_params, "prometheus_url", "https://prometheus.example.com:9090"),
    (OpsApiClient.from_params, "ops_api_url", "https://internal.ofm.social"),
])
def test_a_bad_url_shows_an_example_of_its_own_service(factory, option, example):
    with pytest.raises(InputError) as caught:
        factory(params(**{option: "ftp://host"}))
    assert caught.value.option == option
    assert caught.value.accepted == f"a URL such as {example}"


def test_prometheus_client_auth_choice():
    assert isinstance(PrometheusClient.from_params(params(prometheus_token="t")).http._auth, BearerAuth)
    assert isinstance(PrometheusClient.from_params(params(prometheus_username="u", prometheus_password="p")).http._auth, BasicAuth)
    client = PrometheusClient.from_params(params(timeout=2.0, retries=1))
    assert client.http._auth is None
    assert (client.http.base_url, client.http.system) == ("http://prom:9090/", "Prometheus")
    assert (client.http._limits.read_timeout, client.http._limits.retries) == (2.0, 1)


def test_ops_api_client_auth_choice():
    assert isinstance(OpsApiClient.from_params(params(ops_api_session_cookie="c")).http._auth, SessionCookieAuth)
    assert isinstance(OpsApiClient.from_params(params(ops_api_token="t")).http._auth, BearerAuth)
    client = OpsApiClient.from_params(params(validate_certs=False))
    assert client.http.base_url == "https://internal.ofm.social/"
    assert client.http.system == "ops API"
    assert client.http._verify is False
    assert client.http.refusal_roles is not None


def test_env_fallbacks_apply(monkeypatch):
    monkeypatch.setenv("OFM_OPS_API_SESSION", "from-env")
    function, names = argspec.OPS_API_SPEC["ops_api_session_cookie"]["fallback"]
    assert function is ansible_env_fallback
    assert function(*names) == "from-env"
