# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad module options (injection in names and ids, a header break, unknown enum values, out-of-range numbers): each module
refuses them before it sends anything, naming the option and what it accepts.

Every case runs the module's main() with AnsibleModule's argument spec (as a module process would). Each system option points
at one local HTTP server that records every request it receives: a refused case leaves it with none, not even a Kubernetes
API discovery; a module whose message must not block a rollback (``required: false``) refuses with a warning instead.
The other modules' bad options are in their own tests, tagged with the same marker (test_canary_rollback, test_pg_pitr_restore,
test_incident_record_info, test_input_check, tests/integration/test_bad_inputs.py for the playbooks).
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from unithelpers import ScriptedService, run_module

EXPECTED = "refused before any change"


def case(module: str, args: dict[str, Any], option: str, accepted: str, shown: str, *, warns: bool = False) -> Any:
    return pytest.param(module, args, option, accepted, warns, id=f"{module}-{option}-{shown[:20]}",
                        marks=pytest.mark.reliability("bad-input", procedure=module, case=f"{option}={shown}", expected=EXPECTED))


KUBE = {"host": "{url}", "api_key": "kube-token"}
EMAIL = {"host": "127.0.0.1", "port": 9, "security": "none", "allow_insecure": True, "incident_id": "INC-8802", "subject": "OFM incident",
         "recipients": [{"email": "creator_1@creators.example.com"}], "from_address": "OFM Social <status@ofm.example.com>",
         "template": "{dir}/mail.j2", "ledger": "{dir}/emails.json"}
COMMS = {"method": "webhook", "webhook_url": "{url}/services/T0/B0/X0", "incident_id": "INC-8802", "ledger": "{dir}/comms.json",
         "messages": [{"key": "engineering.declared", "channel": "#engineering", "text": "declared"}]}
PAGE = {"api_url": "{url}/v1", "page_id": "page1", "api_key": "page-key", "name": "OFM API degraded", "status": "identified"}

CASES = [
    case("k8s_rollout_undo", {**KUBE, "name": "../../../api/v1/namespaces/ofm-production/secrets/ofm"}, "name", "a Kubernetes name",
         "'../../../api/v1/namespaces/ofm-production/secrets/ofm'"),
    case("k8s_rollout_undo", {**KUBE, "name": "ofm-social-os-api", "namespace": "ofm-production?dryRun=None"}, "namespace",
         "a Kubernetes name", "'ofm-production?dryRun=None'"),
    case("k8s_rollout_undo", {**KUBE, "name": "ofm-social-os-api", "to_revision": -2}, "to_revision", "0 or more", "-2"),
    case("k8s_rollout_undo", {**KUBE, "name": "ofm-social-os-api", "wait_timeout": 0}, "wait_timeout", "a number above 0", "0"),
    case("k8s_rollout_info", {**KUBE, "name": "ofm-social-os-api", "kind": "CronJob"}, "kind", "Deployment, StatefulSet, DaemonSet",
         "'CronJob'"),
    case("argo_rollout", {**KUBE, "name": "ofm/../kube-system", "action": "status"}, "name", "a Kubernetes name", "'ofm/../kube-system'"),
    case("argo_rollout", {**KUBE, "name": "ofm-social-os-api-rollout", "action": "explode"}, "action", "abort, undo, retry, promote",
         "'explode'"),
    case("customer_email", {**EMAIL, "from_address": "status@ofm.example.com\r\nBcc: attacker@example.com"}, "from_address",
         "an address such as", "'status@ofm.example.com\\r\\nBcc: attacker@example.com'"),
    case("customer_email", {**EMAIL, "reply_to": "nobody"}, "reply_to", "an address such as", "'nobody'"),
    case("customer_email", {**EMAIL, "rate": 0}, "rate", "at most 100 messages per second", "0"),
    case("incident_comms", {**COMMS, "incident_id": "INC-1\r\nX-Injected: yes"}, "incident_id", "INC-<digits>", "'INC-1\\r\\nX-Injected: yes'"),
    case("incident_comms", {**COMMS, "messages": [{"key": "../../etc/passwd", "channel": "#engineering", "text": "x"}]}, "messages",
         "^[a-z0-9_.-]+$", "[{'key': '../../etc/passwd'}]"),
    case("audit_log_info", {"incident_id": "INC-1' OR '1'='1", "path": "{dir}/audit.jsonl"}, "incident_id", "INC-<digits>",
         "\"INC-1' OR '1'='1\""),
    case("statuspage_incident", {**PAGE, "status": "fixed"}, "status", "investigating, identified, monitoring, resolved", "'fixed'"),
    case("statuspage_incident", {**PAGE, "components": {"cmp1": "exploded"}}, "components", "operational, degraded_performance",
         "{'cmp1': 'exploded'}", warns=True),
    case("notify", {"method": "carrier-pigeon", "webhook_url": "{url}/services/T0/B0/X0", "channel": "#ops-alerts", "text": "x"}, "method",
         "auto, webhook, api", "'carrier-pigeon'"),
    case("notify", {"method": "webhook", "webhook_url": "file:///etc/passwd", "channel": "#ops-alerts", "text": "x"}, "webhook_url",
         "https://hooks.slack.com", "'file:///etc/passwd'", warns=True),
    case("slo_check", {"prometheus_url": "{url}", "sustain": "-1m"}, "sustain", "a Prometheus duration", "'-1m'"),
    case("slo_check", {"prometheus_url": "{url}", "scope": "everything"}, "scope", "canary, stable, both", "'everything'"),
    case("rollback_gate", {"prometheus_url": "{url}", "max_sample_age": "soon"}, "max_sample_age", "a Prometheus duration", "'soon'"),
    case("rollback_gate", {"prometheus_url": "{url}", "haproxy_runtime_api": "{url}", "measure_window": "30s",
                           "selector": 'app="api"}) or vector(1'}, "selector", "matchers without braces", "'app=\"api\"}) or vector(1'"),
    case("change_window_info", {"days": ["funday"], "start": "02:00", "end": "05:00"}, "days", "mon, tue, wed", "['funday']"),
]


@pytest.fixture(name="recorder")
def fixture_recorder() -> Iterator[ScriptedService]:
    """A local HTTP server that records every request (and answers 200 to any)."""
    server = ScriptedService()
    yield server
    server.close()


def filled(value: Any, url: str, directory: Path) -> Any:
    return json.loads(json.dumps(value).replace("{url}", url).replace("{dir}", str(directory)))


@pytest.mark.parametrize("module, args, option, accepted, warns", CASES)
def test_a_bad_option_is_refused_before_anything_is_sent(recorder, tmp_path, reliability, module, args, option, accepted, warns):
    (tmp_path / "mail.j2").write_text("Hello {{ recipient.email }}, about {{ incident_id }}.\n")
    failed, result, warnings = run_module(importlib.import_module(f"ansible_collections.ofm.rollback.plugins.modules.{module}"),
                                          filled(args, recorder.url, tmp_path))
    said = " ".join(warnings) if warns else result["msg"]
    assert failed is not warns and not result.get("changed"), result
    assert option in said and accepted in said, said
    assert "\n" not in said and "\r" not in said, "a value cannot forge a line of the output"
    assert recorder.received == [], [request.path for request in recorder.received]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mail.j2"], "nothing written: no ledger, no state"
    reliability.observed(f"{'warned (required: false)' if warns else 'failed'}, nothing sent: names {option}, shows {accepted}")
