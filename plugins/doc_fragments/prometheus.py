# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.argspec.PROMETHEUS_SPEC
    DOCUMENTATION = r"""
options:
  prometheus_url:
    description:
      - Base URL of the Prometheus server (or of a Prometheus-compatible API such as Thanos Query or Mimir), without C(/api/v1).
      - If not set, the value of the E(PROMETHEUS_URL) environment variable is used.
    type: str
    required: true
  prometheus_username:
    description:
      - User name for HTTP basic authentication to Prometheus.
      - Requires O(prometheus_password). Mutually exclusive with O(prometheus_token).
    type: str
  prometheus_password:
    description:
      - Password for HTTP basic authentication to Prometheus.
      - This value is a secret and is never logged.
    type: str
  prometheus_token:
    description:
      - "Bearer token for Prometheus, sent as C(Authorization: Bearer <token>)."
      - If not set, the value of the E(PROMETHEUS_TOKEN) environment variable is used.
      - This value is a secret and is never logged.
    type: str
"""
