# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Anchors of the audit chain: made and signed from the head record, written to and read from a file, audit rows and the
ops API stand-in, and the log checked against them (truncated, rewritten, forged, unsigned)."""
from __future__ import annotations

import ipaddress
import json
import stat
from pathlib import Path
from typing import Any, Iterator

import pytest
from unithelpers import serving

from ansible_collections.ofm.rollback.plugins.module_utils import audit_anchor
from ansible_collections.ofm.rollback.plugins.module_utils.audit import GENESIS_HASH, append_records, canonical_json, read_records, record_hash
from ansible_collections.ofm.rollback.plugins.module_utils.audit_table import chain_id, log_chain
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, NotFoundError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import OpsApiClient

from lab.services.common import JsonlFile
from lab.services.ops_api import DEFAULT_ALLOWED_NETWORKS, AuditLog, Authenticator, CanaryOps, OpsApi, Principal, RequestJournal

KEY = "k3y-Of-The-Audit-Team-0a9f"
TOKEN = "anchor-test-admin-token"


def run(log: Path, run_id: str, count: int) -> dict[str, Any]:
    """Append a run's records; the anchor of its last one (what the callback writes at run_end)."""
    written = append_records(str(log), [{"type": "task", "run_id": run_id, "task": f"step {index}"} for index in range(count)])
    return audit_anchor.make_anchor(written[-1], log_chain(str(log)), count, KEY)


@pytest.fixture(name="log")
def fixture_log(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture(name="anchors")
def fixture_anchors(log: Path) -> list[dict[str, Any]]:
    return [run(log, "run-1", 4), run(log, "run-2", 3), run(log, "run-3", 5)]


def check(log: Path, anchors: list[dict[str, Any]], key: Any = KEY) -> dict[str, Any]:
    return audit_anchor.check_anchors(read_records(str(log)), anchors, key)


def rechain(records: list[dict[str, Any]]) -> str:
    """A log rewritten by someone who knows the algorithm: every hash recomputed."""
    prev, out = GENESIS_HASH, []
    for record in records:
        entry = {**record, "prev_hash": prev}
        entry["hash"] = prev = record_hash(entry)
        out.append(canonical_json(entry) + "\n")
    return "".join(out)


def test_the_anchor_names_the_head_and_is_signed_over_its_fields(log: Path, anchors):
    head = read_records(str(log))[-1]
    anchor = anchors[-1]
    assert {key: anchor[key] for key in ("chain", "seq", "hash", "run_id", "time", "run_records")} == {
        "chain": chain_id(read_records(str(log))[0]), "seq": 12, "hash": head["hash"], "run_id": "run-3", "time": None, "run_records": 5}
    assert anchor["hmac"] == audit_anchor.anchor_hmac(anchor, KEY) != audit_anchor.anchor_hmac(anchor, KEY + "x")
    assert audit_anchor.anchor_hmac({**anchor, "seq": 11}, KEY) != anchor["hmac"]
    assert "hmac" not in audit_anchor.make_anchor(head, anchor["chain"], 5)
    assert KEY not in json.dumps(anchors)


def test_an_intact_log_matches_every_anchor(log: Path, anchors):
    append_records(str(log), [{"type": "task", "run_id": "run-4"}])  # the running play's record, not anchored yet
    found = check(log, anchors + [anchors[0]])  # an anchor sent twice counts once
    assert found == {"ok": True, "anchors": 3, "verified": 3, "truncated": [], "rewritten": [], "unsigned": [], "last_anchored_seq": 12,
                     "log_last_seq": 13, "unanchored_records": 1}
    assert audit_anchor.anchor_message(found, "the audit_logs table") == "3 anchors (the audit_logs table) match the log, the last at seq 12"


def test_records_deleted_from_the_tail_are_truncated_naming_the_seq_and_the_run(log: Path, anchors):
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:9]))
    found = check(log, anchors)
    assert not found["ok"] and found["verified"] == 2 and found["rewritten"] == []
    assert found["truncated"] == [{"seq": 12, "run_id": "run-3", "time": None, "hash": anchors[2]["hash"], "log_last_seq": 9}]
    message = audit_anchor.anchor_message(found, "the audit_logs table")
    assert message.startswith("truncated: the log ends at seq 9, but run run-3 anchored seq 12")
    assert "records 10-12 were deleted from its tail" in message


def test_a_log_rewritten_with_every_hash_recomputed_contradicts_its_anchors(log: Path, anchors):
    records = read_records(str(log))
    records[5]["task"] = "something else"
    log.write_text(rechain(records))
    found = check(log, anchors)
    assert not found["ok"] and found["truncated"] == [] and found["verified"] == 1
    assert [(item["seq"], item["run_id"]) for item in found["rewritten"]] == [(7, "run-2"), (12, "run-3")]
    assert "the log was rewritten at or before seq 7" in found["rewritten"][0]["reason"]
    assert audit_anchor.anchor_message(found, "the anchor file").startswith("rewritten: seq 7 anchored by run run-2")


def test_a_forged_anchor_fails_its_hmac_and_unsigned_anchors_are_not_trusted_with_a_key(log: Path, anchors):
    records = read_records(str(log))
    records[5]["task"] = "something else"
    log.write_text(rechain(records))
    rewritten = read_records(str(log))
    # Whoever rewrote the log also rewrote the anchors to match it, without the key.
    forged = [{**anchor, "hash": rewritten[anchor["seq"] - 1]["hash"]} for anchor in anchors]
    found = check(log, forged)
    assert [item["seq"] for item in found["rewritten"]] == [7, 12] and "HMAC does not match" in found["rewritten"][0]["reason"]
    unsigned = [{key: value for key, value in anchor.items() if key != "hmac"} for anchor in forged]
    found = check(log, unsigned)
    assert found["ok"] and found["verified"] == 0 and [item["seq"] for item in found["unsigned"]] == [4, 7, 12]
    # Without the key, the forged anchors are taken at their word: only keyed anchors resist a writer of anchors.
    assert check(log, unsigned, key=None)["verified"] == 3


def test_an_anchor_without_seq_or_hash_is_reported(log: Path, anchors):
    found = check(log, [{"chain": anchors[0]["chain"], "seq": "4"}], key=None)
    assert not found["ok"] and "no seq and hash" in found["rewritten"][0]["reason"]


def test_no_anchor_at_all_is_ok_but_verifies_nothing(log: Path, anchors):
    found = check(log, [])
    assert found["ok"] and found["verified"] == 0 and found["unanchored_records"] == 12
    assert audit_anchor.anchor_message(found, "the ops API's audit route") == "no anchor of the log's chain in the ops API's audit route"


def test_the_anchor_file_is_private_and_read_per_chain(tmp_path: Path, anchors):
    path = tmp_path / "anchors" / "anchors.jsonl"
    for anchor in anchors + [{**anchors[0], "chain": "other-chain"}]:
        audit_anchor.append_anchor_file(str(path), anchor)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"chain": "cut')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert audit_anchor.read_anchor_file(str(path), anchors[0]["chain"]) == anchors
    with pytest.raises(NotFoundError, match="anchor_path"):
        audit_anchor.read_anchor_file(str(tmp_path / "absent.jsonl"), "x")


def test_the_anchor_file_that_cannot_be_written_names_its_path(tmp_path: Path, anchors):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(OfmRollbackError) as caught:
        audit_anchor.append_anchor_file(str(blocker / "anchors.jsonl"), anchors[0])
    assert str(blocker) in str(caught.value) and "anchor_path" in str(caught.value)


def test_the_anchor_row_keeps_out_of_the_record_rows_queries(anchors):
    actor_sub, actor_email, action, resource, meta, ip, ua = audit_anchor.anchor_row(anchors[0], {"name": "alice", "email": None}, "ua/1")
    assert (actor_sub, actor_email, action, ip, ua) == ("alice", None, "rollback.audit_anchor", None, "ua/1")
    assert resource == f"audit-chain:{anchors[0]['chain']}"
    assert json.loads(meta) == {"anchor": anchors[0]}  # no top-level chain, run_id or seq: not a record row
    rows = [{"id": 2, "meta": meta}, {"id": 1, "meta": json.loads(audit_anchor.anchor_row(anchors[1], None, "ua")[4])},
            {"id": 3, "meta": {"anchor": {**anchors[2], "chain": "other"}}}, {"id": 4, "meta": "not json"}]
    assert audit_anchor.anchors_of_rows(rows, anchors[0]["chain"]) == [anchors[1], anchors[0]]


class _NoRuntime:
    def get_weight(self, backend: str, server: str) -> Any:
        raise AssertionError("the audit routes do not touch HAProxy")

    set_weight = get_weight


@pytest.fixture(name="ops_api")
def fixture_ops_api(tmp_path: Path) -> Iterator[str]:
    """The lab's ops API stand-in (its audit routes), served in a thread."""
    admin = Principal("oidc|auditor", "auditor@ofm.social", ("admin",))
    app = OpsApi(Authenticator({}, {TOKEN: admin}), CanaryOps(_NoRuntime(), "ofm_api", "stable", "canary", [100]),
                 AuditLog(JsonlFile(str(tmp_path / "ops-audit.jsonl"))), RequestJournal(None),
                 [ipaddress.ip_network(network) for network in DEFAULT_ALLOWED_NETWORKS])
    with serving(app.handler()) as url:
        yield url


def params(**values: Any) -> dict[str, Any]:
    return {"anchors": "none", "table": "audit_logs", "database": None, "anchor_path": None, "hmac_key": None, "ops_api_url": None,
            "ops_api_token": TOKEN, "ops_api_session_cookie": None, "validate_certs": True, "ca_path": None, "timeout": 5.0, "retries": 0,
            **values}


def test_anchors_sent_through_the_ops_api_are_read_back_from_its_audit_route(log: Path, anchors, ops_api: str):
    client = OpsApiClient.from_params(params(ops_api_url=ops_api))
    for anchor in anchors:
        client.write_audit(audit_anchor.ANCHOR_ACTION, audit_anchor.resource(anchor["chain"]), audit_anchor.row_meta(anchor))
    client.write_audit("rollback.note", audit_anchor.resource(anchors[0]["chain"]), {"anchor": {**anchors[0], "seq": 99}})
    assert audit_anchor.read_anchors(params(anchors="ops_api", ops_api_url=ops_api), anchors[0]["chain"]) == anchors
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:5]))
    found = audit_anchor.verify_anchors(params(anchors="ops_api", ops_api_url=ops_api, hmac_key=KEY), str(log))
    assert not found["ok"] and [item["seq"] for item in found["truncated"]] == [7, 12] and found["source"] == "ops_api"
    assert "the log ends at seq 5, but run run-3 anchored seq 12" in found["message"] and "ops API" in found["message"]


def test_verify_anchors_of_a_log_without_records_names_no_chain(tmp_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    found = audit_anchor.verify_anchors(params(anchors="file", anchor_path=str(tmp_path / "anchors.jsonl")), str(empty))
    assert found["ok"] and found["chain"] is None and "holds no record" in found["message"]


def test_an_unknown_anchor_source_names_the_option_and_the_accepted_values():
    with pytest.raises(InputError) as caught:
        audit_anchor.read_anchors(params(anchors="s3"), "chain")
    assert "anchors" in str(caught.value) and "table" in str(caught.value) and "ops_api" in str(caught.value)
