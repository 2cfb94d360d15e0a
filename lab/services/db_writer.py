"""A steady trickle of writes into the lab's "production" database, as the application would make them.

Every ``--interval`` seconds: one post (body ``trickle <n>``) and one webhook (payload ``{"trickle": n}``), each in its own
transaction, as the application role; then ``--reads`` reads of a creator's recent posts through the SQL function
``ofm_recent_posts(creator)`` (read-only, no transaction id: nothing reaches the WAL), the steady query load that
``pg_stat_statements`` measures (``lab validation slow-query on`` makes that function slow). Point-in-time recovery tests
restore to a moment between two writes and check exactly which rows came back. A lost connection (a restart of
PostgreSQL) is retried every second.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import psycopg

STOP = {"now": False}


def _stop(_signum: int, _frame: object) -> None:
    STOP["now"] = True


RECENT_POSTS = "SELECT id, platform, status FROM ofm_recent_posts(%s)"


def write_forever(dsn: str, interval: float, status_file: Path, reads: int = 5) -> None:
    written = 0
    while not STOP["now"]:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                while not STOP["now"]:
                    written += 1
                    conn.execute("INSERT INTO posts (creator_id, platform, status, body) VALUES (1 + %s %% 50, 'tiktok', 'scheduled', %s)",
                                 (written, f"trickle {written}"))
                    conn.execute("INSERT INTO webhooks (platform, event, payload) VALUES ('tiktok', 'video.publish.complete', %s)",
                                 (json.dumps({"trickle": written}),))
                    status_file.write_text(json.dumps({"written": written, "at": time.time()}))
                    started = time.monotonic()
                    for read in range(reads):
                        conn.execute(RECENT_POSTS, (1 + (written * reads + read) % 50,)).fetchall()
                    time.sleep(max(0.0, interval - (time.monotonic() - started)))
        except psycopg.Error as exc:
            print(f"db-writer: {exc}; retrying in 1 s", file=sys.stderr, flush=True)
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", default="ofm")
    parser.add_argument("--user", default="ofm_app")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--reads", type=int, default=5, help="recent-posts reads per interval")
    parser.add_argument("--status-file", type=Path, required=True)
    args = parser.parse_args()
    password = os.environ.get("OFM_LAB_DB_PASSWORD", "")
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    dsn = psycopg.conninfo.make_conninfo(host=args.host, port=args.port, dbname=args.database, user=args.user, password=password,
                                         application_name="lab-db-writer")
    write_forever(dsn, args.interval, args.status_file, args.reads)


if __name__ == "__main__":
    main()
