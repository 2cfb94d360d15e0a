# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run journal of one procedure of one incident: which runs there were and which steps they finished, so that a run killed
half-way (SIGKILL, a lost controller) is finished by the next run with the same incident id without doing a step twice.

The journal is ``<record_dir>/<incident id>/journal-<procedure>.json``: a JSON document written whole after every change,
atomically (a temporary file in the same directory, fsync, rename; mode 0600) under an exclusive lock, so a kill leaves the
previous or the next version, never half of one. It holds

* ``runs``: one entry per run (``run_id``, ``started``, ``operator``, ``last_step`` - the newest step done when it stopped -,
  ``in_step`` - a step it left ``started`` -, ``outcome`` and ``finished`` once it closed; a run killed has no outcome);
* ``steps``: per step name its ``status`` (``started`` before a change, ``done`` after it), ``at``, the ``run_id`` that wrote it and
  ``data``, a small dict of what the step decided or did (a gate decision, a target revision, an object id) for a re-run to reuse.

A step a killed run left ``started`` may or may not have happened: the procedure looks at the real state before it does it again
(never blindly redoes a change that is not idempotent). Nothing secret belongs in ``data``: values under secret-looking keys are
masked before they are written.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, DataError, InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.redact import redact
from ansible_collections.ofm.rollback.plugins.module_utils.zoned_time import instant, load_zone

FORMAT = "ofm.rollback/run-journal v1"
SYSTEM = "run journal"
PROCEDURES = ("emergency", "planned", "database", "config", "external")
STATES = ("open", "step", "closed")
STATUSES = ("started", "done")
KILLED = "killed"
MAX_DATA_BYTES = 16384
DEFAULT_RECORD_DIR = "~/.ansible/ofm-rollback/incidents"
_INCIDENT_ID = re.compile(r"^INC-[0-9]+$")
_STEP = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,79}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")
STEP_HELP = "lower-case letters, digits and _ . : - (at most 80), starting with a letter or digit, such as gate or restore:flags"
RUN_ID_HELP = "letters, digits and _ . : - (at most 80), such as the run_id that state=open returned"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def new_run_id(now: datetime) -> str:
    """A run id people can read and tell apart: the start time (UTC, compact) and 6 random hex digits."""
    return f"{now.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


def journal_path(record_dir: str, incident_id: str, procedure: str) -> str:
    """``<record_dir>/<incident_id>/journal-<procedure>.json``, after checking both names (neither can leave the directory)."""
    if not isinstance(incident_id, str) or not _INCIDENT_ID.match(incident_id):
        raise InputError(f"{incident_id!r} is not an incident id", option="incident_id", accepted="INC- followed by digits, such as INC-1234")
    if procedure not in PROCEDURES:
        raise InputError(f"{procedure!r} is not a procedure", option="procedure", accepted=PROCEDURES)
    return os.path.join(os.path.expanduser(record_dir or DEFAULT_RECORD_DIR), incident_id, f"journal-{procedure}.json")


def checked_step(name: Any, status: Any, data: Any) -> tuple[str, str, dict[str, Any]]:
    """A step's name, status and data, checked; the data with secret-looking values masked."""
    if not isinstance(name, str) or not _STEP.match(name):
        raise InputError(f"{name!r} is not a step name", option="step", accepted=STEP_HELP)
    if status not in STATUSES:
        raise InputError(f"{status!r} is not a step status", option="status", accepted=STATUSES)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise InputError(f"data must be a dict, got {type(data).__name__}", option="data", accepted="a small dict of what the step decided or did")
    try:
        text = json.dumps(data, sort_keys=True, default=str)
    except (TypeError, ValueError) as exc:
        raise InputError(f"data cannot be written as JSON: {exc}", option="data", accepted="a dict of strings, numbers, booleans, lists and dicts") from exc
    if len(text.encode()) > MAX_DATA_BYTES:
        raise InputError(f"data is {len(text.encode())} bytes as JSON, more than {MAX_DATA_BYTES}", option="data",
                         accepted=f"a small dict (at most {MAX_DATA_BYTES} bytes as JSON): what a re-run must reuse, not a whole result")
    return name, status, redact(json.loads(text))


def checked_run_id(run_id: Any, option: str = "run_id") -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InputError(f"{run_id!r} is not a run id", option=option, accepted=RUN_ID_HELP)
    return run_id


def display_time(text: Optional[str], zone_name: str = "UTC") -> str:
    """``2026-12-04 14:05:00 UTC (+00:00)``: a journal time in ``zone_name``, with its zone and offset."""
    if not text:
        return "an unknown time"
    moment = datetime.fromisoformat(text).astimezone(load_zone(zone_name))
    offset = moment.strftime("%z")
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S')} {zone_name or 'UTC'} ({offset[:3]}:{offset[3:]})"


def run_view(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run as ``previous_runs`` shows it: its outcome, or ``killed`` when it never closed."""
    return {"run_id": run.get("run_id"), "started": run.get("started"), "operator": run.get("operator"), "last_step": run.get("last_step"),
            "in_step": run.get("in_step"), "outcome": run.get("outcome") or KILLED, "finished": run.get("finished")}


def resume_line(run: Mapping[str, Any], zone_name: str = "UTC") -> str:
    """``Resumed run <id> (the run of <time> stopped after '<step>')``: what a resumed run's summary says about the run before it."""
    when = display_time(run.get("started"), zone_name)
    last = f"after '{run['last_step']}'" if run.get("last_step") else "before its first step"
    during = f", during '{run['in_step']}'" if run.get("in_step") else ""
    if run.get("outcome") and run["outcome"] != KILLED:
        return f"Resumed run {run['run_id']} (the run of {when} ended {last}{during}: {run['outcome']})"
    return f"Resumed run {run['run_id']} (the run of {when} stopped {last}{during})"


class RunJournal:
    """One journal file; every method reads it under the lock, changes it and writes it back whole (unless ``check_mode``)."""

    def __init__(self, path: str, incident_id: str, procedure: str, *, now: Callable[[], datetime] = utc_now) -> None:
        self.path = path
        self.incident_id = incident_id
        self.procedure = procedure
        self.now = now
        self._lock_fd: Optional[int] = None

    # --- reading and writing ---

    def empty(self) -> dict[str, Any]:
        return {"format": FORMAT, "incident_id": self.incident_id, "procedure": self.procedure, "runs": [], "steps": {}}

    def load(self) -> Optional[dict[str, Any]]:
        """The journal, or None when there is none yet; a file that is not this incident's and procedure's journal is refused."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                document = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise DataError(f"{self.path} is not a readable run journal ({exc}); it was left as it is", system=SYSTEM, operation="read",
                            target=self.path, hint="Move it aside to start the procedure afresh (nothing will be resumed).") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("runs"), list) \
                or not isinstance(document.get("steps"), dict):
            raise DataError(f"{self.path} is not a run journal ({FORMAT}); it was left as it is", system=SYSTEM, operation="read",
                            target=self.path, hint="Move it aside to start the procedure afresh (nothing will be resumed).")
        if document.get("incident_id") != self.incident_id or document.get("procedure") != self.procedure:
            raise DataError(f"{self.path} is the {document.get('procedure')} journal of {document.get('incident_id')}, not the "
                            f"{self.procedure} journal of {self.incident_id}; it was left as it is", system=SYSTEM, operation="read",
                            target=self.path)
        return document

    def save(self, document: Mapping[str, Any]) -> None:
        directory = os.path.dirname(self.path)
        handle, temporary = tempfile.mkstemp(prefix=".tmp-journal-", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        _fsync_directory(directory)

    def __enter__(self) -> "RunJournal":
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            self._lock_fd = os.open(os.path.join(directory, f".{os.path.basename(self.path)}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        except OSError as exc:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
            raise DataError(f"cannot lock the run journal: {exc.strerror or exc}", system=SYSTEM, operation="lock", target=self.path) from exc
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- the three states ---

    def open_run(self, *, run_id: Optional[str], operator: str, started: Any, zone_name: str = "UTC", check_mode: bool = False) -> dict[str, Any]:
        """Append this run (unless ``check_mode``); what the runs before it did, for the procedure to resume from."""
        load_zone(zone_name, "timezone")
        moment = instant(started, "started") if started not in (None, "") else self.now()
        run_id = checked_run_id(run_id) if run_id else new_run_id(moment)
        if check_mode:
            document = self.load() or self.empty()
        else:
            with self:
                document = self.load() or self.empty()
                if any(run.get("run_id") == run_id for run in document["runs"]):
                    raise ConflictError(f"run {run_id} is already in the journal", system=SYSTEM, operation="open", target=self.path,
                                        hint="Give each run its own run_id (leave it out to have one made).")
                document["runs"].append({"run_id": run_id, "started": iso(moment), "started_epoch": round(moment.timestamp(), 3),
                                         "operator": operator or "", "last_step": _last_done(document), "in_step": None,
                                         "outcome": None, "finished": None})
                self.save(document)
        previous = [run_view(run) for run in document["runs"] if run.get("run_id") != run_id]
        resumed = bool(previous)
        steps = document["steps"]
        before = previous[-1] if previous else None
        first = document["runs"][0] if document["runs"] else None
        first_started = first["started"] if first and resumed else iso(moment)
        first_epoch = first.get("started_epoch") if first and resumed else round(moment.timestamp(), 3)
        result = {"changed": not check_mode, "path": self.path, "incident_id": self.incident_id, "procedure": self.procedure,
                  "run_id": run_id, "started": iso(moment), "resumed": resumed, "previous_runs": previous, "steps": steps,
                  "left_started": sorted(name for name, step in steps.items() if step.get("status") == "started"),
                  "done": sorted(name for name, step in steps.items() if step.get("status") == "done"),
                  "resumed_from": before, "resume_line": resume_line(before, zone_name) if before else "",
                  "first_started": first_started, "first_started_epoch": first_epoch}
        result["msg"] = (result["resume_line"] + (f"; steps done: {', '.join(result['done']) or 'none'}"
                                                  + (f"; left started: {', '.join(result['left_started'])}" if result["left_started"] else ""))
                         if resumed else f"run {run_id} opened the {self.procedure} journal of {self.incident_id}")
        return result

    def step(self, *, run_id: str, name: str, status: str, data: Any, check_mode: bool = False) -> dict[str, Any]:
        """Mark ``name`` ``status`` with ``data`` (a ``done`` keeps the data of this run's ``started`` and adds to it)."""
        return self.steps(run_id=run_id, steps={name: {"status": status, "data": data}}, check_mode=check_mode)

    def steps(self, *, run_id: str, steps: Mapping[str, Any], check_mode: bool = False) -> dict[str, Any]:
        """Several steps in one write, in the order given (``step`` is one of them)."""
        checked_run_id(run_id)
        if not isinstance(steps, Mapping) or not steps:
            raise InputError("no step given", option="steps", accepted="a dict of step name to {status, data}")
        wanted = []
        for name, entry in steps.items():
            if not isinstance(entry, Mapping):
                raise InputError(f"step {name!r} must be a dict with status and data", option="steps", accepted="{status: started|done, data: {...}}")
            wanted.append(checked_step(name, entry.get("status"), entry.get("data")))
        if check_mode:
            return {"changed": False, "path": self.path, "run_id": run_id,
                    "steps": {name: {"status": status, "data": data} for name, status, data in wanted},
                    "msg": "check mode: " + ", ".join(f"{entry[0]} {entry[1]}" for entry in wanted) + " not written"}
        with self:
            document = self._current(run_id, "step")
            run = document["runs"][-1]
            at = iso(self.now())
            for name, status, data in wanted:
                earlier = document["steps"].get(name) or {}
                if status == "done" and earlier.get("run_id") == run_id and earlier.get("status") == "started":
                    data = {**(earlier.get("data") or {}), **data}
                document["steps"][name] = {"status": status, "at": at, "run_id": run_id, "data": data}
                if status == "done":
                    run["last_step"] = name
                    run["in_step"] = None if run.get("in_step") == name else run.get("in_step")
                else:
                    run["in_step"] = name
            self.save(document)
        written = {entry[0]: document["steps"][entry[0]] for entry in wanted}
        return {"changed": True, "path": self.path, "run_id": run_id, "steps": written,
                "msg": ", ".join(f"{entry[0]} {entry[1]}" for entry in wanted)}

    def close(self, *, run_id: str, outcome: str, check_mode: bool = False) -> dict[str, Any]:
        """This run's outcome; the runs of the journal (this one included) for the incident record."""
        checked_run_id(run_id)
        if not isinstance(outcome, str) or not outcome.strip():
            raise InputError("outcome must say how the run ended", option="outcome", accepted="a line such as 'rolled back, validated'")
        if check_mode:
            document = self.load() or self.empty()
            runs = [run_view(run) for run in document["runs"] if run.get("run_id") != run_id]
            runs.append({**run_view({"run_id": run_id}), "outcome": outcome.strip(), "finished": iso(self.now())})
            return {"changed": False, "path": self.path, "run_id": run_id, "runs": runs, "steps": document["steps"],
                    "msg": "check mode: the outcome was not written"}
        with self:
            document = self._current(run_id, "closed")
            run = document["runs"][-1]
            run.update(outcome=outcome.strip(), finished=iso(self.now()))
            self.save(document)
        return {"changed": True, "path": self.path, "run_id": run_id, "runs": [run_view(run) for run in document["runs"]],
                "steps": document["steps"], "msg": f"run {run_id} closed: {outcome.strip()}"}

    def _current(self, run_id: str, state: str) -> dict[str, Any]:
        """The journal, whose newest run must be ``run_id`` (a run another one took over from writes nothing more)."""
        document = self.load()
        if document is None or not document["runs"]:
            raise NotFoundError(f"there is no run journal at {self.path}", system=SYSTEM, operation=state, target=self.path,
                                hint="Open it first (state=open) with the same incident_id, procedure and record_dir.")
        newest = document["runs"][-1]
        if newest.get("run_id") != run_id:
            known = any(run.get("run_id") == run_id for run in document["runs"])
            reason = (f"run {run_id} is no longer the journal's current run: run {newest.get('run_id')} (started {newest.get('started')}) "
                      "took the incident over" if known else f"run {run_id} is not in the journal")
            raise ConflictError(reason, system=SYSTEM, operation=state, target=self.path,
                                hint="Only the newest run of an incident's procedure records steps; stop this one.")
        if newest.get("outcome"):
            raise ConflictError(f"run {run_id} is already closed ({newest['outcome']})", system=SYSTEM, operation=state, target=self.path)
        return document


def _last_done(document: Mapping[str, Any]) -> Optional[str]:
    """The step done last, by time of writing (the progress a new run starts from)."""
    done = [(step.get("at") or "", name) for name, step in document.get("steps", {}).items() if step.get("status") == "done"]
    return max(done)[1] if done else None


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (a crash of the machine right after it keeps the new journal)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def run_journal(params: Mapping[str, Any], check_mode: bool) -> dict[str, Any]:
    """What the module does with its options (see its documentation)."""
    state = params.get("state")
    if state not in STATES:
        raise InputError(f"{state!r} is not a state", option="state", accepted=STATES)
    path = journal_path(params.get("record_dir") or DEFAULT_RECORD_DIR, params.get("incident_id"), params.get("procedure"))
    journal = RunJournal(path, params["incident_id"], params["procedure"])
    if state == "open":
        return journal.open_run(run_id=params.get("run_id"), operator=params.get("operator") or "", started=params.get("started"),
                                zone_name=params.get("timezone") or "UTC", check_mode=check_mode)
    if not params.get("run_id"):
        raise InputError(f"state={state} needs the run_id that state=open returned", option="run_id", accepted=RUN_ID_HELP)
    if state == "step":
        given = params.get("steps")
        if given and params.get("step"):
            raise InputError("step and steps are mutually exclusive", option="steps", accepted="either step (with status and data) or steps")
        if not given:
            if not params.get("step") or not params.get("status"):
                raise InputError("state=step needs step and status (or steps)", option="step", accepted=STEP_HELP)
            given = {params["step"]: {"status": params["status"], "data": params.get("data")}}
        return journal.steps(run_id=params["run_id"], steps=given, check_mode=check_mode)
    return journal.close(run_id=params["run_id"], outcome=params.get("outcome") or "", check_mode=check_mode)
