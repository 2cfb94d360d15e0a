# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit
type: notification
short_description: Write a redacted, hash-chained audit trail of every task of every run
version_added: 0.1.0
description:
  - Appends one JSON line per task result to an audit log. The line says who ran it (AWX user, CI actor or OS user), how it was
    launched, the playbook, play, task, module, host, redacted arguments, status, a summary of the diff (which files
    or objects, how many lines added and removed, never the content) and a small redacted summary of the result,
    including the C(requests), C(commands) and C(queries) that the collection's modules return.
  - Loop items are folded into their task's line. Each run also writes a C(run_start) line and a C(run_end) line with
    the statistics per host.
  - Each line holds C(seq), C(prev_hash) and C(hash) (SHA-256 of the line's canonical JSON without C(hash)), chaining
    it to the line before, across runs. M(ofm.rollback.audit_verify) checks the chain.
  - Secrets stay out of the log. Tasks with C(no_log) get C(args=censored) and no result details. Arguments come from
    the module's C(invocation.module_args) when the result has them (templated, with C(no_log) options already masked),
    else from the task. Values of keys that look secret (password, passwd, token, secret, api_key, apikey, key, cookie,
    session, authorization, credential, webhook_url, private) are masked at any depth, and strings lose URL
    credentials, authorization headers, cookies and token parameters.
  - The incident id comes from the extra vars or play vars named in O(incident_var_names), and follows a task that
    sets one of them with C(set_fact) or returns it in C(ansible_facts).
  - Writing never breaks a run. When the log cannot be written, the callback warns once, the run goes on, and the
    C(run_end) line (if it can still be written) counts the records that were lost.
  - An exclusive lock on the log is held while a line is appended, so concurrent runs keep one valid chain.
  - A run killed in the middle of a record (SIGKILL) can leave a torn last line. The next run ends it, writes a C(torn_line)
    record that names it (byte offset, length, SHA-256 of its bytes), warns, and continues the chain from the last intact
    record. M(ofm.rollback.audit_verify) reports the torn line as a warning, not as a broken chain.
  - At the end of every run (a failed one too), the chain's head - the C(seq), C(hash), C(run_id) and C(time) of the run's
    last record and how many records the run wrote - is written as an anchor where the operator cannot rewrite it unnoticed -
    a row of OFM's C(audit_logs) table (action C(rollback.audit_anchor)) when O(db_dsn) is set, the ops API's audit route
    when O(anchor_ops_api_url) is set, and the file O(anchor_path) when set - signed with HMAC-SHA256 when O(hmac_key) is set.
    M(ofm.rollback.audit_verify) with O(ofm.rollback.audit_verify#module:anchors) reports a log truncated or rewritten
    against them.
  - An anchor that cannot be written never fails the run - a warning says so and an C(anchor_failed) record in the log
    names the anchor and each destination's error.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - Enable it with C(callbacks_enabled = ofm.rollback.audit) in the C([defaults]) section of C(ansible.cfg), or with
    C(ANSIBLE_CALLBACKS_ENABLED=ofm.rollback.audit).
options:
  log_path:
    description:
      - The audit log file. Missing directories are created (mode 0700), the file with mode 0600.
    type: path
    default: ~/.ansible/ofm-rollback/audit.jsonl
    env:
      - name: OFM_AUDIT_LOG
    ini:
      - section: ofm_audit
        key: log_path
  incident_var_names:
    description:
      - Variables that hold the incident id, the first one set wins.
    type: list
    elements: str
    default: [rollback_incident_id, incident_id]
    env:
      - name: OFM_AUDIT_INCIDENT_VAR_NAMES
    ini:
      - section: ofm_audit
        key: incident_var_names
  db_dsn:
    description:
      - Also write every record into OFM's C(audit_logs) table (the audit system of record) - a libpq connection string or
        URL without the password, such as C(host=db.internal dbname=ofm user=ofm_audit sslmode=verify-full). Empty - the
        JSONL log only.
      - Rows are inserted in batches by a background thread and never hold the run up; a database that is down costs one
        warning, and the end of every run back-fills every record of the log that its chain's rows miss, so a database
        that was down catches up at the next run. C(ofm.rollback.audit_verify) with C(source=both) compares the table
        with the log. The row mapping is documented in the collection's C(module_utils/audit_table.py).
    type: str
    default: ""
    env:
      - name: OFM_AUDIT_DB_DSN
    ini:
      - section: ofm_audit
        key: db_dsn
  db_password:
    description:
      - The database password (never written anywhere). Also PGPASSWORD or a pgpass file, as libpq reads them.
    type: str
    env:
      - name: OFM_AUDIT_DB_PASSWORD
  db_table:
    description:
      - The table, with its schema if needed.
    type: str
    default: audit_logs
    env:
      - name: OFM_AUDIT_DB_TABLE
    ini:
      - section: ofm_audit
        key: db_table
  db_batch:
    description:
      - Rows per insert.
    type: int
    default: 50
    ini:
      - section: ofm_audit
        key: db_batch
  db_flush_interval:
    description:
      - Seconds the thread waits for more records before it inserts what it has.
    type: float
    default: 1.0
    ini:
      - section: ofm_audit
        key: db_flush_interval
  db_flush_timeout:
    description:
      - Seconds the end of a run waits for the last rows and the back-fill; what is left goes at the next run.
    type: float
    default: 5.0
    env:
      - name: OFM_AUDIT_DB_FLUSH_TIMEOUT
    ini:
      - section: ofm_audit
        key: db_flush_timeout
  hmac_key:
    description:
      - A secret key (from a credential, never written anywhere) to sign each anchor with HMAC-SHA256, so that whoever can
        write anchors but lacks the key cannot forge one. Give M(ofm.rollback.audit_verify) the same key.
    type: str
    env:
      - name: OFM_AUDIT_HMAC_KEY
  anchor_path:
    description:
      - Also append each anchor as a JSON line to this file - on storage the operator cannot rewrite (another host's
        mount, an append-only file). Not set - no anchor file.
    type: path
    env:
      - name: OFM_AUDIT_ANCHOR_PATH
    ini:
      - section: ofm_audit
        key: anchor_path
  anchor_ops_api_url:
    description:
      - Also send each anchor to the ops API's audit route, C(POST <url>/internal/audit) with C({action, resource, meta}) - a
        route of the collection's convention (OFM's ops API lists audit rows only, today; the lab's stand-in serves it).
        Empty - not sent.
    type: str
    default: ""
    env:
      - name: OFM_AUDIT_OPS_API_URL
    ini:
      - section: ofm_audit
        key: anchor_ops_api_url
  anchor_ops_api_token:
    description:
      - A bearer token of an ops API account with the admin role (never written anywhere).
    type: str
    env:
      - name: OFM_AUDIT_OPS_API_TOKEN
  anchor_ops_api_session_cookie:
    description:
      - The C(connect.sid) session cookie of an ops API admin, when the deployment has no bearer tokens (never written anywhere).
    type: str
    env:
      - name: OFM_AUDIT_OPS_API_SESSION
  anchor_ops_api_ca_path:
    description:
      - A PEM bundle of the CAs that signed the ops API's certificate; the system's bundle when not set.
    type: path
    env:
      - name: OFM_AUDIT_OPS_API_CA_PATH
    ini:
      - section: ofm_audit
        key: anchor_ops_api_ca_path
  anchor_ops_api_validate_certs:
    description:
      - Verify the ops API's certificate. Set to V(false) only for a lab.
    type: bool
    default: true
    env:
      - name: OFM_AUDIT_OPS_API_VALIDATE_CERTS
    ini:
      - section: ofm_audit
        key: anchor_ops_api_validate_certs
  anchor_timeout:
    description:
      - Seconds the ops API may take to answer the anchor's request.
    type: float
    default: 5.0
    ini:
      - section: ofm_audit
        key: anchor_timeout
notes:
  - A record that was changed, deleted, inserted or moved breaks the chain at that record. Removing lines at the end of
    the log leaves no trace in the log itself - the anchors show it.
"""

import datetime
import difflib
import getpass
import json
import math
import os
import re
import socket
import sys
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ansible_version

from ansible_collections.ofm.rollback.plugins.plugin_utils import bytecode
from ansible_collections.ofm.rollback.plugins.module_utils.audit import TORN_LINE, append_records
from ansible_collections.ofm.rollback.plugins.module_utils.argspec import DEFAULT_OPS_API_URL, validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http import BearerAuth, HttpClient, SessionCookieAuth
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import SYSTEM as OPS_API, OpsApiClient
from ansible_collections.ofm.rollback.plugins.module_utils.redact import REDACTED, Redactor
from ansible_collections.ofm.rollback.plugins.plugin_utils.audit_sink import TableSink

CENSORED = "censored"
COLLECTION_VERSION = "0.1.0"  # galaxy.yml version
MAX_TEXT = 1024
MAX_LIST = 100
AUDIT_TRAIL_KEYS = ("requests", "commands", "queries")
SUMMARY_SCALARS = ("rc", "attempts")

_SECRET_KEY_PARTS = ("password", "passwd", "token", "secret", "api_key", "apikey", "cookie", "session", "authorization",
                     "credential", "webhook_url", "webhookurl", "private")
_KEY_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_WEBHOOK_URL = re.compile(r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+", re.IGNORECASE)
_EXTRA_VARS_OPTIONS = ("-e", "--extra-vars")
_TRUE = ("1", "true", "yes")
_REDACTOR = Redactor()


def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds, e.g. ``2025-01-01T03:00:00.123Z``."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_secret_key(key: Any) -> bool:
    """Whether values under ``key`` must be masked: a secret-looking part (``db_password``) or the word ``key`` (``sshKey``)."""
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return any(part in lowered for part in _SECRET_KEY_PARTS) or "key" in (word.lower() for word in _KEY_WORDS.findall(key))


def redact_text(text: str) -> str:
    """``text`` without credentials (redact.py's patterns plus chat webhook URLs), cut to ``MAX_TEXT`` characters."""
    text = _WEBHOOK_URL.sub(rf"\1{REDACTED}", _REDACTOR.text(text))
    return text if len(text) <= MAX_TEXT else f"{text[:MAX_TEXT]}...[{len(text) - MAX_TEXT} more characters]"


def scrub(value: Any) -> Any:
    """A JSON-ready copy of ``value``: secret keys masked at any depth, strings redacted and shortened, long lists cut."""
    if isinstance(value, Mapping):
        return {str(key): _mask(item) if is_secret_key(key) else scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [scrub(item) for item in list(value)[:MAX_LIST]]
        return items + [f"...[{len(value) - MAX_LIST} more items]"] if len(value) > MAX_LIST else items
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return redact_text(str(value))


def _mask(value: Any) -> Any:
    return value if value is None or isinstance(value, bool) or value == "" else REDACTED


def detect_actor(extra_vars: Mapping[str, Any], environ: Mapping[str, str], os_user: str) -> Dict[str, Any]:
    """Who started the run: ``{name, email, source}`` from AWX extra vars, else CI variables, else the OS user."""
    for prefix in ("awx", "tower"):
        name = extra_vars.get(f"{prefix}_user_name")
        if name:
            return {"name": str(name), "email": _optional_str(extra_vars.get(f"{prefix}_user_email")), "source": "awx"}
    ci_name, ci_email = _ci_actor(environ)
    if ci_name:
        return {"name": ci_name, "email": ci_email, "source": "ci"}
    return {"name": os_user, "email": None, "source": "os"}


def _ci_actor(environ: Mapping[str, str]) -> tuple:
    if _flag(environ, "GITHUB_ACTIONS"):
        return environ.get("GITHUB_ACTOR"), None
    if _flag(environ, "GITLAB_CI"):
        return environ.get("GITLAB_USER_LOGIN"), environ.get("GITLAB_USER_EMAIL")
    if environ.get("JENKINS_URL"):
        return environ.get("BUILD_USER") or environ.get("BUILD_USER_ID"), environ.get("BUILD_USER_EMAIL")
    if _flag(environ, "CI"):
        return environ.get("USER"), None
    return None, None


def detect_launch(extra_vars: Mapping[str, Any], environ: Mapping[str, str]) -> Dict[str, Any]:
    """How the run was started: ``source`` awx, ci or cli, with the AWX job or CI pipeline that started it."""
    launch: Dict[str, Any] = {"controller": socket.gethostname()}
    awx = {field: _first_var(extra_vars, field) for field in ("job_id", "job_template_name", "job_launch_type", "project_revision")}
    if any(awx.values()) or _first_var(extra_vars, "user_name"):
        launch.update(source="awx", **{f"awx_{field}": value for field, value in awx.items()})
        return launch
    ci = _ci_pipeline(environ)
    launch.update(ci or {"source": "cli"})
    return launch


def _ci_pipeline(environ: Mapping[str, str]) -> Optional[Dict[str, Any]]:
    if _flag(environ, "GITHUB_ACTIONS"):
        url = None
        if environ.get("GITHUB_REPOSITORY") and environ.get("GITHUB_RUN_ID"):
            server = environ.get("GITHUB_SERVER_URL", "https://github.com")
            url = f"{server}/{environ['GITHUB_REPOSITORY']}/actions/runs/{environ['GITHUB_RUN_ID']}"
        return _ci("github", url, environ.get("GITHUB_SHA"), environ.get("GITHUB_REF"))
    if _flag(environ, "GITLAB_CI"):
        return _ci("gitlab", environ.get("CI_PIPELINE_URL"), environ.get("CI_COMMIT_SHA"), environ.get("CI_COMMIT_REF_NAME"))
    if environ.get("JENKINS_URL"):
        return _ci("jenkins", environ.get("BUILD_URL"), environ.get("GIT_COMMIT"), environ.get("GIT_BRANCH"))
    if _flag(environ, "CI"):
        return _ci("generic", None, None, None)
    return None


def _ci(system: str, url: Optional[str], commit: Optional[str], ref: Optional[str]) -> Dict[str, Any]:
    return {"source": "ci", "ci_system": system, "ci_pipeline_url": redact_text(url) if url else None, "ci_commit": commit, "ci_ref": ref}


def _flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in _TRUE


def _first_var(extra_vars: Mapping[str, Any], field: str) -> Optional[str]:
    return _optional_str(extra_vars.get(f"awx_{field}") or extra_vars.get(f"tower_{field}"))


def _optional_str(value: Any) -> Optional[str]:
    return str(value) if value not in (None, "") else None


def redact_command(argv: Sequence[str]) -> List[str]:
    """The command line with extra-vars values masked (they may hold secrets) and every argument redacted."""
    command: List[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            command.append(REDACTED)
        elif arg.startswith("--extra-vars="):
            command.append(f"--extra-vars={REDACTED}")
        elif arg.startswith("-e") and len(arg) > 2 and not arg.startswith("--"):
            command.append(f"-e{REDACTED}")
        else:
            command.append(redact_text(arg))
        mask_next = not mask_next and arg in _EXTRA_VARS_OPTIONS
    return command


def summarize_diffs(diff: Any) -> List[Dict[str, Any]]:
    """For each diff of a result: the file or object it is about and how many lines were added and removed."""
    entries = diff if isinstance(diff, list) else [diff]
    return [_diff_summary(entry) for entry in entries if isinstance(entry, Mapping) and entry]


def _diff_summary(entry: Mapping[str, Any]) -> Dict[str, Any]:
    if "prepared" in entry:
        lines = str(entry["prepared"]).splitlines()
        added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    else:
        added = removed = 0
        for line in difflib.unified_diff(_diff_lines(entry.get("before")), _diff_lines(entry.get("after")), n=0, lineterm=""):
            if line.startswith(("+++", "---", "@@")):
                continue
            added += line.startswith("+")
            removed += line.startswith("-")
    return {"object": _diff_object(entry), "added": added, "removed": removed}


def _diff_lines(value: Any) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.splitlines()
    return json.dumps(value, sort_keys=True, indent=2, default=str).splitlines()


def _diff_object(entry: Mapping[str, Any]) -> Optional[str]:
    for header in ("before_header", "after_header"):
        if entry.get(header):
            return redact_text(str(entry[header]))
    for side in ("after", "before"):
        state = entry.get(side)
        if isinstance(state, Mapping):
            for key in ("path", "dest", "name"):
                if state.get(key):
                    return redact_text(str(state[key]))
    return None


def summarize_result(result: Mapping[str, Any]) -> Dict[str, Any]:
    """A small redacted summary of a module result: ``msg``, the audit lists it and its loop items returned, ``rc``, ``attempts``."""
    summary: Dict[str, Any] = {}
    if result.get("msg"):
        summary["msg"] = scrub(result["msg"])
    items = [item for item in result.get("results", []) if isinstance(item, Mapping)] if isinstance(result.get("results"), list) else []
    for key in AUDIT_TRAIL_KEYS:
        trail = _as_list(result.get(key)) + [entry for item in items for entry in _as_list(item.get(key))]
        if trail:
            summary[key] = scrub(trail)
    for key in SUMMARY_SCALARS:
        if result.get(key) is not None:
            summary[key] = scrub(result[key])
    return summary


def _as_list(value: Any) -> List[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def module_args(result: Mapping[str, Any], task_args: Mapping[str, Any]) -> Dict[str, Any]:
    """The redacted arguments that were set: the templated ``invocation.module_args`` when the result has them, else the task's."""
    return _set_args(_invocation_args(result) or task_args)


def _invocation_args(result: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    invocation = result.get("invocation")
    if isinstance(invocation, Mapping) and isinstance(invocation.get("module_args"), Mapping):
        return invocation["module_args"]
    return None


def _set_args(args: Mapping[str, Any]) -> Dict[str, Any]:
    return scrub({key: value for key, value in args.items() if value is not None})


def fold_items(results: Any) -> List[Dict[str, Any]]:
    """One small entry per loop item: label, status, its templated arguments and message."""
    if not isinstance(results, list):
        return []
    folded = []
    for index, item in enumerate(results):
        if not isinstance(item, Mapping):
            continue
        entry: Dict[str, Any] = {"index": index, "label": scrub(_item_label(item)), "status": item_status(item), "changed": bool(item.get("changed"))}
        args = _invocation_args(item)
        if args is not None:
            entry["args"] = _set_args(args)
        if item.get("msg"):
            entry["msg"] = scrub(item["msg"])
        folded.append(entry)
    return folded


def _item_label(item: Mapping[str, Any]) -> Any:
    if "_ansible_item_label" in item:
        return item["_ansible_item_label"]
    return item.get(item.get("ansible_loop_var", "item"))


def item_status(item: Mapping[str, Any]) -> str:
    """ok, changed, failed, skipped or unreachable for one loop item's result."""
    for status in ("unreachable", "failed", "skipped", "changed"):
        if item.get(status):
            return status
    return "ok"


def diff_summaries(result: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Diff summaries of a task result and of its loop items (tagged with the item index)."""
    summaries = summarize_diffs(result["diff"]) if result.get("diff") else []
    results = result.get("results")
    for index, item in enumerate(results if isinstance(results, list) else []):
        if isinstance(item, Mapping) and item.get("diff"):
            summaries.extend({"item": index, **summary} for summary in summarize_diffs(item["diff"]))
    return summaries


def is_censored(task_no_log: Any, result: Mapping[str, Any]) -> bool:
    """Whether ``no_log`` hid the result: its details must stay out of the audit."""
    return task_no_log is True or bool(result.get("_ansible_no_log")) or "censored" in result


def literal_values(variables: Mapping[str, Any], names: Sequence[str]) -> Dict[str, str]:
    """The values of ``names`` in ``variables`` that are set and are not Jinja templates."""
    values = {}
    for name in names:
        value = variables.get(name)
        if value not in (None, "") and "{{" not in str(value):
            values[name] = str(value)
    return values


def os_user() -> str:
    """The login name of the OS user running Ansible, or its uid when it has none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _anchors() -> Any:
    """module_utils/audit_anchor, imported when a run ends: it brings psycopg, which the start of a run need not wait for."""
    from ansible_collections.ofm.rollback.plugins.module_utils import audit_anchor  # pylint: disable=import-outside-toplevel
    return audit_anchor


def log_chain(path: str) -> Any:
    """The chain id of the log at ``path`` (module_utils/audit_table.py, imported when a run ends)."""
    from ansible_collections.ofm.rollback.plugins.module_utils.audit_table import log_chain as chain  # pylint: disable=import-outside-toplevel
    return chain(path)


class _Run:
    """What every record of one playbook run shares, and the incident id as it changes per host."""

    def __init__(self, extra_vars: Mapping[str, Any], playbook: Optional[str], incident_names: Sequence[str]) -> None:
        self.run_id = str(uuid.uuid4())
        self.playbook = playbook
        self.actor = detect_actor(extra_vars, os.environ, os_user())
        self.launch = detect_launch(extra_vars, os.environ)
        self.incident_names = list(incident_names)
        self.extra_incident = literal_values(extra_vars, self.incident_names)
        self.play_incident: Dict[str, str] = {}
        self.host_incident: Dict[str, Dict[str, str]] = {}
        self.play: Optional[str] = None
        self.incidents_seen: Dict[str, None] = {}

    def incident_id(self, host: Optional[str] = None) -> Optional[str]:
        values = {**self.play_incident, **self.host_incident.get(host or "", {}), **self.extra_incident}
        incident = next((values[name] for name in self.incident_names if values.get(name)), None)
        if incident:
            self.incidents_seen[incident] = None
        return incident

    def note_facts(self, host: str, facts: Any) -> None:
        if isinstance(facts, Mapping):
            self.host_incident.setdefault(host, {}).update(literal_values(facts, self.incident_names))

    def common(self) -> Dict[str, Any]:
        return {"time": utc_now(), "run_id": self.run_id, "actor": self.actor, "launch": self.launch, "playbook": self.playbook}


class CallbackModule(CallbackBase):
    """Writes the audit trail; see DOCUMENTATION."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "ofm.rollback.audit"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display: Any = None, options: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(display=display, options=options)
        # The collection's Python from here on with Python's bytecode cache (plugin_utils/bytecode.py): the callback loads
        # before the strategy loads the action plugins and imports their modules. At load, not on import (ansible-test's
        # import sanity forbids changing sys.meta_path then).
        bytecode.install()
        self._playbook: Optional[str] = None
        self._run: Optional[_Run] = None
        self._lost_records = 0
        self._run_records = 0
        self._write_error: Optional[str] = None
        self._sink: Optional[TableSink] = None
        self._sink_error: Optional[str] = None

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._playbook = os.path.abspath(playbook._file_name)  # pylint: disable=protected-access

    def v2_playbook_on_play_start(self, play: Any) -> None:
        if self._run is None:
            self._run = _Run(play.get_variable_manager().extra_vars, self._playbook, self.get_option("incident_var_names"))
            self._run_records = 0
            self._run.play_incident = literal_values(play.vars, self._run.incident_names)
            self._start_sink()
            self._write(self._run_start_record(play))
        self._run.play = redact_text(play.get_name())
        self._run.play_incident = literal_values(play.vars, self._run.incident_names)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._task_result(result, "changed" if result.is_changed() else "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._task_result(result, "failed", ignore_errors=ignore_errors)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._task_result(result, "skipped")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._task_result(result, "unreachable")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        if self._run is None:
            return
        hosts = {host: stats.summarize(host) for host in sorted(stats.processed)}
        failed = any(summary["failures"] or summary["unreachable"] for summary in hosts.values())
        record = {"type": "run_end", **self._run.common(), "status": "failed" if failed else "ok", "stats": hosts,
                  "incident_id": self._run.incident_id(), "incident_ids": list(self._run.incidents_seen)}
        if self._lost_records:
            record["audit_errors"] = {"lost_records": self._lost_records, "error": self._write_error}
        written = self._write(record)
        destinations = self._destinations()
        anchor = self._anchor(written[-1]) if written and destinations else None
        failures: Dict[str, str] = {}
        if self._sink is not None:
            closed = self._sink.close(anchor=anchor, actor=self._run.actor)
            self._sink = None
            if anchor is not None and closed.get("anchor_error"):
                failures["table"] = closed["anchor_error"]
        elif anchor is not None and self._sink_error:
            failures["table"] = self._sink_error
        if anchor is not None:
            failures.update(self._anchor_elsewhere(anchor))
            if failures:
                self._anchor_failed(anchor, failures, [name for name in destinations if name not in failures])
        self._run = None

    def _destinations(self) -> List[str]:
        """Where this run's anchor goes: the table (with db_dsn), the ops API, the anchor file."""
        names = ["table"] if self._sink is not None or self._sink_error else []
        return names + [name for name, option in (("ops_api", "anchor_ops_api_url"), ("file", "anchor_path")) if self._option(option)]

    def _anchor(self, head: Mapping[str, Any]) -> Dict[str, Any]:
        chain = log_chain(self.get_option("log_path")) or "unknown"
        return _anchors().make_anchor(head, chain, self._run_records, self._option("hmac_key") or None)

    def _anchor_elsewhere(self, anchor: Mapping[str, Any]) -> Dict[str, str]:
        """Send the anchor to the ops API and the anchor file, when set; their errors by destination."""
        failures: Dict[str, str] = {}
        url = self._option("anchor_ops_api_url")
        if url:
            try:
                self._ops_api(url).write_audit(_anchors().ANCHOR_ACTION, _anchors().resource(str(anchor["chain"])), _anchors().row_meta(anchor))
            except Exception as exc:  # pylint: disable=broad-except  # an anchor never fails the run
                failures["ops_api"] = self._error_text(exc)
        path = self._option("anchor_path")
        if path:
            try:
                _anchors().append_anchor_file(os.path.expanduser(path), anchor)
            except Exception as exc:  # pylint: disable=broad-except
                failures["file"] = self._error_text(exc)
        return failures

    def _ops_api(self, url: str) -> OpsApiClient:
        token, cookie = self._option("anchor_ops_api_token"), self._option("anchor_ops_api_session_cookie")
        auth = BearerAuth(token) if token else SessionCookieAuth(cookie) if cookie else None
        timeout = float(self._option("anchor_timeout", 5.0))
        return OpsApiClient(HttpClient(validated_url(url, "anchor_ops_api_url", example=DEFAULT_OPS_API_URL), auth=auth,
                                       verify=bool(self._option("anchor_ops_api_validate_certs", True)),
                                       ca_path=self._option("anchor_ops_api_ca_path") or None, connect_timeout=min(3.0, timeout),
                                       read_timeout=timeout, retries=1, deadline=2 * timeout, system=OPS_API, user_agent=_user_agent()))

    def _anchor_failed(self, anchor: Mapping[str, Any], failures: Mapping[str, str], written_to: List[str]) -> None:
        """Record in the log itself that the anchor is missing somewhere, and say so."""
        record = {"type": _anchors().ANCHOR_FAILED, **self._run.common(), "incident_id": self._run.incident_id(),
                  "anchor": {key: anchor[key] for key in ("chain", "seq", "hash")}, "failed": dict(failures), "written": written_to}
        written = self._write(record)
        where = "; ".join(f"{name}: {error}" for name, error in failures.items())
        recorded = f"the audit log records it (seq {written[-1]['seq']})" if written else "the audit log could not record it either"
        self._display.warning(f"ofm.rollback.audit: the chain's head (seq {anchor['seq']}) was not anchored ({where}). The run goes on and "
                              f"{recorded}; records deleted from the end of the log after seq {anchor['seq']} cannot be detected "
                              "until a later run's anchor is written.")

    def _error_text(self, exc: BaseException) -> str:
        secrets = [self._option(name) for name in ("hmac_key", "anchor_ops_api_token", "anchor_ops_api_session_cookie", "db_password")]
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return redact_text(Redactor([secret for secret in secrets if secret]).text(text))

    def _option(self, name: str, default: Any = None) -> Any:
        """An option's value; ``default`` when it is unset or unknown (options set by hand in tests, other loaders)."""
        try:
            value = self.get_option(name)
        except KeyError:
            return default
        return default if value is None else value

    def _run_start_record(self, play: Any) -> Dict[str, Any]:
        run = self._run
        return {
            "type": "run_start", **run.common(),
            "command": redact_command([os.path.basename(sys.argv[0]), *sys.argv[1:]]),
            "extra_vars": sorted(str(name) for name in play.get_variable_manager().extra_vars),
            "check_mode": bool(context.CLIARGS.get("check", False)),
            "diff_mode": bool(context.CLIARGS.get("diff", False)),
            "ansible_version": ansible_version,
            "incident_id": run.incident_id(),
        }

    def _task_result(self, result: Any, status: str, ignore_errors: bool = False) -> None:
        if self._run is None:
            return
        task, data, host = result.task, result.result, result.host.get_name()
        censored = is_censored(task.no_log, data)
        if not censored:
            self._run.note_facts(host, data.get("ansible_facts"))
        record = {
            "type": "task", **self._run.common(), "play": self._run.play, "task": redact_text(result.task_name),
            "task_path": task.get_path() or None, "module": _module_name(task), "host": host,
            "status": status, "changed": result.is_changed(), "failed": status == "failed", "ignore_errors": bool(ignore_errors),
            "check_mode": _check_mode(result), "incident_id": self._run.incident_id(host),
        }
        record.update(_censored_details(data) if censored else _details(data, task.args))
        self._write(record)

    def _start_sink(self) -> None:
        dsn = self._option("db_dsn")
        if not dsn:
            return
        try:
            self._sink = TableSink(dsn, self.get_option("db_password"), self.get_option("db_table"), _user_agent(), self.get_option("log_path"),
                                   batch=self.get_option("db_batch"), flush_interval=self.get_option("db_flush_interval"),
                                   flush_timeout=self.get_option("db_flush_timeout"), warn=self._display.warning)
        except OfmRollbackError as exc:
            self._sink_error = self._error_text(exc)
            self._display.warning(f"ofm.rollback.audit: the audit_logs table is not written: {exc}")

    def _write(self, record: Dict[str, Any]) -> Optional[List[Dict[str, Any]]]:
        """Append the record (after a torn_line record when the last run was killed mid-record); the records written, or None."""
        try:
            context = {key: value for key, value in self._run.common().items() if key != "time"} if self._run else None
            written = append_records(self.get_option("log_path"), [record], torn_context=context)
            if self._sink is not None:
                self._sink.add(written)
        except (OfmRollbackError, OSError, ValueError, TypeError) as exc:
            self._lost_records += 1
            if self._write_error is None:
                self._write_error = str(exc)
                self._display.warning(f"ofm.rollback.audit: the audit trail is not being written ({exc}). The run goes on; "
                                      "fix the log file or set another log_path (OFM_AUDIT_LOG) before the next run.")
            return None
        self._run_records += len(written)
        if written and written[0].get("type") == TORN_LINE:
            torn = written[0]
            cut = ", ".join(f"{line['length']} bytes at byte {line['offset']}" for line in torn["torn"])
            self._display.warning(f"ofm.rollback.audit: the audit log ended in a line cut short ({cut}): a run was killed while writing it. "
                                  f"The line is ended and named by record seq {torn['seq']} (torn_line); the chain continues from seq "
                                  f"{torn['after_seq']}.")
        return written


def _user_agent() -> str:
    return f"ofm.rollback/{COLLECTION_VERSION} ansible-core/{ansible_version}"


def _details(data: Mapping[str, Any], task_args: Mapping[str, Any]) -> Dict[str, Any]:
    details = {"args": module_args(data, task_args), "diff_summary": diff_summaries(data), "result": summarize_result(data)}
    items = fold_items(data.get("results"))
    if items:
        details["items"] = items
    return details


def _censored_details(data: Mapping[str, Any]) -> Dict[str, Any]:
    details: Dict[str, Any] = {"args": CENSORED, "diff_summary": [], "result": {}}
    if isinstance(data.get("results"), list):
        details["item_count"] = len(data["results"])
    return details


def _module_name(task: Any) -> str:
    if "{{" in str(task.action):
        return str(task.action)
    return str(task.resolved_action or task.action)


def _check_mode(result: Any) -> bool:
    for value in (result.task_fields.get("check_mode"), result.task.check_mode):
        if isinstance(value, bool):
            return value
    return bool(context.CLIARGS.get("check", False))
