#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_verify
short_description: Verify the hash chain of the ofm.rollback audit log
version_added: 0.1.0
description:
  - Reads the audit log that the P(ofm.rollback.audit#callback) callback writes and checks every record, in order.
    A record must be valid JSON, its C(hash) must be the SHA-256 of its canonical JSON without C(hash), its
    C(prev_hash) must be the C(hash) of the record before it (64 zeros for the first record), and its C(seq) must
    follow the one before it.
  - Finds records that were changed, deleted, inserted or reordered, lines that are not JSON, and a last line cut short.
  - Deleting records at the end of the log leaves no trace in the log itself. Compare RV(last_hash) with a copy kept
    elsewhere (for example in the incident report) to detect that.
  - With O(source=table) or O(source=both) it also verifies the rows the callback wrote into OFM's C(audit_logs) table (its
    C(db_dsn) option) - each row's hash is recomputed from the record in its C(meta), rows must chain and not repeat -
    and, with V(both), compares them with the file by C(seq) - records of the file without a row are missing (not synced
    yet; the next run back-fills them), rows the file does not hold or whose hash differs are tampering. RV(table) holds
    that verification; RV(ok) is true only when every source checked is.
  - The module only reads; it never reports a change.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.pg_connection.database
options:
  source:
    description:
      - V(file) verifies the JSONL log, V(table) the C(audit_logs) rows of its chain, V(both) both and their agreement.
    type: str
    choices: [file, table, both]
    default: file
  table:
    description:
      - The table the callback writes, with its schema if needed.
    type: str
    default: audit_logs
  path:
    description:
      - The audit log file, the callback's C(log_path).
    type: path
    required: true
  fail_on_broken:
    description:
      - Fail when the chain is broken. With V(false) the module succeeds and reports the break in RV(first_broken).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The module only reads the log, so check mode verifies it the same way.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
seealso:
  - plugin: ofm.rollback.audit
    plugin_type: callback
"""

EXAMPLES = r"""
- name: Verify the audit trail before closing the incident
  ofm.rollback.audit_verify:
    path: ~/.ansible/ofm-rollback/audit.jsonl

- name: Report a broken chain without failing
  ofm.rollback.audit_verify:
    path: /var/log/ofm-rollback/audit.jsonl
    fail_on_broken: false
  register: audit_chain
"""

RETURN = r"""
table:
  description:
    - With O(source=table) or O(source=both) - V(ok), V(rows), V(first_broken) (V(seq), V(id), V(problem)), V(missing_seqs) (records
      of the log not in the table, as ranges), V(in_flight_seqs) (written in the last seconds, not counted as missing), V(extra)
      (rows the log does not hold), V(differing), V(duplicates), V(chain), V(table) and V(database).
  returned: when source is table or both
  type: dict
file:
  description: With O(source=table) or O(source=both), the log's own verification - V(ok), V(records), V(first_broken), V(last_hash).
  returned: when source is table or both
  type: dict
ok:
  description: True when every record is intact and chained.
  returned: always
  type: bool
  sample: true
records:
  description: How many lines of the log hold a JSON record.
  returned: always
  type: int
  sample: 42
first_broken:
  description: The first record that breaks the chain, or null when there is none.
  returned: always
  type: dict
  contains:
    line:
      description: Line number in the file, from 1.
      type: int
    seq:
      description: The record's C(seq), null when the line cannot be read.
      type: int
    reason:
      description: What is wrong with the record.
      type: str
  sample:
    line: 17
    seq: 17
    reason: "hash mismatch: the record was changed after it was written"
last_hash:
  description: The C(hash) of the last record (64 zeros for an empty log); keep it elsewhere to anchor the chain.
  returned: always
  type: str
  sample: 9f2c1e0b5d7a4c3e8f6b2a1d0c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e
runs:
  description: How many playbook runs (distinct C(run_id)) the log holds.
  returned: always
  type: int
  sample: 3
incidents:
  description: The incident ids that the records mention, in order of first appearance.
  returned: always
  type: list
  elements: str
  sample: [INC-1234]
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.audit import VerifyResult, verify_chain
from ansible_collections.ofm.rollback.plugins.module_utils.audit_table import table_message, verify_table
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import DATABASE_ARGUMENT_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "fail_on_broken": {"type": "bool", "default": True},
    "source": {"type": "str", "choices": ["file", "table", "both"], "default": "file"},
    "table": {"type": "str", "default": "audit_logs"},
    **DATABASE_ARGUMENT_SPEC,
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    path = module.params["path"]
    source = module.params["source"]
    try:
        verification = verify_chain(path)
        table = verify_table(module.params, path, source) if source != "file" else None
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    result = _result(verification)
    if table is not None:
        result["table"] = table
        result["file"] = {key: result[key] for key in ("ok", "records", "first_broken", "last_hash")}
        result["ok"] = table["ok"] and (verification.ok or source == "table")
        if not table["ok"]:
            message = table_message(module.params["table"], table)
            if module.params["fail_on_broken"]:
                module.fail_json(msg=message, **result)
            module.exit_json(changed=False, msg=message, **result)
    if verification.first_broken is None or source == "table":
        module.exit_json(changed=False, msg=f"audit log {path}: {verification.records} records, chain intact", **result)
    message = _broken_message(path, verification.first_broken)
    if module.params["fail_on_broken"]:
        module.fail_json(msg=message, **result)
    module.exit_json(changed=False, msg=message, **result)


def _result(verification: VerifyResult) -> Dict[str, Any]:
    return {
        "ok": verification.ok,
        "records": verification.records,
        "first_broken": verification.first_broken,
        "last_hash": verification.last_hash,
        "runs": len(verification.run_ids),
        "incidents": list(verification.incident_ids),
    }


def _broken_message(path: str, broken: Dict[str, Any]) -> str:
    line = broken["line"]
    seq = "unknown" if broken["seq"] is None else broken["seq"]
    intact = f"Lines 1 to {line - 1} are intact. " if line > 1 else ""
    return (f"ofm.rollback audit log: verification of {path} failed: the chain breaks at line {line} (seq {seq}): {broken['reason']}. "
            f"{intact}Compare the file with its backup or copies of its last hash, and find out who changed it.")


if __name__ == "__main__":
    main()
