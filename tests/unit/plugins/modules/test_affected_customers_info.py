# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""affected_customers_info without a database: the masking of addresses, the check of an own query (one read-only SELECT,
refused naming ``query``), bad input refused before any connection, an unreachable server (a failure, or ``count`` null
with ``unavailable_is: unknown``), a refused login (a local server that answers the startup with PostgreSQL's error)
failing even with ``unavailable_is: unknown``, and never the password in a result. The default query over real rows, the
limit and an own query's columns run against the lab's PostgreSQL: tests/integration/test_affected_customers_info.py."""
from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from unithelpers import doc_options, documented_options, free_port, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import pg_connection as pg_connection_fragment
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.affected_customers import DEFAULT_QUERY, check_query, mask, unavailable
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import Connection
from ansible_collections.ofm.rollback.plugins.modules import affected_customers_info

pytestmark = pytest.mark.usefixtures("module_runner")

PASSWORD = "db-SECRET-affected-4c1d"
SINCE, UNTIL = "2026-12-04T14:00:00+00:00", "2026-12-04T14:30:00+00:00"
# PostgreSQL's protocol: the SSL and GSSAPI encryption requests a client may send before its startup message.
ENCRYPTION_REQUESTS = (80877103, 80877104)


def database(port: int, **fields: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "database": "ofm", "user": "ofm_app", "password": PASSWORD, "connect_timeout": 2, **fields}


def run(args: dict[str, Any], check_mode: bool = False) -> tuple[bool, dict[str, Any]]:
    failed, result, _warnings = run_module(affected_customers_info, {"since": SINCE, "until": UNTIL, **args}, check_mode)
    return failed, result


@contextlib.contextmanager
def listening() -> Iterator[socket.socket]:
    """A port that listens and never accepts: whether anyone connected shows in its backlog."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener
    finally:
        listener.close()


def connected(listener: socket.socket) -> bool:
    listener.setblocking(False)
    try:
        listener.accept()[0].close()
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def refusing_logins() -> Iterator[dict[str, Any]]:
    """A local server speaking PostgreSQL's protocol that refuses every login as a server with a wrong password does
    (FATAL 28P01); yields ``port`` and the ``logins`` it refused."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    seen: dict[str, Any] = {"port": listener.getsockname()[1], "logins": 0}
    stop = threading.Event()

    def receive(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise ConnectionError("client went away")
            data += chunk
        return data

    def answer(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(5)
            while True:
                length, code = struct.unpack("!ii", receive(conn, 8))
                receive(conn, length - 8)
                if code not in ENCRYPTION_REQUESTS:
                    break
                conn.sendall(b"N")
            seen["logins"] += 1
            fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "ofm_app"\0\0'
            conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn = listener.accept()[0]
            except OSError:
                continue
            answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize("email, masked", [
    ("creator_1@example.com", "c***@example.com"),
    ("x@lab.ofm.social", "x***@lab.ofm.social"),
    ("first.last+tag@sub.example.org", "f***@sub.example.org"),
    ("no-at-sign", "no-at-sign"),
    ("", ""),
    (None, None),
])
def test_mask_keeps_the_first_letter_and_the_domain_only(email, masked):
    assert mask(email) == masked


@pytest.mark.parametrize("query, kept", [
    (DEFAULT_QUERY, DEFAULT_QUERY),
    ("SELECT id, email FROM creators;", "SELECT id, email FROM creators"),
    ("  with recent AS (SELECT id, email FROM creators)\n  SELECT id, email FROM recent ;  ",
     "  with recent AS (SELECT id, email FROM creators)\n  SELECT id, email FROM recent "),
    ("SELECT id, email, created_at, updated_by FROM creators", "SELECT id, email, created_at, updated_by FROM creators"),
    ("SELECT id, email FROM creators WHERE handle <> 'drop table creators'", "SELECT id, email FROM creators WHERE handle <> 'drop table creators'"),
])
def test_check_query_accepts_one_select_and_drops_a_trailing_semicolon(query, kept):
    """Words that only contain a write keyword (created_at, updated_by) and a keyword inside a string literal are no writes."""
    assert check_query(query) == kept


@pytest.mark.parametrize("query", [
    "DELETE FROM creators",
    "UPDATE creators SET email = NULL",
    "INSERT INTO creators (handle) VALUES ('x')",
    "TRUNCATE posts",
    "COPY creators TO '/tmp/creators.csv'",
    "SELECT id, email FROM creators; DROP TABLE creators",
    "SELECT id, email FROM creators; SELECT id, email FROM creators",
    "WITH gone AS (DELETE FROM posts RETURNING creator_id) SELECT id, email FROM creators",
    "SELECT id, email FROM creators FOR UPDATE",
    "EXPLAIN ANALYZE SELECT id, email FROM creators",
    "CALL refresh_creators()",
    "",
    "   ",
])
def test_check_query_refuses_writes_several_statements_and_non_selects_naming_query(query):
    with pytest.raises(InputError) as caught:
        check_query(query)
    assert caught.value.option == "query"
    assert "query must be one read-only SELECT (or WITH ... SELECT)" in str(caught.value)
    assert "a SELECT returning the columns id and email" in str(caught.value)


def test_unavailable_is_count_null_with_the_reason_and_no_password():
    connection = Connection("database", "db.internal", 5432, "ofm", "ofm_readonly", password=PASSWORD)
    error = UnavailableError("connection refused", system="PostgreSQL", operation="find the affected customers", target=connection.target)
    found = unavailable(error, connection)
    assert found == {"count": None, "customers": [], "platforms": [], "truncated": False, "database": "ofm_readonly@db.internal:5432/ofm",
                     "available": False, "msg": f"the affected customers are not known: {error}"}
    assert found["msg"].startswith("the affected customers are not known: PostgreSQL: find the affected customers on "
                                   "ofm_readonly@db.internal:5432/ofm failed: connection refused.")
    assert PASSWORD not in json.dumps(found)


@pytest.mark.parametrize("query", [
    "DELETE FROM creators RETURNING id, email",
    "SELECT id, email FROM creators; DROP TABLE posts",
    "VACUUM creators",
])
def test_module_refuses_a_writing_query_before_connecting(query):
    with listening() as listener:
        failed, result = run({"database": database(listener.getsockname()[1]), "query": query, "unavailable_is": "unknown"})
        assert failed and result["error"]["option"] == "query" and result["error"]["type"] == "InputError"
        assert "count" not in result
        assert not connected(listener), "nothing may reach the database before the query is checked"


@pytest.mark.parametrize("args, option", [
    ({"database": None}, "database"),
    ({"since": "yesterday at noon"}, "since"),
    ({"until": "soon"}, "until"),
    ({"database": {"host": "127.0.0.1", "port": 0, "user": "ofm_app"}}, "database.port"),
    ({"database": {"host": "127.0.0.1", "user": "ofm_app", "connect_timeout": 0}}, "database.connect_timeout"),
    ({"database": {"host": "", "user": "ofm_app"}}, "database.host"),
    ({"limit": 0}, "limit"),
    ({"limit": -5}, "limit"),
])
def test_bad_input_fails_naming_the_option_before_connecting(args, option):
    with listening() as listener:
        failed, result = run({"database": database(listener.getsockname()[1]), **args})
        assert failed and result["error"]["option"] == option, result["msg"]
        assert not connected(listener)
    assert PASSWORD not in json.dumps(result)


def test_unreachable_database_fails_by_default_naming_it_without_the_password():
    port = free_port()
    failed, result = run({"database": database(port)})
    assert failed and result["error"]["type"] == "UnavailableError"
    assert result["msg"].startswith(f"PostgreSQL: find the affected customers on ofm_app@127.0.0.1:{port}/ofm failed: ")
    assert "count" not in result
    assert PASSWORD not in json.dumps(result)


def test_unreachable_database_is_count_null_with_the_reason_when_unknown():
    port = free_port()
    failed, result = run({"database": database(port), "unavailable_is": "unknown"}, check_mode=True)
    assert not failed and result["changed"] is False
    assert (result["count"], result["customers"], result["platforms"], result["available"]) == (None, [], [], False)
    assert result["msg"].startswith(f"the affected customers are not known: PostgreSQL: find the affected customers on ofm_app@127.0.0.1:{port}/ofm")
    assert result["window"] == {"since": SINCE, "until": UNTIL}
    assert result["query_text"] == " ".join(DEFAULT_QUERY.split())
    assert PASSWORD not in json.dumps(result)


def test_the_window_is_given_back_with_its_offset_and_until_defaults_to_now():
    failed, result = run({"database": database(free_port()), "since": "1796392800", "until": "2026-12-04T15:00:00+01:00",
                          "unavailable_is": "unknown"})
    assert not failed and result["window"] == {"since": "2026-12-04T14:00:00+00:00", "until": "2026-12-04T15:00:00+01:00"}
    failed, result, _warnings = run_module(affected_customers_info, {"database": database(free_port()), "since": SINCE, "unavailable_is": "unknown"})
    until = datetime.fromisoformat(result["window"]["until"])
    assert not failed and until.utcoffset() == timedelta(0) and abs((datetime.now(timezone.utc) - until).total_seconds()) < 60


@pytest.mark.parametrize("unavailable_is", ["fail", "unknown"])
def test_a_refused_login_always_fails_naming_the_user_and_password_options(unavailable_is):
    with refusing_logins() as server:
        failed, result = run({"database": database(server["port"], sslmode="disable"), "unavailable_is": unavailable_is})
    assert server["logins"] == 1
    assert failed and result["error"]["type"] == "AuthenticationError"
    assert "the server refused the login of ofm_app" in result["msg"] and "Check database.user and database.password" in result["msg"]
    assert "count" not in result
    assert PASSWORD not in json.dumps(result)


def test_docs_match_argument_spec():
    docs = {**doc_options(pg_connection_fragment.ModuleDocFragment.DATABASE), **documented_options(affected_customers_info)}
    assert mismatches(affected_customers_info.ARGUMENT_SPEC, docs) == []
