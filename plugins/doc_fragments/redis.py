# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.argspec.REDIS_SPEC
    DOCUMENTATION = r"""
options:
  redis_url:
    description:
      - URL of the Redis that caches the feature flags, V(redis://host:port/db), or V(rediss://host:port/db) for TLS.
      - The port defaults to 6379 and the database to 0. Credentials are not accepted in the URL; use O(redis_username) and O(redis_password).
      - If not set, the value of the E(REDIS_URL) environment variable is used.
    type: str
  redis_username:
    description:
      - ACL user name for Redis 6 or newer; when not set, O(redis_password) is the C(requirepass) password of the default user.
    type: str
  redis_password:
    description:
      - Password for Redis.
      - If not set, the value of the E(REDIS_PASSWORD) environment variable is used.
      - This value is a secret and is never logged.
    type: str
  redis_ca_path:
    description:
      - Path to a PEM bundle of the CA certificates that signed the Redis server's certificate, for a V(rediss://) O(redis_url).
    type: path
  redis_validate_certs:
    description:
      - Whether to verify the Redis server's TLS certificate and host name with a V(rediss://) O(redis_url).
      - Set to V(false) only for a lab with self-signed certificates; prefer O(redis_ca_path).
    type: bool
    default: true
"""
