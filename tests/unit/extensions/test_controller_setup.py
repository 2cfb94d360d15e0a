"""extensions/awx/controller_setup.yml against the awx.awx collection's real module documentation (ansible-doc), rendered
with the variable files as ansible renders them; its syntax check; and no secret in the AWX files but vault references."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
AWX = REPO_ROOT / "extensions" / "awx"
PLAYBOOK = AWX / "controller_setup.yml"
COLLECTIONS = REPO_ROOT / ".collections"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from awx_export import BUILTIN_KINDS  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.skipif(not (COLLECTIONS / "ansible_collections" / "awx" / "awx" / "MANIFEST.json").exists(),
                                reason="awx.awx missing: run scripts/install-awx-collection.sh")

SITE_VALUES = {"ofm_awx_prometheus_url": "https://prometheus.example", "ofm_awx_statuspage_page_id": "page",
               "ofm_awx_smtp_host": "smtp.example", "ofm_awx_smtp_username": "ofm", "ofm_awx_kubernetes_host": "https://k8s.example",
               "ofm_awx_kubernetes_ca": "-----BEGIN CERTIFICATE-----"}


def env() -> dict:
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS))


RENDER = """
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar

collections, awx, playbook, site_values = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
init_plugin_loader([collections])
loader = DataLoader()
loader.set_basedir(awx)
play = loader.load_from_file(playbook, trusted_as_template=True)[0]
variables = {}
for name in play["vars_files"]:
    variables.update(loader.load_from_file(awx + "/" + name, trusted_as_template=True))
variables.update(play["vars"], **site_values)
variables["ofm_awx_secrets"] = {key: "secret-" + key for key in play["vars"]["ofm_awx_secret_keys"]}
out = []
for task in play["tasks"]:
    module = next(key for key in task if key.startswith(("awx.awx.", "ansible.builtin.")))
    items = Templar(loader=loader, variables=variables).template(task["loop"]) if "loop" in task else [None]
    for item in items:
        args = Templar(loader=loader, variables=dict(variables, item=item)).template(task[module])
        out.append((task["name"], module, {key: value for key, value in args.items() if "__omit_place_holder__" not in str(value)}))
print(json.dumps(out, default=str))
"""


@lru_cache(maxsize=1)
def rendered_tasks() -> list[tuple[str, str, dict]]:
    """(task name, module, arguments) of every task and loop item, templated by ansible with the variable files - in a
    process of its own: ansible's plugin loader installs its collection finder in the process that initializes it, and in
    the test process that finder would hide this collection from the tests that follow."""
    run = subprocess.run([sys.executable, "-c", RENDER, str(COLLECTIONS), str(AWX), str(PLAYBOOK), json.dumps(SITE_VALUES)],
                         env=env(), capture_output=True, text=True, check=True)
    return [tuple(entry) for entry in json.loads(run.stdout)]


def arguments_of(module: str) -> list[dict]:
    return [args for _name, task_module, args in rendered_tasks() if task_module == module]


@lru_cache(maxsize=1)
def module_docs() -> dict:
    modules = sorted({task[1] for task in rendered_tasks() if task[1].startswith("awx.awx.")})
    result = subprocess.run([str(BIN / "ansible-doc"), "-j", *modules], env=env(), capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def spec_from_doc(options: dict) -> dict:
    """An AnsibleModule argument spec from a module's documented options (type, choices, required, elements, suboptions)."""
    spec = {}
    for name, option in options.items():
        entry = {key: option[key] for key in ("type", "choices", "required", "elements", "aliases") if key in option}
        entry.setdefault("type", "str")
        if "suboptions" in option:
            entry["options"] = spec_from_doc(option["suboptions"])
        spec[name] = entry
    return spec


def test_every_task_is_rendered_and_covers_what_the_brief_applies():
    modules = [task[1] for task in rendered_tasks()]
    for module in ("organization", "project", "inventory", "execution_environment", "credential_type", "credential", "job_template",
                   "workflow_job_template", "team", "role"):
        assert f"awx.awx.{module}" in modules
    assert modules.count("awx.awx.job_template") == 7
    assert modules.count("awx.awx.credential_type") == 6


def test_every_task_is_accepted_by_the_awx_awx_modules_argument_spec():
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    errors = []
    for name, module, args in rendered_tasks():
        if not module.startswith("awx.awx."):
            continue
        result = ArgumentSpecValidator(spec_from_doc(module_docs()[module]["doc"]["options"])).validate(json.loads(json.dumps(args)))
        errors += [f"{name} ({module}): {message}" for message in result.error_messages]
        errors += [f"{name} ({module}): unsupported {sorted(result.unsupported_parameters)}"] if result.unsupported_parameters else []
    assert not errors


def test_the_validation_refuses_an_unknown_option_and_a_value_outside_the_choices():
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    spec = spec_from_doc(module_docs()["awx.awx.role"]["doc"]["options"])
    assert ArgumentSpecValidator(spec).validate({"team": "t", "role": "run"}).error_messages
    assert ArgumentSpecValidator(spec).validate({"team": "t", "role": "execute", "job_template_list": ["x"]}).unsupported_parameters
    assert ArgumentSpecValidator(spec).validate({"team": "t"}).error_messages


def test_credential_type_injectors_reach_awx_as_templates_and_credentials_carry_the_vaulted_secrets():
    injectors = [args["injectors"] for args in arguments_of("awx.awx.credential_type")]
    assert {"OFM_OPS_API_URL": "{{ url }}", "OFM_OPS_API_TOKEN": "{{ token }}"} in [i.get("env") for i in injectors]
    inputs = {args["name"]: args["inputs"] for args in arguments_of("awx.awx.credential")}
    assert inputs["OFM Slack"]["webhook_url"] == "secret-slack_webhook_url"


def test_rollback_templates_are_executed_by_the_admin_team_only():
    grants = arguments_of("awx.awx.role")
    executors = {args["team"] for args in grants if args["role"] == "execute" and "OFM emergency rollback" in args.get("job_templates", [])}
    assert executors == {"OFM SRE admins"}
    templates = {args["name"] for args in arguments_of("awx.awx.job_template")}
    workflows = {args["name"] for args in arguments_of("awx.awx.workflow_job_template")}
    for grant in grants:
        assert set(grant.get("job_templates", [])) <= templates and set(grant.get("workflows", [])) <= workflows, grant


def test_tasks_handling_secrets_are_no_log():
    text = PLAYBOOK.read_text()
    for task in re.split(r"\n    - name: ", text)[1:]:
        if "ofm_awx_secrets" in task or "awx.awx.credential:" in task:
            assert "no_log: true" in task, task.splitlines()[0]


def test_syntax_check_passes():
    result = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", str(PLAYBOOK)], env=env(), capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


SECRET_PATTERNS = [r"xox[bp]-[0-9A-Za-z-]{10,}", r"hooks\.slack\.com/services/", r"-----BEGIN [A-Z ]*PRIVATE KEY", r"\$ANSIBLE_VAULT",
                   r"(?i)(password|token|secret|api_key|webhook_url|session_cookie)\s*:\s*['\"]?[A-Za-z0-9+/_-]{12,}"]


def test_no_secret_in_the_awx_files_but_vault_references():
    files = [path for path in AWX.rglob("*") if path.is_file() and path.suffix in (".yml", ".yaml", ".json")]
    assert PLAYBOOK in files
    for path in files:
        text = path.read_text()
        for pattern in SECRET_PATTERNS:
            assert not re.search(pattern, text), f"{path.name}: {pattern}"
    credentials = (AWX / "credentials.yml").read_text()
    for key in ("token", "bearer_token", "password", "vault_password", "api_key", "webhook_url", "bot_token"):
        for value in re.findall(rf"\b{key}: ([^,}}\n]+)", credentials):
            assert "ofm_awx_secrets." in value, f"{key}: {value}"


@pytest.mark.skipif(shutil.which("ansible-lint", path=str(BIN)) is None, reason="ansible-lint missing")
def test_ansible_lint_production_profile_is_clean():
    result = subprocess.run([str(BIN / "ansible-lint"), "--profile", "production", "-q", str(PLAYBOOK)], env=env(), capture_output=True,
                            text=True, check=False, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


# The export: what scripts/awx_export.py makes now, in the structure awxkit's import reads.
EXPORT = AWX / "export" / "ofm-rollback.json"


def test_the_export_is_what_the_generator_makes_from_the_variable_files_now():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "awx_export.py"), "--check"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(EXPORT.read_text())
    names = {item["name"] for item in data["job_templates"]}
    assert names == {item["name"] for item in arguments_of("awx.awx.job_template")}


def awxkit_page(natural_key_type: str):
    from awxkit.api.pages import page
    from awxkit.api.resources import resources

    detail = getattr(resources, natural_key_type)
    return page.get_registered_page(detail.replace(r"\d+", "1"))


def list_endpoint(resource: str) -> str:
    from awxkit.api.resources import resources

    return re.sub(r"\\d\+/$", "", getattr(resources, resource))


def foreign_keys(asset: dict):
    """(where, natural key) of every reference the import resolves with get_by_natural_key: fields, attach sets, roles."""
    for field, value in asset.items():
        if isinstance(value, dict) and "type" in value and field != "natural_key":
            yield field, value
    for name, related in asset.get("related", {}).items():
        if isinstance(related, list):
            for item in related:
                if name == "roles":
                    yield "roles", item["content_object"]
                elif "natural_key" in item:
                    yield from foreign_keys(item)
                else:
                    yield name, item


def test_the_export_has_the_structure_awxkit_imports():
    from awxkit.api.mixins import has_create
    from awxkit.api.pages.api import EXPORTABLE_RESOURCES
    from awxkit.api.utils import freeze, remove_encrypted

    data = json.loads(EXPORT.read_text())
    assert set(data) <= set(EXPORTABLE_RESOURCES)
    known = {}
    for resource, assets in data.items():
        for asset in assets:
            key = asset["natural_key"]
            page_class = awxkit_page(key["type"])
            assert set(key) - {"type"} == set(page_class.NATURAL_KEY), (resource, key)
            assert list_endpoint(key["type"]) == list_endpoint(resource), (resource, key["type"])
            assert freeze(key) not in known, f"duplicate {key}"
            known[freeze(key)] = resource
            for node in asset.get("related", {}).get("workflow_nodes", []):
                assert set(node["natural_key"]) - {"type"} == set(awxkit_page(node["natural_key"]["type"]).NATURAL_KEY)
                known[freeze(node["natural_key"])] = "workflow_job_templates"
    # The order awxkit's import creates the resources in (ApiV2._dependent_resources).
    order = [cls.__name__ for cls in itertools.chain(*has_create.page_creation_order(
        *[awxkit_page(assets[0]["natural_key"]["type"]) for assets in data.values()]))]
    builtin_types = {freeze({"name": name, "kind": kind, "type": "credential_type"}) for name, kind in BUILTIN_KINDS.items()}
    unresolved = []
    for resource, assets in data.items():
        for asset in assets:
            for where, key in foreign_keys(asset):
                if freeze(key) in builtin_types:
                    continue
                if freeze(key) not in known:
                    unresolved.append((asset["name"], where, key))
                elif asset.get(where) == key and known[freeze(key)] != resource:
                    # A foreign key field is resolved when the asset is posted: its target is created earlier (related sets and
                    # workflow nodes are assigned after every resource).
                    target = awxkit_page(key["type"]).__name__
                    assert order.index(target) < order.index(awxkit_page(asset["natural_key"]["type"]).__name__), (asset["name"], where)
    assert not unresolved
    for credential in data["credentials"]:
        assert all(value != "$encrypted$" for value in remove_encrypted(credential["inputs"]).values())


def test_the_export_grants_execute_on_the_rollback_templates_to_the_admin_team_only_and_keeps_the_failure_paths():
    from awxsurvey import spec_errors

    data = json.loads(EXPORT.read_text())
    executors = {team["name"] for team in data["teams"] for role in team["related"]["roles"]
                 if role["name"] == "Execute" and role["content_object"]["name"] == "OFM emergency rollback"}
    assert executors == {"OFM SRE admins"}
    workflow = data["workflow_job_templates"][0]["related"]
    failure = {node["identifier"]: [target["identifier"] for target in node["related"]["failure_nodes"]] for node in workflow["workflow_nodes"]}
    assert failure["rollback"] == ["tell-identified"] and failure["validate"] == ["tell-identified"]
    for template in data["job_templates"] + data["workflow_job_templates"]:
        assert not spec_errors(template["related"]["survey_spec"]), template["name"]
