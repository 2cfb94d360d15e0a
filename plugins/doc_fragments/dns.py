# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.dns.client.DNS_SPEC (route53 also takes ofm.rollback.aws)
    DOCUMENTATION = r"""
options:
  backend:
    description:
      - How the zone is read and written.
      - V(powerdns) - the PowerDNS Authoritative HTTP API (O(api_url), O(api_key)); one C(GET) of the zone reads it, one
        C(PATCH) of its rrsets (C(REPLACE)/C(DELETE)) writes a whole change.
      - V(rfc2136) - dynamic updates (RFC 2136) signed with a TSIG key, for PowerDNS, BIND or Knot (O(server),
        O(tsig_key_name), O(tsig_key_secret)); the zone is read by AXFR (by queries of the names given when the server
        refuses the transfer), one UPDATE message writes a whole change.
      - V(route53) - AWS Route53 through boto3 and the AWS options; one change batch writes a whole change. Weighted
        (C(set_identifier) and C(weight)) and alias records are record sets of their own.
      - The SOA record (whose serial changes on every update) and the apex NS records are never written, and are left out
        of what a snapshot holds.
    type: str
    required: true
    choices: [powerdns, rfc2136, route53]
  zone:
    description:
      - The zone, such as V(ofm.social) (the trailing dot is optional). Every name must be inside it.
    type: str
    required: true
  api_url:
    description:
      - V(powerdns) - the URL of the PowerDNS webserver, such as V(http://ns1.ofm.social:8081) (C(/api/v1) is added when
        missing).
    type: str
  api_key:
    description:
      - V(powerdns) - the API key, sent in the C(X-API-Key) header. A refused key fails before any change.
      - This value is a secret and is never logged.
    type: str
  server_id:
    description:
      - V(powerdns) - the server id in the API's paths.
    type: str
    default: localhost
  validate_certs:
    description:
      - V(powerdns) - whether to verify the API's TLS certificate.
    type: bool
    default: true
  ca_path:
    description:
      - V(powerdns) - a CA bundle to verify the API's certificate with.
    type: path
  server:
    description:
      - V(rfc2136) - the primary server of the zone, as V(host), V(host:port) or V([v6address]:port).
    type: str
  port:
    description:
      - V(rfc2136) - the port when O(server) names none.
    type: int
    default: 53
  tsig_key_name:
    description:
      - V(rfc2136) - the name of the TSIG key the updates are signed with.
    type: str
  tsig_key_secret:
    description:
      - V(rfc2136) - the TSIG key's secret, base64. A key the server refuses fails the task with nothing changed.
      - This value is a secret and is never logged.
    type: str
  tsig_algorithm:
    description:
      - V(rfc2136) - the TSIG algorithm.
    type: str
    default: hmac-sha256
    choices: [hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5]
  hosted_zone_id:
    description:
      - V(route53) - the hosted zone's id, needed only when several hosted zones (public and private) share the name.
    type: str
  timeout:
    description:
      - Seconds to wait for each answer of the server or API.
    type: float
    default: 10.0
"""
