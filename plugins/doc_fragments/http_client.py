# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.argspec.HTTP_CLIENT_SPEC
    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Verify the server's TLS certificate (its chain, its host name and its dates).
      - Set to V(false) only for a throwaway lab; prefer O(ca_path), which keeps every check.
      - A refused certificate fails the task before any request is sent, and says whether it is untrusted (set O(ca_path)),
        for another host (use a name it holds in the URL) or expired (renew it on the server).
    type: bool
    default: true
  ca_path:
    description:
      - Path to a PEM bundle of the CA certificates that signed the server's certificate.
      - When not set, the CA bundle of the Python C(requests) library is used.
      - A file that cannot be read fails the task before any request is sent.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP response.
      - Connecting waits at most 5 seconds, or O(timeout) when that is shorter.
    type: float
    default: 30.0
  retries:
    description:
      - How many times to retry an HTTP request after a failure that may pass.
      - Connect errors and HTTP 429 are retried for every request, since the server did not process it; read timeouts
        and HTTP 5xx only for requests that are safe to repeat.
      - The wait between attempts doubles from 0.5 seconds, or follows the server's C(Retry-After) header.
    type: int
    default: 3
notes:
  - HTTP redirects are not followed, so credentials are only ever sent to the configured host.
"""
