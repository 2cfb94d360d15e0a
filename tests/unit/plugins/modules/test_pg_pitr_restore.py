# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_pitr_restore's main(): option checks, check mode with a fake pgbackrest on the PATH, RDS with a mocked boto3 client."""
from __future__ import annotations

import json
import os
import pwd
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from unithelpers import documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import pg_connection as pg_connection_docs
from ansible_collections.ofm.rollback.plugins.module_utils.postgres import rds as rds_pitr
from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.targets import parse_target
from ansible_collections.ofm.rollback.plugins.modules import pg_pitr_restore

pytestmark = pytest.mark.usefixtures("module_runner")

FAKE_PGBACKREST = '''
import json, sys, time
from pathlib import Path
calls = Path(__file__).with_name("calls.json")
calls.write_text(json.dumps(json.loads(calls.read_text() if calls.exists() else "[]") + [sys.argv[1:]]))
if "info" in sys.argv:
    stop = int(time.time()) - 600
    print(json.dumps([{"name": "ofm-social-os", "status": {"code": 0}, "db": [{"id": 1, "version": "15"}],
        "archive": [{"id": "15-1", "min": "000000010000000000000001", "max": "000000010000000000000009"}],
        "backup": [{"label": "20261128-145455F", "type": "full", "database": {"id": 1}, "lsn": {"start": "0/2000028", "stop": "0/2000100"},
                    "timestamp": {"start": stop - 10, "stop": stop}}]}]))
elif "repo-ls" in sys.argv:
    print(json.dumps({"000000010000000000000009-abc.lz4": {"type": "file", "time": int(time.time()) - 5}}))
else:
    sys.exit("unexpected pgbackrest command")
'''


def current_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


@pytest.fixture(name="pgbackrest")
def fixture_pgbackrest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake pgbackrest first on the PATH; its calls are saved in calls.json beside it."""
    binary = tmp_path / "bin" / "pgbackrest"
    binary.parent.mkdir()
    binary.write_text(f"#!{sys.executable}\n{FAKE_PGBACKREST}")
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ['PATH']}")
    return binary


def pg_args(tmp_path: Path, **options: Any) -> dict[str, Any]:
    config = tmp_path / "pgbackrest.conf"
    config.write_text("[ofm-social-os]\npg1-path=/var/lib/postgresql/15/main\npg1-port=5432\n")
    return {"pgbackrest_config": str(config), "pgbackrest_stanza": "ofm-social-os", "sandbox_data_dir": str(tmp_path / "sandbox"),
            "sandbox": {"port": 55998, "user": "ofm_admin", "password": "s3cret-never-shown"}, "os_user": current_user(), **options}


def test_docs_match_the_argument_spec():
    assert mismatches(pg_pitr_restore.ARGUMENT_SPEC, documented_options(pg_pitr_restore, pg_connection_docs)) == []


def test_check_mode_returns_the_plan_and_creates_nothing(tmp_path, pgbackrest):
    target = (datetime.now(timezone.utc) - timedelta(seconds=60)).strftime("%Y-%m-%d %H:%M:%S")
    failed, result, _warnings = run_module(pg_pitr_restore, pg_args(tmp_path, target=target), check_mode=True)

    assert not failed, result["msg"]
    assert result["changed"] is True
    assert result["target"]["assumed_utc"] is True
    assert result["plan"]["backup"] == "20261128-145455F"
    restore = result["plan"]["commands"][0]
    assert restore[3:7] == ["restore", f"--pg1-path={tmp_path / 'sandbox'}", "--set=20261128-145455F", "--archive-mode=off"]
    assert f"--target={target}.000000+00" in restore and "--type=time" in restore
    assert [call[2] for call in json.loads((pgbackrest.parent / "calls.json").read_text())] == ["info", "repo-ls"]
    assert result["queries"] == []
    assert "s3cret-never-shown" not in json.dumps(result)
    assert not (tmp_path / "sandbox").exists()


@pytest.mark.parametrize("options, option, fragment", [
    ({"pgbackrest_stanza": None, "target_type": "latest"}, "pgbackrest_stanza", "needs pgbackrest_stanza"),
    ({"sandbox": {"user": "ofm_admin"}, "target_type": "latest"}, "sandbox.port", "needs sandbox.port"),
    pytest.param({"sandbox": {"port": 70000}, "target_type": "latest"}, "sandbox.port", "sandbox.port must be a TCP port, got 70000",
                 marks=pytest.mark.reliability("bad-input", procedure="pg_pitr_restore", case='sandbox.port=70000',
                                               expected="refused before any change")),
    ({"sandbox": {"port": 55998, "user": ""}, "target_type": "latest"}, "sandbox.user", "must be set and not empty"),
    ({"login_user": "old", "target_type": "latest"}, "login_user", "login_user and sandbox.user are both set"),
    pytest.param({"timeout": 0, "target_type": "latest"}, "timeout", "more than 0",
                 marks=pytest.mark.reliability("bad-input", procedure="pg_pitr_restore", case='timeout=0',
                                               expected="refused before any change")),
    pytest.param({"target": "yesterday"}, "target", "is not a timestamp",
                 marks=pytest.mark.reliability("bad-input", procedure="pg_pitr_restore", case="target='yesterday'",
                                               expected="refused before any change")),
    pytest.param({"target_type": "lsn", "target": "12"}, "target", "is not an LSN",
                 marks=pytest.mark.reliability("bad-input", procedure="pg_pitr_restore", case="target_type=lsn, target='12'",
                                               expected="refused before any change")),
    ({"backend": "native", "target_type": "latest"}, "native_base_backup", "needs native_base_backup"),
    ({"os_user": "no-such-user-here", "target_type": "latest"}, "os_user", "does not exist"),
])
def test_bad_options_are_refused_up_front_naming_the_option(tmp_path, reliability, options, option, fragment):
    args = {key: value for key, value in pg_args(tmp_path, **options).items() if value is not None}

    failed, result, _warnings = run_module(pg_pitr_restore, args)

    assert failed
    assert result["error"]["option"] == option
    assert fragment in result["msg"]
    assert result["changed"] is False and result["commands"] == []
    reliability.observed(f"failed, no command run: names {option}")


def test_the_old_flat_names_still_work_with_a_warning(tmp_path, pgbackrest):
    args = {key: value for key, value in pg_args(tmp_path, target_type="latest").items() if key != "sandbox"}
    args.update(sandbox_port=55997, sandbox_host="127.0.0.2", login_user="ofm_admin", login_password="s3cret-never-shown", login_db="ofm")

    failed, result, warnings = run_module(pg_pitr_restore, args, check_mode=True)

    assert not failed, result["msg"]
    assert result["sandbox"]["port"] == 55997 and result["sandbox"]["host"] == "127.0.0.2"
    assert (result["sandbox"]["user"], result["sandbox"]["database"]) == ("ofm_admin", "ofm")
    assert sorted(warning.split(" ", 1)[0] for warning in warnings) == ["login_db", "login_password", "login_user", "sandbox_host", "sandbox_port"]
    assert "set sandbox.port instead" in " ".join(warnings)
    assert "s3cret-never-shown" not in json.dumps(result)


def test_unset_sandbox_options_take_their_defaults(tmp_path, pgbackrest):
    failed, result, _warnings = run_module(pg_pitr_restore, pg_args(tmp_path, target_type="latest", sandbox={"port": 55996}), check_mode=True)
    assert not failed, result["msg"]
    assert {key: result["sandbox"][key] for key in ("host", "port", "database", "user")} == {
        "host": "127.0.0.1", "port": 55996, "database": "postgres", "user": "postgres"}


def test_an_unknown_choice_is_refused_by_the_spec(tmp_path):
    failed, result, _warnings = run_module(pg_pitr_restore, pg_args(tmp_path, target_type="date", target="x"))
    assert failed
    assert "target_type" in result["msg"] and "latest" in result["msg"]


def test_missing_psycopg_names_the_pip_package(tmp_path, monkeypatch):
    monkeypatch.setattr(pg_pitr_restore.pg_connection, "psycopg", None)
    failed, result, _warnings = run_module(pg_pitr_restore, pg_args(tmp_path, target_type="latest"))
    assert failed and "psycopg" in result["msg"]


# --- RDS -------------------------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc)


class ClientError(Exception):
    """What botocore raises: an error with a ``response`` holding the error code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"An error occurred ({code})")
        self.response = {"Error": {"Code": code, "Message": code}}


def rds_client(target_instance: Any = None) -> mock.MagicMock:
    client = mock.MagicMock()
    source = {"DBInstanceIdentifier": "ofm-production", "LatestRestorableTime": NOW - timedelta(minutes=5), "DBInstanceStatus": "available"}

    def describe(DBInstanceIdentifier: str) -> dict[str, Any]:  # pylint: disable=invalid-name
        if DBInstanceIdentifier == "ofm-production":
            return {"DBInstances": [source]}
        if target_instance is None:
            raise ClientError("DBInstanceNotFound")
        return {"DBInstances": [target_instance]}

    client.describe_db_instances.side_effect = describe
    client.describe_db_instance_automated_backups.return_value = {"DBInstanceAutomatedBackups": [
        {"RestoreWindow": {"EarliestTime": NOW - timedelta(days=7), "LatestTime": NOW - timedelta(minutes=5)}}]}
    return client


def restorer(client: Any, **options: Any) -> rds_pitr.RdsPitr:
    return rds_pitr.RdsPitr(client, "ofm-production", "ofm-pitr-sandbox", options=options, now=lambda: NOW)


def test_rds_restore_calls_the_api_with_the_time_and_tags_then_waits():
    client = rds_client()
    target = parse_target("time", "2026-11-28 15:00:00")

    result = restorer(client, instance_class="db.t4g.medium", vpc_security_group_ids=["sg-1"]).ensure(target, check_mode=False)

    request = client.restore_db_instance_to_point_in_time.call_args.kwargs
    assert request["SourceDBInstanceIdentifier"] == "ofm-production" and request["TargetDBInstanceIdentifier"] == "ofm-pitr-sandbox"
    assert request["RestoreTime"] == datetime(2026, 11, 28, 15, tzinfo=timezone.utc)
    assert "UseLatestRestorableTime" not in request
    assert (request["DBInstanceClass"], request["VpcSecurityGroupIds"], request["PubliclyAccessible"]) == ("db.t4g.medium", ["sg-1"], False)
    assert {"Key": rds_pitr.MANAGED_TAG, "Value": "true"} in request["Tags"]
    client.get_waiter.assert_called_once_with("db_instance_available")
    assert result["changed"] is True and set(result["timings"]) == {"restore_seconds", "replay_seconds", "total_seconds"}


def test_rds_latest_uses_the_latest_restorable_time_and_check_mode_calls_nothing():
    client = rds_client()
    result = restorer(client).ensure(parse_target("latest", None), check_mode=True)
    assert result["plan"]["restore_db_instance_to_point_in_time"]["UseLatestRestorableTime"] is True
    client.restore_db_instance_to_point_in_time.assert_not_called()
    client.get_waiter.assert_not_called()


@pytest.mark.parametrize("kind, value, fragment", [
    ("time", "2026-11-28 15:58:00",
     r"after the latest restorable time: its transaction logs are not uploaded yet; the newest restorable moment is 2026-11-28T15:55:00\+00:00"),
    ("time", "2026-11-01 00:00:00", "before the earliest restorable time"),
    ("time", "2026-11-28 17:00:00", "in the future"),
    ("lsn", "0/3000060", "not to a lsn"),
])
def test_rds_targets_outside_the_restore_window_are_refused(kind, value, fragment):
    client = rds_client()
    with pytest.raises(InputError, match=fragment):
        restorer(client).ensure(parse_target(kind, value), check_mode=False)
    client.restore_db_instance_to_point_in_time.assert_not_called()


def test_rds_an_existing_instance_of_ours_is_no_change_and_a_foreign_one_a_conflict():
    ours = {"DBInstanceIdentifier": "ofm-pitr-sandbox", "Endpoint": {"Address": "sb.rds.amazonaws.com", "Port": 5432},
            "TagList": [{"Key": rds_pitr.MANAGED_TAG, "Value": "true"}, {"Key": rds_pitr.SOURCE_TAG, "Value": "ofm-production"},
                        {"Key": rds_pitr.TARGET_TAG, "Value": "latest"}]}
    result = restorer(rds_client(ours)).ensure(parse_target("latest", None), check_mode=False)
    assert result["changed"] is False and result["sandbox"]["host"] == "sb.rds.amazonaws.com"
    with pytest.raises(ConflictError):
        restorer(rds_client({**ours, "TagList": []})).ensure(parse_target("latest", None), check_mode=False)


def test_rds_absent_deletes_only_instances_it_tagged():
    ours = {"DBInstanceIdentifier": "ofm-pitr-sandbox", "TagList": [{"Key": rds_pitr.MANAGED_TAG, "Value": "true"}]}
    client = rds_client(ours)
    assert restorer(client).remove(check_mode=False)["changed"] is True
    client.delete_db_instance.assert_called_once_with(DBInstanceIdentifier="ofm-pitr-sandbox", SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
    foreign = rds_client({"DBInstanceIdentifier": "ofm-pitr-sandbox", "TagList": []})
    with pytest.raises(ConflictError):
        restorer(foreign).remove(check_mode=False)
    foreign.delete_db_instance.assert_not_called()
    assert restorer(rds_client()).remove(check_mode=False)["changed"] is False


def test_rds_a_missing_source_is_not_found():
    client = rds_client()
    client.describe_db_instances.side_effect = ClientError("DBInstanceNotFound")
    with pytest.raises(NotFoundError):
        restorer(client).ensure(parse_target("latest", None), check_mode=False)


def test_rds_through_the_module_with_a_mocked_boto3(monkeypatch):
    client = rds_client()
    boto3 = mock.MagicMock()
    boto3.client.return_value = client
    monkeypatch.setattr(rds_pitr, "boto3", boto3)

    failed, result, _warnings = run_module(pg_pitr_restore, {"backend": "rds", "target_type": "latest", "timeout": 60,
                                                             "rds": {"source_instance": "ofm-production", "target_instance": "ofm-pitr-sandbox",
                                                                     "region": "eu-west-1", "wait": False}})

    assert not failed, result["msg"]
    boto3.client.assert_called_once_with("rds", region_name="eu-west-1")
    assert client.restore_db_instance_to_point_in_time.call_args.kwargs["UseLatestRestorableTime"] is True
    client.get_waiter.assert_not_called()
    assert [request["operation"] for request in result["requests"]] == [
        "describe_db_instances", "describe_db_instances", "describe_db_instance_automated_backups", "restore_db_instance_to_point_in_time",
        "describe_db_instances"]


def test_rds_without_boto3_names_the_pip_package(monkeypatch):
    monkeypatch.setattr(rds_pitr, "boto3", None)
    failed, result, _warnings = run_module(pg_pitr_restore, {"backend": "rds", "target_type": "latest",
                                                             "rds": {"source_instance": "a", "target_instance": "b"}})
    assert failed and "boto3" in result["msg"]
