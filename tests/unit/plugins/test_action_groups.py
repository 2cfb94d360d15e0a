# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module documents the action groups meta/runtime.yml puts it in, and the options its group's docs say to set in
module_defaults are options every module of that group accepts (module_defaults gives each key to each member)."""
from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml
from unithelpers import REPO_ROOT

from ansible_collections.ofm.rollback.plugins.doc_fragments import attributes

FRAGMENT = "ofm.rollback.attributes"
GROUPS: dict[str, list[str]] = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
MODULES = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")


def module(name: str) -> Any:
    return importlib.import_module(f"ansible_collections.ofm.rollback.plugins.modules.{name}")


def attribute(section: str) -> dict[str, Any]:
    text = getattr(attributes.ModuleDocFragment, f"ACTION_GROUP_{section.upper()}" if section else "DOCUMENTATION")
    return yaml.safe_load(text)["attributes"]["action_group"]


def group_section(name: str) -> str:
    """The group of the fragment section a module uses: ``ofm.rollback.attributes.action_group_<group>``, or '' for the
    default section (a module only in ``ofm``)."""
    doc = yaml.safe_load(module(name).DOCUMENTATION)
    sections = [entry[len(FRAGMENT):].lstrip(".").removeprefix("action_group_") for entry in doc.get("extends_documentation_fragment", [])
                if entry.startswith(FRAGMENT)]
    assert len(sections) == 1, f"{name} uses {FRAGMENT} {len(sections)} times"
    assert "action_group" not in (doc.get("attributes") or {}), f"{name} documents action_group itself"
    return sections[0]


# The attributes as ansible-doc shows them, fragments merged by ansible-core itself (in a process of its own: the plugin
# loader installs its collection finder, which the other tests must not get).
RENDER = """
import json, sys
from ansible.plugins.loader import fragment_loader, init_plugin_loader
from ansible.utils.plugin_docs import get_docstring
init_plugin_loader([sys.argv[1]])
print(json.dumps({name: get_docstring(f"{sys.argv[2]}/{name}.py", fragment_loader, collection_name="ofm.rollback", is_module=True)[0]
                  .get("attributes", {}).get("action_group") for name in sys.argv[3:]}))
"""


@pytest.fixture(scope="module", name="rendered")
def fixture_rendered() -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", RENDER, str(REPO_ROOT / ".collections"), str(REPO_ROOT / "plugins" / "modules"), *MODULES],
                          capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", MODULES)
def test_the_documented_groups_are_those_of_meta_runtime(name: str, rendered: dict[str, Any]):
    expected = sorted(f"ofm.rollback.{group}" for group, members in GROUPS.items() if name in members)
    assert sorted(attribute(group_section(name))["membership"]) == expected
    assert rendered[name] is not None, f"ansible-doc shows no action_group attribute for {name}"
    assert sorted(rendered[name]["membership"]) == expected


@pytest.mark.parametrize("group", sorted(set(GROUPS) - {"ofm"}))
def test_the_options_a_group_section_names_are_accepted_by_every_member(group: str):
    members = GROUPS[group]
    sections = {group_section(name) for name in members}
    assert sections == {group}, f"the members of {group} use the sections {sections}"
    said = attribute(group)["description"][0]
    named = set(re.findall(r"O\(([a-z_]+)\)", said))
    for name in members:
        accepted = set(module(name).ARGUMENT_SPEC)
        assert named <= accepted, f"group/{group} says to set {sorted(named - accepted)}, which {name} does not accept"
    if not named:  # a group whose members share no option must say so
        shared = set.intersection(*(set(module(name).ARGUMENT_SPEC) for name in members))
        assert not shared and "share no option" in said
