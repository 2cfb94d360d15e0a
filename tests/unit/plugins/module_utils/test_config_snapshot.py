# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration snapshot: its document and hash, the refusals of a bad, tampered, foreign or newer snapshot, and the
directory and Kubernetes Secret stores."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from kubefake import StoreClient

from ansible_collections.ofm.rollback.plugins.module_utils.config.snapshot import (
    FORMAT, DirectoryStore, KubeSecretStore, Snapshot, canonical_json, check_id, content_hash, new_id)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.kube_config import KubeConfig

VAULTED = "$ANSIBLE_VAULT;1.1;AES256\n6134353763\n"
SCOPE = {"kube_server": "https://k8s.example:6443", "namespace": "ofm-production", "redis": "redis:6379/0",
         "unleash": "http://unleash:4242", "database": "db:5432/ofm"}
KINDS: dict[str, Any] = {
    "configmaps": {"ofm-social-os-config": {"LOG_LEVEL": "info", "WEBHOOK_URL_TIKTOK": "https://hooks/é"}},
    "secrets": {"ofm-social-os-secrets": {"TIKTOK_API_KEY": VAULTED}},
    "unleash": {"environment": "production", "project": "default", "toggles": {"publish_v2": False}},
}
AT = datetime(2026, 12, 4, 7, 39, 0, 250000, tzinfo=timezone.utc)


def snapshot(environment: str = "production", at: datetime = AT, token: str = "1a2b3c", **kinds: Any) -> Snapshot:
    return Snapshot.create(environment=environment, scope=SCOPE, kinds=kinds or KINDS, taken_by="alice@ofm", change_id="CHG-7",
                           incident_id=None, now=at, token=token)


def test_the_document_has_the_fields_of_the_format_and_a_hash_over_the_canonical_json():
    document = snapshot().document
    assert list(document) == ["format", "version", "id", "taken_at", "taken_by", "change_id", "incident_id", "environment", "scope",
                              "kinds", "sha256"]
    assert document["format"] == FORMAT and document["version"] == 1
    assert document["id"] == "cfg-20261204T073900Z-1a2b3c" and document["taken_at"] == "2026-12-04T07:39:00+00:00"
    body = {key: value for key, value in document.items() if key != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "https://hooks/é" in text and canonical_json(body) == text
    assert document["sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest() == content_hash(document)


def test_an_id_is_utc_time_and_six_hex_digits():
    assert new_id(datetime(2026, 12, 4, 8, 39, tzinfo=timezone(timedelta(hours=1))), "abcdef") == "cfg-20261204T073900Z-abcdef"
    assert check_id(new_id()).startswith("cfg-")
    for bad in ("cfg-2026-12-04", "../../etc/passwd", "cfg-20261204T073900Z-1A2B3C", 7):
        with pytest.raises(InputError, match="is not a snapshot id"):
            check_id(bad, "snapshot_id")


def test_a_written_snapshot_loads_back_equal_whatever_its_layout():
    original = snapshot()
    assert Snapshot.load(original.to_json()).document == original.document
    assert Snapshot.load(canonical_json(original.document).encode()).document == original.document


def edited(change: Any) -> str:
    document = json.loads(snapshot().to_json())
    change(document)
    return json.dumps(document)


def test_a_tampered_snapshot_is_refused_saying_it_was_changed_after_it_was_taken():
    text = edited(lambda doc: doc["kinds"]["configmaps"]["ofm-social-os-config"].update(LOG_LEVEL="debug"))
    with pytest.raises(InputError) as caught:
        Snapshot.load(text, "/snaps/cfg.json", option="snapshot_path")
    message = str(caught.value)
    assert "/snaps/cfg.json: the content hash does not match" in message
    assert "the snapshot was changed after it was taken" in message and caught.value.option == "snapshot_path"
    with pytest.raises(InputError, match="the content hash does not match"):
        Snapshot.load(edited(lambda doc: doc.pop("sha256")))


def test_an_unknown_version_is_refused_naming_the_version_read():
    with pytest.raises(InputError) as caught:
        Snapshot.load(edited(lambda doc: doc.update(version=2)))
    assert "has version 2, which this collection does not read (it reads version 1)" in str(caught.value)
    assert "Accepted versions: 1" in str(caught.value)
    with pytest.raises(InputError, match="has version True"):
        Snapshot.load(edited(lambda doc: doc.update(version=True)))


@pytest.mark.parametrize("text, fragment", [("{not json", "is not JSON"), ("[1]", "is not a configuration snapshot"),
                                            ('{"format": "other"}', "is not a configuration snapshot (format 'other'")])
def test_a_document_that_is_not_a_snapshot_is_refused(text, fragment):
    with pytest.raises(InputError, match=fragment.replace("(", r"\(")):
        Snapshot.load(text)


def rehashed(change: Any) -> str:
    document = json.loads(snapshot().to_json())
    change(document)
    document["sha256"] = content_hash(document)
    return json.dumps(document)


@pytest.mark.parametrize("change, fragment", [
    (lambda doc: doc.pop("taken_by"), "lacks the fields ['taken_by']"),
    (lambda doc: doc.update(taken_at="2026-12-04T07:39:00"), "not an ISO 8601 time with an offset"),
    (lambda doc: doc.update(id="snap-1"), "has the id 'snap-1'"),
    (lambda doc: doc["kinds"].update(mail={}), "holds unknown kinds ['mail']")])
def test_a_well_hashed_document_with_bad_fields_is_refused(change, fragment):
    with pytest.raises(InputError) as caught:
        Snapshot.load(rehashed(change))
    assert fragment in str(caught.value)


def test_a_snapshot_from_another_environment_or_namespace_is_refused_naming_both_values():
    taken = snapshot()
    taken.check_scope({**SCOPE, "kube_server": "https://k8s.example:6443/"}, environment="production")
    with pytest.raises(InputError) as caught:
        taken.check_scope({**SCOPE, "namespace": "ofm-staging"}, environment="staging", option="snapshot_id")
    message = str(caught.value)
    assert "snapshot cfg-20261204T073900Z-1a2b3c was taken elsewhere" in message
    assert "environment: the snapshot's is 'production', this restore's is 'staging'" in message
    assert "namespace: the snapshot's is 'ofm-production', this restore's is 'ofm-staging'" in message
    assert caught.value.option == "snapshot_id" and [item["name"] for item in caught.value.details["different"]] == ["environment", "namespace"]
    with pytest.raises(InputError, match="Kubernetes API server: the snapshot's is 'https://k8s.example:6443', this restore's is 'https://other'"):
        taken.check_scope({"kube_server": "https://other"})
    taken.check_scope({"kube_server": "https://other", "redis": None}, ignore=["kube_server"])


def test_selecting_kinds_refuses_unknown_and_absent_ones_naming_what_it_holds():
    taken = snapshot()
    assert list(taken.select()) == ["unleash", "configmaps", "secrets"]
    assert list(taken.select(["secrets", "configmaps"])) == ["configmaps", "secrets"]
    with pytest.raises(InputError, match=r"holds no rate_limits; it holds \['configmaps', 'secrets', 'unleash'\]"):
        taken.select(["rate_limits"])
    with pytest.raises(InputError, match=r"unknown kinds \['mail'\]"):
        taken.select(["mail"])


def test_the_summary_holds_no_values():
    summary = snapshot().summary()
    assert summary["kinds"] == ["configmaps", "secrets", "unleash"] and VAULTED not in json.dumps(summary) and "info" not in json.dumps(summary)


# --- directory store


def test_the_directory_store_writes_once_atomically_with_mode_0600(tmp_path: Path):
    store = DirectoryStore(str(tmp_path / "snaps"))
    taken = snapshot()
    path = store.save(taken)
    assert path == str(tmp_path / "snaps" / "cfg-20261204T073900Z-1a2b3c.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(tmp_path / "snaps").st_mode) == 0o700
    assert os.listdir(tmp_path / "snaps") == ["cfg-20261204T073900Z-1a2b3c.json"]  # no temporary file left
    assert store.get(taken.id).document == taken.document
    with pytest.raises(ConflictError, match="is stored already"):
        store.save(taken)


def test_list_is_newest_first_and_shows_a_broken_file_with_its_problem(tmp_path: Path):
    store = DirectoryStore(str(tmp_path))
    older = snapshot(at=AT - timedelta(hours=1), token="000001")
    newer = snapshot(at=AT, token="000002")
    staging = snapshot("staging", at=AT + timedelta(hours=1), token="000003")
    for taken in (newer, older, staging):
        store.save(taken)
    broken = tmp_path / "cfg-20261205T000000Z-000004.json"
    broken.write_text(edited(lambda doc: doc.update(taken_by="mallory")))
    (tmp_path / "notes.json").write_text("{}")
    listed = store.list()
    # newest first; a file that does not load has no time it can be trusted with, so it comes last
    assert [entry.id for entry in listed] == [staging.id, newer.id, older.id, "cfg-20261205T000000Z-000004"]
    bad = next(entry for entry in listed if entry.problem)
    assert bad.id == "cfg-20261205T000000Z-000004" and "the content hash does not match" in bad.problem
    assert listed[1].as_dict()["kinds"] == ["configmaps", "secrets", "unleash"] and listed[1].environment == "production"
    assert store.latest("production").id == newer.id and store.latest("staging").id == staging.id
    with pytest.raises(InputError, match="the content hash does not match"):
        store.get("cfg-20261205T000000Z-000004")


def test_an_unknown_id_is_not_found_listing_the_latest_ids(tmp_path: Path):
    store = DirectoryStore(str(tmp_path))
    taken = [snapshot(at=AT + timedelta(minutes=minute), token=f"00000{minute}") for minute in range(7)]
    for each in taken:
        store.save(each)
    ids = [each.id for each in taken]
    assert ids[-1] == "cfg-20261204T074500Z-000006"
    with pytest.raises(NotFoundError) as caught:
        store.get("cfg-20261204T000000Z-ffffff")
    assert caught.value.details["latest"] == ids[::-1][:5]
    assert f"there is no snapshot cfg-20261204T000000Z-ffffff in directory {tmp_path}; the latest are {ids[::-1][:5]}" in str(caught.value)
    with pytest.raises(NotFoundError, match=r"no snapshot of environment 'dev' .* it holds snapshots of \['production'\]"):
        store.latest("dev")
    with pytest.raises(InputError, match="is not a snapshot id"):
        store.get("../etc/passwd")


def test_a_renamed_file_is_refused(tmp_path: Path):
    store = DirectoryStore(str(tmp_path))
    store.save(snapshot())
    os.rename(tmp_path / "cfg-20261204T073900Z-1a2b3c.json", tmp_path / "cfg-20261204T073900Z-999999.json")
    with pytest.raises(InputError, match="holds snapshot cfg-20261204T073900Z-1a2b3c, not cfg-20261204T073900Z-999999"):
        store.get("cfg-20261204T073900Z-999999")
    assert store.list()[0].problem == "holds snapshot cfg-20261204T073900Z-1a2b3c, not cfg-20261204T073900Z-999999"
    with pytest.raises(NotFoundError):
        store.latest("production")


def test_an_empty_or_missing_directory_lists_nothing(tmp_path: Path):
    assert DirectoryStore(str(tmp_path / "absent")).list() == []


# --- Kubernetes Secret store


def test_the_secret_store_keeps_one_labelled_immutable_secret_per_snapshot():
    server = StoreClient()
    client = KubeConfig(server.kube())
    store = KubeSecretStore(client, "default", "ofm-snap")
    taken, later = snapshot(), snapshot(at=AT + timedelta(minutes=5), token="00000f")
    assert store.save(taken) == "Secret default/ofm-snap-cfg-20261204t073900z-1a2b3c"
    store.save(later)
    secret = server.read("v1", "Secret", "default", "ofm-snap-cfg-20261204t073900z-1a2b3c")
    assert secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "ofm.rollback", "ofm.rollback/snapshot-id": taken.id}
    assert secret["immutable"] is True
    assert json.loads(base64.b64decode(secret["data"]["snapshot.json"]))["sha256"] == taken.sha256
    server.create("v1", "Secret", "default", {"metadata": {"name": "unrelated"}, "data": {}})
    before = client.round_trips
    assert [entry.id for entry in store.list()] == [later.id, taken.id] and client.round_trips == before + 1
    assert store.get(taken.id).document == taken.document and store.latest("production").id == later.id
    with pytest.raises(ConflictError):
        store.save(taken)
    with pytest.raises(NotFoundError, match=r"there is no snapshot cfg-20261204T000000Z-ffffff in the Secrets ofm-snap-\* of namespace "
                                            rf"default; the latest are \['{later.id}', '{taken.id}'\]"):
        store.get("cfg-20261204T000000Z-ffffff")
