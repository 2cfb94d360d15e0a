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
  - Finds records that were changed, deleted, inserted or reordered, and lines that are not JSON.
  - A line cut short by a run killed mid-record (a torn line) is a warning with its position (RV(torn_lines)), not a
    broken chain - when it is the log's last line, or when the C(torn_line) record the next run wrote after it names its
    offset, length and SHA-256. The chain verifies from the last intact record on.
  - Deleting records at the end of the log, or rewriting the log and recomputing every hash, leaves no trace in the log
    itself. With O(anchors), the log is compared with the anchors of its chain that the P(ofm.rollback.audit#callback)
    callback writes at the end of every run - RV(anchors) reports C(truncated) (an anchored seq beyond the log's last
    record - records deleted from the tail) and C(rewritten) (the record at an anchored seq has another hash, or the
    anchor's HMAC does not match O(hmac_key)), naming the seq and the run.
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
  - ofm.rollback.ops_api
  - ofm.rollback.http_client
options:
  anchors:
    description:
      - Where to read the chain's anchors - V(none) (do not check anchors), V(table) (the C(audit_logs) rows of O(table) in
        O(database), written with the callback's C(db_dsn)), V(ops_api) (the ops API's C(GET /internal/audit), with O(ops_api_url)
        and its credentials; the newest 1000 anchors), V(file) (the file O(anchor_path), the callback's C(anchor_path)).
      - No anchor found for the log's chain is a warning - the callback had no anchor destination, or the whole log was replaced.
    type: str
    choices: [none, table, ops_api, file]
    default: none
  anchor_path:
    description:
      - The anchor file, with O(anchors=file).
    type: path
  hmac_key:
    description:
      - The callback's C(hmac_key). Anchors whose HMAC does not match are reported as rewritten; anchors without an HMAC are
        not trusted (listed under V(unsigned) in RV(anchors)).
      - If not set, the value of the E(OFM_AUDIT_HMAC_KEY) environment variable is used.
      - This value is a secret and is never logged.
    type: str
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

- name: Verify the log against the anchors in OFM's audit table, signed with the team's key
  ofm.rollback.audit_verify:
    path: ~/.ansible/ofm-rollback/audit.jsonl
    anchors: table
    database: "{{ ofm_audit_database }}"
    hmac_key: "{{ vault_audit_hmac_key }}"

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
torn_lines:
  description:
    - Lines cut short by a run killed mid-record - warnings, not breaks.
  returned: always
  type: list
  elements: dict
  contains:
    line:
      description: Line number in the file, from 1.
      type: int
    offset:
      description: Byte offset of the line in the file.
      type: int
    length:
      description: Its length in bytes.
      type: int
    sha256:
      description: SHA-256 of its bytes.
      type: str
    repaired_by_seq:
      description: The seq of the C(torn_line) record that names it, null while no run has appended since.
      type: int
    reason:
      description: The warning.
      type: str
anchors:
  description:
    - With O(anchors) other than V(none) - V(ok), V(source), V(chain), V(anchors) (distinct anchors of the chain read),
      V(verified), V(truncated) (V(seq), V(run_id), V(time), V(hash), V(log_last_seq) of each anchor beyond the log's end),
      V(rewritten) (the same with V(reason)), V(unsigned), V(last_anchored_seq), V(log_last_seq), V(unanchored_records)
      (records after the last anchor, such as the running play's) and V(message).
  returned: when anchors is not none
  type: dict
  sample:
    ok: false
    source: table
    chain: 1f0c9e2ab34d5e6f
    anchors: 3
    verified: 2
    truncated:
      - seq: 52
        run_id: 5b0c4a9e-8d0f-4a43-9d1e-0c2b7f1e9a11
        time: "2025-01-07T03:12:09.120Z"
        hash: 8c1d0e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d
        log_last_seq: 40
    rewritten: []
    unsigned: []
    last_anchored_seq: 31
    log_last_seq: 40
    unanchored_records: 9
last_hash:
  description: The C(hash) of the last record (64 zeros for an empty log).
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

from typing import Any, Dict, Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import HTTP_CLIENT_SPEC, OPS_API_MUTUALLY_EXCLUSIVE, OPS_API_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.audit import VerifyResult, verify_chain
from ansible_collections.ofm.rollback.plugins.module_utils.audit_anchor import verify_anchors
from ansible_collections.ofm.rollback.plugins.module_utils.audit_table import table_message, verify_table
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import DATABASE_ARGUMENT_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "fail_on_broken": {"type": "bool", "default": True},
    "source": {"type": "str", "choices": ["file", "table", "both"], "default": "file"},
    "table": {"type": "str", "default": "audit_logs"},
    "anchors": {"type": "str", "choices": ["none", "table", "ops_api", "file"], "default": "none"},
    "anchor_path": {"type": "path"},
    "hmac_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["OFM_AUDIT_HMAC_KEY"])},
    **DATABASE_ARGUMENT_SPEC,
    **OPS_API_SPEC,
    **HTTP_CLIENT_SPEC,
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=OPS_API_MUTUALLY_EXCLUSIVE,
                          required_if=[("anchors", "file", ["anchor_path"])])
    path = module.params["path"]
    source = module.params["source"]
    try:
        verification = verify_chain(path)
        table = verify_table(module.params, path, source) if source != "file" else None
        anchors = verify_anchors(module.params, path) if module.params["anchors"] != "none" else None
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    result = _result(verification)
    for torn in verification.torn_lines:
        module.warn(f"audit log {path}: {torn['reason']}")
    problems = []
    if table is not None:
        result["table"] = table
        result["file"] = {key: result[key] for key in ("ok", "records", "first_broken", "last_hash")}
        result["ok"] = table["ok"] and (verification.ok or source == "table")
        if not table["ok"]:
            problems.append(table_message(module.params["table"], table))
    if verification.first_broken is not None and source != "table":
        problems.append(_broken_message(path, verification.first_broken))
    if anchors is not None:
        result["anchors"] = anchors
        result["ok"] = result["ok"] and anchors["ok"]
        if not anchors["ok"]:
            problems.append(f"ofm.rollback audit log {path} against its anchors: {anchors['message']}")
        elif not anchors["verified"]:
            module.warn(f"audit log {path}: {anchors['message']}: truncation and rewriting cannot be checked")
        if anchors["unsigned"]:
            module.warn(f"audit log {path}: {len(anchors['unsigned'])} anchors in {anchors['where']} carry no HMAC and were not trusted")
    if not problems:
        module.exit_json(changed=False, msg=_intact_message(path, verification, anchors), **result)
    if module.params["fail_on_broken"]:
        module.fail_json(msg=" ".join(problems), **result)
    module.exit_json(changed=False, msg=" ".join(problems), **result)


def _result(verification: VerifyResult) -> Dict[str, Any]:
    return {
        "ok": verification.ok,
        "records": verification.records,
        "first_broken": verification.first_broken,
        "last_hash": verification.last_hash,
        "runs": len(verification.run_ids),
        "incidents": list(verification.incident_ids),
        "torn_lines": list(verification.torn_lines),
    }


def _intact_message(path: str, verification: VerifyResult, anchors: Optional[Dict[str, Any]]) -> str:
    torn = f", {len(verification.torn_lines)} torn lines (warnings)" if verification.torn_lines else ""
    anchored = f"; {anchors['message']}" if anchors is not None else ""
    return f"audit log {path}: {verification.records} records, chain intact{torn}{anchored}"


def _broken_message(path: str, broken: Dict[str, Any]) -> str:
    line = broken["line"]
    seq = "unknown" if broken["seq"] is None else broken["seq"]
    intact = f"Lines 1 to {line - 1} are intact. " if line > 1 else ""
    return (f"ofm.rollback audit log: verification of {path} failed: the chain breaks at line {line} (seq {seq}): {broken['reason']}. "
            f"{intact}Compare the file with its backup or copies of its last hash, and find out who changed it.")


if __name__ == "__main__":
    main()
