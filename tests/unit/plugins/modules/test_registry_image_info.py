# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""registry_image_info's main() against a fake Docker Registry v2 (the real registry is in the integration tests)."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from unithelpers import REGISTRY_DIGEST as DIGEST
from unithelpers import REGISTRY_PASSWORD as PASSWORD
from unithelpers import FakeRegistry
from unithelpers import documented_options, free_port, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client as http_client_fragment
from ansible_collections.ofm.rollback.plugins.modules import registry_image_info

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")


@pytest.fixture(name="registry")
def fixture_registry() -> Iterator[FakeRegistry]:
    server = FakeRegistry("basic")
    yield server
    server.close()


def run(args: dict[str, Any], check_mode: bool = False) -> tuple[bool, dict[str, Any]]:
    failed, result, _warnings = run_module(registry_image_info, {"retries": 0, **args}, check_mode=check_mode)
    return failed, result


def test_reports_found_and_missing_images_without_a_change(registry):
    failed, result = run({"registry_url": registry.url, "registry_username": "bot", "registry_password": PASSWORD,
                          "images": ["registry.ofm.social/ofm/api:1", "ofm/api:7"]}, check_mode=True)
    assert not failed, result
    assert result["changed"] is False
    expected = [("registry.ofm.social/ofm/api:1", True, DIGEST), ("ofm/api:7", False, None)]
    assert [(i["image"], i["exists"], i["digest"]) for i in result["images"]] == expected
    assert (result["missing"], result["all_exist"]) == (["ofm/api:7"], False)
    assert "1 of 2 image(s) found" in result["msg"]
    assert PASSWORD not in repr(result)


def test_wrong_credentials_fail_clearly(registry):
    failed, result = run({"registry_url": registry.url, "registry_username": "bot", "registry_password": "wrong", "images": ["ofm/api:1"]})
    assert failed
    assert result["error"]["type"] == "AuthenticationError" and "with the given credentials" in result["msg"]


@pytest.mark.parametrize("args, option", [
    ({"registry_url": "registry.example.com", "images": ["ofm/api:1"]}, "registry_url"),
    ({"registry_url": "https://registry.example.com", "images": ["Not An Image"]}, "images"),
    ({"registry_url": "https://registry.example.com", "images": []}, "images"),
])
def test_bad_input_names_the_option_and_sends_nothing(args, option):
    failed, result = run(args)
    assert failed and result["error"]["option"] == option
    assert result["requests"] == []


def test_unreachable_registry():
    failed, result = run({"registry_url": f"http://127.0.0.1:{free_port()}", "images": ["ofm/api:1"], "timeout": 2})
    assert failed and result["error"]["type"] == "UnavailableError"


def test_documentation_matches_the_argument_spec():
    assert mismatches(registry_image_info.ARGUMENT_SPEC, documented_options(registry_image_info, http_client_fragment)) == []
