# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.argspec.OPS_API_SPEC
    DOCUMENTATION = r"""
options:
  ops_api_url:
    description:
      - Base URL of the OFM Social OS internal operations API.
      - Staging is V(https://internal-staging.ofm.social).
      - If not set, the value of the E(OFM_OPS_API_URL) environment variable is used, then the default.
    type: str
    default: https://internal.ofm.social
  ops_api_session_cookie:
    description:
      - Value of the C(connect.sid) session cookie of a user with the C(admin) role, as obtained through the OIDC login.
      - If not set, the value of the E(OFM_OPS_API_SESSION) environment variable is used.
      - Mutually exclusive with O(ops_api_token).
      - This value is a secret and is never logged.
    type: str
  ops_api_token:
    description:
      - "Bearer token for deployments of the ops API that accept one, sent as C(Authorization: Bearer <token>)."
      - If not set, the value of the E(OFM_OPS_API_TOKEN) environment variable is used.
      - Mutually exclusive with O(ops_api_session_cookie).
      - This value is a secret and is never logged.
    type: str
"""
