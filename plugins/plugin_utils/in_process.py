# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module inside the Ansible worker process when the task runs on the controller.

Every module task normally starts a new Python process that unpacks the module and compiles
``ansible.module_utils.basic`` again: about half a second to a second and a half on a loaded two-core
machine, while the HTTP calls these modules make take milliseconds. On the emergency path that
start-up is most of the playbook's own time. When a task of one of these modules runs on the
controller itself (connection ``local``, no ``become``, no task ``environment``, not ``async``), its action plugin
runs the module's ``main()`` in the worker process that Ansible forks for the task, with
:class:`InProcessModule` in place of ``AnsibleModule``; ansible.netcommon runs network modules in
the worker the same way. Everywhere else the module is executed as usual, and so is a task whose module needs a
library the controller's Python lacks (``InProcessActionBase.requires``): the module's own interpreter may have it.

The in-process path validates the arguments with ansible-core's ``ArgumentSpecValidator`` (the
validator ``AnsibleModule`` uses), removes ``no_log`` values from the result, and returns the
result shape a module returns (``invocation``, ``warnings``, ``failed``, ``msg``). Set the
variable ``ofm_in_process: false`` to always execute the module as a separate process.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from typing import Any, Callable, Optional

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.ofm.rollback.plugins.plugin_utils import bytecode

MODULE_PACKAGE = "ansible_collections.ofm.rollback.plugins.modules"
VALIDATOR_OPTIONS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")
_WARMED = False


class ModuleExit(Exception):
    """Raised by ``exit_json``/``fail_json`` to end the module's ``main()`` with its result."""

    def __init__(self, result: dict[str, Any]):
        super().__init__(result.get("msg", ""))
        self.result = result


class InProcessModule:
    """The part of ``AnsibleModule`` the collection's modules use, for a run inside the worker.

    Construct it with the keyword arguments of ``AnsibleModule``; ``module_args`` and ``check_mode`` come from the task.
    """

    def __init__(self, argument_spec: dict[str, Any], *, module_args: dict[str, Any], check_mode: bool, name: str,
                 supports_check_mode: bool = False, **rules: Any):
        unknown = set(rules) - set(VALIDATOR_OPTIONS)
        if unknown:
            raise TypeError(f"InProcessModule does not support {sorted(unknown)}")
        self.check_mode = check_mode and supports_check_mode
        self._warnings: list[str] = []
        validated = ArgumentSpecValidator(argument_spec, **rules).validate(_plain(module_args))
        self.no_log_values = set(validated._no_log_values)  # pylint: disable=protected-access
        self.params = validated.validated_parameters
        if validated.error_messages:
            error = validated.errors.errors[0]
            prefix = f"Unsupported parameters for ({name}) module: " if isinstance(error, UnsupportedError) else ""
            self.fail_json(msg=prefix + validated.errors.msg)

    def warn(self, warning: str) -> None:
        self._warnings.append(warning)

    def exit_json(self, **result: Any) -> None:
        raise ModuleExit(self._formatted(result))

    def fail_json(self, msg: str, **result: Any) -> None:
        raise ModuleExit(self._formatted({**result, "failed": True, "msg": msg}))

    def _formatted(self, result: dict[str, Any]) -> dict[str, Any]:
        result.setdefault("invocation", {"module_args": self.params})
        if self._warnings:
            result["warnings"] = list(self._warnings)
        preserved = {key: value for key, value in result.items() if value is None or isinstance(value, bool)}
        cleaned = remove_values(result, self.no_log_values)
        cleaned.update(preserved)
        return cleaned


def _plain(value: Any) -> Any:
    """The task's arguments as plain JSON types, as a module process would receive them."""
    return json.loads(json.dumps(value, default=str))


def run_in_process(main: Callable[..., None], module_args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Call a module's ``main(module_class)`` and return its result."""
    name = main.__module__.rsplit(".", 1)[-1]

    def module_class(argument_spec: dict[str, Any], **kwargs: Any) -> InProcessModule:
        return InProcessModule(argument_spec, module_args=module_args, check_mode=check_mode, name=name, **kwargs)

    try:
        main(module_class)
    except ModuleExit as done:
        return done.result
    return {"failed": True, "msg": "the module ended without a result"}


def warm_templating_plugins() -> None:
    """Load the Jinja filter and test plugins and the lookups that inventories use, in the controller's main process.

    Each task runs in a worker process forked from the main one, and templating its arguments loads every built-in
    filter and test plugin, and each lookup with its documentation (parsed as YAML for its options), unless the main
    process has loaded them before the fork: then every worker finds them in memory. The main process templates too
    little to load them itself, so each worker paid for it, 20 to 40 ms a task on a two-core machine.
    """
    # pylint: disable-next=import-outside-toplevel
    from ansible.plugins.loader import filter_loader, lookup_loader, test_loader

    for loader, names in ((filter_loader, ("ansible.builtin.to_json",)), (test_loader, ("ansible.builtin.match",)),
                          (lookup_loader, ("ansible.builtin.env", "ansible.builtin.file", "ansible.builtin.template"))):
        for name in names:
            try:
                loader.get(name, class_only=True)
            except Exception:  # pylint: disable=broad-except  # a warm-up: the task loads what it needs itself
                pass


def preload(action_module_name: str) -> None:
    """Import the module of an action plugin (and so its module_utils and requests) in the process that loads the plugin.

    The linear and free strategies load an action plugin's class in the controller's main process before they fork
    the task's worker, so a module imported here is already in memory in every worker: the in-process path then
    costs no import at all. Nothing happens when a library the module needs is missing (the module then runs as
    a process, see ``InProcessActionBase``).
    """
    global _WARMED  # pylint: disable=global-statement
    if not _WARMED:
        _WARMED = True
        warm_templating_plugins()
    try:
        importlib.import_module(f"{MODULE_PACKAGE}.{action_module_name.rsplit('.', 1)[-1]}")
    except ImportError:
        pass


def module_main(name: str) -> Optional[Callable[..., None]]:
    """The ``main`` of the collection's module ``name`` (short or fully qualified), or None when it cannot be imported here
    (a library it needs is missing on the controller: it then runs the usual way)."""
    bytecode.install()  # at run time, not on import (ansible-test's import sanity forbids that): the module from __pycache__
    try:
        module = importlib.import_module(f"{MODULE_PACKAGE}.{name.rsplit('.', 1)[-1]}")
    except ImportError:
        return None
    return getattr(module, "main", None)


class InProcessActionBase(ActionBase):
    """Action plugin of a module that can run in the worker process; see the module docstring."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True
    # Libraries the module needs besides ansible-core: when the controller's Python lacks one, the module runs as a process.
    requires: tuple[str, ...] = ()

    def run(self, tmp: Optional[str] = None, task_vars: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        main = self._in_process_main(task_vars)
        if main is None:
            result.update(self._execute_module(task_vars=task_vars))
            return result
        # The result as a module process returns it: the module decides what it holds (a "diff" is kept in the
        # registered result whether or not --diff shows it).
        result.update(run_in_process(main, dict(self._task.args), bool(self._task.check_mode)))
        return result

    def _in_process_main(self, task_vars: dict[str, Any]) -> Optional[Callable[..., None]]:
        """The module's ``main`` when this task can run in the worker, else None."""
        if not self._in_process_allowed(task_vars):
            return None
        if any(importlib.util.find_spec(library) is None for library in self.required_libraries(self._task.args)):
            return None
        return module_main(self._task.resolved_action or self._task.action)

    def _in_process_allowed(self, task_vars: dict[str, Any]) -> bool:
        """Whether this task may run its module in the worker: on the controller itself, as its own user, not async."""
        if not boolean(task_vars.get("ofm_in_process", True), strict=False):
            return False
        if self._connection.transport != "local" or self._task.async_val or any(self._task.environment or []):
            return False
        return not self._play_context.become  # with become the module must run as the become user, in a process of its own

    def required_libraries(self, module_args: dict[str, Any]) -> tuple[str, ...]:  # pylint: disable=unused-argument
        """The libraries this task's module needs (``requires``, unless an action plugin says otherwise for these arguments)."""
        return self.requires
