"""Who may roll back, judged in Python: the admin list, the ops API's admin role, the cluster's RBAC when the ops API is down."""
from __future__ import annotations

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.authorize import Refused, authorize, message
from ansible_collections.ofm.rollback.plugins.module_utils.errors import CertificateError, DataError, DeadlineExceeded, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import Identity


class Probe:
    """The ops API's answer (an Identity or an error), counting the questions."""

    def __init__(self, answer):
        self.answer, self.calls = answer, 0

    def __call__(self):
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


ADMIN = Identity(True, True, ["admin"], "the admin-only logs probe answered")
VIEWER = Identity(True, False, ["viewer"], "lacks role 'admin'")
NOT_AUTHENTICATED = Identity(False, False, [], "not authenticated")


def judge(operator, answer, admins=(), confirm=True, rbac=True):
    probe = Probe(answer)
    return authorize(operator, list(admins), confirm_with_ops_api=confirm, rbac_fallback=rbac, probe=probe), probe


def refusal(operator, answer, **kwargs) -> str:
    with pytest.raises(Refused) as caught:
        judge(operator, answer, **kwargs)
    text = str(caught.value)
    assert text.endswith("Nothing was changed."), text
    return text


def test_a_listed_admin_is_authorized_without_asking_the_ops_api():
    result, probe = judge("alice", ADMIN, admins=["alice"])
    assert result["authorized"] is True and result["authority"] == "incident_admins list" and probe.calls == 0
    assert message(result) == "alice may roll back: incident_admins list"


def test_the_ops_api_admin_role_authorizes_with_one_question():
    result, probe = judge("bob", ADMIN)
    assert result["authorized"] is True and result["authority"] == "ops API (admin role)" and probe.calls == 1
    assert result["is_admin"] is True and result["roles"] == ["admin"] and not result["ops_api_down"]


@pytest.mark.parametrize("operator", ["", "   "])
def test_an_unknown_operator_is_refused_before_any_question(operator):
    text = refusal(operator, ADMIN)
    assert text.startswith("Refused: the operator is unknown") and "-e rollback_operator=<your user>" in text


@pytest.mark.parametrize("answer, roles", [(VIEWER, "viewer"), (NOT_AUTHENTICATED, "none")])
def test_a_reachable_ops_api_without_the_admin_role_refuses_naming_the_roles(answer, roles):
    text = refusal("vic", answer)
    assert f"Refused: vic is not in incident_admins and the ops API reports the roles {roles}; the admin role is required." in text


def test_without_confirming_with_the_ops_api_only_the_list_authorizes():
    assert "the ops API was not asked" in refusal("vic", ADMIN, confirm=False)
    result, probe = judge("alice", ADMIN, admins=["alice"], confirm=False)
    assert result["authorized"] and probe.calls == 0


@pytest.mark.parametrize("error", [UnavailableError("connection refused", system="ops_api"), DeadlineExceeded("budget of 5 s spent", system="ops_api")])
def test_an_unreachable_ops_api_leaves_the_verdict_to_the_clusters_rbac_or_refuses_without_it(error):
    result, _probe = judge("carol", error)
    assert result["authorized"] is None and result["needs_rbac"] and result["ops_api_down"] and result["authority"] is None
    assert str(error) in result["ops_api_down_reason"] and "the cluster's RBAC is asked" in message(result)
    text = refusal("carol", error, rbac=False)
    assert "the ops API could not be asked (" in text and "could not be asked either (RBAC authority disabled)" in text


@pytest.mark.parametrize("error", [DataError("the answer is not JSON", system="ops_api"),
                                   CertificateError("certificate verify failed", problem="untrusted", option="ca_path", system="ops_api")])
def test_an_ops_api_failing_otherwise_fails_with_its_own_error_not_a_refusal_nor_the_rbac(error):
    # An untrusted certificate is not "unreachable": the cluster's RBAC must not stand in for a server that may be an impostor.
    with pytest.raises(type(error)) as caught:
        judge("dave", error)
    assert not isinstance(caught.value, Refused)
