"""Bounded load generator for the lab: a steady request rate against the HAProxy frontend.

Traffic mix, in every block of 20 requests (order shuffled from the seed): 14 ``GET /api/posts``,
3 ``POST /api/posts/publish`` and 3 ``POST /webhooks/tiktok`` signed with the webhook secret.
Requests are scheduled on a monotonic clock; at most ``--concurrency`` are in flight, and a request
falling due while all are busy is dropped and counted, never queued. The run ends after
``--max-seconds``, after ``--max-requests`` scheduled requests, or on SIGTERM/SIGINT.
"""
from __future__ import annotations

import argparse
import collections
import datetime
import hashlib
import hmac
import http.client
import itertools
import json
import os
import queue
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import urlsplit

from lab.services.common import cli_number

LIST_POSTS, PUBLISH, WEBHOOK = "list_posts", "publish", "webhook"
MIX_BLOCK = (LIST_POSTS,) * 14 + (PUBLISH,) * 3 + (WEBHOOK,) * 3
PLATFORMS = ("instagram", "reddit", "tiktok", "x")
SIGNATURE_HEADER = "TikTok-Signature"
SIGNAL_GRACE_SECONDS = 1.0
STATUS_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class PlannedRequest:
    kind: str
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    base_path: str

    @classmethod
    def parse(cls, url: str) -> "Target":
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"loadgen: --target must be an http(s) URL such as http://127.0.0.1:18080, got {url!r}")
        default_port = 443 if parts.scheme == "https" else 80
        return cls(parts.scheme, parts.hostname, parts.port or default_port, parts.path.rstrip("/"))

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        connection_class = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return connection_class(self.host, self.port, timeout=timeout)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.base_path}"


def request_plan(seed: Optional[int]) -> Iterator[str]:
    """Endless request kinds: each block of 20 holds the exact mix, shuffled deterministically from ``seed``."""
    rng = random.Random(seed)
    while True:
        block = list(MIX_BLOCK)
        rng.shuffle(block)
        yield from block


def sign_tiktok(secret: str, body: bytes, timestamp: int) -> str:
    """The ``TikTok-Signature`` header value: ``t=<ts>,s=<hex HMAC-SHA256(secret, "<ts>.<body>")>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},s={digest}"


def build_request(kind: str, rng: random.Random, secret: str, now: float) -> PlannedRequest:
    """The concrete request for one planned ``kind``; webhooks are signed for time ``now``."""
    json_headers = {"Content-Type": "application/json"}
    if kind == LIST_POSTS:
        return PlannedRequest(kind, "GET", "/api/posts")
    if kind == PUBLISH:
        body = json.dumps({"post_id": rng.randint(1, 10_000), "platform": rng.choice(PLATFORMS)}).encode()
        return PlannedRequest(kind, "POST", "/api/posts/publish", body, json_headers)
    if kind == WEBHOOK:
        timestamp = int(now)
        body = json.dumps({"event": "video.publish.complete", "create_time": timestamp,
                           "content": {"video_id": str(rng.randint(10**9, 10**10)), "share_id": rng.getrandbits(32)}}).encode()
        return PlannedRequest(kind, "POST", "/webhooks/tiktok", body, {**json_headers, SIGNATURE_HEADER: sign_tiktok(secret, body, timestamp)})
    raise ValueError(f"loadgen: unknown request kind {kind!r}; expected one of {LIST_POSTS}, {PUBLISH}, {WEBHOOK}")


class RunStats:
    """Counters of one run, shared by the scheduler and the sender threads."""

    def __init__(self, target: Target, rate: float):
        self._condition = threading.Condition()
        self.target = target
        self.rate = rate
        self.started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.sent = 0
        self.completed = 0
        self.dropped = 0
        self.in_flight = 0
        self.by_status: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()

    def try_start(self, concurrency: int) -> bool:
        with self._condition:
            if self.in_flight >= concurrency:
                self.dropped += 1
                return False
            self.in_flight += 1
            self.sent += 1
            return True

    def finish(self, status: Optional[int] = None, error: Optional[str] = None) -> bool:
        """Record one answered or failed request; True when it is the first error of its kind."""
        with self._condition:
            self.in_flight -= 1
            if status is not None:
                self.completed += 1
                self.by_status[str(status)] += 1
            first_error = False
            if error is not None:
                first_error = error not in self.errors
                self.errors[error] += 1
            self._condition.notify_all()
            return first_error

    def wait_idle(self, timeout: float) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: self.in_flight == 0, timeout=timeout)

    def snapshot(self, finished: bool = False, stop_reason: Optional[str] = None) -> dict[str, Any]:
        with self._condition:
            return {
                "target": str(self.target), "rate": self.rate, "started_at": self.started_at,
                "updated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "sent": self.sent, "completed": self.completed, "by_status": dict(self.by_status),
                "errors": sum(self.errors.values()), "errors_by_kind": dict(self.errors),
                "dropped": self.dropped, "in_flight": self.in_flight,
                "finished": finished, "stop_reason": stop_reason,
            }


class Senders:
    """A fixed pool of daemon threads sending requests; daemon so a hung request never blocks exit."""

    def __init__(self, target: Target, stats: RunStats, concurrency: int, timeout: float):
        self._target = target
        self._stats = stats
        self._concurrency = concurrency
        self._timeout = timeout
        self._jobs: queue.SimpleQueue[PlannedRequest] = queue.SimpleQueue()
        for index in range(concurrency):
            threading.Thread(target=self._work, name=f"loadgen-sender-{index}", daemon=True).start()

    def submit(self, request: PlannedRequest) -> bool:
        """Hand ``request`` to a sender; False (and counted as dropped) when all senders are busy."""
        if not self._stats.try_start(self._concurrency):
            return False
        self._jobs.put(request)
        return True

    def _work(self) -> None:
        while True:
            request = self._jobs.get()
            try:
                status = self._send(request)
            except (OSError, http.client.HTTPException) as exc:
                if self._stats.finish(error=type(exc).__name__):
                    sys.stderr.write(f"loadgen: {request.method} {request.path} to {self._target} failed: {type(exc).__name__}: {exc}; "
                                     f"check that the target is up (lab status)\n")
            else:
                self._stats.finish(status=status)

    def _send(self, request: PlannedRequest) -> int:
        connection = self._target.connect(self._timeout)
        try:
            connection.request(request.method, self._target.base_path + request.path, body=request.body or None, headers=request.headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()


def write_status(path: Path, status: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps(status, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        sys.stderr.write(f"loadgen: cannot write the status file {path}: {exc.strerror}; check that its directory is writable\n")


@dataclass(frozen=True)
class LoadConfig:
    target: Target
    rate: float
    concurrency: int
    max_seconds: float
    max_requests: int
    webhook_secret: str
    timeout: float
    status_file: Optional[Path]
    seed: Optional[int]


class LoadGenerator:
    """Schedules requests at a steady rate until a limit is reached or ``stop`` is set."""

    def __init__(self, config: LoadConfig, stop: threading.Event):
        self.config = config
        self.stop = stop
        self.stats = RunStats(config.target, config.rate)
        self._senders = Senders(config.target, self.stats, config.concurrency, config.timeout)

    def run(self) -> str:
        """Send the load, then wait for requests in flight; returns why the run stopped."""
        reason = self._schedule()
        self._drain(SIGNAL_GRACE_SECONDS if reason == "signal" else self.config.timeout)
        self._write_status(finished=True, stop_reason=reason)
        return reason

    def _schedule(self) -> str:
        config = self.config
        plan = request_plan(config.seed)
        body_rng = random.Random(config.seed)
        start = time.monotonic()
        end = start + config.max_seconds
        scheduled = 0
        next_status = start
        while True:
            now = time.monotonic()
            if now >= end:
                return "max-seconds"
            due = int((now - start) * config.rate) + 1
            if config.max_requests:
                due = min(due, config.max_requests)
            for kind in itertools.islice(plan, due - scheduled):
                self._senders.submit(build_request(kind, body_rng, config.webhook_secret, time.time()))
            scheduled = due
            if config.max_requests and scheduled >= config.max_requests:
                return "max-requests"
            if now >= next_status:
                self._write_status()
                next_status = now + STATUS_INTERVAL_SECONDS
            wake = min(start + scheduled / config.rate, next_status, end)
            if self.stop.wait(max(wake - time.monotonic(), 0.0)):
                return "signal"

    def _drain(self, patience: float) -> None:
        deadline = time.monotonic() + patience
        while not self.stats.wait_idle(timeout=0.1):
            now = time.monotonic()
            if self.stop.is_set():
                deadline = min(deadline, now + SIGNAL_GRACE_SECONDS)
            if now >= deadline:
                return

    def _write_status(self, finished: bool = False, stop_reason: Optional[str] = None) -> None:
        if self.config.status_file:
            write_status(self.config.status_file, self.stats.snapshot(finished, stop_reason))


_positive = cli_number(float, lambda value: value > 0, "must be greater than 0")
_positive_int = cli_number(int, lambda value: value > 0, "must be a whole number greater than 0")
_non_negative_int = cli_number(int, lambda value: value >= 0, "must be a whole number, 0 or more")


def parse_args(argv: Optional[list[str]] = None) -> LoadConfig:
    parser = argparse.ArgumentParser(description="Bounded load generator for the lab (steady rate, fixed mix).")
    parser.add_argument("--target", default="http://127.0.0.1:18080", help="base URL of the HAProxy frontend")
    parser.add_argument("--rate", type=_positive, default=20.0, help="requests per second, all kinds together")
    parser.add_argument("--concurrency", type=_positive_int, default=64, help="most requests in flight; more are dropped")
    parser.add_argument("--max-seconds", type=_positive, default=7200.0, help="stop after this many seconds")
    parser.add_argument("--max-requests", type=_non_negative_int, default=0, help="stop after scheduling this many requests (0: no limit)")
    parser.add_argument("--webhook-secret", default=os.environ.get("OFM_LAB_WEBHOOK_SECRET"),
                        help="HMAC secret for TikTok webhook signatures (default: $OFM_LAB_WEBHOOK_SECRET)")
    parser.add_argument("--timeout", type=_positive, default=30.0, help="seconds allowed per request")
    parser.add_argument("--status-file", type=Path, help="JSON file rewritten every second with the run's counters")
    parser.add_argument("--seed", type=int, help="seed of the request mix and bodies")
    args = parser.parse_args(argv)
    if not args.webhook_secret:
        parser.error("a webhook secret is required: pass --webhook-secret or set OFM_LAB_WEBHOOK_SECRET")
    try:
        target = Target.parse(args.target)
    except ValueError as exc:
        parser.error(str(exc))
    return LoadConfig(target=target, rate=args.rate, concurrency=args.concurrency, max_seconds=args.max_seconds,
                      max_requests=args.max_requests, webhook_secret=args.webhook_secret, timeout=args.timeout,
                      status_file=args.status_file, seed=args.seed)


def main(argv: Optional[list[str]] = None) -> None:
    config = parse_args(argv)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: Any) -> None:
        # Event.set takes the lock that Event.wait may hold in this very thread: set it from another thread.
        threading.Thread(target=stop.set, daemon=True).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    generator = LoadGenerator(config, stop)
    reason = generator.run()
    print(json.dumps(generator.stats.snapshot(finished=True, stop_reason=reason)), flush=True)


if __name__ == "__main__":
    main()
