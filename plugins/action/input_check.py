# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of ofm.rollback.input_check.

On the controller, before the module checks the inputs' formats: O(role_specs), the run's variables against the argument
specs of the procedure's roles (the check ``ansible.builtin.validate_argument_spec`` makes, as the roles would see them).
One task for both checks: the emergency rollback runs them before its rollback, where every task costs time users wait
for. The module runs in the worker process when the task runs on the controller (plugin_utils/in_process.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.utils.display import Display

from ansible_collections.ofm.rollback.plugins.module_utils.input_check import incident_line, stray_words_refusal
from ansible_collections.ofm.rollback.plugins.plugin_utils.in_process import InProcessActionBase, preload

preload(__name__)

ROLES = Path(__file__).parents[2] / "roles"
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def role_options(role: str) -> dict[str, Any]:
    """The options of the main entry point of the collection's role ``role`` (its meta/argument_specs.yml)."""
    path = ROLES / role / "meta" / "argument_specs.yml"
    if not ROLE_NAME.match(role) or not path.is_file():
        known = sorted(entry.name for entry in ROLES.iterdir() if (entry / "meta" / "argument_specs.yml").is_file())
        raise ValueError(f"role_specs: {role!r} is not a role of this collection with an argument spec; accepted: {', '.join(known)}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    specs = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # nosec B506: a safe loader
    return ((specs.get("argument_specs") or {}).get("main") or {}).get("options") or {}


display = Display()

# Marks the inputs that could not be templated (finalize_task_arg), for run() to report after the stray words.
UNRESOLVED = "__ofm_unresolved_inputs__"


class ActionModule(InProcessActionBase):
    """ofm.rollback.input_check: the roles' argument specs here, the inputs' formats in the module."""

    @classmethod
    def finalize_task_arg(cls, name: str, value: Any, templar: Any, context: Any) -> Any:
        """The inputs' values are templated as usual, but a value that cannot be templated (a lookup of a missing file, a
        variable the split of a -e option left undefined) is reported by ``run``, after the stray words: they come first.
        (ansible-core 2.19 and later call this for each option; before, a failed template fails the task as usual.)"""
        try:
            return super().finalize_task_arg(name, value, templar, context)
        except Exception as exc:  # pylint: disable=broad-except  # reported by run(), with the stray words first
            if name != "inputs":
                raise
            return {UNRESOLVED: str(exc)}

    def run(self, tmp: Optional[str] = None, task_vars: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        if self._task.args.get("stray_words") is not None:  # first: the other variables may be what the split cut short
            return self._refused(stray_words_refusal(self._task.args["stray_words"]), [])
        inputs = self._task.args.get("inputs")
        if isinstance(inputs, dict) and UNRESOLVED in inputs:
            return self._refused(f"Task failed: the inputs could not be templated: {inputs[UNRESOLVED]}", [])
        roles = self._task.args.get("role_specs") or []
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            return self._refused(f"role_specs: {roles!r} is not a list of role names", [])
        try:
            spec: dict[str, Any] = {}
            for role in roles:
                spec.update(role_options(role))
        except ValueError as exc:
            return self._refused(str(exc), [])
        if spec:
            given = self._templar.template({name: task_vars[name] for name in spec if name in task_vars})
            errors = ArgumentSpecValidator(spec).validate(given, validate_role_argument_spec=True).error_messages
            if errors:
                return self._refused(f"Refused, nothing was changed: {'; '.join(errors)}.",
                                     [{"name": "", "reason": error, "accepted": "see the role's argument spec"} for error in errors])
        result = super().run(tmp, task_vars)
        if isinstance(result.get("incident"), dict) and not result.get("failed"):
            display.display(incident_line(result["incident"]))  # as the incident's assert said it, before the option moved here
        return result

    @staticmethod
    def _refused(message: str, errors: list[dict[str, str]]) -> dict[str, Any]:
        return {"failed": True, "changed": False, "checked": 0, "errors": errors, "msg": message}
