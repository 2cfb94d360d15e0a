# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bounded headless Locust run judged on p95 latency and error rate (checks ``p95_latency`` and ``error_rate``).

Locust runs as a program (``locust --headless``) for ``run_time``, in its own process group that is killed when ``timeout``
passes. Without a locustfile of the caller's, it runs the one below, which replays the GET cases of an ``http_suite`` suite:
the suite is handed over in a JSON file of a private temporary directory (headers too, so secrets never reach a command
line). The numbers are read back from Locust's CSV statistics (the ``Aggregated`` row, and one row per endpoint).

Before the run one TCP connection to ``host`` shows it is up: a refused connection, like a run in which no request completed
(a service that accepts and never answers), means the service could not be asked (``unavailable_is``).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from ansible_collections.ofm.rollback.plugins.module_utils import checks
from ansible_collections.ofm.rollback.plugins.module_utils.argspec import validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.command import CommandRunner, Program, Runner, run_process_group
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, DeadlineExceeded, InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.http_suite import checked_headers, load_cases

SUBJECT = "the load test"
MAX_USERS = 1000
MAX_RUN_TIME = 3600.0
SPEC_ENV = "OFM_LOAD_TEST_SPEC"
LOCUST = Program("executable", "the path of the locust program (pip install locust), or locust on PATH")
# Seconds Locust may take beyond run_time to start and to write its statistics, when timeout is not set.
DEFAULT_GRACE = 60.0

# The locustfile used without one of the caller's: every simulated user replays the suite's GET cases, then waits wait_time.
REPLAY_LOCUSTFILE = '''\
"""ofm.rollback.load_test: replay the GET cases of an http_suite suite (written by the module; the suite is in $OFM_LOAD_TEST_SPEC)."""
import json
import os

from locust import HttpUser, constant, task

with open(os.environ["OFM_LOAD_TEST_SPEC"], encoding="utf-8") as spec_file:
    SPEC = json.load(spec_file)


class SuiteUser(HttpUser):
    wait_time = constant(SPEC["wait_time"])

    @task
    def replay(self):
        for case in SPEC["cases"]:
            with self.client.request(case["method"], case["url"], headers=case["headers"], name=case["name"],
                                     timeout=SPEC["request_timeout"], catch_response=True) as response:
                if response.status_code in case["status"]:
                    response.success()
                else:
                    response.failure("HTTP %s, expected %s" % (response.status_code, " or ".join(map(str, case["status"]))))
'''


@dataclass(frozen=True)
class LoadSettings:
    """The validated options of one run."""

    host: str
    users: int
    spawn_rate: float
    run_time: float
    max_p95: float
    max_error_rate: float
    timeout: float
    wait_time: float
    request_timeout: float
    locustfile: Optional[str]
    unavailable_is: str


def settings_from_params(params: Mapping[str, Any]) -> LoadSettings:
    """Every option checked before anything runs; an ``InputError`` names the first bad one."""
    host = validated_url(params["host"], "host", example="https://api.ofm.social").rstrip("/")
    users = params["users"]
    if not 1 <= users <= MAX_USERS:
        raise InputError(f"users {users} is out of range", option="users", accepted=f"1 to {MAX_USERS}")
    spawn_rate = float(params["spawn_rate"] if params.get("spawn_rate") is not None else users)
    if not math.isfinite(spawn_rate) or spawn_rate <= 0:
        raise InputError(f"spawn_rate {spawn_rate:g} is not a rate", option="spawn_rate", accepted="users started per second, more than 0")
    run_time = parse_duration(params["run_time"], "run_time")
    if run_time > MAX_RUN_TIME or run_time < 1:
        raise InputError(f"run_time {params['run_time']} is out of range", option="run_time", accepted="a duration from 1s to 1h")
    max_error_rate = params["max_error_rate"]
    if not 0 <= max_error_rate <= 1:
        raise InputError(f"max_error_rate {max_error_rate:g} is not a ratio", option="max_error_rate", accepted="a number from 0 to 1")
    timeout = parse_duration(params["timeout"], "timeout") if params.get("timeout") else run_time + DEFAULT_GRACE
    if timeout <= run_time:
        raise InputError(f"timeout {format_duration(timeout)} leaves Locust no time beyond run_time {format_duration(run_time)}",
                         option="timeout", accepted="a duration longer than run_time (default: run_time + 1m)")
    wait_time = _non_negative_duration(params["wait_time"], "wait_time")
    locustfile = params.get("locustfile")
    if locustfile and not os.path.isfile(locustfile):
        raise InputError(f"the locustfile {locustfile} does not exist", option="locustfile", accepted="the path of a Locust locustfile")
    return LoadSettings(host=host, users=users, spawn_rate=spawn_rate, run_time=run_time,
                        max_p95=parse_duration(params["max_p95"], "max_p95"), max_error_rate=max_error_rate, timeout=timeout,
                        wait_time=wait_time, request_timeout=parse_duration(params["request_timeout"], "request_timeout"),
                        locustfile=locustfile, unavailable_is=params["unavailable_is"])


def _non_negative_duration(value: Any, option: str) -> float:
    if str(value).strip() in ("0", "0s"):
        return 0.0
    return parse_duration(value, option)


def replay_spec(params: Mapping[str, Any], settings: LoadSettings) -> dict[str, Any]:
    """What the built-in locustfile replays: the suite's GET cases with the headers (secret ones included)."""
    if not params.get("suite") and not params.get("suite_file"):
        raise InputError("neither locustfile nor a suite is set", option="locustfile",
                         accepted="a locustfile, or suite/suite_file whose GET cases are replayed")
    cases = [case for case in load_cases(params, base_url_option="host") if case.method == "GET"]
    if not cases:
        raise InputError("the suite has no GET case to replay", option="suite_file" if params.get("suite_file") else "suite",
                         accepted="a suite with at least one GET case")
    headers = {**checked_headers(params.get("headers"), "headers"), **checked_headers(params.get("secret_headers"), "secret_headers")}
    return {"wait_time": settings.wait_time, "request_timeout": settings.request_timeout,
            "cases": [{"name": case.name, "method": case.method, "url": case.url, "headers": {**headers, **case.headers},
                       "status": list(case.status)} for case in cases]}


def locust_executable(configured: Optional[str]) -> str:
    """``configured``, else the locust beside the Python running the module, else ``locust`` from PATH."""
    if configured:
        return configured
    beside = os.path.join(os.path.dirname(sys.executable), "locust")
    return beside if os.access(beside, os.X_OK) else (shutil.which("locust") or "locust")


class LoadTest:
    """One bounded Locust run and its verdict."""

    def __init__(self, settings: LoadSettings, executable: str, *, spec: Optional[dict[str, Any]] = None,
                 secrets: tuple[str, ...] = (), runner: Runner = run_process_group,
                 probe: Optional[Callable[[str, float], None]] = None) -> None:
        self.settings = settings
        self.executable = executable
        self.spec = spec
        self.commands = CommandRunner("Locust", programs={os.path.basename(executable): LOCUST}, program=LOCUST, secrets=secrets,
                                      runner=runner)
        self.probe = probe or probe_tcp

    def run(self) -> dict[str, Any]:
        """``checks.result`` with ``p95_latency`` and ``error_rate``, ``stats`` and ``command``."""
        try:
            self.probe(self.settings.host, min(self.settings.request_timeout, 10.0))
        except UnavailableError as exc:
            return self._unavailable(str(exc))
        workdir = tempfile.mkdtemp(prefix="ofm-load-test-")
        try:
            stats = self._locust(workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if not stats["requests"]:
            return self._unavailable(f"no request to {self.settings.host} completed in {format_duration(self.settings.run_time)} "
                                     f"(the service accepts connections but does not answer)", stats)
        return checks.result(self._judge(stats), SUBJECT, {"stats": stats, "command": self.commands.commands[-1]})

    def _locust(self, workdir: str) -> dict[str, Any]:
        env = dict(os.environ)
        locustfile = self.settings.locustfile
        if locustfile is None:
            locustfile = os.path.join(workdir, "locustfile.py")
            _write_private(locustfile, REPLAY_LOCUSTFILE)
            env[SPEC_ENV] = os.path.join(workdir, "suite.json")
            _write_private(env[SPEC_ENV], json.dumps(self.spec))
        prefix = os.path.join(workdir, "stats")
        argv = [self.executable, "-f", locustfile, "--headless", "--only-summary", "-u", str(self.settings.users),
                "-r", f"{self.settings.spawn_rate:g}", "-t", f"{max(1, round(self.settings.run_time))}s", "--host", self.settings.host,
                "--csv", prefix, "--exit-code-on-error", "0", "--stop-timeout", "0", "--loglevel", "WARNING"]
        self.commands.cwd = workdir
        try:
            self.commands.run(argv, "load test", self.settings.host, timeout=self.settings.timeout, env=env)
        except DeadlineExceeded as exc:
            exc.hint = "Locust outlived timeout and was killed with what it had started: lengthen timeout, or shorten run_time."
            raise
        return read_stats(prefix + "_stats.csv")

    def _judge(self, stats: dict[str, Any]) -> list[checks.Check]:
        settings = self.settings
        p95_seconds = stats["p95_ms"] / 1000
        latency = checks.Check("p95_latency", checks.OK if p95_seconds <= settings.max_p95 else checks.FAILED,
                               f"p95 {format_duration(p95_seconds)} over {stats['requests']} request(s), "
                               f"{'within' if p95_seconds <= settings.max_p95 else 'above'} {format_duration(settings.max_p95)}",
                               {"p95_ms": stats["p95_ms"], "max_p95_ms": settings.max_p95 * 1000})
        within = stats["error_rate"] <= settings.max_error_rate
        errors = checks.Check("error_rate", checks.OK if within else checks.FAILED,
                              f"{stats['failures']} of {stats['requests']} request(s) failed ({stats['error_rate']:.2%}), "
                              f"{'within' if within else 'above'} {settings.max_error_rate:.2%}",
                              {"error_rate": stats["error_rate"], "max_error_rate": settings.max_error_rate})
        return [latency, errors]

    def _unavailable(self, reason: str, stats: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        if self.settings.unavailable_is == "fail":
            raise UnavailableError(reason, system="Locust", operation="load test", target=self.settings.host,
                                   hint="Check that the service is up and answers, or set unavailable_is=unknown.")
        return checks.result([checks.unavailable(name, reason) for name in ("p95_latency", "error_rate")], SUBJECT,
                             {"stats": stats, "command": self.commands.commands[-1] if self.commands.commands else None})


def not_run(reason: str) -> dict[str, Any]:
    """The result of a run that did not happen (check mode)."""
    return checks.result([checks.unavailable(name, reason) for name in ("p95_latency", "error_rate")], SUBJECT,
                         {"stats": None, "command": None})


def probe_tcp(url: str, timeout: float) -> None:
    """One TCP connection to the host of ``url``; ``UnavailableError`` when it cannot be made."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    started = time.monotonic()
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise UnavailableError(f"could not connect to {parts.hostname}:{port} ({reason}, {time.monotonic() - started:.1f}s)", sent=False,
                               system="Locust", operation="connection check", target=url) from exc


def _write_private(path: str, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def read_stats(path: str) -> dict[str, Any]:
    """Requests, failures, error rate and p95 (ms) of Locust's ``<prefix>_stats.csv``: the ``Aggregated`` row and each endpoint."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise DataError(f"Locust wrote no statistics ({os.path.basename(path)}: {exc.strerror})", system="Locust", operation="load test",
                        hint="Check that the locust program is Locust 2.x and that the locustfile defines a user class.") from exc
    endpoints = [_row(row) for row in rows if row.get("Name") != "Aggregated"]
    aggregated = next((_row(row) for row in rows if row.get("Name") == "Aggregated"), None)
    if aggregated is None:
        raise DataError(f"Locust's statistics {os.path.basename(path)} have no Aggregated row", system="Locust",
                        operation="load test", hint="Check that the locust program is Locust 2.x.")
    return {**{key: aggregated[key] for key in ("requests", "failures", "error_rate", "p95_ms", "median_ms", "requests_per_second")},
            "endpoints": endpoints}


def _row(row: Mapping[str, str]) -> dict[str, Any]:
    requests = int(row.get("Request Count") or 0)
    failures = int(row.get("Failure Count") or 0)
    return {"type": row.get("Type") or None, "name": row.get("Name"), "requests": requests, "failures": failures,
            "error_rate": round(failures / requests, 6) if requests else 0.0, "p95_ms": _number(row.get("95%")),
            "median_ms": _number(row.get("50%")), "requests_per_second": round(_number(row.get("Requests/s")), 2)}


def _number(text: Optional[str]) -> float:
    try:
        value = float(text or "nan")
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def run_from_params(params: Mapping[str, Any], check_mode: bool, runner: Runner = run_process_group) -> dict[str, Any]:
    """The module's work: every option checked first; in check mode nothing runs."""
    settings = settings_from_params(params)
    spec = None if settings.locustfile else replay_spec(params, settings)
    if check_mode:
        return not_run("check mode: no load sent")
    secrets = tuple(value for value in checked_headers(params.get("secret_headers"), "secret_headers").values() if value)
    return LoadTest(settings, locust_executable(params.get("executable")), spec=spec, secrets=secrets, runner=runner).run()
