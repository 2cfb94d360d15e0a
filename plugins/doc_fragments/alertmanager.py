# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.argspec.ALERTMANAGER_SPEC
    DOCUMENTATION = r"""
options:
  alertmanager_url:
    description:
      - Base URL of Alertmanager (or of an Alertmanager-compatible API such as Grafana Mimir's, including its prefix), without
        C(/api/v2).
      - If not set, the value of the E(ALERTMANAGER_URL) environment variable is used.
    type: str
    required: true
  alertmanager_username:
    description:
      - User name for HTTP basic authentication to Alertmanager.
      - Requires O(alertmanager_password). Mutually exclusive with O(alertmanager_token).
    type: str
  alertmanager_password:
    description:
      - Password for HTTP basic authentication to Alertmanager.
      - This value is a secret and is never logged.
    type: str
  alertmanager_token:
    description:
      - "Bearer token for Alertmanager, sent as C(Authorization: Bearer <token>)."
      - If not set, the value of the E(ALERTMANAGER_TOKEN) environment variable is used.
      - This value is a secret and is never logged.
    type: str
"""
