# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of module_utils.config.kinds.EXTERNAL_SPEC other than the AWS ones (doc fragment ofm.rollback.aws): one dict
    # option per external kind (kept in step by a unit test).
    DOCUMENTATION = r"""
options:
  haproxy:
    description:
      - The weights and states (ready, drain, maint) of the servers of an HAProxy's backends, through its runtime API.
      - A restore writes each backend that differs on one connection; a server added since the snapshot is put in maint.
    type: dict
    suboptions:
      runtime_api:
        description:
          - The runtime API address (a C(stats socket) of C(haproxy.cfg), C(level admin) to restore), a UNIX socket path or V(host:port).
        type: str
        required: true
      backends:
        description:
          - The backends to snapshot or restore; every backend when not set.
        type: list
        elements: str
      timeout:
        description:
          - Seconds to wait for HAProxy to accept a connection and answer.
        type: float
        default: 5.0
"""
