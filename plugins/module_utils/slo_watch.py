# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The 2-hour watch of the Success Criteria: every SLO (and stability signal) within target from ``since`` for ``duration``.

The watch is not a process that sleeps for two hours: its progress lives in a state file, and every run continues from it.

* One evaluation runs ONE range query per SLO/signal over ``[covered_until + resolution, min(now, since + duration)]`` on the
  grid ``since + k * resolution``, so a run after ``since + duration`` answers at once from Prometheus history.
* Per SLO it keeps: samples (valid points), violating, missing (points without a value: no series, NaN), the worst value and
  its time, and the first breach (time, value). Strict rule: the FIRST violating sample is a breach (the queries are already
  rates over ``window``); once breached the verdict is final and nothing more is asked.
* The state is saved atomically (temp file, fsync, rename, mode 0600) after every evaluation, never in check mode, so a killed
  run loses at most one evaluation. An evaluation is applied only when every query of it answered: Prometheus down leaves the
  state as it was, and that evaluation's checks ``unknown``.
* A state file of another incident, another ``since``/``resolution``, other SLO definitions, or one that is not valid JSON of
  this schema is refused (``state_file`` named), never overwritten.
* Complete (``since + duration`` covered) with no breach: ``ok`` when every SLO/signal holds values at ``min_coverage`` of the
  points or more, else ``unknown``.
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils import checks
from ansible_collections.ofm.rollback.plugins.module_utils.durations import format_duration, isoformat, parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.metric_check import checked_query, checked_selector, parse_time
from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import LABEL_NAME, PrometheusClient, Series, render_query
from ansible_collections.ofm.rollback.plugins.module_utils.slo import COMPARISONS, SCOPES, MAX_POINTS_PER_SERIES, SloDefinition, resolve_slos

SCHEMA = "ofm.rollback.slo_watch/1"
SUBJECT = "the SLO watch"
RUNNING, COMPLETE, BREACHED = "running", "complete", "breached"
SLO, STABILITY = "slo", "stability"
CHECK_NAMES = {SLO: "all_slos", STABILITY: "stability"}
DEFAULT_JOB = "ofm-social-os-api"
_TALLY_KEYS = ("samples", "violating", "missing", "worst", "worst_at", "first_breach")


@dataclass(frozen=True)
class Signal:
    """An SLO or a stability signal, with its query rendered."""

    kind: str
    definition: SloDefinition
    query: str

    @property
    def name(self) -> str:
        return self.definition.name

    def fingerprint(self) -> dict[str, Any]:
        return {"kind": self.kind, "query": self.query, "comparison": self.definition.comparison, "threshold": self.definition.threshold}

    def worse(self, value: float, than: Optional[float]) -> bool:
        return than is None or (value > than if self.definition.comparison in (">", ">=") else value < than)


@dataclass(frozen=True)
class WatchOptions:
    """The validated options of one run."""

    state_file: Path
    incident_id: Optional[str]
    since: Optional[float]
    duration: float
    resolution: float
    signals: tuple[Signal, ...]
    wait: float
    interval: float
    min_coverage: float
    unavailable_is: str


def _zero_or_duration(value: Any, option: str) -> float:
    return 0.0 if str(value).strip() in ("0", "0s", "0.0") else parse_duration(value, option)


def check_options(params: Mapping[str, Any], now: float) -> WatchOptions:
    """The validated options; an ``InputError`` names the bad option before anything is read or sent."""
    unavailable_is = params.get("unavailable_is") or "fail"
    if unavailable_is not in checks.UNAVAILABLE_IS:
        raise InputError(f"{unavailable_is!r} is not a valid choice", option="unavailable_is", accepted=list(checks.UNAVAILABLE_IS))
    state_file = Path(str(params.get("state_file") or "")).expanduser()
    if not params.get("state_file") or not state_file.parent.is_dir():
        raise InputError(f"the directory of state_file {str(state_file)!r} does not exist", option="state_file",
                         accepted="a file path in an existing directory")
    duration = parse_duration(params.get("duration") or "2h", "duration")
    resolution = parse_duration(params.get("resolution") or "15s", "resolution")
    if resolution > duration:
        raise InputError(f"resolution ({format_duration(resolution)}) is longer than duration ({format_duration(duration)})",
                         option="resolution", accepted="a duration no longer than duration")
    if duration / resolution + 1 > MAX_POINTS_PER_SERIES:
        raise InputError(f"duration / resolution asks for {int(duration / resolution) + 1} points, Prometheus answers at most "
                         f"{MAX_POINTS_PER_SERIES}", option="resolution", accepted=f"a duration of at least duration / {MAX_POINTS_PER_SERIES - 1}")
    since = parse_time(params["since"], "since") if params.get("since") not in (None, "") else None
    if since is not None and since > now:
        raise InputError(f"since ({isoformat(since)}) is in the future", option="since", accepted="a time not after now")
    min_coverage = params.get("min_coverage", 0.8)
    if not 0 < min_coverage <= 1:
        raise InputError(f"{min_coverage!r} is outside (0, 1]", option="min_coverage", accepted="a fraction above 0 and at most 1")
    incident_id = params.get("incident_id")
    return WatchOptions(state_file=state_file, incident_id=str(incident_id) if incident_id not in (None, "") else None, since=since,
                        duration=duration, resolution=resolution, signals=_signals(params), wait=_zero_or_duration(params.get("wait", 0), "wait"),
                        interval=parse_duration(params.get("interval") or "1m", "interval"), min_coverage=float(min_coverage),
                        unavailable_is=unavailable_is)


def _signals(params: Mapping[str, Any]) -> tuple[Signal, ...]:
    scope = params.get("scope") or "both"
    if scope not in SCOPES:
        raise InputError(f"{scope!r} is not a valid choice", option="scope", accepted=list(SCOPES))
    version_label = params.get("version_label") or "version"
    if not LABEL_NAME.match(version_label):
        raise InputError(f"{version_label!r} is not a Prometheus label name", option="version_label", accepted="[a-zA-Z_][a-zA-Z0-9_]*")
    selector = ",".join(part for part in ([] if scope == "both" else [f'{version_label}="{scope}"']) + [checked_selector(params.get("selector"))]
                        if part)
    window = format_duration(parse_duration(params.get("window") or "5m", "window"))
    signals = [Signal(SLO, slo, render_query(slo.query, selector, window)) for slo in resolve_slos(params.get("slos"), params.get("only"))]
    job = str(params.get("job") or DEFAULT_JOB)
    if '"' in job or "\\" in job:
        raise InputError(f"{job!r} is not a job label value", option="job", accepted="a job name without quotes or backslashes")
    entries = params.get("stability")
    if entries is None:
        entries = [{"name": "targets_up", "query": f'min(up{{job="{job}"}})', "comparison": "<", "threshold": 1}]
    for index, entry in enumerate(entries):
        definition = _stability(entry, f"stability[{index}]")
        if definition.name in {signal.name for signal in signals}:
            raise InputError(f"{definition.name!r} is already the name of an SLO or signal", option=f"stability[{index}].name",
                             accepted="a name of its own")
        signals.append(Signal(STABILITY, definition, render_query(definition.query, selector, window)))
    return tuple(signals)


def _stability(entry: Any, option: str) -> SloDefinition:
    if not isinstance(entry, Mapping):
        raise InputError(f"{entry!r} is not a dict", option=option, accepted="a dict with name, query, comparison and threshold")
    name = str(entry.get("name") or "")
    if not name or not all(char.isalnum() or char in "_.-" for char in name):
        raise InputError(f"name {name!r} is not a valid signal name", option=f"{option}.name", accepted="letters, digits, '_', '.' and '-'")
    if entry.get("comparison") not in COMPARISONS:
        raise InputError(f"comparison {entry.get('comparison')!r} is not supported", option=f"{option}.comparison", accepted=list(COMPARISONS))
    try:
        threshold = float(entry.get("threshold"))
    except (TypeError, ValueError):
        threshold = math.nan
    if isinstance(entry.get("threshold"), bool) or not math.isfinite(threshold):
        raise InputError(f"threshold {entry.get('threshold')!r} is not a finite number", option=f"{option}.threshold", accepted="a finite number")
    return SloDefinition(name, str(entry.get("description") or ""), checked_query(entry.get("query"), f"{option}.query"),
                         entry["comparison"], threshold)


# ---- the state file ---------------------------------------------------------------------------------------------------

def _refuse(path: Path, reason: str) -> InputError:
    return InputError(f"state_file {str(path)!r} {reason}; it is left unchanged", option="state_file",
                      accepted="the state file of this watch (same incident_id, since, resolution and SLOs), or a path that does not exist yet")


def load_state(options: WatchOptions) -> Optional[dict[str, Any]]:
    """The saved state of this watch, None when there is none yet; refuses a foreign or corrupt file."""
    path = options.state_file
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise _refuse(path, f"cannot be read ({exc})") from None
    try:
        state = json.loads(text)
    except ValueError:
        raise _refuse(path, "is not valid JSON") from None
    if not isinstance(state, dict) or state.get("schema") != SCHEMA:
        raise _refuse(path, f"is not an SLO watch state (no schema {SCHEMA!r})")
    if not _well_formed(state):
        raise _refuse(path, "does not hold the fields of an SLO watch state")
    if state["incident_id"] != options.incident_id:
        raise _refuse(path, f"belongs to incident {state['incident_id']!r}, not {options.incident_id!r}")
    if options.since is not None and abs(state["since"] - options.since) > 1e-6:
        raise _refuse(path, f"is a watch since {isoformat(state['since'])}, not since {isoformat(options.since)}")
    if abs(state["resolution"] - options.resolution) > 1e-9:
        raise _refuse(path, f"was sampled every {format_duration(state['resolution'])}, not every {format_duration(options.resolution)}")
    wanted = {signal.name: signal.fingerprint() for signal in options.signals}
    saved = {name: {key: tally.get(key) for key in ("kind", "query", "comparison", "threshold")} for name, tally in state["slos"].items()}
    if wanted != saved:
        changed = sorted(set(wanted) ^ set(saved) | {name for name in set(wanted) & set(saved) if wanted[name] != saved[name]})
        raise _refuse(path, f"watches other SLO definitions (differing: {', '.join(changed)})")
    return state


def _well_formed(state: dict[str, Any]) -> bool:
    number = (int, float)
    try:
        tallies_ok = isinstance(state["slos"], dict) and all(
            isinstance(tally, dict) and all(key in tally for key in _TALLY_KEYS) and isinstance(tally["samples"], int)
            for tally in state["slos"].values())
        return (tallies_ok and isinstance(state["since"], number) and isinstance(state["resolution"], number)
                and isinstance(state["duration"], number) and (state["covered_until"] is None or isinstance(state["covered_until"], number))
                and (state["incident_id"] is None or isinstance(state["incident_id"], str)))
    except KeyError:
        return False


def new_state(options: WatchOptions, since: float) -> dict[str, Any]:
    return {"schema": SCHEMA, "incident_id": options.incident_id, "since": since, "duration": options.duration,
            "resolution": options.resolution, "covered_until": None, "evaluations": 0, "updated_at": None,
            "slos": {signal.name: {**signal.fingerprint(), "samples": 0, "violating": 0, "missing": 0, "worst": None, "worst_at": None,
                                   "first_breach": None, "problem": None} for signal in options.signals}}


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically: a temp file in the same directory, fsync, mode 0600, rename over ``path``."""
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(state, stream, indent=1, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


# ---- evaluation -------------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """The state after an evaluation and why that evaluation could not be applied (None when it was, or had nothing to do)."""

    state: dict[str, Any]
    error: Optional[str] = None


def watch_state(state: Mapping[str, Any]) -> str:
    if any(tally["first_breach"] for tally in state["slos"].values()):
        return BREACHED
    covered = state["covered_until"]
    return COMPLETE if covered is not None and covered >= last_point(state) - 1e-6 else RUNNING


def last_point(state: Mapping[str, Any]) -> float:
    return state["since"] + math.floor(state["duration"] / state["resolution"] + 1e-9) * state["resolution"]


def apply(state: dict[str, Any], signal: Signal, series: Sequence[Series], start: float, end: float) -> None:
    """Add the points of ``signal`` in ``[start, end]`` to its tally (each grid point once; NaN and no series count as missing)."""
    tally = state["slos"][signal.name]
    step = state["resolution"]
    expected = int(round((end - start) / step)) + 1
    tally["problem"] = None
    if len(series) > 1:
        tally["problem"] = f"the query returned {len(series)} series, not one: aggregate it (e.g. sum or min)"
        series = []
    seen: set[int] = set()
    valid = 0
    for at, value in (series[0].samples if series else []):
        index = int(round((at - start) / step))
        if at < start - 1e-6 or at > end + 1e-6 or index in seen or math.isnan(value):
            continue
        seen.add(index)
        valid += 1
        if signal.definition.violates(value):
            tally["violating"] += 1
            if tally["first_breach"] is None:
                tally["first_breach"] = {"at": at, "value": value}
        if signal.worse(value, tally["worst"]):
            tally["worst"], tally["worst_at"] = value, at
    tally["samples"] += valid
    tally["missing"] += expected - valid


class SloWatch:
    """Runs the watch: loads (or starts) the state, evaluates once or while ``wait`` lasts, saves, and judges."""

    # pylint: disable-next=too-many-arguments
    def __init__(self, prometheus: PrometheusClient, options: WatchOptions, *, check_mode: bool = False, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self._prometheus = prometheus
        self._options = options
        self._check_mode = check_mode
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self.queries = 0

    def run(self) -> dict[str, Any]:
        saved = load_state(self._options)
        since = saved["since"] if saved else self._options.since if self._options.since is not None else float(math.floor(self._clock()))
        state = saved or new_state(self._options, since)
        if self._options.wait <= 0 or self._check_mode:
            outcome = self.evaluate(state)
        else:
            poller = Poller(timeout=self._options.wait, interval=self._options.interval, clock=self._monotonic, sleep=self._sleep)
            holder: list[Outcome] = []

            def read() -> Outcome:
                holder.append(self.evaluate(holder[-1].state if holder else state))
                return holder[-1]

            try:
                outcome = poller.until(read, lambda found: watch_state(found.state) != RUNNING, lambda found, _polls, _elapsed: _WaitOver()).value
            except _WaitOver:
                outcome = holder[-1]
        return self.result(outcome)

    def evaluate(self, state: dict[str, Any]) -> Outcome:
        """One evaluation: a range query per SLO/signal over the points not covered yet, applied and saved when all answered."""
        if watch_state(state) != RUNNING:
            return Outcome(state)
        step = state["resolution"]
        since = state["since"]
        limit = min(self._clock(), since + state["duration"])
        end = since + math.floor((limit - since) / step + 1e-9) * step
        start = since if state["covered_until"] is None else state["covered_until"] + step
        if end < start - 1e-6:
            return Outcome(state)
        answers = []
        for signal in self._options.signals:
            try:
                self.queries += 1
                answers.append((signal, self._prometheus.query_range(signal.query, start, end, step)))
            except (UnavailableError, DeadlineExceeded) as exc:
                if self._options.unavailable_is != "unknown":
                    raise
                return Outcome(state, f"Prometheus could not be asked ({exc.reason}); the state is kept as it was")
        updated = copy.deepcopy(state)
        for signal, series in answers:
            apply(updated, signal, series, start, end)
        updated["covered_until"] = end
        updated["evaluations"] += 1
        updated["updated_at"] = self._clock()
        if not self._check_mode:
            save_state(self._options.state_file, updated)
        return Outcome(updated)

    def result(self, outcome: Outcome) -> dict[str, Any]:
        state = outcome.state
        progress = progress_line(state)
        found = [self._check(kind, state, outcome.error, progress) for kind in (SLO, STABILITY)
                 if any(signal.kind == kind for signal in self._options.signals)]
        watch = summary(state, progress, self.queries)
        return checks.result(found, SUBJECT, {"watch": {**watch, "state_file": str(self._options.state_file),
                                                        "saved": not self._check_mode, "error": outcome.error}})

    def _check(self, kind: str, state: dict[str, Any], error: Optional[str], progress: str) -> checks.Check:
        name = CHECK_NAMES[kind]
        tallies = {signal.name: state["slos"][signal.name] for signal in self._options.signals if signal.kind == kind}
        data = {"slos": sorted(tallies)}
        breaches = sorted((tally["first_breach"]["at"], slo) for slo, tally in tallies.items() if tally["first_breach"])
        if breaches:
            at, slo = breaches[0]
            tally = tallies[slo]
            definition = next(signal.definition for signal in self._options.signals if signal.name == slo)
            detail = (f"{slo} breached at {isoformat(at)}: {_number(tally['first_breach']['value'])} {definition.comparison} "
                      f"{definition.threshold:g} (first violating sample, {format_duration(at - state['since'])} into the watch)")
            others = [other for _at, other in breaches[1:]]
            return checks.Check(name, checks.FAILED, detail + (f"; also breached: {', '.join(others)}" if others else ""),
                                {**data, "breached": [slo] + others, "at": isoformat(at), "value": _number(tally["first_breach"]["value"])})
        current = watch_state(state)
        if error:
            return checks.unavailable(name, f"{error}; {progress}", data)
        if current == BREACHED:
            return checks.unavailable(name, f"the watch stopped at a breach of another check before it completed; {progress}", data)
        if current == RUNNING:
            return checks.unavailable(name, f"in progress: {progress}", data)
        expected = int(round((last_point(state) - state["since"]) / state["resolution"])) + 1
        low = [(slo, tally["samples"] / expected) for slo, tally in tallies.items() if tally["samples"] / expected < self._options.min_coverage]
        if low:
            shown = ", ".join(f"{slo} {share:.0%}" for slo, share in low)
            return checks.unavailable(name, f"watch complete but coverage below min_coverage {self._options.min_coverage:.0%}: {shown}", data)
        return checks.Check(name, checks.OK, f"no breach of {', '.join(sorted(tallies))} in {format_duration(state['duration'])} since "
                            f"{isoformat(state['since'])}", data)


class _WaitOver(Exception):
    """``wait`` ran out while the watch is still running: not an error, the run returns its progress."""


def _number(value: Optional[float]) -> Any:
    if value is None or math.isfinite(value):
        return value
    return "+Inf" if value > 0 else "-Inf"


def progress_line(state: Mapping[str, Any]) -> str:
    """``45m of 2h covered, 1h15m left; worst: p95_latency 0.31 (> 10), ...``."""
    since, until = state["since"], state["since"] + state["duration"]
    covered_until = state["covered_until"]
    covered = 0.0 if covered_until is None else covered_until - since
    left = max(0.0, until - (since if covered_until is None else covered_until))
    worst = ", ".join(f"{name} {_text(tally['worst'])} ({tally['comparison']} {tally['threshold']:g} breaches)"
                      for name, tally in state["slos"].items() if tally["worst"] is not None) or "no sample yet"
    return f"{format_duration(covered)} of {format_duration(state['duration'])} covered, {format_duration(left)} left; worst: {worst}"


def _text(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else ("+Inf" if value > 0 else "-Inf")


def summary(state: Mapping[str, Any], progress: str, queries: int) -> dict[str, Any]:
    """The ``watch`` result field: state, times (UTC, zoned), coverage, progress and the tallies per SLO/signal."""
    since, until, covered_until = state["since"], state["since"] + state["duration"], state["covered_until"]
    expected = int(round((last_point(state) - since) / state["resolution"])) + 1
    slos = {}
    for name, tally in state["slos"].items():
        breach = tally["first_breach"]
        slos[name] = {"kind": tally["kind"], "samples": tally["samples"], "violating": tally["violating"], "missing": tally["missing"],
                      "expected": expected, "coverage": round(tally["samples"] / expected, 4), "worst": _number(tally["worst"]),
                      "worst_at": isoformat(tally["worst_at"]) if tally["worst_at"] is not None else None,
                      "first_breach": {"at": isoformat(breach["at"]), "value": _number(breach["value"])} if breach else None,
                      "problem": tally.get("problem")}
    return {"state": watch_state(state), "incident_id": state["incident_id"], "since": isoformat(since), "until": isoformat(until),
            "covered_until": isoformat(covered_until) if covered_until is not None else None,
            "covered": format_duration(0.0 if covered_until is None else covered_until - since),
            "left": format_duration(max(0.0, until - (since if covered_until is None else covered_until))),
            "resolution": format_duration(state["resolution"]), "progress": progress, "slos": slos, "queries": queries,
            "evaluations": state["evaluations"]}


def run(prometheus: PrometheusClient, params: Mapping[str, Any], *, check_mode: bool = False) -> dict[str, Any]:
    """The module's result (options validated first: nothing is read or sent on bad input)."""
    options = check_options(params, time.time())
    return SloWatch(prometheus, options, check_mode=check_mode).run()
