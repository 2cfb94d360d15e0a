# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of ofm.rollback.rollback_begin: the lease, the run journal, the SLO gate and the authorization in one task
(plugin_utils/begin.py), each module with its own options and its module_defaults."""

from __future__ import annotations

from typing import Any, Optional

from ansible import constants as C
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.ofm.rollback.plugins.modules.rollback_begin import ARGUMENT_SPEC
from ansible_collections.ofm.rollback.plugins.plugin_utils.begin import PARTS, Begin
from ansible_collections.ofm.rollback.plugins.plugin_utils.in_process import InProcessActionBase, module_main, preload, run_in_process

try:  # ansible-core 2.19 and later
    from ansible.executor.module_common import _apply_action_arg_defaults
except ImportError:  # pragma: no cover - ansible-core before 2.19
    _apply_action_arg_defaults = None  # pylint: disable=invalid-name

display = Display()


def without_nulls(options: dict[str, Any]) -> dict[str, Any]:
    """A part's options without those set to null."""
    return {key: value for key, value in options.items() if value is not None}


for _part_module in PARTS.values():
    preload(f"ofm.rollback.{_part_module}")


class ActionModule(InProcessActionBase):
    """ofm.rollback.rollback_begin: runs its four modules in the worker, the reads at once, when the task runs on the controller;
    else executes them as modules, one after the other."""

    def run(self, tmp: Optional[str] = None, task_vars: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = ActionBase.run(self, tmp, task_vars)  # not InProcessActionBase.run: this task has no module of its own to run
        validated = ArgumentSpecValidator(ARGUMENT_SPEC, required_one_of=[list(PARTS)]).validate(dict(self._task.args))
        if validated.error_messages:
            return {**result, "failed": True, "msg": f"ofm.rollback.rollback_begin: {validated.errors.msg}"}
        # Each part with the module_defaults its module's own task would get (connection settings, the play's journal).
        # An option set to null in a part is left out, as omit leaves out an option of a task: module_defaults may set it.
        given = {part: validated.validated_parameters.get(part) for part in PARTS}
        args = {part: None if value is None else self._with_module_defaults(f"ofm.rollback.{PARTS[part]}", without_nulls(value))
                for part, value in given.items()}
        mains = {module: module_main(module) for module in PARTS.values()} if self._in_process_allowed(task_vars) else {}
        concurrent = bool(mains) and all(mains.values())
        check_mode = bool(self._task.check_mode)

        def run_module(module: str, module_args: dict[str, Any]) -> dict[str, Any]:
            if concurrent:
                return run_in_process(mains[module], module_args, check_mode)
            return self._execute_module(module_name=f"ofm.rollback.{module}", module_args=module_args, task_vars=task_vars)

        result.update(Begin(args, run_module, concurrent=concurrent, check_mode=check_mode).run())
        # Why the gate let a rollback through without a confirmed breach, or stopped it: said at once, as the task's own words.
        reasons = (result.get("gate") or {}).get("reasons") or []
        if reasons:
            display.display("\n".join(str(reason) for reason in reasons), color=C.COLOR_WARN)
        return result

    def _with_module_defaults(self, action: str, module_args: dict[str, Any]) -> dict[str, Any]:
        """``module_args`` over the module_defaults of ``action`` and of its action groups, as the task of that module would get them."""
        if _apply_action_arg_defaults is not None:
            return _apply_action_arg_defaults(action, self._task, module_args, self._templar)
        # pylint: disable-next=import-outside-toplevel,no-name-in-module
        from ansible.executor.module_common import get_action_args_with_defaults

        return get_action_args_with_defaults(action, module_args, self._task.module_defaults, self._templar,
                                             action_groups=self._task._parent._play._action_groups)  # pylint: disable=protected-access
