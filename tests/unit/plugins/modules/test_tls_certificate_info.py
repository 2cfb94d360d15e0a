# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls_certificate_info's main() against a local TLS server that presents the tests' certificates by SNI (tests/unit/tls_pki.py)."""
from __future__ import annotations

import pytest
from unithelpers import documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.modules import tls_certificate_info

NAMES = ("valid.ofm.test", "expired.ofm.test", "wronghost.ofm.test", "untrusted.ofm.test", "soon.ofm.test")


@pytest.mark.usefixtures("module_runner")
class TestModule:
    """main() as a module process runs it and in process as the action plugin does (fixture module_runner)."""

    def test_fails_on_the_three_failures_and_reports_every_endpoint(self, tls_pki, tls_server):
        endpoints = [{"host": "127.0.0.1", "port": tls_server.port, "server_name": name} for name in NAMES]
        failed, result, warnings = run_module(tls_certificate_info, {"endpoints": endpoints, "ca_path": str(tls_pki["bundle"]), "timeout": 5},
                                              check_mode=True)
        assert failed and result["changed"] is False
        assert [entry["ok"] for entry in result["endpoints"]] == [True, False, False, False, True]
        assert [[problem["kind"] for problem in entry["problems"]] for entry in result["endpoints"]] == [
            [], ["expired"], ["hostname"], ["untrusted"], ["soon"]]
        assert result["failed_endpoints"] == [f"127.0.0.1:{tls_server.port} ({name})" for name in NAMES[1:4]]
        assert result["msg"].startswith("2 of 5 TLS endpoint(s) ok; ")
        assert warnings == [f"127.0.0.1:{tls_server.port} (soon.ofm.test): " + result["endpoints"][4]["problems"][0]["message"]]

    def test_passes_when_every_endpoint_is_fine(self, tls_pki, tls_server):
        failed, result, _warnings = run_module(tls_certificate_info, {
            "endpoints": [{"host": "127.0.0.1", "port": tls_server.port, "server_name": "valid.ofm.test"}], "ca_path": str(tls_pki["bundle"])})
        assert not failed and result["changed"] is False and result["failed_endpoints"] == []
        assert result["msg"] == "1 of 1 TLS endpoint(s) ok"
        assert result["endpoints"][0]["certificate"]["subject"] == "CN=valid.ofm.test"

    def test_soon_fails_the_task_when_listed_in_fail_on(self, tls_pki, tls_server):
        failed, result, warnings = run_module(tls_certificate_info, {
            "endpoints": [{"host": "127.0.0.1", "port": tls_server.port, "server_name": "soon.ofm.test"}], "ca_path": str(tls_pki["bundle"]),
            "fail_on": ["soon"]})
        assert failed and warnings == [] and "fewer than min_days_valid 14" in result["msg"]

    def test_bad_input_names_the_option(self, tls_pki):
        failed, result, _warnings = run_module(tls_certificate_info, {"endpoints": [{"host": "a", "port": 0}], "ca_path": str(tls_pki["bundle"])})
        assert failed and result["error"]["option"] == "endpoints[0].port" and "1 to 65535" in result["msg"]
        failed, result, _warnings = run_module(tls_certificate_info, {"endpoints": [{"host": "a"}], "min_days_valid": -3})
        assert failed and result["error"]["option"] == "min_days_valid"
        failed, result, _warnings = run_module(tls_certificate_info, {"endpoints": [{"host": "a"}], "ca_path": "/nonexistent/ca.pem"})
        assert failed and result["error"]["option"] == "ca_path"
        failed, result, _warnings = run_module(tls_certificate_info, {"endpoints": [{"host": "a"}], "fail_on": ["late"]})
        assert failed and "fail_on" in result["msg"] and "late" in result["msg"]


def test_documentation_matches_the_argument_spec():
    assert mismatches(tls_certificate_info.ARGUMENT_SPEC, documented_options(tls_certificate_info)) == []
