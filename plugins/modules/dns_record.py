#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dns_record
short_description: Make DNS record sets of one zone present or absent, in one request (PowerDNS, RFC 2136, Route53)
version_added: 0.1.0
description:
  - Reads the zone, works out what changes for each record set of O(records) (name, type and, for Route53's weighted
    records, set identifier), checks the zone as it would be afterwards, and writes every change in ONE request of the
    backend (one PowerDNS C(PATCH), one RFC 2136 UPDATE message, one Route53 change batch).
  - Every check is made before anything is sent - a name outside O(zone), an unknown zone, an unknown type, a bad TTL or
    value, a CNAME beside other data at one name (in the zone as it would be), a refused API key or TSIG key.
  - Check mode reads the zone and sends nothing else; the result and the diff say what would change.
  - Idempotent - record sets that already are as asked are not written, and a second run reports C(changed=false).
  - With O(wait), waits until the authoritative servers answer the written values (and, for Route53, until the change is
    C(INSYNC)).
  - The SOA and the apex NS records are never written (their type V(SOA) is refused).
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.dns
  - ofm.rollback.aws
options:
  records:
    description:
      - The record sets, each once.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The owner name, absolute (V(api.ofm.social) or V(api.ofm.social.)) or relative to O(zone) (V(api)); V(@) is
            the apex.
        type: str
        required: true
      type:
        description:
          - The record type.
        type: str
        required: true
        choices: [A, AAAA, CAA, CNAME, DS, MX, NS, PTR, SRV, SSHFP, TLSA, TXT]
      ttl:
        description:
          - Seconds, 0 to 2147483647. Defaults to the record set's current TTL, or 3600 for a new one.
        type: int
      values:
        description:
          - The values in zone-file syntax, such as V(192.0.2.10), V(10 mail.ofm.social.) or V('"v=spf1 -all"').
            A name without a trailing dot is relative to O(zone). Their order does not matter.
          - Needed for O(state=present) (unless O(records[].alias) is set).
        type: list
        elements: str
      set_identifier:
        description:
          - V(route53) - the identifier of a weighted record set, with O(records[].weight).
        type: str
      weight:
        description:
          - V(route53) - the weight of a weighted record set, 0 to 255.
        type: int
      alias:
        description:
          - V(route53) - an alias record set instead of values.
        type: dict
        suboptions:
          hosted_zone_id:
            description: The hosted zone id of the alias target (such as a load balancer's).
            type: str
            required: true
          dns_name:
            description: The target's DNS name.
            type: str
            required: true
          evaluate_target_health:
            description: Whether Route53 checks the target's health.
            type: bool
            default: false
  state:
    description:
      - V(present) - the record sets exist with the values given; V(absent) - they do not.
    type: str
    choices: [present, absent]
    default: present
  exact:
    description:
      - Per record set. V(true) - a present record set holds exactly O(records[].values); an absent one is removed whole.
      - V(false) - the values given are added to the current ones (V(present)), or only they are removed (V(absent)); a
        record set left without values is removed.
    type: bool
    default: true
  wait:
    description:
      - Wait until every server of O(wait_servers) answers each changed record set with the written values and TTL (a
        removed one with no data), and for V(route53) until the change is C(INSYNC). Weighted and alias record sets are not
        asked for.
    type: bool
    default: false
  wait_servers:
    description:
      - The authoritative servers to ask, as V(host) or V(host:port). Default - V(rfc2136) asks O(server); the others ask
        the addresses of the zone's NS records (V(route53) without it only waits for C(INSYNC)).
    type: list
    elements: str
  wait_timeout:
    description:
      - Seconds to wait at most.
    type: float
    default: 300
  wait_interval:
    description:
      - Seconds between two rounds of questions.
    type: float
    default: 1.0
attributes:
  check_mode:
    support: full
    description: Reads the zone and reports what would change (RV(changes)); nothing else is sent to the server.
  diff_mode:
    support: full
    description: Shows the record sets that change, before and after.
notes:
  - The result never holds O(api_key), O(tsig_key_secret) or the AWS keys.
seealso:
  - module: ofm.rollback.dns_record_info
"""

EXAMPLES = r"""
- name: Point api at the DR site, in one PATCH, and wait until the servers answer it
  ofm.rollback.dns_record:
    backend: powerdns
    api_url: http://ns1.ofm.internal:8081
    api_key: "{{ vault_pdns_api_key }}"
    zone: ofm.social
    records:
      - {name: api, type: A, ttl: 60, values: [198.51.100.10, 198.51.100.11]}
      - {name: legacy, type: CNAME, values: [api.ofm.social.]}
    wait: true
    wait_servers: [ns1.ofm.internal, ns2.ofm.internal]

- name: Remove a record set with a TSIG-signed dynamic update
  ofm.rollback.dns_record:
    backend: rfc2136
    server: ns1.ofm.internal
    tsig_key_name: ofm-deploy
    tsig_key_secret: "{{ vault_tsig_secret }}"
    zone: ofm.social
    state: absent
    records:
      - {name: canary, type: A}

- name: Shift Route53's weighted pair back to blue
  ofm.rollback.dns_record:
    backend: route53
    zone: ofm.social
    records:
      - {name: app, type: CNAME, set_identifier: blue, weight: 100, ttl: 60, values: [blue.app.ofm.social.]}
      - {name: app, type: CNAME, set_identifier: green, weight: 0, ttl: 60, values: [green.app.ofm.social.]}
    wait: true
"""

RETURN = r"""
zone:
  description: The zone, absolute.
  returned: always
  type: str
  sample: ofm.social.
where:
  description: The backend, its endpoint and the zone (no credentials).
  returned: always
  type: str
  sample: powerdns http://127.0.0.1:8081/api/v1 zone ofm.social.
changes:
  description:
    - The record sets that change (would change in check mode), each with C(action) (V(add), V(change), V(remove)),
      C(before) and what it becomes (C(state), C(ttl), C(values), and C(set_identifier)/C(weight)/C(alias) when set).
  returned: always
  type: list
  elements: dict
record_sets:
  description: Every record set of O(records) as it is after the task (in check mode, as it would be), with C(state).
  returned: always
  type: list
  elements: dict
diff:
  description: C(before) and C(after) of the record sets that change, by key C(<name> <type>[ <set_identifier>]).
  returned: always
  type: dict
wait:
  description: With O(wait) - the servers asked, the record sets checked, the rounds and seconds it took, and Route53's status.
  returned: when O(wait) is true and not in check mode
  type: dict
round_trips:
  description: Requests made to the backend (reads included).
  returned: always
  type: int
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.aws import AWS_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.dns.client import DNS_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.dns.records import DNSPYTHON_IMPORT_TRACEBACK, HAS_DNSPYTHON, TYPES
from ansible_collections.ofm.rollback.plugins.module_utils.dns.tasks import record_task
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **DNS_SPEC, **AWS_SPEC,
    "records": {"type": "list", "elements": "dict", "required": True, "options": {
        "name": {"type": "str", "required": True},
        "type": {"type": "str", "required": True, "choices": list(TYPES)},
        "ttl": {"type": "int"},
        "values": {"type": "list", "elements": "str"},
        "set_identifier": {"type": "str"},
        "weight": {"type": "int"},
        "alias": {"type": "dict", "options": {
            "hosted_zone_id": {"type": "str", "required": True},
            "dns_name": {"type": "str", "required": True},
            "evaluate_target_health": {"type": "bool", "default": False},
        }},
    }},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "exact": {"type": "bool", "default": True},
    "wait": {"type": "bool", "default": False},
    "wait_servers": {"type": "list", "elements": "str"},
    "wait_timeout": {"type": "float", "default": 300},
    "wait_interval": {"type": "float", "default": 1.0},
}


def main(module_class=AnsibleModule) -> None:
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib("dnspython"), exception=DNSPYTHON_IMPORT_TRACEBACK)
    try:
        result = record_task(module.params, module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
