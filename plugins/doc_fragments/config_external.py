# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of module_utils.config.kinds.EXTERNAL_SPEC other than the AWS ones (doc fragment ofm.rollback.aws): one dict
    # option per external kind (kept in step by a unit test).
    DOCUMENTATION = r"""
options:
  dns:
    description:
      - The DNS zone whose record sets the kind V(dns) holds, and how to reach it (see the modules M(ofm.rollback.dns_record)
        and M(ofm.rollback.dns_record_info) and their doc fragment C(ofm.rollback.dns) for each setting).
      - A restore makes the zone hold exactly the snapshot's record sets within O(dns.names) and O(dns.types), removing those
        created since, in one request. The SOA and the apex NS records are left out.
      - V(route53) takes the AWS options of the action.
    type: dict
    suboptions:
      backend:
        description: The backend.
        type: str
        required: true
        choices: [powerdns, rfc2136, route53]
      zone:
        description: The zone, such as V(ofm.social).
        type: str
        required: true
      api_url:
        description: V(powerdns) - the webserver's URL.
        type: str
      api_key:
        description: V(powerdns) - the API key. This value is a secret and is never logged.
        type: str
      server_id:
        description: V(powerdns) - the server id in the API's paths.
        type: str
        default: localhost
      validate_certs:
        description: V(powerdns) - verify the API's TLS certificate.
        type: bool
        default: true
      ca_path:
        description: V(powerdns) - CA bundle for the API's certificate.
        type: path
      server:
        description: V(rfc2136) - the primary server, V(host) or V(host:port).
        type: str
      port:
        description: V(rfc2136) - the port when O(dns.server) has none.
        type: int
        default: 53
      tsig_key_name:
        description: V(rfc2136) - the TSIG key's name.
        type: str
      tsig_key_secret:
        description: V(rfc2136) - the TSIG key's base64 secret. This value is a secret and is never logged.
        type: str
      tsig_algorithm:
        description: V(rfc2136) - the TSIG algorithm.
        type: str
        default: hmac-sha256
        choices: [hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5]
      hosted_zone_id:
        description: V(route53) - the hosted zone's id when several share the name.
        type: str
      timeout:
        description: Seconds to wait for each answer.
        type: float
        default: 10.0
      names:
        description: Only the record sets at these names (absolute or relative to the zone); all when not set.
        type: list
        elements: str
      types:
        description: Only the record sets of these types; all when not set.
        type: list
        elements: str
"""
