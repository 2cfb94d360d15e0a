# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.argspec.UNLEASH_SPEC
    DOCUMENTATION = r"""
options:
  unleash_url:
    description:
      - Base URL of the Unleash server, such as V(https://unleash.example.com), without C(/api).
      - If not set, the value of the E(UNLEASH_URL) environment variable is used.
    type: str
  unleash_token:
    description:
      - "Admin API token (or personal access token) of Unleash, sent as C(Authorization: <token>)."
      - If not set, the value of the E(UNLEASH_TOKEN) environment variable is used.
      - This value is a secret and is never logged.
    type: str
  unleash_project:
    description:
      - The Unleash project that holds the toggles.
    type: str
    default: default
  unleash_environment:
    description:
      - The Unleash environment in which toggles are read and turned on or off.
    type: str
    default: production
  unleash_ca_path:
    description:
      - Path to a PEM bundle of the CA certificates that signed the Unleash server's certificate.
      - When not set, the CA bundle of the Python C(requests) library is used.
    type: path
  unleash_validate_certs:
    description:
      - Whether to verify the Unleash server's TLS certificate.
      - Set to V(false) only for a lab with self-signed certificates; prefer O(unleash_ca_path).
    type: bool
    default: true
"""
