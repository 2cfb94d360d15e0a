#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_server
short_description: Set the weights and states (ready, drain, maint) of HAProxy servers through the runtime API
version_added: 0.1.0
description:
  - Makes each server of O(servers) have the weight and the state asked for, in any number of backends, over a UNIX socket or
    TCP. Reads every server first (one C(show servers state)); a backend or server that does not exist, a weight outside
    0 to 256 or an unknown state fails the task before anything is sent.
  - Sends only what differs, as C(set server <backend>/<server> weight|state) commands separated by C(;) on one connection,
    servers leaving the traffic (drain, maint) first and servers coming back (ready) last; then reads the servers back.
  - Can wait until the servers put in drain or maint, or at weight 0, have no session left (O(wait_drained)).
  - HAProxy forgets runtime changes when it reloads unless it loads them from a state file; with O(config_file) the module
    checks that configuration (RV(reload)), and it warns when a change may not survive a reload.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.haproxy.runtime_api
options:
  servers:
    description:
      - The servers and what each should be. A setting left out stays as it is; each server may appear once.
    type: list
    elements: dict
    required: true
    suboptions:
      backend:
        description: Name of the backend (or C(listen) section).
        type: str
        required: true
      server:
        description: Name of the server in O(servers[].backend).
        type: str
        required: true
      weight:
        description: Absolute weight, 0 to 256; 0 sends the server no new traffic.
        type: int
      state:
        description:
          - V(ready) takes traffic; V(drain) takes no new traffic but the sessions it holds (and persistent ones) go on;
            V(maint) takes no traffic and its health checks stop.
        type: str
        choices: [ready, drain, maint]
  wait_drained:
    description:
      - Wait until every server of O(servers) that should be in V(drain) or V(maint), or at weight 0, has no current session
        (C(scur) of C(show stat)), polling every O(wait_interval) seconds for at most O(wait_timeout) seconds.
      - The task fails at the deadline, with the servers' last session counts in RV(drained); what was written stays written.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the drain at most.
    type: float
    default: 300.0
  wait_interval:
    description: Seconds between two readings of the sessions.
    type: float
    default: 1.0
  config_file:
    description:
      - The C(haproxy.cfg) (or directory of C(*.cfg) files) the HAProxy runs with, on the host that runs the module, to check
        whether a reload keeps the runtime state (RV(reload)). Not read when not set.
    type: path
attributes:
  check_mode:
    support: full
    description: Reads the servers and returns the commands it would send in RV(commands); no write command is sent and it does not wait.
  diff_mode:
    support: full
    description: Shows the weight and state of each server of O(servers) before and after.
notes:
  - Needs a C(stats socket) at C(level admin). One connection reads, one writes (more only past 15,000 characters of commands),
    one reads back.
  - The state reported is the one C(set server state) sets, from C(srv_admin_state); a server tracking another inherits its
    maint or drain, which this module cannot change on the tracking server (the task then fails naming it).
  - The runtime state survives a reload only with C(server-state-file) in C(global), C(load-server-state-from-file) in the
    backend or its C(defaults), and a reload procedure that writes C(show servers state) to that file first.
seealso:
  - module: ofm.rollback.haproxy_server_info
  - name: HAProxy runtime API
    description: The C(set server) and C(show servers state) commands.
    link: https://docs.haproxy.org/2.6/management.html#9.3-set%20server
"""

EXAMPLES = r"""
- name: Take the canary out of the traffic and wait until its sessions are gone
  ofm.rollback.haproxy_server:
    haproxy_runtime_api: /run/haproxy/admin.sock
    servers:
      - {backend: ofm_api, server: canary, state: drain}
      - {backend: ofm_api, server: stable, weight: 100, state: ready}
    wait_drained: true
    wait_timeout: 120
    config_file: /etc/haproxy/haproxy.cfg

- name: Snapshot the weights and states of two backends
  ofm.rollback.haproxy_server_info:
    haproxy_runtime_api: 127.0.0.1:9999
    backends: [ofm_api, ofm_media]
  register: lb_before

- name: Later, restore them exactly (over TCP)
  ofm.rollback.haproxy_server:
    haproxy_runtime_api: 127.0.0.1:9999
    servers: "{{ lb_before.servers }}"
"""

RETURN = r"""
servers:
  description: Each server of O(servers) after the task (in check mode, as it would be).
  returned: success
  type: list
  elements: dict
  sample:
    - {backend: ofm_api, server: canary, weight: 10, initial_weight: 10, state: drain, operational: running, admin_flags: [forced drain]}
  contains:
    backend:
      description: The backend.
      type: str
    server:
      description: The server.
      type: str
    weight:
      description: The weight set at run time (C(srv_uweight)).
      type: int
    initial_weight:
      description: The weight of C(haproxy.cfg) (C(srv_iweight)).
      type: int
    state:
      description: V(ready), V(drain) or V(maint).
      type: str
    operational:
      description: What the health checks say, V(stopped), V(starting), V(running) or V(stopping).
      type: str
    admin_flags:
      description: The bits of C(srv_admin_state) that are set, such as V(forced maint) or V(inherited drain).
      type: list
      elements: str
commands:
  description: The commands sent, in order; in check mode the commands that would be sent.
  returned: always
  type: list
  elements: str
  sample: [set server ofm_api/canary state drain, set server ofm_api/stable weight 100]
drained:
  description:
    - The drain wait, null without O(wait_drained) (or when no server drains). C(sessions) are the last counts per C(backend/server).
  returned: success or a failed wait
  type: dict
  sample: {sessions: {ofm_api/canary: 0}, polls: 4, waited_seconds: 3.02}
reload:
  description: Whether a reload keeps the runtime weights and states of the backends of O(servers), from O(config_file).
  returned: success
  type: dict
  sample: {checked: true, keeps_state: false, reason: "/etc/haproxy/haproxy.cfg has no server-state-file in its global section",
           state_file: null, backends: {ofm_api: false}}
  contains:
    checked:
      description: False when O(config_file) is not set.
      type: bool
    keeps_state:
      description: True when every backend loads its servers' state from a state file at start; null when not checked.
      type: bool
    reason:
      description: Why.
      type: str
    state_file:
      description: The state file HAProxy reads at start.
      type: str
    backends:
      description: Per backend, whether it loads the state file.
      type: dict
round_trips:
  description: Connections made to the runtime API.
  returned: success
  type: int
  sample: 3
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HAPROXY_RUNTIME_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy_servers import SERVERS_SPEC, set_servers

ARGUMENT_SPEC = {**HAPROXY_RUNTIME_SPEC, **SERVERS_SPEC}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result, timed_out = set_servers(module.params, module.check_mode)
    except OfmRollbackError as exc:  # a write that failed half-way says what it sent and which servers are done in details
        module.fail_json(**exc.to_result(), changed=bool(exc.details.get("done")), commands=exc.details.get("commands", []))
    for warning in result.pop("warnings"):
        module.warn(warning)
    if timed_out is not None:
        module.fail_json(**{**result, **timed_out.to_result()})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
