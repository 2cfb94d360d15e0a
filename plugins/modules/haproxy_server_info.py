#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_server_info
short_description: Read the weights and states of HAProxy servers through the runtime API, as a snapshot to restore
version_added: 0.1.0
description:
  - Reads every server of O(backends) (of every backend when not set) with its weight, its state (ready, drain, maint), its
    health and its current sessions, on one connection (C(show servers state) and C(show stat)), over a UNIX socket or TCP.
  - RV(servers) is a snapshot in the form O(ofm.rollback.haproxy_server#module:servers) takes, so passing it back restores
    the weights and states exactly.
  - The module only reads; it never reports a change.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.haproxy.runtime_api
options:
  backends:
    description:
      - The backends (or C(listen) sections) to read; every backend that has servers when not set.
      - A backend that does not exist (or has no server) fails the task, naming the backends there are.
    type: list
    elements: str
  config_file:
    description:
      - The C(haproxy.cfg) (or directory of C(*.cfg) files) the HAProxy runs with, on the host that runs the module, to check
        whether a reload keeps the runtime state (RV(reload)). Not read when not set.
    type: path
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode reads the same way.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
notes:
  - Needs a C(stats socket) at C(level operator) or above.
seealso:
  - module: ofm.rollback.haproxy_server
  - name: HAProxy runtime API
    description: The C(show servers state) and C(show stat) commands.
    link: https://docs.haproxy.org/2.6/management.html#9.3-show%20servers%20state
"""

EXAMPLES = r"""
- name: Snapshot the servers of the API backend before the change
  ofm.rollback.haproxy_server_info:
    haproxy_runtime_api: /run/haproxy/admin.sock
    backends: [ofm_api]
    config_file: /etc/haproxy/haproxy.cfg
  register: lb_before

- name: Restore them after a failed change
  ofm.rollback.haproxy_server:
    haproxy_runtime_api: /run/haproxy/admin.sock
    servers: "{{ lb_before.servers }}"
"""

RETURN = r"""
servers:
  description: Each server's weight and state, in the form O(ofm.rollback.haproxy_server#module:servers) takes.
  returned: success
  type: list
  elements: dict
  sample:
    - {backend: ofm_api, server: stable, weight: 90, state: ready}
    - {backend: ofm_api, server: canary, weight: 10, state: ready}
backends:
  description: "The same as C({backend: {server: {weight, state}}}), the section of the snapshot kind C(haproxy)."
  returned: success
  type: dict
  sample: {ofm_api: {stable: {weight: 90, state: ready}, canary: {weight: 10, state: ready}}}
details:
  description: Each server in full.
  returned: success
  type: list
  elements: dict
  sample:
    - {backend: ofm_api, server: canary, weight: 10, initial_weight: 10, state: ready, operational: running, admin_flags: [], sessions: 2}
  contains:
    weight:
      description: The weight set at run time (C(srv_uweight)).
      type: int
    initial_weight:
      description: The weight of C(haproxy.cfg) (C(srv_iweight)).
      type: int
    state:
      description: V(ready), V(drain) or V(maint), from C(srv_admin_state).
      type: str
    operational:
      description: What the health checks say, V(stopped), V(starting), V(running) or V(stopping).
      type: str
    admin_flags:
      description: The bits of C(srv_admin_state) that are set, such as V(forced maint) or V(inherited drain).
      type: list
      elements: str
    sessions:
      description: Current sessions (C(scur) of C(show stat)).
      type: int
reload:
  description: Whether a reload keeps the runtime weights and states of the backends read, from O(config_file).
  returned: success
  type: dict
  sample: {checked: false, keeps_state: null, reason: "not checked (set config_file to the haproxy.cfg HAProxy runs with)",
           state_file: null, backends: {}}
round_trips:
  description: Connections made to the runtime API.
  returned: success
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HAPROXY_RUNTIME_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy_servers import INFO_SPEC, servers_info

ARGUMENT_SPEC = {**HAPROXY_RUNTIME_SPEC, **INFO_SPEC}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        module.exit_json(**servers_info(module.params))
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=False)


if __name__ == "__main__":
    main()
