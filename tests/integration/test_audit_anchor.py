"""Anchors of the audit chain in real ansible-playbook runs, and the torn last line a real SIGKILL leaves.

Runs on localhost with the ofm.rollback.audit callback writing its anchors to the lab PostgreSQL's audit_logs table (as the
audit writer ofm_audit, who may insert but not update or delete: rows of this module's own chains only), to an ops API
stand-in process of its own (POST /internal/audit) and to an anchor file, signed with an HMAC key. Then the log is
tampered with in a copy: its tail deleted (truncated), a record edited and every hash recomputed (rewritten against the
anchors), the log and the anchor file rewritten together (rewritten against the HMAC). The last test SIGKILLs
ansible-playbook while it writes a large record, until the log ends in a torn line, and runs again.

Not shared_lab: it needs only the lab's PostgreSQL, and changes no shared state.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
import yaml
from labtest import Secrets, ansible_bin, ansible_env, credentials, run_local_playbook, run_module, wait_until

from ansible_collections.ofm.rollback.plugins.module_utils.audit import GENESIS_HASH, canonical_json, read_records, record_hash
from ansible_collections.ofm.rollback.plugins.module_utils.audit_anchor import anchor_hmac
from lab.config import HOST, REPO_ROOT, load_config

HMAC_KEY = "anchor-IT-hmac-KEY-93c1f0"
OPS_TOKEN = "anchor-IT-ops-TOKEN-5b27e4"
PLAYBOOK = [{"name": "Anchored run", "hosts": "localhost", "gather_facts": False, "tasks": [
    {"name": "Say which run this is", "ansible.builtin.debug": {"msg": "run {{ audit_run }}"}},
    {"name": "Write a marker", "ansible.builtin.copy": {"content": "{{ audit_run }}\n", "dest": "{{ playbook_dir }}/marker", "mode": "0600"}},
    {"name": "Read it back", "ansible.builtin.command": {"cmd": "cat {{ playbook_dir }}/marker"}, "changed_when": False},
]}]
# Records of about 300 kB (a task result's msg with 300 keys of 1000 characters): the kernel copies such a write page by
# page, so a SIGKILL that lands while the log grows leaves a torn last line.
BIG_RECORDS = [{"name": "Large records", "hosts": "localhost", "gather_facts": False,
                "vars": {"big": "{{ dict(range(300) | map('string') | zip(['x' * 1000] * 300)) }}"},
                "tasks": [{"name": f"Large record {index}", "ansible.builtin.debug": {"msg": "{{ big }}"}} for index in range(40)]}]
KILL_ATTEMPTS = 10


@pytest.fixture(name="audit_db", scope="module")
def fixture_audit_db() -> dict[str, Any]:
    """The lab PostgreSQL's audit_logs table, as the callback's audit writer ofm_audit reaches it."""
    lab = load_config()
    if not lab.config_file.exists():
        pytest.fail(f"no lab at {lab.state_dir}: run the suite with scripts/test.sh (it brings the lab up)")
    secrets: Secrets = credentials(lab)
    database = Secrets(host=HOST, port=lab.ports["postgres"], database="ofm", user="ofm_audit", password=secrets["db_audit_password"],
                       sslmode="disable")

    def answers() -> bool:
        try:
            with connect(database):
                return True
        except psycopg.OperationalError:
            return False
    wait_until(answers, timeout=120, interval=1, what="the lab's PostgreSQL")
    return database


def connect(database: dict[str, Any]) -> Any:
    return psycopg.connect(host=database["host"], port=database["port"], dbname=database["database"], user=database["user"],
                           password=database["password"], sslmode=database["sslmode"], autocommit=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@pytest.fixture(name="ops_api", scope="module")
def fixture_ops_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An ops API stand-in process of this module's own (its audit routes: HAProxy is never asked)."""
    workdir = tmp_path_factory.mktemp("anchor-ops-api")
    (workdir / "credentials.json").write_text(json.dumps(
        {"sessions": {}, "tokens": {OPS_TOKEN: {"sub": "oidc|auditor", "email": "auditor@ofm.social", "roles": ["admin"]}}}))
    port = free_port()
    with open(workdir / "ops-api.log", "wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-m", "lab.services.ops_api", "--host", HOST, "--port", str(port), "--credentials-file", str(workdir / "credentials.json"),
             "--haproxy-socket", f"{HOST}:{free_port()}", "--audit-file", str(workdir / "audit.jsonl")],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}"
    try:
        wait_until(lambda: _listening(port), timeout=30, interval=0.1, what="the ops API stand-in listening")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def callback_env(log: Path, **extra: str) -> dict[str, str]:
    return {"ANSIBLE_CALLBACKS_ENABLED": "ofm.rollback.audit", "OFM_AUDIT_LOG": str(log), "OFM_AUDIT_HMAC_KEY": HMAC_KEY, **extra}


def anchored_env(log: Path, anchors: Path, database: dict[str, Any], ops_api: str) -> dict[str, str]:
    return callback_env(log, OFM_AUDIT_ANCHOR_PATH=str(anchors), OFM_AUDIT_OPS_API_URL=ops_api, OFM_AUDIT_OPS_API_TOKEN=OPS_TOKEN,
                        OFM_AUDIT_DB_DSN=f"host={database['host']} port={database['port']} dbname=ofm user=ofm_audit sslmode=disable",
                        OFM_AUDIT_DB_PASSWORD=database["password"])


def play(workdir: Path, run: int, env: dict[str, str], playbook: Any = None) -> subprocess.CompletedProcess:
    path = workdir / ("big.yml" if playbook else "anchored.yml")
    path.write_text(yaml.safe_dump(playbook or PLAYBOOK, sort_keys=False))
    done = run_local_playbook(path, workdir, extra_vars={"audit_run": run}, env=env, timeout=300)
    assert done.returncode == 0, f"ansible-playbook exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(name="anchored", scope="module")
def fixture_anchored(tmp_path_factory: pytest.TempPathFactory, audit_db: dict[str, Any], ops_api: str) -> dict[str, Any]:
    """Two real runs whose anchors went to the table, the ops API and the anchor file."""
    workdir = tmp_path_factory.mktemp("anchored")
    log, anchors = workdir / "audit.jsonl", workdir / "anchors" / "anchors.jsonl"
    outputs = [play(workdir, run, anchored_env(log, anchors, audit_db, ops_api)) for run in (1, 2)]
    records = read_records(str(log))
    return {"workdir": workdir, "log": log, "anchor_file": anchors, "records": records, "chain": records[0]["hash"][:16],
            "run_ends": [record for record in records if record["type"] == "run_end"],
            "output": "".join(done.stdout + done.stderr for done in outputs)}


def verify(anchored: dict[str, Any], log: Path, database: dict[str, Any], ops_api: str, anchors: str, **extra: Any) -> Any:
    """audit_verify through a real ``ansible localhost -m``, the key and the token in the environment only."""
    args = {"path": str(log), "anchors": anchors, "fail_on_broken": False, **extra}
    if anchors == "table":
        args["database"] = dict(database)
    elif anchors == "ops_api":
        args["ops_api_url"] = ops_api
    elif anchors == "file":
        args.setdefault("anchor_path", str(anchored["anchor_file"]))
    return run_module("audit_verify", args, anchored["workdir"], env={"OFM_AUDIT_HMAC_KEY": HMAC_KEY, "OFM_OPS_API_TOKEN": OPS_TOKEN})


def tampered_copy(anchored: dict[str, Any], name: str, rows: list[str]) -> Path:
    path = anchored["workdir"] / name
    path.write_text("".join(rows))
    return path


def rechained(records: list[dict[str, Any]]) -> list[str]:
    """The log as someone who knows the algorithm rewrites it: every hash recomputed."""
    prev, rows = GENESIS_HASH, []
    for record in records:
        entry = {**record, "prev_hash": prev}
        entry["hash"] = prev = record_hash(entry)
        rows.append(canonical_json(entry) + "\n")
    return rows


def test_each_run_end_is_anchored_in_the_table_the_ops_api_and_the_file(anchored, audit_db, ops_api):
    heads = [(record["seq"], record["hash"], record["run_id"]) for record in anchored["run_ends"]]
    with connect(audit_db) as db:
        rows = db.execute("SELECT actor_sub, meta->'anchor' FROM audit_logs WHERE action = 'rollback.audit_anchor' AND resource = %s ORDER BY id",
                          (f"audit-chain:{anchored['chain']}",)).fetchall()
    assert [(anchor["seq"], anchor["hash"], anchor["run_id"]) for _actor, anchor in rows] == heads
    assert all(anchor["hmac"] == anchor_hmac(anchor, HMAC_KEY) for _actor, anchor in rows)
    file_anchors = [json.loads(line) for line in anchored["anchor_file"].read_text().splitlines()]
    assert file_anchors == [anchor for _actor, anchor in rows]
    for source in ("table", "ops_api", "file"):
        result = verify(anchored, anchored["log"], audit_db, ops_api, source).result
        assert result["ok"] is True and "failed" not in result, result.get("msg")
        assert (result["anchors"]["verified"], result["anchors"]["last_anchored_seq"]) == (2, heads[-1][0]), source
    assert "[WARNING]" not in anchored["output"]
    for text in (anchored["output"], anchored["log"].read_text(), anchored["anchor_file"].read_text()):
        assert HMAC_KEY not in text and OPS_TOKEN not in text and audit_db["password"] not in text


@pytest.mark.reliability("anchor", procedure="all", case="records deleted from the tail of the audit log after the run",
                         expected="reported truncated, naming the anchored seq and run")
def test_a_truncated_tail_is_reported_against_the_table_anchor(anchored, audit_db, ops_api, reliability):
    rows = anchored["log"].read_text().splitlines(keepends=True)
    last = anchored["run_ends"][-1]
    log = tampered_copy(anchored, "truncated.jsonl", rows[:last["seq"] - 3])
    run = verify(anchored, log, audit_db, ops_api, "table")
    result = run.result
    assert result["first_broken"] is None, "the chain alone cannot see a deleted tail"
    assert result["ok"] is False and [(item["seq"], item["run_id"]) for item in result["anchors"]["truncated"]] == [(last["seq"], last["run_id"])]
    assert f"the log ends at seq {last['seq'] - 3}, but run {last['run_id']} anchored seq {last['seq']}" in result["msg"]
    failing = verify(anchored, log, audit_db, ops_api, "table", fail_on_broken=True)
    assert failing.rc == 2 and failing.result["failed"] is True and "truncated" in failing.result["msg"]
    reliability.observed(f"audit_verify failed: truncated, run's anchor at seq {last['seq']} beyond the log's end (seq {last['seq'] - 3})")


@pytest.mark.reliability("anchor", procedure="all", case="a record of the audit log edited and every later hash recomputed",
                         expected="reported rewritten against the anchors, naming the seq and run")
def test_an_edited_and_rehashed_log_is_rewritten_against_the_ops_api_anchors(anchored, audit_db, ops_api, reliability):
    records = read_records(str(anchored["log"]))
    first = anchored["run_ends"][0]
    records[2]["status"] = "skipped"
    log = tampered_copy(anchored, "rewritten.jsonl", rechained(records))
    result = verify(anchored, log, audit_db, ops_api, "ops_api").result
    assert result["first_broken"] is None, "the recomputed chain verifies on its own"
    assert result["ok"] is False and result["anchors"]["truncated"] == []
    assert [(item["seq"], item["run_id"]) for item in result["anchors"]["rewritten"]] == [(end["seq"], end["run_id"]) for end in anchored["run_ends"]]
    assert f"rewritten: seq {first['seq']} anchored by run {first['run_id']}" in result["msg"]
    reliability.observed("audit_verify: rewritten, both runs' anchors contradict the recomputed hashes")


@pytest.mark.reliability("anchor", procedure="all", case="the audit log and the anchor file rewritten together (anchors recomputed without "
                         "the HMAC key)", expected="reported rewritten: the anchors' HMAC does not match")
def test_a_log_rewritten_with_its_anchor_file_is_caught_by_the_hmac(anchored, audit_db, ops_api, reliability):
    records = read_records(str(anchored["log"]))
    records[2]["status"] = "skipped"
    rows = rechained(records)
    log = tampered_copy(anchored, "forged.jsonl", rows)
    by_seq = {json.loads(row)["seq"]: json.loads(row)["hash"] for row in rows}
    forged = [{**json.loads(line), "hash": by_seq[json.loads(line)["seq"]]} for line in anchored["anchor_file"].read_text().splitlines()]
    anchor_file = anchored["workdir"] / "forged-anchors.jsonl"
    anchor_file.write_text("".join(canonical_json(anchor) + "\n" for anchor in forged))
    unkeyed = run_module("audit_verify", {"path": str(log), "anchors": "file", "anchor_path": str(anchor_file)}, anchored["workdir"])
    assert unkeyed.result["ok"] is True, "without the key, forged anchors that match the forged log pass"
    result = verify(anchored, log, audit_db, ops_api, "file", anchor_path=str(anchor_file)).result
    assert result["ok"] is False and len(result["anchors"]["rewritten"]) == 2
    assert all("HMAC does not match" in item["reason"] for item in result["anchors"]["rewritten"])
    assert HMAC_KEY not in json.dumps(result)
    reliability.observed("audit_verify with hmac_key: rewritten, HMAC of both forged anchors does not match")


@pytest.mark.reliability("anchor", procedure="all", case="the ops API audit route is down when the run ends",
                         expected="went on, anchor_failed recorded in the audit log and printed")
def test_an_anchor_that_cannot_be_sent_is_recorded_in_the_log_and_printed(tmp_path, audit_db, reliability):
    log = tmp_path / "audit.jsonl"
    done = play(tmp_path, 1, anchored_env(log, tmp_path / "anchors.jsonl", audit_db, f"http://{HOST}:{free_port()}"))
    records = read_records(str(log))
    run_end, failed = records[-2:]
    assert run_end["type"] == "run_end" and failed["type"] == "anchor_failed" and failed["written"] == ["table", "file"]
    assert list(failed["failed"]) == ["ops_api"] and failed["anchor"]["seq"] == run_end["seq"]
    output = " ".join((done.stdout + done.stderr).split())
    assert f"the chain's head (seq {run_end['seq']}) was not anchored (ops_api:" in output and f"records it (seq {failed['seq']})" in output
    for secret in (OPS_TOKEN, HMAC_KEY, audit_db["password"]):
        assert secret not in output + log.read_text()
    reliability.observed("run succeeded; anchor_failed record names ops_api; warning printed; table and file anchors written")


def kill_while_writing(workdir: Path, log: Path, env: dict[str, str]) -> int:
    """Start ansible-playbook on the large records and SIGKILL it as soon as the log grows past its run_start; the attempts made
    until the log's last byte is not a newline."""
    playbook = workdir / "big.yml"
    playbook.write_text(yaml.safe_dump(BIG_RECORDS, sort_keys=False))
    argv = [ansible_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    for attempt in range(1, KILL_ATTEMPTS + 1):
        start = log.stat().st_size if log.exists() else 0
        process = subprocess.Popen(argv, cwd=workdir, env=ansible_env(workdir, env), stdout=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        deadline, previous = time.monotonic() + 120, start
        try:
            while process.poll() is None and time.monotonic() < deadline:
                size = log.stat().st_size if log.exists() else 0
                if size != previous and size - start > 50000:  # past the run_start: a large record is being written
                    os.kill(process.pid, signal.SIGKILL)
                    break
                previous = size
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            with log.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                torn = handle.read(1) != b"\n"
        if torn:
            return attempt
    pytest.fail(f"{KILL_ATTEMPTS} SIGKILLs of ansible-playbook mid-write left no torn last line in {log}")


@pytest.mark.reliability("anchor", procedure="all", case="ansible-playbook SIGKILLed while it writes an audit record (torn last line)",
                         expected="torn line reported as a warning, the next run names it and the chain continues")
def test_a_real_sigkill_mid_record_leaves_a_torn_line_that_the_next_run_names(tmp_path, reliability):
    log, anchors = tmp_path / "audit.jsonl", tmp_path / "anchors.jsonl"
    env = callback_env(log, OFM_AUDIT_ANCHOR_PATH=str(anchors))
    play(tmp_path, 1, env)
    attempts = kill_while_writing(tmp_path, log, env)
    size = log.stat().st_size
    before = run_module("audit_verify", {"path": str(log), "anchors": "file", "anchor_path": str(anchors)}, tmp_path,
                        env={"OFM_AUDIT_HMAC_KEY": HMAC_KEY})
    [torn] = before.result["torn_lines"]
    assert before.result["ok"] is True and before.result["anchors"]["ok"] is True and torn["repaired_by_seq"] is None
    assert torn["offset"] + torn["length"] == size and any(f"byte {torn['offset']}" in warning for warning in before.warnings)
    done = play(tmp_path, 2, env)
    records = read_records(str(log))
    repair = next(record for record in records if record["type"] == "torn_line")
    assert repair["torn"] == [{"offset": torn["offset"], "length": torn["length"], "sha256": torn["sha256"]}]
    assert "ended in a line cut short" in " ".join((done.stdout + done.stderr).split())
    after = run_module("audit_verify", {"path": str(log), "anchors": "file", "anchor_path": str(anchors)}, tmp_path,
                       env={"OFM_AUDIT_HMAC_KEY": HMAC_KEY})
    assert after.result["ok"] is True and after.result["first_broken"] is None
    assert [line["repaired_by_seq"] for line in after.result["torn_lines"]] == [repair["seq"]]
    assert after.result["anchors"]["verified"] == 2 and after.result["anchors"]["last_anchored_seq"] == records[-1]["seq"]
    reliability.observed(f"torn line after a SIGKILL ({'first' if attempts == 1 else 'a later'} attempt): a warning; the next run's "
                         "torn_line record names it; chain and anchors verify")
