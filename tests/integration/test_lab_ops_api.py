"""The ops API stand-in: production auth answers, and an admin's rollback moves all traffic to stable."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from labtest import credentials, wait_until

from lab.components.haproxy import weights


def post(url: str, body: dict, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def rollback_url(lab) -> str:
    return f"{lab.url('ops_api')}/internal/ops/canary/rollback"


def test_no_credentials_is_401(clean_lab):
    assert post(rollback_url(clean_lab), {"reason": "x"}, {}) == (401, {"error": "Authentication required"})
    assert weights(clean_lab) == {"stable": 90, "canary": 10}


def test_viewer_and_operator_are_403_with_their_roles(clean_lab):
    identities = credentials(clean_lab)["identities"]
    viewer = post(rollback_url(clean_lab), {"reason": "x"}, {"Authorization": f"Bearer {identities['viewer']['token']}"})
    assert viewer == (403, {"error": "Insufficient permissions", "required": "admin", "current": ["viewer"]})
    operator = post(rollback_url(clean_lab), {"reason": "x"}, {"Cookie": f"connect.sid={identities['operator']['session']}"})
    assert operator == (403, {"error": "Insufficient permissions", "required": "admin", "current": ["operator"]})
    assert weights(clean_lab) == {"stable": 90, "canary": 10}


def test_admin_rollback_moves_all_traffic_to_stable(clean_lab, prometheus):
    admin = credentials(clean_lab)["identities"]["admin"]
    wait_until(lambda: (prometheus.value("ofm:traffic_share", "canary") or 0) > 0.05, 60, what="canary carrying traffic")
    status, body = post(rollback_url(clean_lab), {"reason": "EMERGENCY_SLO_VIOLATION", "incident_id": "INC-4242"},
                        {"Cookie": f"connect.sid={admin['session']}"})
    assert status == 200 and body["ok"] is True and body["message"] == "Canary rollback initiated"
    assert weights(clean_lab) == {"stable": 100, "canary": 0}
    wait_until(lambda: prometheus.value("ofm:traffic_share", "stable") == 1.0, 90, what="100 % of measured traffic on stable")

    request = urllib.request.Request(f"{clean_lab.url('ops_api')}/internal/audit?action=canary.rollback&limit=1",
                                     headers={"Authorization": f"Bearer {admin['token']}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        newest = json.load(response)["logs"][0]
    assert newest["actor_email"] == admin["email"]
    assert newest["meta"]["reason"] == "EMERGENCY_SLO_VIOLATION"
