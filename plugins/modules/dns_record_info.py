#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dns_record_info
short_description: Read DNS record sets of one zone, absent ones included (PowerDNS, RFC 2136, Route53)
version_added: 0.1.0
description:
  - Reads the record sets O(records) names, each reported with C(state) V(present) (with its TTL and values) or V(absent);
    without O(records), every record set of the zone.
  - The zone is read in one request (PowerDNS C(GET), one AXFR) or one paginated listing (Route53); an RFC 2136 server
    that refuses the transfer is asked one query per name and type of O(records).
  - The SOA and the apex NS records are left out of a whole-zone read unless O(include_soa_and_apex_ns) is set; they are
    never written by M(ofm.rollback.dns_record).
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.dns
  - ofm.rollback.aws
options:
  records:
    description:
      - The record sets to read; all of the zone when not set.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The owner name, absolute or relative to O(zone); V(@) is the apex.
        type: str
        required: true
      type:
        description:
          - The record type; every record set at the name when not set.
        type: str
      set_identifier:
        description:
          - V(route53) - only this weighted record set.
        type: str
  include_soa_and_apex_ns:
    description:
      - Whether a whole-zone read reports the SOA and the apex NS records too.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode reads the same.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
seealso:
  - module: ofm.rollback.dns_record
"""

EXAMPLES = r"""
- name: Read what the DR cut-over will change
  ofm.rollback.dns_record_info:
    backend: powerdns
    api_url: http://ns1.ofm.internal:8081
    api_key: "{{ vault_pdns_api_key }}"
    zone: ofm.social
    records:
      - {name: api, type: A}
      - {name: canary}
  register: before_cutover

- name: The whole Route53 zone
  ofm.rollback.dns_record_info:
    backend: route53
    zone: ofm.social
"""

RETURN = r"""
zone:
  description: The zone, absolute.
  returned: always
  type: str
record_sets:
  description:
    - One entry per record set - C(key), C(name), C(type), C(state) (V(present) or V(absent)), and when present C(ttl),
      C(values) (canonical, sorted) and C(set_identifier)/C(weight)/C(alias) where Route53 has them.
  returned: always
  type: list
  elements: dict
  sample: [{key: api.ofm.social. A, name: api.ofm.social., type: A, state: present, ttl: 300, values: [192.0.2.10]}]
where:
  description: The backend, its endpoint and the zone (no credentials).
  returned: always
  type: str
round_trips:
  description: Requests made to the backend.
  returned: always
  type: int
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.aws import AWS_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.dns.client import DNS_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.dns.records import DNSPYTHON_IMPORT_TRACEBACK, HAS_DNSPYTHON
from ansible_collections.ofm.rollback.plugins.module_utils.dns.tasks import record_info
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **DNS_SPEC, **AWS_SPEC,
    "records": {"type": "list", "elements": "dict", "options": {
        "name": {"type": "str", "required": True},
        "type": {"type": "str"},
        "set_identifier": {"type": "str"},
    }},
    "include_soa_and_apex_ns": {"type": "bool", "default": False},
}


def main(module_class=AnsibleModule) -> None:
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib("dnspython"), exception=DNSPYTHON_IMPORT_TRACEBACK)
    try:
        result = record_info(module.params)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
