# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of ofm.rollback.rollback_authorize: runs the module in the worker process when the task runs on the controller."""

from __future__ import annotations

from ansible_collections.ofm.rollback.plugins.plugin_utils.in_process import InProcessActionBase, preload

preload(__name__)


class ActionModule(InProcessActionBase):
    """ofm.rollback.rollback_authorize, in process on the controller (see plugin_utils/in_process.py)."""
