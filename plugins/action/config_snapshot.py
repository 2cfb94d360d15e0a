# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of ofm.rollback.config_snapshot: takes the snapshot on the controller, where the run's vault secrets are.

``ConfigAction`` is also the base of ofm.rollback.config_restore's action plugin.
"""

from __future__ import annotations

import getpass
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.ofm.rollback.plugins.module_utils.config.workflow import finished, take_snapshot, validated
from ansible_collections.ofm.rollback.plugins.modules.config_snapshot import ARGUMENT_SPEC
from ansible_collections.ofm.rollback.plugins.plugin_utils.vault import sealer


def operator(task_vars: dict[str, Any]) -> str:
    """Who takes the snapshot: the AWX job's user when AWX runs it, else the controller's user."""
    for name in ("awx_user_name", "tower_user_name"):
        if task_vars.get(name):
            return str(task_vars[name])
    return getpass.getuser()


class ConfigAction(ActionBase):
    """An action that runs on the controller only: its options validated against ``spec`` as a module's are, its result
    without the values of ``no_log`` options."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    name = ""
    spec: dict[str, Any] = {}

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        params, no_log, error = validated(self.spec, self._task.args, self.name)
        if error:
            return finished({**result, "failed": True, "changed": False, "msg": error}, no_log)
        done = self.act(params, task_vars or {}, bool(self._task.check_mode or self._play_context.check_mode),
                        bool(self._task.diff or self._play_context.diff))
        return finished({**result, **done}, no_log)

    def act(self, params: dict[str, Any], task_vars: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
        raise NotImplementedError


class ActionModule(ConfigAction):
    """ofm.rollback.config_snapshot."""

    name = "ofm.rollback.config_snapshot"
    spec = ARGUMENT_SPEC

    def act(self, params: dict[str, Any], task_vars: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
        return take_snapshot(params, seal=sealer(self._loader, params["vault_id"]), taken_by=params["taken_by"] or operator(task_vars),
                             check_mode=check_mode)
