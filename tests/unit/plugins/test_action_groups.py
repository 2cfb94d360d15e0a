# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module documents the action groups meta/runtime.yml puts it in, and the options its group's docs say to set in
module_defaults are options every module of that group accepts (module_defaults gives each key to each member)."""
from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
import yaml
from unithelpers import REPO_ROOT

from ansible_collections.ofm.rollback.plugins.doc_fragments import action_group

FRAGMENT = "ofm.rollback.action_group"
GROUPS: dict[str, list[str]] = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
MODULES = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")


def module(name: str) -> Any:
    return importlib.import_module(f"ansible_collections.ofm.rollback.plugins.modules.{name}")


def attribute(section: str) -> dict[str, Any]:
    text = getattr(action_group.ModuleDocFragment, section.upper() if section else "DOCUMENTATION")
    return yaml.safe_load(text)["attributes"]["action_group"]


def group_section(name: str) -> str:
    """The fragment section a module uses: ``ofm.rollback.action_group.<section>`` (the default section is '')."""
    doc = yaml.safe_load(module(name).DOCUMENTATION)
    sections = [entry[len(FRAGMENT):].lstrip(".") for entry in doc.get("extends_documentation_fragment", []) if entry.startswith(FRAGMENT)]
    assert len(sections) == 1, f"{name} uses {FRAGMENT} {len(sections)} times"
    assert "action_group" not in (doc.get("attributes") or {}), f"{name} documents action_group itself"
    return sections[0]


@pytest.mark.parametrize("name", MODULES)
def test_the_documented_groups_are_those_of_meta_runtime(name: str):
    documented = attribute(group_section(name))["membership"]
    assert sorted(documented) == sorted(f"ofm.rollback.{group}" for group, members in GROUPS.items() if name in members)


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
