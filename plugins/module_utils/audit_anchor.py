# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Anchors of the audit log's hash chain: its head kept where the run's operator cannot rewrite it unnoticed.

The chain (``audit.py``) shows an edited record, but not records deleted from the end of the file, nor a file whose every
hash was recomputed after an edit. So at the end of every run (failed runs too) the audit callback writes the chain's head
as an *anchor*::

    {"chain": <the log's chain id>, "seq": <seq of the run's last record>, "hash": <its hash>, "run_id": ..., "time": <its
     time, UTC>, "run_records": <records the run wrote>, "hmac": <HMAC-SHA256 of the other fields, with a key>}

to any of: OFM's ``audit_logs`` table (``action`` ``rollback.audit_anchor``, ``resource`` ``audit-chain:<chain>``, ``meta``
``{"anchor": ...}``; the audit writer's role may insert there but not update or delete), the ops API's audit route (the
same row, ``POST /internal/audit``: the collection's convention, see the README), and an anchor file (one JSON line per
anchor, on storage the operator cannot rewrite). ``hmac`` is there when the callback has a key (``OFM_AUDIT_HMAC_KEY``):
whoever can write anchors but does not hold the key cannot forge one. The key is never written anywhere.

``check_anchors`` compares the log with the anchors of its chain: an anchor whose seq lies beyond the log's last record
means records were deleted from the tail (*truncated*); a record whose hash differs from its anchor, or an anchor whose
HMAC does not match, means the log (or the anchor) was *rewritten*.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ofm.rollback.plugins.module_utils.audit import LOCK_TIMEOUT, canonical_json, lock_file, read_records
from ansible_collections.ofm.rollback.plugins.module_utils.audit_table import check_table, log_chain, read_rows
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, NotFoundError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import MAX_AUDIT_ROWS, OpsApiClient

ANCHOR_ACTION = "rollback.audit_anchor"
ANCHOR_FAILED = "anchor_failed"
ANCHOR_FIELDS = ("chain", "seq", "hash", "run_id", "time", "run_records")
RESOURCE_PREFIX = "audit-chain:"
SOURCES = ("table", "ops_api", "file")
SYSTEM = "ofm.rollback audit anchors"


def resource(chain: str) -> str:
    """The ``resource`` of a chain's anchor rows (the ops API filters on it)."""
    return RESOURCE_PREFIX + chain


def anchor_hmac(anchor: Mapping[str, Any], key: str) -> str:
    """HMAC-SHA256 (hex) of the anchor's fields (``ANCHOR_FIELDS``, canonical JSON) with ``key``."""
    body = canonical_json({name: anchor.get(name) for name in ANCHOR_FIELDS})
    return hmac.new(key.encode("utf-8"), body.encode("ascii"), hashlib.sha256).hexdigest()


def make_anchor(head: Mapping[str, Any], chain: str, run_records: int, key: Optional[str] = None) -> Dict[str, Any]:
    """The anchor of the chain's head record ``head`` (as ``append_records`` returned it), signed when ``key`` is set."""
    anchor: Dict[str, Any] = {"chain": chain, "seq": head["seq"], "hash": head["hash"], "run_id": head.get("run_id"),
                              "time": head.get("time"), "run_records": int(run_records)}
    if key:
        anchor["hmac"] = anchor_hmac(anchor, key)
    return anchor


def row_meta(anchor: Mapping[str, Any]) -> Dict[str, Any]:
    """The ``meta`` of an anchor's audit row (nothing at its top level that the record rows' queries select on)."""
    return {"anchor": dict(anchor)}


def anchor_row(anchor: Mapping[str, Any], actor: Optional[Mapping[str, Any]], ua: str) -> Tuple[Any, ...]:
    """The ``audit_logs`` row of an anchor, in ``audit_table.COLUMNS`` order (for ``audit_table.insert_sql``)."""
    actor = actor or {}
    return (actor.get("name"), actor.get("email"), ANCHOR_ACTION, resource(str(anchor["chain"])), json.dumps(row_meta(anchor), sort_keys=True),
            None, ua)


def anchors_sql(table: str) -> str:
    return f"SELECT id, meta FROM {check_table(table)} WHERE action = %s AND resource = %s ORDER BY id"


def append_anchor_file(path: str, anchor: Mapping[str, Any], lock_timeout: float = LOCK_TIMEOUT) -> None:
    """Append the anchor as one JSON line to the file at ``path`` (mode 0600, directories 0700), under an exclusive lock."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise OfmRollbackError(exc.strerror or str(exc), system=SYSTEM, operation="open the anchor file", target=path,
                               hint="Check that the anchor file's directory exists and is writable, or set anchor_path elsewhere.") from exc
    try:
        lock_file(fd, path, lock_timeout)
        os.write(fd, (canonical_json(dict(anchor)) + "\n").encode("ascii"))
        os.fsync(fd)
    except OSError as exc:
        raise OfmRollbackError(exc.strerror or str(exc), system=SYSTEM, operation="append to the anchor file", target=path) from exc
    finally:
        os.close(fd)


def read_anchor_file(path: str, chain: str) -> List[Dict[str, Any]]:
    """The anchors of ``chain`` in the anchor file at ``path``, in file order (lines that are not anchors are skipped)."""
    try:
        with open(path, "rb") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError as exc:
        raise NotFoundError("the anchor file does not exist", system=SYSTEM, operation="read", target=path,
                            hint="Point anchor_path at the file the callback's anchor_path (OFM_AUDIT_ANCHOR_PATH) writes.") from exc
    except OSError as exc:
        raise OfmRollbackError(exc.strerror or str(exc), system=SYSTEM, operation="read", target=path) from exc
    return of_chain((_json_object(line) for line in lines), chain)


def anchors_of_rows(rows: Iterable[Mapping[str, Any]], chain: str) -> List[Dict[str, Any]]:
    """The anchors of ``chain`` in audit rows (``meta.anchor``; ``meta`` as a dict or as JSON text), oldest row first by id."""
    found = []
    for row in sorted(rows, key=lambda item: item.get("id") or 0):
        meta = row.get("meta")
        if isinstance(meta, (str, bytes)):
            meta = _json_object(meta)
        found.append(meta.get("anchor") if isinstance(meta, Mapping) else None)
    return of_chain(found, chain)


def of_chain(candidates: Iterable[Any], chain: str) -> List[Dict[str, Any]]:
    return [dict(anchor) for anchor in candidates if isinstance(anchor, Mapping) and anchor.get("chain") == chain]


def _json_object(text: Any) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(text)
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def read_anchors(params: Mapping[str, Any], chain: str) -> List[Dict[str, Any]]:
    """The anchors of ``chain`` from the source ``params["anchors"]`` (audit_verify's options), oldest first."""
    source = params["anchors"]
    if source == "table":
        rows = read_rows(params, anchors_sql(params["table"]), (ANCHOR_ACTION, resource(chain)), "anchors=table")
        return anchors_of_rows([{"id": row[0], "meta": row[1]} for row in rows], chain)
    if source == "ops_api":
        # Newest first, at most MAX_AUDIT_ROWS: the newest anchors are the ones that show a truncated tail.
        return anchors_of_rows(OpsApiClient.from_params(params).audit(limit=MAX_AUDIT_ROWS, action=ANCHOR_ACTION, resource=resource(chain)), chain)
    if source == "file":
        return read_anchor_file(params["anchor_path"], chain)
    raise InputError(f"anchors must be one of none, {', '.join(SOURCES)}, not {source!r}", option="anchors", accepted=("none",) + SOURCES)


def verify_anchors(params: Mapping[str, Any], path: str) -> Dict[str, Any]:
    """The log at ``path`` against the anchors of its chain in ``params["anchors"]``, with ``params["hmac_key"]`` when set."""
    chain = log_chain(path)
    where = describe_source(params)
    if chain is None:
        return {**check_anchors([], [], None), "chain": None, "source": params["anchors"], "where": where,
                "message": f"the log {path} holds no record, so it names no chain to look up in {where}"}
    found = check_anchors(read_records(path), read_anchors(params, chain), params.get("hmac_key") or None)
    return {**found, "chain": chain, "source": params["anchors"], "where": where, "message": anchor_message(found, where)}


def describe_source(params: Mapping[str, Any]) -> str:
    source = params["anchors"]
    if source == "table":
        return f"the {params['table']} table"
    if source == "ops_api":
        return "the ops API's audit route"
    return f"the anchor file {params.get('anchor_path')}"


def check_anchors(records: Sequence[Mapping[str, Any]], anchors: Sequence[Mapping[str, Any]], key: Optional[str] = None) -> Dict[str, Any]:
    """The log's records (``read_records``) against the anchors of its chain.

    Returns ``ok`` (nothing truncated or rewritten), ``anchors`` (how many distinct anchors were read), ``verified``,
    ``truncated`` (anchors beyond the log's last record: ``seq``, ``run_id``, ``time``, ``hash``, ``log_last_seq``),
    ``rewritten`` (anchors the log or the key contradicts, with ``reason``), ``unsigned`` (with ``key``: anchors without an
    HMAC, not trusted), ``last_anchored_seq`` and ``unanchored_records`` (records after it, such as the running play's).
    """
    by_seq: Dict[int, Mapping[str, Any]] = {}
    for record in records:
        seq = record.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            by_seq.setdefault(seq, record)
    last_seq = max(by_seq, default=0)
    truncated: List[Dict[str, Any]] = []
    rewritten: List[Dict[str, Any]] = []
    unsigned: List[Dict[str, Any]] = []
    verified: List[int] = []
    distinct = _distinct(anchors)
    for anchor in distinct:
        entry = {name: anchor.get(name) for name in ("seq", "run_id", "time", "hash")}
        seq, digest = anchor.get("seq"), anchor.get("hash")
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(digest, str):
            rewritten.append({**entry, "reason": "the anchor has no seq and hash: it was not written by the audit callback"})
        elif key and not anchor.get("hmac"):
            unsigned.append(entry)
        elif key and not hmac.compare_digest(str(anchor["hmac"]), anchor_hmac(anchor, key)):
            rewritten.append({**entry, "reason": "its HMAC does not match: the anchor was forged or changed (or hmac_key is not the "
                                                 "callback's key)"})
        elif seq > last_seq:
            truncated.append({**entry, "log_last_seq": last_seq})
        elif seq not in by_seq:
            rewritten.append({**entry, "reason": f"the log holds no record with seq {seq}"})
        elif by_seq[seq].get("hash") != digest:
            rewritten.append({**entry, "log_hash": by_seq[seq].get("hash"),
                              "reason": f"the log's record has hash {str(by_seq[seq].get('hash'))[:16]}..., the anchor {digest[:16]}...: "
                                        f"the log was rewritten at or before seq {seq}"})
        else:
            verified.append(seq)
    last_anchored = max(verified, default=None)
    return {"ok": not truncated and not rewritten, "anchors": len(distinct), "verified": len(verified),
            "truncated": sorted(truncated, key=lambda item: item["seq"]), "rewritten": sorted(rewritten, key=_seq_key),
            "unsigned": unsigned, "last_anchored_seq": last_anchored, "log_last_seq": last_seq,
            "unanchored_records": max(0, last_seq - (last_anchored or 0))}


def _distinct(anchors: Sequence[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    seen: Dict[Tuple[Any, ...], Mapping[str, Any]] = {}
    for anchor in anchors:
        seen.setdefault((str(anchor.get("seq")), str(anchor.get("hash")), str(anchor.get("hmac"))), anchor)
    return list(seen.values())


def _seq_key(item: Mapping[str, Any]) -> int:
    seq = item.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else -1


def anchor_message(found: Mapping[str, Any], where: str) -> str:
    """What ``check_anchors`` found, naming the seq and the run of the anchors that fail (``where``: the anchors' source)."""
    parts = []
    if found["truncated"]:
        last = found["truncated"][-1]
        parts.append(f"truncated: the log ends at seq {last['log_last_seq']}, but run {last['run_id']} anchored seq {last['seq']} at "
                     f"{last['time']} ({where}): records {last['log_last_seq'] + 1}-{last['seq']} were deleted from its tail"
                     + (f" ({len(found['truncated'])} anchors lie beyond its end)" if len(found["truncated"]) > 1 else ""))
    if found["rewritten"]:
        first = found["rewritten"][0]
        parts.append(f"rewritten: seq {first['seq']} anchored by run {first['run_id']} at {first['time']} ({where}): {first['reason']}"
                     + (f" ({len(found['rewritten'])} anchors contradicted)" if len(found["rewritten"]) > 1 else ""))
    if not parts:
        return (f"{found['verified']} anchors ({where}) match the log, the last at seq {found['last_anchored_seq']}"
                if found["verified"] else f"no anchor of the log's chain in {where}")
    return "; ".join(parts)
