"""module_utils.postgres.rate_limits against the lab's PostgreSQL: read, exact restore in one transaction, faults.

Each test works on a table of its own (a copy of platform_rate_limits' shape), so the lab's rows are never touched.
"""
from __future__ import annotations

import secrets as random
from typing import Iterator

import psycopg
import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, DataError, InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.rate_limits import RateLimitTable
from lab.config import HOST, LabConfig

ROWS = {"instagram": {"per_minute": 60, "per_hour": 1000, "per_day": 10000, "burst": 10},
        "tiktok": {"per_minute": 30, "per_hour": 600, "per_day": 6000, "burst": 5}}


def connection(lab: LabConfig, secrets, password: str | None = None, port: int | None = None) -> Connection:
    return Connection(name="database", host=HOST, port=port or lab.ports["postgres"], database="ofm", user="ofm_admin",
                      password=password if password is not None else secrets["db_admin_password"], sslmode="disable", connect_timeout=3)


@pytest.fixture(name="table")
def fixture_table(lab: LabConfig, secrets) -> Iterator[str]:
    name = f"rate_limits_test_{random.token_hex(4)}"
    conn = connection(lab, secrets)
    with psycopg.connect(host=conn.host, port=conn.port, dbname=conn.database, user=conn.user, password=conn.password, autocommit=True) as db:
        db.execute(f"CREATE TABLE {name} (platform text PRIMARY KEY, per_minute int NOT NULL, per_hour int NOT NULL, per_day int NOT NULL,"
                   " burst int NOT NULL)")
        for platform, row in ROWS.items():
            db.execute(f"INSERT INTO {name} VALUES (%s, %s, %s, %s, %s)", (platform, *row.values()))
        yield name
        db.execute(f"DROP TABLE {name}")


def test_read_returns_every_row_keyed_by_platform(lab, secrets, table):
    assert RateLimitTable(connection(lab, secrets), table=table).read() == ROWS


def test_restore_is_exact_and_a_second_restore_changes_nothing(lab, secrets, table):
    client = RateLimitTable(connection(lab, secrets), table=table)
    wanted = {"tiktok": {**ROWS["tiktok"], "per_minute": 1}, "x": {"per_minute": 50, "per_hour": 900, "per_day": 9000, "burst": 10}}
    changes = client.restore(wanted)
    assert changes == {"added": ["x"], "changed": ["tiktok"], "removed": ["instagram"]}
    assert client.read() == wanted
    again = RateLimitTable(connection(lab, secrets), table=table)
    assert again.restore(wanted) == {"added": [], "changed": [], "removed": []}
    # The unchanged restore only read the table: no write transaction.
    assert again.round_trips == 1


def test_a_failing_restore_changes_nothing(lab, secrets, table):
    client = RateLimitTable(connection(lab, secrets), table=table)
    # per_hour NULL violates NOT NULL after the DELETE and the first upsert ran: the whole transaction is rolled back.
    broken = {"reddit": {"per_minute": 1, "per_hour": 1, "per_day": 1, "burst": 1}, "tiktok": {**ROWS["tiktok"], "per_hour": None}}
    with pytest.raises(OfmRollbackError, match="rolled back"):
        client.restore(broken)
    assert client.read() == ROWS


def test_a_snapshot_with_other_columns_is_refused(lab, secrets, table):
    with pytest.raises(DataError, match="columns"):
        RateLimitTable(connection(lab, secrets), table=table).restore({"tiktok": {"per_minute": 1}})


def test_missing_table_and_bad_names(lab, secrets):
    with pytest.raises(NotFoundError, match="does not exist"):
        RateLimitTable(connection(lab, secrets), table="no_such_table").read()
    with pytest.raises(InputError, match="rate_limits_table"):
        RateLimitTable(connection(lab, secrets), table="x; DROP TABLE creators")


def test_wrong_password_and_unreachable_server(lab, secrets, table):
    with pytest.raises(AuthenticationError, match="database.password") as refused:
        RateLimitTable(connection(lab, secrets, password="wrong"), table=table).read()
    assert "wrong" not in str(refused.value)
    with pytest.raises(UnavailableError):
        RateLimitTable(connection(lab, secrets, port=1), table=table).read()
