# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of module_utils.config.kinds.EXTERNAL_SPEC other than the AWS ones (doc fragment ofm.rollback.aws): one dict
    # option per external kind (kept in step by a unit test).
    DOCUMENTATION = r"""
options: {}
"""
