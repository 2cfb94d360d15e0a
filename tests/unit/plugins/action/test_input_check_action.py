"""The input_check action plugin reads the argument specs of the collection's roles, and refuses a role it does not have."""
from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ofm.rollback.plugins.action.input_check import role_options


def test_a_roles_main_options_are_read_from_its_argument_spec():
    options = role_options("slo_gate")
    assert options["slo_gate_window"]["type"] == "str" and "slo_gate_unknown_is" in options
    errors = ArgumentSpecValidator(options).validate({"slo_gate_scope": "maybe"}, validate_role_argument_spec=True).error_messages
    assert errors and "slo_gate_scope" in errors[0] and "maybe" in errors[0]


@pytest.mark.parametrize("role", ["no_such_role", "../../etc", "Slo_Gate", "preflight/../slo_gate"])
def test_an_unknown_role_or_a_path_is_refused_naming_the_roles_that_have_a_spec(role):
    with pytest.raises(ValueError) as refused:
        role_options(role)
    assert f"role_specs: {role!r}" in str(refused.value) and "canary_rollback" in str(refused.value) and "slo_gate" in str(refused.value)
