# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's inventory: localhost, with the running lab's ports and credentials read once, when the inventory is parsed."""

from __future__ import annotations

DOCUMENTATION = r"""
name: lab
short_description: The lab's inventory, with the running lab's wiring read once
version_added: 1.0.0
description:
  - The inventory of the collection's lab (the embedded default environment, C(inventories/lab)), the host C(localhost)
    with a local connection and the controller's Python.
  - It reads the lab's state files once, when the inventory is parsed, and sets their contents as plain values of the host
    (V(ofm_lab_state_dir), V(ofm_lab) from C(lab.json), V(ofm_lab_credentials) from C(credentials.json)). The lab's
    C(group_vars) build every URL and secret from them.
  - A lookup of those files in C(group_vars) would run again each time a task templates one of the values (tens of times in
    every task of an emergency rollback); read once, the tasks template plain values.
  - When a state file is missing (the lab is not up) the variable holds the lookup instead, so that a task using it fails
    naming the missing file, and a play that does not use it runs.
options:
  plugin:
    description: The name of this plugin, so that the C(auto) inventory plugin loads it.
    required: true
    type: str
    choices: [ofm.rollback.lab]
  state_dir:
    description:
      - The lab's state directory (written by C(lab up)).
      - Default is the environment variable E(OFM_LAB_STATE_DIR), else C(.lab) two directories above this file (the
        checkout's root).
    type: path
"""

EXAMPLES = r"""
# inventories/lab/hosts.yml
plugin: ofm.rollback.lab
"""

import json
import os

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

try:
    from ansible.template import trust_as_template

    def never_templated(value):
        return value  # ansible-core 2.19 and later template only the strings trusted as templates

except ImportError:  # ansible-core before 2.19 templates every string it is given, unless it is marked unsafe
    from ansible.utils.unsafe_proxy import wrap_var as never_templated

    def trust_as_template(value):
        return value

STATE_FILES = {"ofm_lab": "lab.json", "ofm_lab_credentials": "credentials.json"}


def default_state_dir(inventory_file: str) -> str:
    """OFM_LAB_STATE_DIR, else the checkout's ``.lab`` (the inventory file is in ``<checkout>/inventories/lab``)."""
    return os.environ.get("OFM_LAB_STATE_DIR") or os.path.join(os.path.dirname(os.path.abspath(inventory_file)), "..", "..", ".lab")


def state_values(state_dir: str) -> dict:
    """The host's variables from the state directory: each file's JSON (data, never templated), or, for a file that is
    missing, the lookup that names it when a task needs it."""
    values = {"ofm_lab_state_dir": os.path.realpath(state_dir)}
    for variable, name in STATE_FILES.items():
        path = os.path.join(values["ofm_lab_state_dir"], name)
        try:
            with open(path, encoding="utf-8") as handle:
                values[variable] = never_templated(json.load(handle))
        except FileNotFoundError:
            values[variable] = trust_as_template("{{ lookup('ansible.builtin.file', %r) | from_json }}" % path)
        except (OSError, ValueError) as exc:
            raise AnsibleParserError(f"the lab's state file {path} cannot be read: {exc}") from exc
    return values


class InventoryModule(BaseInventoryPlugin):
    """localhost and the lab's wiring (see DOCUMENTATION)."""

    NAME = "ofm.rollback.lab"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith((".yml", ".yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        state_dir = self.get_option("state_dir") or default_state_dir(path)
        host = self.inventory.add_host("localhost")
        self.inventory.set_variable(host, "ansible_connection", "local")
        self.inventory.set_variable(host, "ansible_python_interpreter", trust_as_template("{{ ansible_playbook_python }}"))
        for variable, value in state_values(state_dir).items():
            self.inventory.set_variable(host, variable, value)
