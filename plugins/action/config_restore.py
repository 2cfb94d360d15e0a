# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of ofm.rollback.config_restore: restores on the controller, where the run's vault secrets are."""

from __future__ import annotations

from typing import Any

from ansible_collections.ofm.rollback.plugins.action.config_snapshot import ConfigAction
from ansible_collections.ofm.rollback.plugins.module_utils.config.workflow import restore_config
from ansible_collections.ofm.rollback.plugins.modules.config_restore import ARGUMENT_SPEC
from ansible_collections.ofm.rollback.plugins.plugin_utils.vault import opener


class ActionModule(ConfigAction):
    """ofm.rollback.config_restore."""

    name = "ofm.rollback.config_restore"
    spec = ARGUMENT_SPEC

    def act(self, params: dict[str, Any], task_vars: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
        return restore_config(params, open_secret=opener(self._loader), check_mode=check_mode, diff=diff)
