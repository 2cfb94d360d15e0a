"""affected_customers_info through the real ``ansible`` command against the lab's "production" PostgreSQL, as the
application role (read-only, as the incident comms do): creators with posts written here in a window of their own long ago
(nobody else's rows are there; removed afterwards). The default query finds exactly the creators with a failed post inside
the window, their platforms aggregated and their addresses masked, the same in check mode; ``limit`` truncates, and
``show_emails`` gives the addresses; an own query without ``email`` is refused naming ``query`` (whether or not it finds rows),
one that writes fails in the read-only session; an unreachable server is a failure or ``count`` null, a refused login always a
failure; the password never shows."""
from __future__ import annotations

import json
import random
import socket
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from labtest import admin_connection, credentials, run_play

from lab.components.postgres import APP_ROLE, DATABASE
from lab.config import HOST, LabConfig

# Writes rows to the production database: takes its turn with the recovery tests (conftest.PRODUCTION_DB_WRITERS).
pytestmark = pytest.mark.shared_lab

DOMAIN = "creators.itest.example"
# Each creator's posts: (platform, status, minutes from the window's start); the window lasts 30 minutes.
CREATORS = {
    "first": [("tiktok", "failed", 5), ("instagram", "failed", 10), ("tiktok", "failed", 20)],
    "second": [("x", "failed", 29), ("reddit", "published", 12)],
    "outside": [("tiktok", "failed", 31), ("reddit", "failed", -1)],
    "published": [("tiktok", "published", 5)],
    "no-email": [("tiktok", "failed", 5)],
}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def database(lab: LabConfig, **fields: Any) -> dict[str, Any]:
    return {"host": HOST, "port": lab.ports["postgres"], "database": DATABASE, "user": APP_ROLE, "password": credentials(lab)["db_app_password"],
            "sslmode": "disable", "connect_timeout": 5, **fields}


@pytest.fixture(name="window")
def fixture_window(lab: LabConfig) -> Iterator[dict[str, Any]]:
    """The rows of ``CREATORS`` in a 30-minute window of 2001 drawn at random; yields ``since``, ``until``, the creators' ``ids``,
    ``handles`` and ``emails`` by key. The posts and creators are deleted afterwards."""
    marker = f"itest-affected-{uuid.uuid4().hex[:10]}"
    start = datetime(2001, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=random.randrange(500_000))
    ids: dict[str, int] = {}
    handles = {key: f"{marker}-{key}" for key in CREATORS}
    emails = {key: None if key == "no-email" else f"{key}.{marker}@{DOMAIN}" for key in CREATORS}
    with admin_connection(lab, autocommit=True) as db:
        try:
            for key, posts in CREATORS.items():
                ids[key] = db.execute("INSERT INTO creators (handle, email) VALUES (%s, %s) RETURNING id", (handles[key], emails[key])).fetchone()[0]
                for platform, status, minutes in posts:
                    db.execute("INSERT INTO posts (creator_id, platform, status, body, created_at) VALUES (%s, %s, %s, %s, %s)",
                               (ids[key], platform, status, f"{marker}: affected_customers_info test", start + timedelta(minutes=minutes)))
            yield {"since": start.isoformat(), "until": (start + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=2))).isoformat(),
                   "ids": ids, "handles": handles, "emails": emails}
        finally:
            db.execute("DELETE FROM posts WHERE creator_id = ANY(%s)", (list(ids.values()),))
            db.execute("DELETE FROM creators WHERE id = ANY(%s)", (list(ids.values()),))


def runs(lab: LabConfig, workdir: Path, window: dict[str, Any], cases: dict[str, dict[str, Any]], check: tuple[str, ...] = ()) -> dict[str, Any]:
    """Several module runs over ``window`` in one play (one ansible start-up); each run's result by name. None of them shows
    the application role's password."""
    common = {"database": database(lab), "since": window["since"], "until": window["until"]}
    tasks = [{"name": name, "ofm.rollback.affected_customers_info": {**common, **args}, "register": f"run_{index}", "ignore_errors": True,
              "check_mode": name in check} for index, (name, args) in enumerate(cases.items())]
    play = run_play(tasks, workdir)
    results = {name: play.result[f"run_{index}"] for index, name in enumerate(cases)}
    assert credentials(lab)["db_app_password"] not in play.output + json.dumps(results)
    return results


def customer(window: dict[str, Any], key: str, platforms: list[str], masked: bool = True) -> dict[str, Any]:
    email = window["emails"][key]
    return {"id": window["ids"][key], "email": f"{key[0]}***@{DOMAIN}" if masked else email, "handle": window["handles"][key], "platforms": platforms}


def test_the_default_query_finds_exactly_the_failed_posts_creators_inside_the_window_masked(lab, window, tmp_path):
    """Inside: the first creator (two platforms, one twice) and the second (a failed post a minute before the end, given with
    another offset); not the one whose failed posts are just outside, the one whose post was published, or the one without
    an address. The same in check mode."""
    found = runs(lab, tmp_path, window, {"default": {}, "check mode": {}}, check=("check mode",))
    for name, result in found.items():
        assert not result.get("failed"), (name, result.get("msg"))
        assert result["changed"] is False
        assert result["customers"] == [customer(window, "first", ["instagram", "tiktok"]), customer(window, "second", ["x"])], name
        assert (result["count"], result["truncated"], result["platforms"]) == (2, False, ["instagram", "tiktok", "x"])
        assert result["window"] == {"since": window["since"], "until": window["until"]}
        assert result["database"] == f"{APP_ROLE}@{HOST}:{lab.ports['postgres']}/{DATABASE}"
    assert window["until"].endswith("+02:00")
    assert not [email for email in window["emails"].values() if email and email in json.dumps(found)], "no address unmasked"


def test_limit_truncates_and_show_emails_gives_the_addresses(lab, window, tmp_path):
    found = runs(lab, tmp_path, window, {"limit 1": {"limit": 1, "show_emails": True}, "limit 2": {"limit": 2}})
    assert found["limit 1"]["customers"] == [customer(window, "first", ["instagram", "tiktok"], masked=False)]
    assert (found["limit 1"]["count"], found["limit 1"]["truncated"], found["limit 1"]["platforms"]) == (1, True, ["instagram", "tiktok"])
    assert (found["limit 2"]["count"], found["limit 2"]["truncated"]) == (2, False), "exactly the limit is not truncated"


def test_an_own_query_must_return_email_and_runs_read_only(lab, window, tmp_path):
    """Without ``email`` it is refused naming ``query``, also when it finds nobody; an own query may leave out handle and
    platforms; one that would write (a sequence's nextval) fails in the read-only session."""
    joined = "FROM creators c JOIN posts p ON p.creator_id = c.id WHERE p.created_at BETWEEN %(since)s AND %(until)s"
    found = runs(lab, tmp_path, window, {
        "no email": {"query": f"SELECT DISTINCT c.id, c.handle {joined}"},
        "no email, no rows": {"query": f"SELECT DISTINCT c.id, c.handle {joined} AND false"},
        "published": {"query": f"SELECT DISTINCT c.id, c.email {joined} AND p.status = 'published' ORDER BY c.id"},
        "nextval": {"query": f"SELECT c.id, c.email {joined} AND c.id <> nextval('creators_id_seq')"},
    })
    for name in ("no email", "no email, no rows"):
        assert found[name].get("failed") and found[name]["error"]["option"] == "query", (name, found[name].get("msg"))
        assert "it must return id and email" in found[name]["msg"] and "id, handle" in found[name]["msg"]
    published = found["published"]
    assert not published.get("failed"), published.get("msg")
    assert published["customers"] == [{"id": window["ids"][key], "email": f"{key[0]}***@{DOMAIN}", "handle": None, "platforms": []}
                                      for key in ("second", "published")]
    assert published["platforms"] == [] and published["count"] == 2
    assert found["nextval"].get("failed") and "read-only transaction" in found["nextval"]["msg"], found["nextval"].get("msg")
    assert "Check the query and that the role may read its tables" in found["nextval"]["msg"]


def test_unreachable_is_unknown_if_asked_but_a_refused_login_always_fails(lab, window, tmp_path):
    port = closed_port()
    wrong = {"password": "not-the-app-password-3f1e"}
    found = runs(lab, tmp_path, window, {
        "down": {"database": database(lab, port=port)},
        "down, unknown": {"database": database(lab, port=port), "unavailable_is": "unknown"},
        "refused": {"database": database(lab, **wrong)},
        "refused, unknown": {"database": database(lab, **wrong), "unavailable_is": "unknown"},
    })
    assert found["down"].get("failed") and found["down"]["error"]["type"] == "UnavailableError"
    assert f"{APP_ROLE}@{HOST}:{port}/{DATABASE}" in found["down"]["msg"]
    unknown = found["down, unknown"]
    assert not unknown.get("failed") and (unknown["count"], unknown["customers"], unknown["available"]) == (None, [], False)
    assert unknown["msg"].startswith("the affected customers are not known: PostgreSQL: find the affected customers on ")
    for name in ("refused", "refused, unknown"):
        assert found[name].get("failed") and found[name]["error"]["type"] == "AuthenticationError", (name, found[name].get("msg"))
        assert f"the server refused the login of {APP_ROLE}" in found[name]["msg"] and "count" not in found[name]
    assert wrong["password"] not in json.dumps(found)
