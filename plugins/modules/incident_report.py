#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: incident_report
short_description: Write an incident's report - one self-contained HTML file with charts, and its Markdown twin
version_added: 0.4.0
description:
  - Writes C(report.html) (inline CSS, the charts embedded as C(data:) URIs - it reads offline and can be attached to a
    ticket), C(report.md) (the same content, the charts as C(charts/<sli>.png) beside it) and the charts into O(dest).
  - The sections, in this order - Summary, Rollback trigger (which SLOs, their values and thresholds), Timeline (every
    event of the record and the audit trail, and O(events), with its time in O(timezone)), Impact assessment (requests
    failed, error budget burned per SLO, customers affected), Recovery time (detection, rollback, traffic on stable, SLOs
    compliant), Charts (one per SLI over the incident's window with its threshold and the rollback marked), Command history,
    Team actions, Configuration changes (from the audit trail), Operations log (the audit chain, and the C(audit_logs)
    table's verification when O(audit_table) is given), Contributing factors and Lessons learned (for people; the record's
    own section when written), Follow-up items (the checklist's Prevention Measures).
  - A section with nothing measured says so ("not measured", "No data for error_rate between ..."), never nothing; a
    chart without data is a PNG that says so.
  - The impact comes from O(impact) (the result of M(ofm.rollback.incident_impact_info)); without it the module asks
    Prometheus itself with the Prometheus options (and O(lookback), O(lookahead), O(rate_window)), a Prometheus that
    cannot be asked leaving gaps rather than failing.
  - Idempotent - the report's content hash (everything but its generation time) is kept in the HTML; the same content
    writes nothing. While the incident's window still reaches now, new samples change it.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - matplotlib >= 3.7
  - requests >= 2.31.0
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_prometheus
  - ofm.rollback.prometheus
  - ofm.rollback.http_client
options:
  record:
    description:
      - The incident's JSON record (C(<record_dir>/<INC>-<start>.json)); the Markdown record beside it gives the written
        Lessons learned and Contributing factors.
    type: path
    required: true
  audit_log:
    description:
      - The audit callback's JSONL log; the records of every run that touched the incident fill the timeline, the command
        history, the team actions and the configuration changes.
    type: path
  impact:
    description:
      - The result of M(ofm.rollback.incident_impact_info) for the incident.
    type: dict
  events:
    description:
      - More timeline events, each with C(at) (a time), C(what) and C(source).
    type: list
    elements: dict
    default: []
  customers_affected:
    description:
      - How many customers were affected (the affected-customers query's count); not given - "not measured".
    type: int
  audit_table:
    description:
      - The RV(ofm.rollback.audit_verify#module:table) result of M(ofm.rollback.audit_verify) on OFM's C(audit_logs) table.
    type: dict
  timezone:
    description:
      - The IANA zone the times are shown in, each with its offset.
    type: str
    default: UTC
  title:
    description:
      - The report's title; default C(Incident report <incident>).
    type: str
  dest:
    description:
      - The directory to write into (created, mode 0700).
    type: path
    required: true
  force:
    description:
      - Write even when the content did not change.
    type: bool
    default: false
  lookback:
    description:
      - Without O(impact) - how long before the incident the window begins.
    type: str
    default: 15m
  lookahead:
    description:
      - Without O(impact) - how long after it the window goes on.
    type: str
    default: 15m
  rate_window:
    description:
      - Without O(impact) - the SLO queries' rate window.
    type: str
    default: 5m
attributes:
  check_mode:
    support: full
    description: Builds the report in memory and says whether it would change; writes nothing.
  diff_mode:
    support: partial
    description: The content hash before and after.
"""

EXAMPLES = r"""
- name: The report of INC-1234
  ofm.rollback.incident_report:
    record: /var/lib/ofm-rollback/incidents/INC-1234-2026-12-04T140500Z.json
    audit_log: /var/lib/ofm-rollback/audit.jsonl
    impact: "{{ impact }}"
    timezone: Europe/Paris
    dest: /var/lib/ofm-rollback/incidents/INC-1234
"""

RETURN = r"""
files:
  description: V(html), V(markdown) and V(charts) (paths).
  returned: success
  type: dict
sections:
  description: The section titles, in order.
  returned: success
  type: list
  elements: str
gaps:
  description: What could not be measured, each in one line.
  returned: success
  type: list
  elements: str
sha256:
  description: The report's content hash.
  returned: success
  type: str
records:
  description: How many audit records the report read.
  returned: success
  type: int
"""

import os
from typing import Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    HTTP_CLIENT_SPEC,
    PROMETHEUS_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_REQUIRED_TOGETHER,
    PROMETHEUS_SPEC,
)
from ansible_collections.ofm.rollback.plugins.module_utils.audit_table import incident_records_from_file
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.incident_impact import measure, read_record, unavailable
from ansible_collections.ofm.rollback.plugins.module_utils.incident_report import build, check_dest, write
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient
from ansible_collections.ofm.rollback.plugins.module_utils.report_charts import HAS_MATPLOTLIB

ARGUMENT_SPEC = {
    **PROMETHEUS_SPEC,
    **HTTP_CLIENT_SPEC,
    "record": {"type": "path", "required": True},
    "audit_log": {"type": "path"},
    "impact": {"type": "dict"},
    "events": {"type": "list", "elements": "dict", "default": []},
    "customers_affected": {"type": "int"},
    "audit_table": {"type": "dict"},
    "timezone": {"type": "str", "default": "UTC"},
    "title": {"type": "str"},
    "dest": {"type": "path", "required": True},
    "force": {"type": "bool", "default": False},
    "lookback": {"type": "str", "default": "15m"},
    "lookahead": {"type": "str", "default": "15m"},
    "rate_window": {"type": "str", "default": "5m"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                          mutually_exclusive=PROMETHEUS_MUTUALLY_EXCLUSIVE, required_together=PROMETHEUS_REQUIRED_TOGETHER)
    if not HAS_MATPLOTLIB:
        module.fail_json(msg=missing_required_lib("matplotlib"))
    params = module.params
    prometheus: Optional[PrometheusClient] = None
    try:
        dest = check_dest(params["dest"])
        record = read_record(params["record"])
        impact = params["impact"]
        if not impact:
            prometheus = PrometheusClient.from_params(params)
            try:
                impact = measure(prometheus, record, params)
            except InputError:
                raise
            except OfmRollbackError as exc:
                impact = unavailable(record, exc)
        markdown_record = params["record"][:-5] + ".md" if params["record"].endswith(".json") else None
        record_md = open(markdown_record, encoding="utf-8").read() if markdown_record and os.path.exists(markdown_record) else None
        has_log = params["audit_log"] and os.path.exists(params["audit_log"])
        records = incident_records_from_file(params["audit_log"], record.get("incident_id")) if has_log else []
        content = build(record, impact, records, params, record_md)
        written = write(dest, content, params["force"], module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=prometheus.http.requests if prometheus else [])
    except OSError as exc:
        module.fail_json(msg=f"dest: cannot write the report into {params['dest']}: {exc.strerror}")
    diff = written.pop("diff")
    module.exit_json(records=len(records), diff=diff, requests=prometheus.http.requests if prometheus else [],
                     msg=f"report {'would be ' if module.check_mode and written['changed'] else ''}"
                         f"{'written' if written['changed'] else 'unchanged'}: {written['files']['html']}", **written)


if __name__ == "__main__":
    main()
