"""Stand-in for the OFM Social OS API (one version: stable or canary), for the lab only.

The real API cannot run here, so this stand-in answers the routes the lab's traffic uses and
exposes Prometheus metrics under the production names. Fault modes, switched at run time through
``/__lab/faults``, each move exactly one SLI so that every SLO can be broken on its own:

- ``slow``: /api/* answers after ``--slow-seconds`` (P95 latency);
- ``errors``: a share ``--error-ratio`` of /api/* answers is a 500 (error rate);
- ``webhooks``: webhook signatures are checked against a rotated secret (webhook verification);
- ``db``: DB connection attempts fail with ``--db-failure-ratio`` and are retried (DB failures);
- ``publish``: publish jobs fail with ``--publish-failure-ratio`` (publish success rate);
- ``queue``: the publish worker stops draining (``temporal_task_queue_backlog``);
- ``content``: GET /api/posts still answers 200 in time, but its posts lack ``status`` (the failing smoke test: no SLI moves).
- ``signature``: a share ``--signature-ratio`` of /api/* requests logs an error of a kind never logged otherwise
  (``CdnSigningError: ...``) in the application log, and nothing else changes: same status, latency and metrics.

The application log (``--app-log``): one line per answered request (not /health, /metrics, /__lab/*), and one per error,
``<ISO time with the local offset> <LEVEL> version=<v> method=<m> route=<r> status=<s> duration_ms=<n> msg="..."``, plus
``error="<Kind>: <message>"`` on error lines (ERROR for 5xx and for errors handled behind a success, WARN for 4xx). The
ops API stand-in serves the log of both versions at ``GET /internal/ops/logs``.

Feature flags (``--redis-port`` and ``--kube-url``): read as the real application reads them, from Redis
``feature_flags:<name>`` and on a miss from ``FEATURE_FLAGS`` of the version's own Deployment (lab/services/flag_reader.py),
refreshed every second and exposed as ``ofm_feature_flag_enabled{flag="..."}``. Only the canary build has the new publish
pipeline: while ``publish_v2`` is on, its publish jobs fail with ``--publish-failure-ratio`` as under the ``publish`` fault
(``lab config bad``); the stable build ignores the flag.

Metrics carry no ``version`` label: Prometheus adds it as a target label in the lab's scrape config.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import hmac
import json
import os
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from lab import flags
from lab.services.common import KubeReader, cli_number
from lab.services.flag_reader import DeploymentFlags, FlagReader, RedisFlagCache
from lab.services.httpbase import HTTPError, Request, Response, Router, base_parser, make_handler, serve, tls_context

SERVICE_NAME = "ofm-social-os-api"
FAULTS = ("content", "db", "errors", "publish", "queue", "signature", "slow", "webhooks")
PLATFORMS = ("instagram", "reddit", "tiktok", "x")
VERSION_NAMES = ("stable", "canary")
# The Deployment each version reads its flags from, and the versions whose build has the new publish pipeline.
DEPLOYMENTS = {"stable": "ofm-social-os-api", "canary": "ofm-social-os-api-canary"}
NAMESPACE = "ofm-production"
PUBLISH_V2 = "publish_v2"
PUBLISH_V2_VERSIONS = frozenset({"canary"})
REDIS_PASSWORD_ENV = "OFM_LAB_REDIS_PASSWORD"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10, 15, 30, 60)
PUBLISH_TASK_QUEUE = "publish"
SIGNATURE_HEADER = "TikTok-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
UNCOUNTED_PATHS = frozenset({"/metrics", "/health"})
UNCOUNTED_PREFIX = "/__lab/"
UNMATCHED_ROUTE = "unmatched"
COUNTED_ROUTES = (("GET", "/api/posts"), ("POST", "/api/posts/publish"), ("POST", "/webhooks/tiktok"))
COUNTED_PATHS = frozenset(path for _method, path in COUNTED_ROUTES)
FAKE_POSTS = (
    {"id": 101, "creator_id": 7, "platform": "tiktok", "status": "published", "caption": "Behind the scenes"},
    {"id": 102, "creator_id": 7, "platform": "instagram", "status": "scheduled", "caption": "New drop Friday"},
    {"id": 103, "creator_id": 9, "platform": "reddit", "status": "published", "caption": "AMA recap"},
    {"id": 104, "creator_id": 12, "platform": "x", "status": "draft", "caption": "Thread: our week"},
)


class UnknownFaultError(ValueError):
    """A fault name outside FAULTS was requested."""

    def __init__(self, unknown: Iterable[str]):
        names = ", ".join(repr(name) for name in sorted(unknown))
        super().__init__(f"{SERVICE_NAME} lab control: unknown fault(s) {names}; accepted values: {', '.join(FAULTS)}")


class FaultStateError(RuntimeError):
    """The fault state file could not be read or written."""


@dataclass(frozen=True)
class ApiSettings:
    """Behaviour knobs of one running API version."""

    version_name: str
    webhook_secret: str
    slow_seconds: float = 12.0
    error_ratio: float = 0.5
    db_failure_ratio: float = 0.5
    publish_failure_ratio: float = 0.5
    queue_drain_per_second: float = 20.0
    signature_ratio: float = 0.3
    state_file: Optional[Path] = None
    app_log: Optional[Path] = None


class ApiMetrics:
    """The production metric names, registered in a registry of their own."""

    def __init__(self, backlog: Callable[[], int], flag_states: Optional[Callable[[], dict[str, bool]]] = None):
        self.registry = CollectorRegistry()
        http_labels = ("method", "route", "status")
        self.request_duration = Histogram("http_request_duration_seconds", "HTTP request duration in seconds.",
                                          http_labels, buckets=LATENCY_BUCKETS, registry=self.registry)
        self.requests = Counter("http_requests_total", "HTTP requests answered.", http_labels, registry=self.registry)
        self.webhook_signatures = Counter("webhook_signature_total", "Webhook signatures checked.",
                                          ("platform",), registry=self.registry)
        self.webhook_verified = Counter("webhook_signature_verified_total", "Webhook signatures found valid.",
                                        ("platform",), registry=self.registry)
        self.db_attempts = Counter("db_connection_attempts_total", "Database connection attempts.",
                                   ("result",), registry=self.registry)
        self.publish_requests = Counter("publish_requests_total", "Publish attempts to a social platform.",
                                        ("result",), registry=self.registry)
        self.publish_completed = Counter("publish_jobs_completed_total", "Publish jobs the worker completed (posted).",
                                         ("platform",), registry=self.registry)
        self.backlog = Gauge("temporal_task_queue_backlog", "Jobs waiting in a task queue.",
                             ("task_queue",), registry=self.registry)
        self.backlog.labels(task_queue=PUBLISH_TASK_QUEUE).set_function(backlog)
        self.flag_enabled = Gauge("ofm_feature_flag_enabled", "1 while the feature flag is on, as this process last read it.",
                                  ("flag",), registry=self.registry)
        for name in (flag_states() if flag_states else {}):
            self.flag_enabled.labels(flag=name).set_function(lambda name=name: 1 if flag_states().get(name) else 0)
        self._create_zero_series()

    def _create_zero_series(self) -> None:
        """Series that SLI ratios divide by or into exist at 0 from the start, so a ratio is 0 rather than missing."""
        for method, route in COUNTED_ROUTES:
            self.requests.labels(method=method, route=route, status="500")
        for result in ("success", "failure"):
            self.db_attempts.labels(result=result)
            self.publish_requests.labels(result=result)
        self.webhook_signatures.labels(platform="tiktok")
        self.webhook_verified.labels(platform="tiktok")
        for platform in PLATFORMS:
            self.publish_completed.labels(platform=platform)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def parse_signature_header(header: Optional[str]) -> Optional[tuple[str, str]]:
    """The ``t`` and ``s`` parts of a ``t=<unix ts>,s=<hex>`` header, or None when malformed."""
    if not header:
        return None
    parts: dict[str, str] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or key in parts:
            return None
        parts[key] = value
    timestamp, signature = parts.get("t", ""), parts.get("s", "").lower()
    if not timestamp.isdigit() or not signature or any(char not in "0123456789abcdef" for char in signature):
        return None
    return timestamp, signature


def verify_tiktok_signature(secret: str, header: Optional[str], body: bytes, now: float,
                            tolerance: float = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs ``body`` with HMAC-SHA256(secret, "<t>.<body>") at a time within ``tolerance`` of ``now``."""
    parsed = parse_signature_header(header)
    if parsed is None:
        return False
    timestamp, signature = parsed
    if abs(now - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def validate_faults(names: Any) -> set[str]:
    """The fault names as a set; raises UnknownFaultError or ValueError on bad input."""
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"{SERVICE_NAME} lab control: faults must be a list of strings chosen from {', '.join(FAULTS)}")
    unknown = set(names) - set(FAULTS)
    if unknown:
        raise UnknownFaultError(unknown)
    return set(names)


def load_fault_state(path: Path) -> set[str]:
    """Faults persisted in ``path``; an absent file means no fault."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        return validate_faults(state.get("faults") if isinstance(state, dict) else None)
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as exc:
        raise FaultStateError(f"{SERVICE_NAME}: cannot load the fault state file {path}: {exc}; "
                              f"fix it or delete it to start without faults") from exc


def save_fault_state(path: Path, faults: set[str]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps({"faults": sorted(faults)}) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        raise FaultStateError(f"{SERVICE_NAME}: cannot write the fault state file {path}: {exc.strerror}; "
                              f"check that its directory exists and is writable") from exc


def local_iso(moment: float) -> str:
    """``moment`` as ISO 8601 in the local zone, with its offset (``2026-11-03T12:00:01.123+01:00``)."""
    return datetime.fromtimestamp(moment).astimezone().isoformat(timespec="milliseconds")


def logfmt_value(value: Any) -> str:
    text = str(value)
    return text if text and not any(char in text for char in ' "=\\') else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AppLog:
    """The application log: lines appended to a file (none without a path), and the errors the current request logged."""

    def __init__(self, path: Optional[Path], version_name: str, clock: Callable[[], float] = time.time):
        self._path = path
        self._version_name = version_name
        self._clock = clock
        self._lock = threading.Lock()
        self._request = threading.local()

    def write(self, level: str, **fields: Any) -> None:
        line = f"{local_iso(self._clock())} {level.upper()} " + " ".join(
            f"{key}={logfmt_value(value)}" for key, value in {"version": self._version_name, **fields}.items() if value is not None)
        if self._path is None:
            return
        with self._lock, open(self._path, "a", encoding="utf-8") as stream:
            stream.write(line + "\n")

    def note_error(self, error: str) -> None:
        """An error the current request ran into; logged with the request's route and status when it is answered."""
        if not hasattr(self._request, "errors"):
            self._request.errors = []
        self._request.errors.append(error)

    def take_errors(self) -> list[str]:
        errors, self._request.errors = getattr(self._request, "errors", []), []
        return errors

    def request(self, request: Request, response: Response, route: str, seconds: float) -> None:
        """The request's error lines (each with the route and status), then its own line."""
        common = {"method": request.method, "route": route, "status": response.status}
        for error in self.take_errors():
            self.write("error", **common, msg="request error", error=error)
        level = "error" if response.status >= 500 else "warn" if response.status >= 400 else "info"
        self.write(level, **common, duration_ms=round(seconds * 1000), msg="request completed")


class OfmApi:
    """State and behaviour of one API version: faults, publish queue, metrics, application log."""

    def __init__(self, settings: ApiSettings, rng: Optional[random.Random] = None,  # pylint: disable=too-many-arguments
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time, feature_flags: Optional[FlagReader] = None):
        self.settings = settings
        self.feature_flags = feature_flags
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._faults = load_fault_state(settings.state_file) if settings.state_file else set()
        self._queue: collections.deque[tuple[str, str]] = collections.deque()
        self.app_log = AppLog(settings.app_log, settings.version_name, clock)
        self._rotated_secret = hashlib.sha256(b"rotated:" + settings.webhook_secret.encode()).hexdigest()
        self.metrics = ApiMetrics(backlog=lambda: len(self._queue), flag_states=lambda: self.flags)

    @property
    def faults(self) -> list[str]:
        with self._lock:
            return sorted(self._faults)

    def has_fault(self, name: str) -> bool:
        with self._lock:
            return name in self._faults

    def replace_faults(self, names: Any) -> list[str]:
        return self._apply_faults(lambda _current: validate_faults(names))

    def edit_faults(self, enable: Any, disable: Any) -> list[str]:
        enabled, disabled = validate_faults(enable), validate_faults(disable)
        both = enabled & disabled
        if both:
            raise ValueError(f"{SERVICE_NAME} lab control: fault(s) {', '.join(sorted(both))} both enabled and disabled; "
                             f"list each fault in one of 'enable' or 'disable'")
        return self._apply_faults(lambda current: (current | enabled) - disabled)

    def _apply_faults(self, change: Callable[[set[str]], set[str]]) -> list[str]:
        with self._lock:
            new_faults = change(set(self._faults))
            if self.settings.state_file:
                save_fault_state(self.settings.state_file, new_faults)
            self._faults = new_faults
            current = sorted(new_faults)
        sys.stderr.write(f"{SERVICE_NAME} ({self.settings.version_name}): faults now {current}\n")
        return current

    def _chance(self, fault: str, ratio: float) -> bool:
        return self.has_fault(fault) and self._rng.random() < ratio

    @property
    def flags(self) -> dict[str, bool]:
        """The feature flags as last read (every flag off without a flag reader)."""
        return self.feature_flags.current if self.feature_flags else {}

    def publish_v2_failure(self) -> bool:
        """Whether a publish job fails in the new publish pipeline: the canary build's, while publish_v2 is on."""
        return (self.settings.version_name in PUBLISH_V2_VERSIONS and self.flags.get(PUBLISH_V2, False)
                and self._rng.random() < self.settings.publish_failure_ratio)

    def connect_db(self) -> None:
        """One DB connection; under the db fault an attempt may fail and is retried on the failover pool."""
        if self._chance("db", self.settings.db_failure_ratio):
            self.metrics.db_attempts.labels(result="failure").inc()
        self.metrics.db_attempts.labels(result="success").inc()

    def begin_api_request(self) -> None:
        """What every /api/* request goes through; raises HTTPError(500) under the errors fault."""
        self.connect_db()
        if self.has_fault("slow"):
            self._sleep(self.settings.slow_seconds)
        if self._chance("signature", self.settings.signature_ratio):
            # The message's details from the module's random, not the seeded fault draws (which stay as without the log).
            self.app_log.note_error(f"CdnSigningError: signing key kid-{random.randint(1000, 9999)} rejected for media "
                                    f"{random.randint(1000, 99999)} (request {uuid.uuid4()})")
        if self._chance("errors", self.settings.error_ratio):
            self.app_log.note_error(f"UpstreamError: post store at 10.0.3.{random.randint(2, 250)}:5432 answered "
                                    f"'connection reset' after {random.randint(5, 900)} ms")
            raise HTTPError(500, {"error": "Internal Server Error"})

    def enqueue_publish(self, platform: str = "tiktok") -> str:
        """Queue one publish job to ``platform``; returns its id."""
        job_id = uuid.uuid4().hex
        self._queue.append((job_id, platform))
        return job_id

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def drain_publish_queue(self, max_jobs: int) -> int:
        """Publish up to ``max_jobs`` queued jobs (none under the queue fault); returns how many were taken."""
        if self.has_fault("queue"):
            return 0
        drained = 0
        while drained < max_jobs:
            try:
                job_id, platform = self._queue.popleft()
            except IndexError:
                break
            drained += 1
            failed = self._chance("publish", self.settings.publish_failure_ratio) or self.publish_v2_failure()
            self.metrics.publish_requests.labels(result="failure" if failed else "success").inc()
            if failed:
                self.app_log.write("error", route="worker:publish", msg="publish job failed",
                                   error=f"PublishTimeoutError: platform {platform} did not answer in 30 s (job {job_id})")
            else:
                self.metrics.publish_completed.labels(platform=platform).inc()
        return drained

    def verify_webhook(self, platform: str, header: Optional[str], body: bytes) -> bool:
        secret = self._rotated_secret if self.has_fault("webhooks") else self.settings.webhook_secret
        verified = verify_tiktok_signature(secret, header, body, now=self._clock())
        self.metrics.webhook_signatures.labels(platform=platform).inc()
        if verified:
            self.metrics.webhook_verified.labels(platform=platform).inc()
        return verified

    def observe(self, request: Request, response: Response, seconds: float) -> None:
        """The ``after`` hook: count every answered request except health, metrics and lab control."""
        if request.path in UNCOUNTED_PATHS or request.path.startswith(UNCOUNTED_PREFIX):
            return
        route = request.path if request.path in COUNTED_PATHS else UNMATCHED_ROUTE
        labels = {"method": request.method, "route": route, "status": str(response.status)}
        self.metrics.request_duration.labels(**labels).observe(seconds)
        self.metrics.requests.labels(**labels).inc()
        self.app_log.request(request, response, route, seconds)


class PublishWorker:
    """Background thread draining the publish queue at ``per_second`` jobs per second."""

    def __init__(self, api: OfmApi, per_second: float, tick_seconds: float = 0.1):
        self._api = api
        self._per_second = per_second
        self._tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publish-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        budget = 0.0
        last = time.monotonic()
        while not self._stop.wait(self._tick_seconds):
            now = time.monotonic()
            budget = min(budget + (now - last) * self._per_second, max(self._per_second, 1.0))
            last = now
            budget -= self._api.drain_publish_queue(int(budget))


def _faults_state(api: OfmApi) -> dict[str, Any]:
    return {"faults": api.faults, "available": list(FAULTS)}


def _change_faults(api: OfmApi, change: Callable[[], list[str]]) -> Response:
    try:
        change()
    except ValueError as exc:
        raise HTTPError(400, {"error": str(exc), "available": list(FAULTS)}) from exc
    except FaultStateError as exc:
        raise HTTPError(500, {"error": str(exc)}) from exc
    return Response(200, _faults_state(api))


def build_router(api: OfmApi) -> Router:
    """Every route of the stand-in, bound to ``api``."""

    def health(_request: Request) -> Response:
        problems = api.feature_flags.problems if api.feature_flags else {}
        return Response(200, {"ok": True, "service": SERVICE_NAME, "version": api.settings.version_name, "faults": api.faults,
                              "flags": api.flags, "flag_problems": problems})

    def metrics(_request: Request) -> Response:
        return Response(200, api.metrics.exposition(), content_type=CONTENT_TYPE_LATEST)

    def list_posts(_request: Request) -> Response:
        api.begin_api_request()
        if api.has_fault("content"):
            return Response(200, [{key: value for key, value in post.items() if key != "status"} for post in FAKE_POSTS])
        return Response(200, list(FAKE_POSTS))

    def publish_post(request: Request) -> Response:
        api.begin_api_request()
        body = request.json_object()
        post_id, platform = body.get("post_id"), body.get("platform")
        if not isinstance(post_id, (int, str)) or isinstance(post_id, bool) or post_id == "":
            raise HTTPError(400, {"error": "post_id is required (integer or string)"})
        if platform not in PLATFORMS:
            raise HTTPError(400, {"error": f"platform must be one of {', '.join(PLATFORMS)}"})
        return Response(202, {"queued": True, "job_id": api.enqueue_publish(platform)})

    def tiktok_webhook(request: Request) -> Response:
        if not api.verify_webhook("tiktok", request.headers.get(SIGNATURE_HEADER), request.body):
            raise HTTPError(401, {"error": "Invalid signature"})
        return Response(200, {"received": True})

    def get_faults(_request: Request) -> Response:
        return Response(200, _faults_state(api))

    def put_faults(request: Request) -> Response:
        body = request.json_object()
        return _change_faults(api, lambda: api.replace_faults(body.get("faults")))

    def post_faults(request: Request) -> Response:
        body = request.json_object()
        return _change_faults(api, lambda: api.edit_faults(body.get("enable", []), body.get("disable", [])))

    router = Router()
    router.add("GET", "/health", health)
    router.add("GET", "/metrics", metrics)
    router.add("GET", "/api/posts", list_posts)
    router.add("POST", "/api/posts/publish", publish_post)
    router.add("POST", "/webhooks/tiktok", tiktok_webhook)
    router.add("GET", "/__lab/faults", get_faults)
    router.add("PUT", "/__lab/faults", put_faults)
    router.add("POST", "/__lab/faults", post_faults)
    return router


def build_handler(api: OfmApi) -> type:
    return make_handler(build_router(api), SERVICE_NAME, after=api.observe)


_ratio = cli_number(float, lambda value: 0.0 <= value <= 1.0, "must be a ratio between 0 and 1")
_non_negative = cli_number(float, lambda value: value >= 0, "must be 0 or more")
_positive = cli_number(float, lambda value: value > 0, "must be more than 0")
_positive_int = cli_number(int, lambda value: value > 0, "must be a whole number more than 0")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = base_parser("Stand-in for the OFM Social OS API (one version), for the lab only.")
    parser.add_argument("--version-name", choices=VERSION_NAMES, default="stable", help="which version this process plays")
    parser.add_argument("--webhook-secret", default=os.environ.get("OFM_LAB_WEBHOOK_SECRET"),
                        help="HMAC secret of TikTok webhook signatures (default: $OFM_LAB_WEBHOOK_SECRET)")
    parser.add_argument("--slow-seconds", type=_non_negative, default=12.0, help="delay of /api/* answers under the slow fault")
    parser.add_argument("--error-ratio", type=_ratio, default=0.5, help="share of /api/* answers that are 500 under the errors fault")
    parser.add_argument("--db-failure-ratio", type=_ratio, default=0.5, help="share of DB connection attempts failing under the db fault")
    parser.add_argument("--publish-failure-ratio", type=_ratio, default=0.5, help="share of publish jobs failing under the publish fault")
    parser.add_argument("--queue-drain-per-second", type=_non_negative, default=20.0, help="publish jobs the worker drains per second")
    parser.add_argument("--signature-ratio", type=_ratio, default=0.3,
                        help="share of /api/* requests logging a new error signature under the signature fault")
    parser.add_argument("--state-file", type=Path, help="JSON file keeping the fault set across restarts")
    parser.add_argument("--app-log", type=Path, help="application log file, appended to (one line per request and per error)")
    parser.add_argument("--seed", type=int, help="seed of the random fault draws")
    parser.add_argument("--redis-port", type=int, help=f"read the feature flags from the Redis on this port (password: ${REDIS_PASSWORD_ENV})")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--kube-url", help="base URL of the Kubernetes API test server: where a flag Redis misses is read from")
    parser.add_argument("--kube-ca", help="the CA bundle that verifies an https --kube-url")
    parser.add_argument("--deployment", help="the Deployment whose FEATURE_FLAGS this version reads (default: the version's own: "
                        + ", ".join(f"{version} {name}" for version, name in DEPLOYMENTS.items()) + ")")
    parser.add_argument("--namespace", default=NAMESPACE)
    parser.add_argument("--flag-ttl", type=_positive_int, default=None,
                        help="TTL in seconds of a flag cached again after a miss (default: $OFM_LAB_FLAG_TTL, else 300)")
    parser.add_argument("--flag-refresh-seconds", type=_positive, default=1.0, help="how old the flags the API acts on may be")
    args = parser.parse_args(argv)
    if not args.webhook_secret:
        parser.error("a webhook secret is required: pass --webhook-secret or set OFM_LAB_WEBHOOK_SECRET")
    if (args.redis_port is None) != (args.kube_url is None):
        parser.error("feature flags need both --redis-port and --kube-url (or neither: every flag off)")
    return args


def build_flag_reader(args: argparse.Namespace) -> Optional[FlagReader]:
    """The flag reader of this version, or None when the flags are not wired (every flag off)."""
    if args.redis_port is None:
        return None
    cache = RedisFlagCache(args.redis_host, args.redis_port, os.environ.get(REDIS_PASSWORD_ENV))
    source = DeploymentFlags(KubeReader(args.kube_url, ca_file=args.kube_ca), args.namespace, args.deployment or DEPLOYMENTS[args.version_name])
    ttl = args.flag_ttl or flags.ttl_seconds()
    return FlagReader(flags.FLAGS, cache, source, ttl, log=lambda line: sys.stderr.write(f"{SERVICE_NAME} ({args.version_name}): {line}\n"))


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    settings = ApiSettings(version_name=args.version_name, webhook_secret=args.webhook_secret,
                           slow_seconds=args.slow_seconds, error_ratio=args.error_ratio,
                           db_failure_ratio=args.db_failure_ratio, publish_failure_ratio=args.publish_failure_ratio,
                           queue_drain_per_second=args.queue_drain_per_second, signature_ratio=args.signature_ratio,
                           state_file=args.state_file, app_log=args.app_log)
    feature_flags = build_flag_reader(args)
    try:
        api = OfmApi(settings, rng=random.Random(args.seed), feature_flags=feature_flags)
    except FaultStateError as exc:
        sys.exit(str(exc))
    worker = PublishWorker(api, settings.queue_drain_per_second)
    worker.start()
    stopping = threading.Event()
    if feature_flags:
        threading.Thread(target=feature_flags.run, args=(args.flag_refresh_seconds, stopping), name="feature-flags", daemon=True).start()

    def stop() -> None:
        stopping.set()
        worker.stop()

    sys.stderr.write(f"{SERVICE_NAME} ({settings.version_name}) starting on {args.host}:{args.port}, faults {api.faults}\n")
    try:
        serve(args.host, args.port, build_handler(api), on_stop=stop, tls=tls_context(args))
    except OSError as exc:
        stop()
        sys.exit(f"{SERVICE_NAME}: cannot listen on {args.host}:{args.port}: {exc.strerror}; choose a free port with --port")


if __name__ == "__main__":
    main()
