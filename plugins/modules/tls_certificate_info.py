#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_certificate_info
short_description: Check the TLS certificates clients see at several endpoints (trust, host name, expiry)
version_added: 0.1.0
description:
  - For each endpoint, makes a TLS handshake with SNI and reports what a client sees there, the checklist line
    C(SSL Certificates - verify certificates still valid).
  - The leaf certificate is read with a handshake that accepts any certificate, so it is reported even when it fails the
    checks; its subject, issuer, subject alternative names, validity dates (in UTC) and the whole days left are returned.
  - The chain is verified with a second handshake by Python's C(ssl) module against O(ca_path) or the system trust store,
    with C(ssl)'s host name check of the SNI name when O(endpoints[].expected_names) is not set. OpenSSL's verify error
    code and reason are returned.
  - Each finding is a problem of one kind. V(untrusted) - the chain does not lead to a CA of the bundle (self-signed,
    unknown issuer, bad signature). V(hostname) - a name to check is not among the certificate's subject alternative
    names. V(expired) - the certificate's C(notAfter) has passed; V(not_yet_valid) - its C(notBefore) is still ahead.
    V(soon) - fewer than O(min_days_valid) whole days left. V(unreachable) - no TCP connection within O(timeout);
    V(handshake) - the server refused the TLS handshake.
  - A connection that cannot be made is tried once more after a second; the module only reads.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  endpoints:
    description:
      - The endpoints to check, in one task. They are checked in parallel and reported in the order given.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description:
          - The DNS name or IP address to connect to.
        type: str
        required: true
      port:
        description:
          - The TCP port, from 1 to 65535.
        type: int
        default: 443
      server_name:
        description:
          - The name sent in the TLS SNI extension, which selects the certificate on a server that holds several.
          - Defaults to O(endpoints[].host). It is also the name checked when O(endpoints[].expected_names) is not set.
        type: str
      expected_names:
        description:
          - The names the certificate must be valid for, matched against its subject alternative names
            (a wildcard such as V(*.ofm.social) covers one label). Defaults to the SNI name.
        type: list
        elements: str
  ca_path:
    description:
      - A PEM file of CA certificates (or a C(c_rehash)'ed directory of them) to verify the chains against.
      - Defaults to the system trust store of the host that runs the module.
    type: path
  min_days_valid:
    description:
      - A certificate with fewer whole days left is reported with a V(soon) problem.
    type: int
    default: 14
  timeout:
    description:
      - Seconds to wait for the TCP connection and for each TLS handshake.
    type: float
    default: 10
  fail_on:
    description:
      - The kinds of problem that fail the task. The others are reported in RV(endpoints[].problems) and as warnings.
      - V(expired) covers V(expired) and V(not_yet_valid); V(unreachable) covers V(unreachable) and V(handshake).
      - By default a certificate that expires soon is still valid, so V(soon) only warns; add it to fail when fewer than
        O(min_days_valid) days are left.
    type: list
    elements: str
    choices: [expired, untrusted, hostname, soon, unreachable]
    default: [expired, untrusted, hostname, unreachable]
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode makes the same handshakes.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
notes:
  - Host names are matched against the subject alternative names only, as browsers and Python do; the subject's common name is not used.
  - Requires the C(cryptography) Python library on the host that runs the module.
requirements:
  - cryptography >= 42.0.0
seealso:
  - name: RFC 6125, service identity in TLS
    description: How a client matches a host name against a certificate.
    link: https://www.rfc-editor.org/rfc/rfc6125
"""

EXAMPLES = r"""
- name: SSL Certificates - verify certificates still valid
  ofm.rollback.tls_certificate_info:
    endpoints:
      - host: ofm.social
      - host: api.ofm.social
      - host: lb.ofm.social
        server_name: cdn.ofm.social
        expected_names: [cdn.ofm.social, "*.cdn.ofm.social"]
    min_days_valid: 21

- name: Check an internal endpoint against the company CA, failing also on a certificate that expires soon
  ofm.rollback.tls_certificate_info:
    endpoints:
      - host: 10.20.0.15
        port: 8443
        server_name: ops-api.ofm.internal
    ca_path: /etc/ofm/ca-bundle.pem
    fail_on: [expired, untrusted, hostname, soon, unreachable]
  register: internal_tls
"""

RETURN = r"""
endpoints:
  description: One result per endpoint, in the order given.
  returned: success
  type: list
  elements: dict
  contains:
    endpoint: {description: "The endpoint as C(host:port), followed by the SNI name in parentheses when it differs from the host.",
               type: str, returned: always}
    host: {description: The host connected to., type: str, returned: always}
    port: {description: The port connected to., type: int, returned: always}
    server_name: {description: The SNI name sent., type: str, returned: always}
    checked_names: {description: The names the certificate was checked for., type: list, elements: str, returned: always}
    ok: {description: Whether no problem of a kind in O(fail_on) was found., type: bool, returned: always}
    problems:
      description: Each finding, as C(kind) (see the description) and C(message).
      type: list
      elements: dict
      returned: always
    error: {description: Why no certificate could be read (unreachable or refused handshake); null otherwise., type: str, returned: always}
    attempts: {description: The connection attempts made (2 when the first could not connect)., type: int, returned: always}
    tls_version: {description: "The TLS version negotiated, such as V(TLSv1.3).", type: str, returned: when reachable}
    cipher: {description: "The cipher suite negotiated, such as V(TLS_AES_256_GCM_SHA384).", type: str, returned: when reachable}
    certificate:
      description: The leaf certificate; null when none could be read.
      type: dict
      returned: always
      contains:
        subject: {description: The subject as an RFC 4514 string., type: str}
        issuer: {description: The issuer as an RFC 4514 string., type: str}
        serial_number: {description: The serial number in hexadecimal., type: str}
        sha256_fingerprint: {description: The SHA-256 fingerprint of the DER certificate., type: str}
        dns_names: {description: The DNS names of the subject alternative names., type: list, elements: str}
        ip_addresses: {description: The IP addresses of the subject alternative names., type: list, elements: str}
        not_before: {description: The start of validity in UTC (ISO 8601 with V(+00:00))., type: str}
        not_after: {description: The end of validity in UTC (ISO 8601 with V(+00:00))., type: str}
        days_left: {description: "Whole days until RV(endpoints[].certificate.not_after); negative once expired.", type: int}
        self_signed: {description: Whether the subject is its own issuer., type: bool}
    verification:
      description: The verifying handshake by Python's C(ssl) module; null when none could be made.
      type: dict
      returned: always
      contains:
        verified: {description: Whether C(ssl) accepted the chain (and the SNI name when it checked it)., type: bool}
        verify_code: {description: "OpenSSL's C(X509_V_ERR) code, such as 10 (expired), 20 (unknown issuer) or 62 (host name mismatch).",
                      type: int}
        verify_message: {description: OpenSSL's reason for the code., type: str}
        hostname_checked: {description: "Whether C(ssl) checked the SNI name (it does when O(endpoints[].expected_names) is not set).", type: bool}
    hostname_match: {description: Whether the certificate is valid for every checked name., type: bool, returned: when reachable}
    expires_soon: {description: Whether fewer than O(min_days_valid) whole days are left., type: bool, returned: when reachable}
  sample:
    - endpoint: "api.ofm.social:443"
      host: api.ofm.social
      port: 443
      server_name: api.ofm.social
      checked_names: [api.ofm.social]
      ok: true
      problems: []
      error: null
      attempts: 1
      tls_version: TLSv1.3
      cipher: TLS_AES_256_GCM_SHA384
      hostname_match: true
      expires_soon: false
      certificate: {subject: CN=api.ofm.social, issuer: "CN=R11,O=Let's Encrypt,C=US", not_after: "2025-09-01T12:00:00+00:00", days_left: 61}
      verification: {verified: true, verify_code: null, verify_message: null, hostname_checked: true}
failed_endpoints:
  description: The RV(endpoints[].endpoint) of each endpoint with a problem of a kind in O(fail_on).
  returned: success
  type: list
  elements: str
  sample: ["old.ofm.social:443"]
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.tls import (
    CRYPTOGRAPHY_IMPORT_TRACEBACK, DEFAULT_FAIL_ON, FAIL_ON_CHOICES, HAS_CRYPTOGRAPHY, PROBLEM_KINDS, TlsChecker, parse_endpoints,
    summary)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "endpoints": {"type": "list", "elements": "dict", "required": True, "options": {
        "host": {"type": "str", "required": True},
        "port": {"type": "int", "default": 443},
        "server_name": {"type": "str"},
        "expected_names": {"type": "list", "elements": "str"},
    }},
    "ca_path": {"type": "path"},
    "min_days_valid": {"type": "int", "default": 14},
    "timeout": {"type": "float", "default": 10},
    "fail_on": {"type": "list", "elements": "str", "choices": list(FAIL_ON_CHOICES), "default": list(DEFAULT_FAIL_ON)},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=CRYPTOGRAPHY_IMPORT_TRACEBACK)
    try:
        endpoints = parse_endpoints(params["endpoints"])
        checker = TlsChecker(ca_path=params["ca_path"], min_days_valid=params["min_days_valid"], timeout=params["timeout"],
                             fail_on=params["fail_on"])
        results = checker.check_all(endpoints)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    for entry in results["endpoints"]:
        for problem in entry["problems"]:
            if PROBLEM_KINDS[problem["kind"]] not in checker.fail_on:
                module.warn(f"{entry['endpoint']}: {problem['message']}")
    if results["failed_endpoints"]:
        module.fail_json(msg=summary(results), changed=False, **results)
    module.exit_json(changed=False, msg=summary(results), **results)


if __name__ == "__main__":
    main()
