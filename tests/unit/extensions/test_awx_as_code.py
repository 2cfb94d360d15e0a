# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""extensions/awx, the job templates, surveys, credential types, workflow and RBAC as code: what AWX would refuse, and what
the collection would not read, fails here (no AWX runs on this machine; the answers run for real in the integration tests)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from awxsurvey import answer_errors, choices_of, defaults_of, spec_errors

REPO_ROOT = Path(__file__).resolve().parents[3]
AWX = REPO_ROOT / "extensions" / "awx"


def load(name: str) -> dict:
    return yaml.safe_load((AWX / name).read_text())


TEMPLATES = load("job_templates.yml")["controller_templates"]
WORKFLOWS = load("workflows.yml")["controller_workflows"]
CREDENTIAL_TYPES = load("credential_types.yml")["controller_credential_types"]
CREDENTIALS = load("credentials.yml")["controller_credentials"]
SURVEYS = [(item["name"], item["survey_spec"]) for item in TEMPLATES + WORKFLOWS]
# AWX's own credential types the templates use.
BUILT_IN_TYPES = {"OpenShift or Kubernetes API Bearer Token", "Vault"}


def repository_yaml() -> str:
    """The playbooks and roles as text: where a variable a survey sets must be read."""
    return "\n".join(path.read_text() for folder in ("playbooks", "roles") for path in sorted((REPO_ROOT / folder).rglob("*.yml")))


def role_option_choices() -> dict[str, list]:
    choices = {}
    for spec_file in (REPO_ROOT / "roles").glob("*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(spec_file.read_text())["argument_specs"] or {}).values():
            for name, option in (entry.get("options") or {}).items():
                if "choices" in option:
                    choices[name] = [str(choice) for choice in option["choices"]]
    return choices


@pytest.mark.parametrize("name, survey", SURVEYS, ids=[name for name, _survey in SURVEYS])
def test_every_survey_is_one_awx_accepts_and_its_defaults_launch(name, survey):
    assert spec_errors(survey) == [], name
    assert answer_errors(survey, defaults_of(survey)) == [] or any(q["required"] and q.get("default", "") == "" for q in survey["spec"])


@pytest.mark.parametrize("name, survey", SURVEYS, ids=[name for name, _survey in SURVEYS])
def test_every_survey_variable_is_read_by_the_playbooks_and_its_choices_accepted_by_the_roles(name, survey):
    text, options = repository_yaml(), role_option_choices()
    for question in survey["spec"]:
        variable = question["variable"]
        assert re.search(rf"\b{re.escape(variable)}\b", text), f"{name}: nothing reads {variable}"
        if variable in options:
            assert set(choices_of(question)) <= set(options[variable]), f"{name}: {variable} offers what the role refuses"


def test_the_validator_refuses_what_awx_refuses():
    """The rules above can fail: each broken survey is refused for its own reason."""
    question = {"type": "multiplechoice", "question_name": "q", "variable": "v", "required": True, "default": "a", "choices": ["a", "b"]}
    good = {"name": "s", "description": "d", "spec": [question]}
    assert spec_errors(good) == []
    broken = [
        ({"spec": []}, "'spec' holds no question"),
        ({"spec": [{**good["spec"][0], "default": "c"}]}, "not one of the choices"),
        ({"spec": [{**good["spec"][0], "type": "radio"}]}, "is not one of"),
        ({"spec": [{**good["spec"][0], "required": "yes"}]}, "'required' missing or not a bool"),
        ({"spec": [good["spec"][0], good["spec"][0]]}, "twice"),
        ({"spec": [{"type": "integer", "question_name": "n", "variable": "n", "required": False, "default": "5"}]}, "not of type integer"),
        ({"spec": [{"type": "text", "question_name": "t", "variable": "t", "required": False, "min": "1"}]}, "min must be an integer"),
    ]
    for change, reason in broken:
        errors = spec_errors({**good, **change})
        assert errors and any(reason in error for error in errors), (change, errors)
    text = {"name": "s", "description": "d", "spec": [
        {"type": "text", "question_name": "t", "variable": "t", "required": True, "min": 3, "max": 5},
        {"type": "integer", "question_name": "n", "variable": "n", "required": False, "min": 0, "max": 9}]}
    assert answer_errors(text, {"t": "abcd", "n": 3}) == []
    assert len(answer_errors(text, {"t": "ab", "n": 10})) == 2 and answer_errors(text, {}) == ["t: required"]


def test_every_template_runs_a_playbook_of_the_collection_with_credentials_that_exist():
    names = {credential["name"] for credential in CREDENTIALS}
    types = {credential_type["name"] for credential_type in CREDENTIAL_TYPES} | BUILT_IN_TYPES
    assert {credential["credential_type"] for credential in CREDENTIALS} <= types
    for template in TEMPLATES:
        assert (REPO_ROOT / template["playbook"]).is_file(), template["name"]
        assert set(template["credentials"]) <= names, template["name"]
        assert not any(question["type"] == "password" for question in template["survey_spec"]["spec"]), "secrets come from credentials"


def test_credential_types_inject_only_what_the_collection_reads_and_mark_secrets():
    code = "\n".join(path.read_text() for path in (REPO_ROOT / "plugins").rglob("*.py"))
    env_read = set(re.findall(r'env_fallback, \[([^\]]*)\]', code))
    env_names = {name.strip().strip('"') for group in env_read for name in group.split(",")}
    text = repository_yaml() + (REPO_ROOT / "inventories" / "lab" / "group_vars" / "all" / "lab.yml").read_text()
    for credential_type in CREDENTIAL_TYPES:
        fields = {field["id"]: field for field in credential_type["inputs"]["fields"]}
        injected = credential_type["injectors"]
        for variable, template in {**injected.get("env", {}), **injected.get("extra_vars", {})}.items():
            field = re.fullmatch(r"\{\{ (\w+) \}\}", template).group(1)
            assert field in fields, (credential_type["name"], variable)
            if variable in injected.get("env", {}):
                assert variable in env_names, f"{credential_type['name']}: no module reads {variable}"
            else:
                assert re.search(rf"\b{variable}\b", text), f"{credential_type['name']}: nothing reads {variable}"
        for field in fields.values():
            if re.search(r"token|password|key|cookie|webhook", field["id"]):
                assert field.get("secret") is True, (credential_type["name"], field["id"])


def test_the_workflow_reaches_every_node_and_tells_on_failure():
    templates = {template["name"] for template in TEMPLATES}
    for workflow in WORKFLOWS:
        nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
        assert all(node["unified_job_template"]["name"] in templates for node in nodes.values())
        linked = {target["identifier"] for node in nodes.values() for kind in ("success_nodes", "failure_nodes")
                  for target in node.get("related", {}).get(kind, [])}
        assert linked <= set(nodes) and set(nodes) - linked == {workflow["workflow_nodes"][0]["identifier"]}
        # Every job that can fail has a failure path that tells.
        for node in nodes.values():
            if node.get("related", {}).get("success_nodes"):
                assert node["related"].get("failure_nodes"), node["identifier"]


def test_only_the_admin_team_executes_a_rollback():
    rbac = load("rbac.yml")
    rollbacks = set(rbac["ofm_awx_rollback_templates"])
    assert rollbacks <= {template["name"] for template in TEMPLATES}
    executes = [role for role in rbac["controller_roles"] if role["role"] == "execute"]
    assert {role["team"] for role in executes} == {"OFM SRE admins"}
