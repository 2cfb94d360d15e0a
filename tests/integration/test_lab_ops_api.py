"""The ops API stand-in: production auth answers, and an admin's rollback moves all traffic to stable."""
from __future__ import annotations

from typing import Any

import pytest
from labtest import bearer, credentials, lab_call, lab_request, wait_until

from lab.components.haproxy import weights
from lab.config import LabConfig

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab


def rollback(lab: LabConfig, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    """POST the canary rollback to the ops API stand-in: the status and the answer."""
    return lab_request(f"{lab.url('ops_api')}/internal/ops/canary/rollback", "POST", body, headers)


def test_no_credentials_is_401(clean_lab):
    assert rollback(clean_lab, {"reason": "x"}, {}) == (401, {"error": "Authentication required"})
    assert weights(clean_lab) == {"stable": 90, "canary": 10}


def test_viewer_and_operator_are_403_with_their_roles(clean_lab):
    identities = credentials(clean_lab)["identities"]
    viewer = rollback(clean_lab, {"reason": "x"}, bearer(identities["viewer"]["token"]))
    assert viewer == (403, {"error": "Insufficient permissions", "required": "admin", "current": ["viewer"]})
    operator = rollback(clean_lab, {"reason": "x"}, {"Cookie": f"connect.sid={identities['operator']['session']}"})
    assert operator == (403, {"error": "Insufficient permissions", "required": "admin", "current": ["operator"]})
    assert weights(clean_lab) == {"stable": 90, "canary": 10}


def test_admin_rollback_moves_all_traffic_to_stable(clean_lab, prometheus):
    admin = credentials(clean_lab)["identities"]["admin"]
    wait_until(lambda: (prometheus.value("ofm:traffic_share", "canary") or 0) > 0.05, 60, what="canary carrying traffic")
    status, body = rollback(clean_lab, {"reason": "EMERGENCY_SLO_VIOLATION", "incident_id": "INC-4242"},
                            {"Cookie": f"connect.sid={admin['session']}"})
    assert status == 200 and body["ok"] is True and body["message"] == "Canary rollback initiated"
    assert weights(clean_lab) == {"stable": 100, "canary": 0}
    wait_until(lambda: prometheus.value("ofm:traffic_share", "stable") == 1.0, 90, what="100 % of measured traffic on stable")

    newest = lab_call(f"{clean_lab.url('ops_api')}/internal/audit?action=canary.rollback&limit=1", headers=bearer(admin["token"]))["logs"][0]
    assert newest["actor_email"] == admin["email"]
    assert newest["meta"]["reason"] == "EMERGENCY_SLO_VIOLATION"
