"""Write (or check) extensions/awx/export/ofm-rollback.json, the AWX objects of extensions/awx/*.yml in the format of
`awx export` / `awx import` (awxkit): the same variable files controller_setup.yml applies, so the two cannot drift.

    python3 scripts/awx_export.py           # write the export
    python3 scripts/awx_export.py --check   # exit 1 if the file is not what the variable files make now

Each asset carries its POST fields, its foreign keys as natural keys (awxkit's NATURAL_KEY of its page class, plus
`type`), its `related` sets (credentials, survey_spec, workflow_nodes, roles) and its own `natural_key`, as awxkit's
ApiV2._export writes them. Secret credential inputs are `$encrypted$` (awxkit's import drops them: set them afterwards, or
apply controller_setup.yml with the vaulted secrets); inputs that are site values (ofm_awx_* variables) are left out.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from jinja2.nativetypes import NativeEnvironment

ROOT = Path(__file__).resolve().parents[1]
AWX = ROOT / "extensions" / "awx"
EXPORT = AWX / "export" / "ofm-rollback.json"
ENCRYPTED = "$encrypted$"
# AWX's built-in credential types used by credentials.yml: their kind (part of a credential type's natural key).
BUILTIN_KINDS = {"Vault": "vault", "OpenShift or Kubernetes API Bearer Token": "kubernetes"}
# AWX's role names (the `name` of a role's natural key) for controller_roles' role values.
ROLE_NAMES = {"execute": "Execute", "read": "Read", "admin": "Admin"}


def load(name: str) -> dict:
    return yaml.safe_load((AWX / name).read_text())


def render(value, variables: dict):
    if isinstance(value, str) and "{{" in value:
        return NativeEnvironment().from_string(value).render(**variables)
    return value


def organization_key(name: str) -> dict:
    return {"name": name, "type": "organization"}


def build() -> dict:
    templates_file, rbac = load("job_templates.yml"), load("rbac.yml")
    credential_types = load("credential_types.yml")["controller_credential_types"]
    credentials = load("credentials.yml")["controller_credentials"]
    workflows = load("workflows.yml")["controller_workflows"]
    play = yaml.safe_load((AWX / "controller_setup.yml").read_text())[0]
    site = play["vars"]
    # The literal arguments of the playbook's single-object tasks (descriptions, pull policy, SCM settings).
    tasks = {next(key for key in task if key.startswith("awx.awx.")): next(value for key, value in task.items() if key.startswith("awx.awx."))
             for task in play["tasks"] if "loop" not in task and any(key.startswith("awx.awx.") for key in task)}
    org = organization_key(templates_file["ofm_awx_organization"])
    ee = {"name": templates_file["ofm_awx_execution_environment"], "type": "execution_environment"}
    project = {"organization": org, "name": templates_file["ofm_awx_project"], "type": "project"}
    inventory = {"organization": org, "name": templates_file["ofm_awx_inventory"], "type": "inventory"}
    kinds = dict(BUILTIN_KINDS, **{item["name"]: item["kind"] for item in credential_types})

    def type_key(name: str) -> dict:
        return {"name": name, "kind": kinds[name], "type": "credential_type"}

    def credential_key(name: str) -> dict:
        item = next(item for item in credentials if item["name"] == name)
        return {"organization": organization_key(item["organization"]), "name": name, "credential_type": type_key(item["credential_type"]),
                "type": "credential"}

    def template_key(name: str) -> dict:
        return {"organization": org, "name": name, "type": "job_template"}

    def workflow_key(name: str) -> dict:
        return {"organization": org, "name": name, "type": "workflow_job_template"}

    def inputs(values: dict) -> dict:
        out = {}
        for key, value in values.items():
            if isinstance(value, str) and "ofm_awx_secrets" in value:
                out[key] = ENCRYPTED
            elif not (isinstance(value, str) and "{{" in value):
                out[key] = value
        return out

    def nodes(workflow: dict) -> list:
        wf_key = workflow_key(workflow["name"])
        out = []
        for node in workflow["workflow_nodes"]:
            related = node.get("related", {})
            out.append({
                "identifier": node["identifier"],
                "workflow_job_template": wf_key,
                "unified_job_template": template_key(node["unified_job_template"]["name"]),
                "extra_data": node.get("extra_data", {}),
                "all_parents_must_converge": node.get("all_parents_must_converge", False),
                "natural_key": {"workflow_job_template": wf_key, "identifier": node["identifier"], "type": "workflow_job_template_node"},
                "related": {kind: [{"workflow_job_template": wf_key, "identifier": target["identifier"], "type": "workflow_job_template_node"}
                                   for target in related.get(kind, [])]
                            for kind in ("success_nodes", "failure_nodes", "always_nodes")},
            })
        return out

    def roles(team: str) -> list:
        out = []
        for grant in rbac["controller_roles"]:
            if grant["team"] != team:
                continue
            for kind, key in (("job_templates", template_key), ("workflows", workflow_key)):
                for name in render(grant.get(kind, []), rbac):
                    out.append({"name": ROLE_NAMES[grant["role"]], "type": "role", "content_object": key(name)})
        return out

    ee_task, project_task = tasks["awx.awx.execution_environment"], tasks["awx.awx.project"]
    return {
        "organizations": [{"name": org["name"], "description": tasks["awx.awx.organization"]["description"], "natural_key": org}],
        "execution_environments": [{"name": ee["name"], "description": ee_task["description"],
                                    "organization": org, "image": site["ofm_awx_execution_environment_image"], "pull": ee_task["pull"],
                                    "natural_key": ee}],
        "projects": [{"name": project["name"], "organization": org, "scm_type": project_task["scm_type"],
                      "scm_url": site["ofm_awx_project_scm_url"], "scm_branch": site["ofm_awx_project_scm_branch"],
                      "scm_update_on_launch": project_task["scm_update_on_launch"], "default_environment": ee, "natural_key": project}],
        "inventory": [{"name": inventory["name"], "organization": org,
                       "description": tasks["awx.awx.inventory"]["description"], "natural_key": inventory}],
        "credential_types": [{"name": item["name"], "description": item["description"], "kind": item["kind"], "inputs": item["inputs"],
                              "injectors": item["injectors"], "natural_key": type_key(item["name"])} for item in credential_types],
        "credentials": [{"name": item["name"], "organization": organization_key(item["organization"]),
                         "credential_type": type_key(item["credential_type"]), "inputs": inputs(item["inputs"]),
                         "natural_key": credential_key(item["name"])} for item in credentials],
        "job_templates": [{"name": item["name"], "description": item["description"], "job_type": "run", "playbook": item["playbook"],
                           "inventory": inventory, "project": project, "execution_environment": ee, "ask_job_type_on_launch": True,
                           "survey_enabled": item["survey_enabled"], "natural_key": template_key(item["name"]),
                           "related": {"credentials": [credential_key(name) for name in item["credentials"]], "survey_spec": item["survey_spec"]}}
                          for item in templates_file["controller_templates"]],
        "workflow_job_templates": [{"name": item["name"], "description": item["description"], "organization": org,
                                    "survey_enabled": item["survey_enabled"], "natural_key": workflow_key(item["name"]),
                                    "related": {"survey_spec": item["survey_spec"], "workflow_nodes": nodes(item)}} for item in workflows],
        "teams": [{"name": item["name"], "description": item["description"], "organization": organization_key(item["organization"]),
                   "natural_key": {"organization": organization_key(item["organization"]), "name": item["name"], "type": "team"},
                   "related": {"roles": roles(item["name"])}} for item in rbac["controller_teams"]],
    }


def text() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the export is not what the variable files make")
    args = parser.parse_args()
    if args.check:
        if not EXPORT.exists() or EXPORT.read_text() != text():
            print(f"{EXPORT.relative_to(ROOT)} is stale: run python3 scripts/awx_export.py", file=sys.stderr)
            return 1
        return 0
    EXPORT.parent.mkdir(parents=True, exist_ok=True)
    EXPORT.write_text(text())
    print(f"wrote {EXPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
