# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.traffic.HAPROXY_ROUTER_SPEC
    DOCUMENTATION = r"""
options:
  haproxy_runtime_api:
    description:
      - Address of the HAProxy runtime API (a C(stats socket) line of C(haproxy.cfg)) that routes between the stable and the
        canary version, to read their weights from.
      - A UNIX socket path such as V(/run/haproxy/admin.sock), or V(host:port) such as V(127.0.0.1:9999); HAProxy's own
        V(unix@), V(ipv4@) and V(ipv6@) forms work too.
      - Reading needs no more than C(level operator); the socket is opened by the user that runs the module.
    type: str
  haproxy_backend:
    description:
      - Name of the HAProxy backend that holds the stable and the canary server.
    type: str
    default: ofm_api
  stable_server:
    description:
      - Name of the stable version's server in O(haproxy_backend).
    type: str
    default: stable
  canary_server:
    description:
      - Name of the canary version's server in O(haproxy_backend).
    type: str
    default: canary
  haproxy_timeout:
    description:
      - Seconds to wait for HAProxy to accept the connection and to answer one command.
    type: float
    default: 5.0
"""

    # Options of module_utils.haproxy.HAPROXY_RUNTIME_SPEC (haproxy_server, haproxy_server_info)
    RUNTIME_API = r"""
options:
  haproxy_runtime_api:
    description:
      - Address of the HAProxy runtime API, a C(stats socket) line of C(haproxy.cfg).
      - A UNIX socket path such as V(/run/haproxy/admin.sock), or V(host:port) such as V(127.0.0.1:9999); HAProxy's own
        V(unix@), V(ipv4@) and V(ipv6@) forms work too.
      - Reading needs C(level operator), changing weights and states C(level admin); the socket is opened by the user that runs
        the module.
    type: str
    required: true
  haproxy_timeout:
    description:
      - Seconds to wait for HAProxy to accept a connection and to answer one line of commands.
    type: float
    default: 5.0
"""
