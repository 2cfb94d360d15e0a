"""Helpers for the integration tests: the lab that scripts/test.sh brings up, its HTTP stand-ins, and the real ansible commands.

``run_playbook`` runs the repository's own playbooks against the lab inventory with the repository's ansible.cfg;
``run_module``, ``run_local_playbook`` and ``run_play`` run on localhost with nothing but this checkout's collection configured.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import psycopg
import pytest
import yaml

from lab import process
from lab.components.db_writer import DbWriter
from lab.components.postgres import ADMIN_ROLE, DATABASE, Postgres
from lab.config import HOST, REPO_ROOT, LabConfig, load_config

BIN_DIR = Path(sys.executable).parent
CALLER_SETTINGS = ("ANSIBLE_", "OFM_OPS_API_", "PROMETHEUS_", "SLACK_", "STATUSPAGE_")
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILD_USER", "BUILD_USER_ID")
_FAILED_MARKER = " | FAILED! => "
_RESULT_MARKERS = (" | SUCCESS => ", " | CHANGED => ", _FAILED_MARKER)


# Commands that put the lab's external objects (the zone ofm.social, the ALB, the distribution, the Route, the platforms' apps)
# back or change them: they take turns with the tests of the other process that use those objects (external_objects_turn).
EXTERNAL_OBJECT_COMMANDS = ("reset", "external")
# Commands that commit to the lab's "production" PostgreSQL (the reset and `lab config` put platform_rate_limits back in a
# transaction): they take turns with the point-in-time recovery tests that need it quiet (production_db_turn). CI run 6: a
# shared-process `lab reset` committed inside the idle tail of test_the_dr_script_restores_a_target_in_an_idle_tail.
PRODUCTION_DB_COMMANDS = ("reset", "config", "validation")


def run_lab(*args: str, env: Optional[dict[str, str]] = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real ``lab`` command."""
    with ExitStack() as turns:
        if args and args[0] in EXTERNAL_OBJECT_COMMANDS:
            turns.enter_context(external_objects_turn(load_config()))
        if args and args[0] in PRODUCTION_DB_COMMANDS:
            turns.enter_context(production_db_turn(load_config()))
        result = subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                                env={**os.environ, **(env or {})}, timeout=180, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"lab {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 1.0, what: str = "condition") -> Any:
    """Poll until ``predicate`` returns a truthy value; fail the test naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what} not reached within {timeout:.0f}s (last value: {last!r})")


_TURNS_HELD: dict[str, int] = {}


@contextmanager
def lab_turn(lab: LabConfig, name: str) -> Iterator[None]:
    """Exclusive use of a part of the lab across the two pytest processes (a file lock under the lab's ``run/``); taken again
    inside the same process, it is already held."""
    if _TURNS_HELD.get(name):
        _TURNS_HELD[name] += 1
        try:
            yield
        finally:
            _TURNS_HELD[name] -= 1
        return
    path = lab.path("run", f"{name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _TURNS_HELD[name] = 1
        try:
            yield
        finally:
            _TURNS_HELD[name] = 0
            fcntl.flock(handle, fcntl.LOCK_UN)


def production_db_turn(lab: LabConfig) -> Any:
    """Exclusive use of the lab's "production" PostgreSQL across the two pytest processes: the tests that need it quiet
    (quiet_lab_source) and the shared-lab tests that write to it (the configuration rollback's: rate limits, tables of their
    own) take turns on this lock, so that no commit of one lands in the idle tail the other restores to."""
    return lab_turn(lab, "production-db")


def external_objects_turn(lab: LabConfig) -> Any:
    """Exclusive use of the lab's external objects (zone ofm.social and the moto server's state, the ALB, the CloudFront
    distribution, the Route ofm-api, the platforms' apps) across the two pytest processes: the tests that change and put
    them back, and ``lab reset``/``lab external`` (which wipe or change them), take turns."""
    return lab_turn(lab, "external-objects")


def stop_components(lab: LabConfig, *components: Any) -> None:
    """Stop the real processes of ``components`` (lab.components objects), as a crash would; each must have been running."""
    for component in components:
        assert process.stop(component.pid_file(lab)), f"{component.name} was not running"


def start_components(*components: Any) -> None:
    """Start ``components`` again. Only these: a plain `lab up` would also restart what a test in the other pytest process
    stopped on purpose."""
    run_lab("up", *[argument for component in components for argument in ("--only", component.name)])


@contextmanager
def stopped(lab: LabConfig, *components: Any, reset: bool = False) -> Iterator[None]:
    """The components' processes stopped for the block and started again after it; with ``reset``, the lab reset before the
    stop and after the start (a test that breaks the lab puts it back)."""
    if reset:
        run_lab("reset")
    stop_components(lab, *components)
    try:
        yield
    finally:
        start_components(*components)
        if reset:
            run_lab("reset")


@contextmanager
def quiet_lab_source(lab: LabConfig) -> Iterator[dict[str, Any]]:
    """The lab's "production" database with nobody writing: the db-writer stopped, no archive_timeout switches and no
    autovacuum (whose ANALYZE commits), so that what is archived is exactly what the test writes and switches. Yields the
    admin login as pg_pitr_restore's ``source`` option; the writer and the settings come back afterwards."""
    with production_db_turn(lab):
        yield from _quiet_lab_source(lab)


def _quiet_lab_source(lab: LabConfig) -> Iterator[dict[str, Any]]:
    process.stop(DbWriter().pid_file(lab))
    postgres = Postgres()
    postgres.psql(lab, "ALTER SYSTEM SET archive_timeout = 0;\nALTER SYSTEM SET autovacuum = off;\nSELECT pg_reload_conf();\n")
    # An autovacuum worker (or the writer's last transaction) that started before may still commit: wait until none runs.
    wait_until(lambda: postgres.psql(lab, "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
                                          "(backend_type = 'autovacuum worker' OR backend_xid IS NOT NULL);\n").strip() == "0",
               60, interval=0.2, what="no transaction in progress on the lab's database")
    try:
        yield {"host": HOST, "port": lab.ports["postgres"], "user": ADMIN_ROLE, "password": credentials(lab)["db_admin_password"],
               "database": DATABASE}
    finally:
        postgres.psql(lab, "ALTER SYSTEM RESET archive_timeout;\nALTER SYSTEM RESET autovacuum;\nSELECT pg_reload_conf();\n")
        start_components(DbWriter())


def admin_connection(lab: LabConfig, port: Optional[int] = None, **options: Any) -> Any:
    """A psycopg connection to the lab's "production" database (or the PostgreSQL on ``port``, e.g. a sandbox) as its admin."""
    return psycopg.connect(host=HOST, port=port or lab.ports["postgres"], dbname=DATABASE, user=ADMIN_ROLE,
                           password=credentials(lab)["db_admin_password"], connect_timeout=5, **options)


def switch_and_wait_archived(connection: Any) -> None:
    """Switch the WAL on a psycopg connection to the lab's PostgreSQL and wait until that segment is archived."""
    segment = connection.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
    wait_until(lambda: (connection.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0] or "") >= segment, 60,
               interval=0.2, what=f"WAL segment {segment} archived")


class Prometheus:
    """A tiny reader of the lab Prometheus, for assertions."""

    def __init__(self, url: str):
        self.url = url

    def query(self, expr: str) -> dict[str, float]:
        """Instant query; the values keyed by their ``version`` label (or ``""``)."""
        body = lab_call(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
        assert body["status"] == "success", body
        return {item["metric"].get("version", ""): float(item["value"][1]) for item in body["data"]["result"]}

    def value(self, expr: str, version: str) -> Optional[float]:
        return self.query(expr).get(version)


class Secrets(dict):
    """A dict of credentials whose repr hides them from pytest's failure reports."""

    def __repr__(self) -> str:
        return f"<{len(self)} secret value(s)>"


def credentials(lab: LabConfig) -> Secrets:
    return Secrets(json.loads(Path(lab.credentials_file).read_text()))


@functools.lru_cache(maxsize=None)
def _lab_context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


def lab_context() -> ssl.SSLContext:
    """A client TLS context that trusts the lab CA (the lab's HTTPS services; lab/tls.py) and verifies host names."""
    return _lab_context(str(load_config().ca_file))


def tls(lab: Optional[LabConfig] = None) -> dict[str, str]:
    """The module options that trust the lab CA (``ca_path``): for a module run against the lab's HTTPS services."""
    return {"ca_path": str((lab or load_config()).ca_file)}


# Fields of credentials.json that are not secret (names, addresses, roles, the status page's id, which is in its URLs).
NOT_SECRET = ("sub", "email", "roles", "statuspage_page_id")


def secret_values(document: Any) -> dict[str, str]:
    """Every secret of a credentials document (credentials.json), by its path: ``identities.admin.token`` -> the token."""
    found: dict[str, str] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in NOT_SECRET:
                    walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, str) and len(value) >= 8:
            found[path] = value
    walk(document, "")
    return found


def artefacts(directory: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under ``directory`` as (its path, its bytes), and every member of a .tar.gz bundle as (bundle:member, bytes)."""
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield str(path.relative_to(directory)), data
        if path.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path) as bundle:
                for member in bundle.getmembers():
                    extracted = bundle.extractfile(member) if member.isfile() else None
                    if extracted is not None:
                        yield f"{path.relative_to(directory)}:{member.name}", extracted.read()


def leaks(secrets: dict[str, str], sources: Iterator[tuple[str, bytes]]) -> list[str]:
    """Where each secret appears, as ``<where>: <the secret's name>`` (never the secret): as it is, or URL-encoded."""
    wanted = {name: {value.encode(), urllib.parse.quote(value, safe="").encode()} for name, value in secrets.items()}
    return [f"{where}: {name}" for where, data in sources for name, forms in wanted.items() if any(form in data for form in forms)]


def lab_request(url: str, method: str = "GET", body: Any = None, headers: Optional[dict[str, str]] = None) -> tuple[int, Any]:
    """One JSON request to a lab service (an https URL verified against the lab CA): its status and parsed answer, error
    answers included."""
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    context = lab_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def lab_call(url: str, method: str = "GET", body: Any = None, headers: Optional[dict[str, str]] = None) -> Any:
    """The parsed answer of a lab request that must succeed."""
    status, answer = lab_request(url, method, body, headers)
    assert status < 400, f"{method} {url} answered HTTP {status}: {answer}"
    return answer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stand_in_messages(url: str) -> list[dict[str, Any]]:
    """What a Slack or Statuspage stand-in has recorded, oldest first."""
    return lab_call(url + "/__lab/messages")["messages"]


@contextmanager
def clean_stand_in(url: str) -> Iterator[str]:
    """A Slack or Statuspage stand-in with no messages and no fault; its fault is cleared again afterwards."""
    for path in ("/__lab/messages", "/__lab/faults"):
        lab_call(url + path, "DELETE")
    try:
        yield url
    finally:
        lab_call(url + "/__lab/faults", "DELETE")


def ansible_bin(name: str) -> str:
    """An ansible command of the Python that runs the tests (the project's .venv in scripts/test.sh)."""
    return str(BIN_DIR / name)


def ansible_env(workdir: Path, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The environment of an ansible command on localhost.

    This checkout's collection, an empty ansible.cfg, JSON results, no colours; no Ansible settings, credentials or CI
    variables inherited from the caller.
    """
    config = workdir / "ansible.cfg"
    config.touch()
    env = {name: value for name, value in os.environ.items() if not name.startswith(CALLER_SETTINGS) and name not in CI_VARIABLES}
    env.update({
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".collections"),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOME": str(workdir / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
        "PATH": f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}",
    })
    env.update(extra or {})
    return env


@dataclass
class AnsibleRun:
    """A module or play run: exit code, result (a play's maps each ``register`` name to its result) and what it printed."""

    rc: int
    result: dict[str, Any]
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def failed(self) -> bool:
        return self.rc != 0 or bool(self.result.get("failed"))

    @property
    def warnings(self) -> list[str]:
        return [line.split("[WARNING]: ", 1)[1] for line in self.output.splitlines() if "[WARNING]: " in line]


def run_module(module: str, args: dict[str, Any], workdir: Path, *, check: bool = False, diff: bool = False,
               env: Optional[dict[str, str]] = None, timeout: float = 300) -> AnsibleRun:
    """``ansible localhost -m ofm.rollback.<module> -a <json>``; credentials go in ``env`` only."""
    argv = [ansible_bin("ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", f"ofm.rollback.{module}"]
    argv += ["-a", json.dumps(args)] * bool(args) + ["--check"] * check + ["--diff"] * diff
    done = subprocess.run(argv, cwd=workdir, env=ansible_env(workdir, env), capture_output=True, text=True, timeout=timeout, check=False)
    return AnsibleRun(done.returncode, _module_result(done.stdout, done.stderr), done.stdout, done.stderr)


def _module_result(stdout: str, stderr: str) -> dict[str, Any]:
    """The result ansible printed for localhost, with ``failed`` set when it reported the host FAILED."""
    for marker in _RESULT_MARKERS:
        if marker in stdout:
            result = json.JSONDecoder().raw_decode(stdout.split(marker, 1)[1])[0]
            if marker == _FAILED_MARKER:
                result.setdefault("failed", True)
            return result
    raise AssertionError(f"no module result in the ansible output:\n{stdout}\n{stderr}")


def run_local_playbook(playbook: Path, workdir: Path, *, extra_vars: Optional[dict[str, Any]] = None, options: Sequence[str] = (),
                       env: Optional[dict[str, str]] = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``ansible-playbook`` on localhost with ``extra_vars`` passed as JSON and any further command-line ``options``."""
    argv = [ansible_bin("ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", json.dumps(extra_vars or {}), *options, str(playbook)]
    return subprocess.run(argv, cwd=workdir, env=ansible_env(workdir, env), capture_output=True, text=True, timeout=timeout, check=False)


def run_play(tasks: list[dict[str, Any]], workdir: Path, env: Optional[dict[str, str]] = None, *, diff: bool = False,
             options: Sequence[str] = ()) -> AnsibleRun:
    """Run ``tasks`` in a play on localhost with ``ansible-playbook`` (and its command-line ``options``, such as
    ``--vault-password-file``), then save what each task registered."""
    results = workdir / "results.json"
    registered = ", ".join(f"'{task['register']}': {task['register']}" for task in tasks if "register" in task)
    save = {"name": "Save the registered results", "check_mode": False, "changed_when": False,
            "ansible.builtin.copy": {"content": "{{ {%s} | to_json }}" % registered, "dest": str(results), "mode": "0600"}}
    playbook = workdir / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Integration test play", "hosts": "localhost", "gather_facts": False,
                                         "tasks": [*tasks, save]}]))
    done = run_local_playbook(playbook, workdir, options=["--diff"] * diff + list(options), env=env)
    assert results.exists(), f"ansible-playbook exited {done.returncode} before saving its results:\n{done.stdout}\n{done.stderr}"
    return AnsibleRun(done.returncode, json.loads(results.read_text()), done.stdout, done.stderr)


def run_playbook(playbook: str, *args: str, extra_vars: Optional[dict[str, Any]] = None, audit_log: Optional[Path] = None,
                 timeout: float = 600, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Run ``playbooks/<playbook>`` against the lab inventory with the repository's ansible.cfg (``env``: more variables)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", **(env or {})}
    if audit_log:
        env["OFM_AUDIT_LOG"] = str(audit_log)
    command = [ansible_bin("ansible-playbook"), str(REPO_ROOT / "playbooks" / playbook), *args]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=timeout, check=False)


def slo_wait(lab: LabConfig, workdir: Path, condition: str, timeout: str = "150s") -> None:
    """Wait with the collection's own slo_check (same queries as the playbook) for the canary to be ``condition``."""
    args = {"prometheus_url": lab.url("prometheus"), "scope": "canary", "window": lab.sli_window, "sustain": "20s",
            "resolution": "1s", "wait_for": condition, "wait_timeout": timeout, "wait_interval": "1s", **tls(lab)}
    run = run_module("slo_check", args, workdir)
    assert not run.failed, f"canary never became {condition}:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"


def emergency(tmp_path: Path, incident: str, *args: str, env: Optional[dict[str, str]] = None, **extra: Any) -> subprocess.CompletedProcess:
    """``playbooks/emergency-rollback.yml`` for ``incident``, its records and audit log under ``tmp_path``."""
    extra_vars = {"rollback_incident_id": incident, "ofm_incident_record_dir": str(tmp_path / "incidents"), **extra}
    return run_playbook("emergency-rollback.yml", *args, extra_vars=extra_vars, audit_log=tmp_path / "audit.jsonl", env=env)


def record(records_dir: Path, incident: str) -> dict[str, Any]:
    """The JSON incident record the emergency playbook wrote for ``incident``."""
    files = sorted(records_dir.glob(f"{incident}-*.json"))
    assert files, f"no incident record for {incident} in {records_dir}"
    return json.loads(files[-1].read_text())


def flat(output: str) -> str:
    """Ansible's output with the YAML callback's line wrapping undone (a wrapped string continues on an indented line)."""
    return re.sub(r"\n\s+(?=\S)", " ", output).replace("''", "'")


def slack_messages(lab: LabConfig) -> list[dict[str, Any]]:
    return stand_in_messages(lab.url("slack"))


def statuspage_incidents(lab: LabConfig, incident: str) -> list[dict[str, Any]]:
    """The incidents of the lab's status page (the Statuspage stand-in) whose name holds ``incident``, read through its API."""
    secrets = credentials(lab)
    listed = lab_call(f"{lab.url('statuspage')}/v1/pages/{secrets['statuspage_page_id']}/incidents", "GET", None,
                      {"Authorization": f"OAuth {secrets['statuspage_api_key']}"})
    return [found for found in listed if incident in found["name"]]
