"""traffic_split_info through the real ``ansible-playbook`` against the lab's HAProxy and Prometheus."""
from __future__ import annotations

import json

import yaml

import pytest
from labtest import credentials, run_local_playbook, run_module, tls, wait_until

from lab.components.haproxy import weights

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

MEASURED_QUERY = 'sum by (version) (rate(http_requests_total{app="ofm-social-os"}[30s]))'
PLAYBOOK = [{
    "name": "Roll the canary back and wait until no request reaches it",
    "hosts": "localhost",
    "gather_facts": False,
    "module_defaults": {
        "ofm.rollback.traffic_split_info": {"haproxy_runtime_api": "{{ haproxy_socket }}", "prometheus_url": "{{ prometheus_url }}",
                                            "ca_path": "{{ ca_path }}"},
        "ofm.rollback.canary_rollback": {"haproxy_runtime_api": "{{ haproxy_socket }}", "ca_path": "{{ ca_path }}"},
    },
    "tasks": [
        {"name": "Read the split before", "ofm.rollback.traffic_split_info": {}, "register": "before"},
        {"name": "Roll back", "ofm.rollback.canary_rollback": {
            "ops_api_url": "{{ ops_api_url }}", "reason": "EMERGENCY_SLO_VIOLATION", "incident_id": "INC-9001"}},
        {"name": "Wait until all traffic is on stable", "ofm.rollback.traffic_split_info": {
            "wait_for": "all_on_stable", "wait_timeout": 150, "wait_interval": 2}, "register": "after"},
        {"name": "Save the readings", "ansible.builtin.copy": {
            "content": "{{ {'before': before, 'after': after} | to_json }}", "dest": "{{ results_file }}", "mode": "0600"}},
    ],
}]


def test_wait_for_all_on_stable_after_a_rollback(clean_lab, prometheus, tmp_path):
    assert (prometheus.value('ofm:traffic_share', "canary") or 0) > 0
    playbook = tmp_path / "rollback.yml"
    playbook.write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    results_file = tmp_path / "results.json"
    admin = credentials(clean_lab)["identities"]["admin"]
    done = run_local_playbook(playbook, tmp_path, env={"OFM_OPS_API_TOKEN": admin["token"]}, extra_vars={
        "haproxy_socket": str(clean_lab.path("run", "haproxy.sock")), "prometheus_url": clean_lab.url("prometheus"),
        "ops_api_url": clean_lab.url("ops_api"), "results_file": str(results_file), **tls(clean_lab)})
    assert done.returncode == 0, done.stdout + done.stderr
    readings = json.loads(results_file.read_text())
    before, after = readings["before"], readings["after"]
    assert before["configured"]["canary_weight"] == 10 and before["all_on_stable"] is False
    assert 0 < before["measured"]["canary_share"] < 0.5
    assert after["all_on_stable"] is True
    assert (after["configured"]["stable_weight"], after["configured"]["canary_weight"]) == (100, 0)
    assert after["measured"]["canary_share"] == 0.0 and after["measured"]["stable_share"] == 1.0
    assert after["measured"]["requests_per_second"] > 0
    assert after["polls"] > 1 and after["waited_seconds"] > 0
    assert weights(clean_lab) == {"stable": 100, "canary": 0}


def test_measured_only_reading_through_ansible(clean_lab, prometheus, tmp_path):
    # Just after a reset (the test before ends with the canary at weight 0), Prometheus may not have scraped a canary request yet.
    wait_until(lambda: (prometheus.value(MEASURED_QUERY, "canary") or 0) > 0, 30, interval=0.5, what="canary requests in Prometheus")
    run = run_module("traffic_split_info", {"prometheus_url": clean_lab.url("prometheus"), "selector": 'app="ofm-social-os"', **tls(clean_lab)}, tmp_path)
    assert not run.failed, run.stderr
    assert run.result["configured"] is None
    measured = run.result["measured"]
    assert measured["query"] == MEASURED_QUERY
    assert abs(measured["stable_share"] + measured["canary_share"] - 1.0) < 1e-6 and measured["canary_share"] > 0


def test_no_source_fails_through_ansible(tmp_path):
    run = run_module("traffic_split_info", {}, tmp_path)
    assert run.failed
    assert "one of the following is required: haproxy_runtime_api, prometheus_url" in run.result["msg"]
