# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of module_utils.config.kinds.EXTERNAL_SPEC other than the AWS ones (doc fragment ofm.rollback.aws): one dict
    # option per external kind (kept in step by a unit test).
    DOCUMENTATION = r"""
options:
  alb:
    description:
      - The target-group weights (C(ForwardConfig)) of an AWS Application Load Balancer's listener default actions and rules,
        through the AWS options.
      - A restore writes each listener or rule that differs with one C(modify_listener) or C(modify_rule) call.
    type: dict
    suboptions:
      load_balancer:
        description:
          - The name of the load balancer.
        type: str
        required: true
      listener_port:
        description:
          - The port of the listener to snapshot; every listener when not set.
        type: int
      timeout:
        description:
          - Seconds to wait for AWS to answer a request.
        type: float
        default: 30.0
  routes:
    description:
      - The backend weights (C(spec.to) and C(spec.alternateBackends)) of OpenShift Routes (C(route.openshift.io/v1)) of one
        namespace, through the Kubernetes connection options.
      - A restore writes each Route that differs with one merge patch of its whole backend list.
    type: dict
    suboptions:
      namespace:
        description:
          - The namespace of the Routes.
        type: str
        required: true
      names:
        description:
          - The Routes to snapshot; every Route of the namespace when not set.
        type: list
        elements: str
      timeout:
        description:
          - Seconds to wait for the API server to answer a request.
        type: float
        default: 30.0
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
