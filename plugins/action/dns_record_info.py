# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of ofm.rollback.dns_record_info: runs the module in the worker process when the task runs on the controller."""

from __future__ import annotations

from typing import Any

from ansible_collections.ofm.rollback.plugins.plugin_utils.in_process import InProcessActionBase, preload

preload(__name__)


class ActionModule(InProcessActionBase):
    """ofm.rollback.dns_record_info, in process on the controller (see plugin_utils/in_process.py)."""

    requires = ("dns",)

    def required_libraries(self, module_args: dict[str, Any]) -> tuple[str, ...]:
        """dnspython always; boto3 for the Route53 backend."""
        return ("dns", "boto3") if module_args.get("backend") == "route53" else self.requires
