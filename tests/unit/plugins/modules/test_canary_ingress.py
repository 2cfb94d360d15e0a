# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""canary_ingress: reading the canary annotations and checking the options before anything is sent."""
from __future__ import annotations

import pytest
from unithelpers import documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import kube
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError
from ansible_collections.ofm.rollback.plugins.modules import canary_ingress

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")


def ingress(**annotations: str) -> dict:
    return {"metadata": {"name": "api-canary", "namespace": "ofm", "annotations": annotations}}


def test_docs_match_the_argument_spec():
    assert mismatches(canary_ingress.ARGUMENT_SPEC, documented_options(canary_ingress, kube)) == []


def test_the_weight_of_a_canary_ingress():
    assert canary_ingress.canary_weight(ingress(**{canary_ingress.CANARY_ANNOTATION: "true", canary_ingress.WEIGHT_ANNOTATION: "20"})) == 20
    assert canary_ingress.canary_weight(ingress(**{canary_ingress.CANARY_ANNOTATION: "true"})) is None


def test_a_non_canary_ingress_is_refused():
    with pytest.raises(InputError, match="the Ingress is not a canary"):
        canary_ingress.canary_weight(ingress())


def test_a_weight_that_is_not_a_number_is_a_data_error():
    with pytest.raises(DataError, match="'twenty', not a whole number"):
        canary_ingress.canary_weight(ingress(**{canary_ingress.CANARY_ANNOTATION: "true", canary_ingress.WEIGHT_ANNOTATION: "twenty"}))


@pytest.mark.parametrize("args, option", [({"weight": 101}, "weight"), ({"deployment": "api-canary", "replicas": -1}, "replicas")])
def test_bad_values_fail_before_any_connection(args, option):
    failed, result, _warnings = run_module(canary_ingress, {"name": "api-canary", "host": "http://127.0.0.1:1", **args})
    assert failed and result["error"]["option"] == option and result["changed"] is False


def test_replicas_needs_a_deployment():
    failed, result, _warnings = run_module(canary_ingress, {"name": "api-canary", "replicas": 0})
    assert failed and "deployment" in result["msg"]
