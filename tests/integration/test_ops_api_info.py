"""ops_api_info through the real ``ansible`` command against the lab's ops API stand-in."""
from __future__ import annotations

import pytest
from labtest import credentials, run_module, tls

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab


@pytest.mark.parametrize("identity, credential, expected", [
    ("admin", ("OFM_OPS_API_SESSION", "session"), (True, True, ["admin"])),
    ("operator", ("OFM_OPS_API_SESSION", "session"), (True, False, ["operator"])),
    ("viewer", ("OFM_OPS_API_TOKEN", "token"), (True, False, ["viewer"])),
])
def test_identity_of_each_role(lab, tmp_path, identity, credential, expected):
    env_name, field = credential
    secret = credentials(lab)["identities"][identity][field]
    run = run_module("ops_api_info", {"ops_api_url": lab.url("ops_api"), **tls(lab)}, tmp_path, env={env_name: secret})
    assert not run.failed, run.stderr
    assert (run.result["authenticated"], run.result["is_admin"], run.result["roles"]) == expected
    assert run.result["health"]["service"] == "ofm-internal-ops" and run.result["changed"] is False
    assert secret not in run.stdout + run.stderr


def test_no_credentials_are_not_authenticated(lab, tmp_path):
    run = run_module("ops_api_info", {"ops_api_url": lab.url("ops_api"), **tls(lab)}, tmp_path)
    assert not run.failed, run.stderr
    assert (run.result["authenticated"], run.result["is_admin"], run.result["roles"]) == (False, False, [])
