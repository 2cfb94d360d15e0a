# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""New error signatures in the application log, against a baseline window (``ofm.rollback.ops_api_logs_info``).

A log line is read as JSON (pino style: ``time``, ``level`` as a name or pino's number, ``msg``, ``err``) or as text
``<time> <LEVEL> <rest>`` whose rest may hold logfmt pairs (``error="..."``, ``err=``, ``msg=``). Its message is the error
(``err``/``error``) when there is one, else ``msg``/``message``, else the rest of the line.

A signature is the message with what varies between two occurrences of the same error replaced by placeholders: UUIDs,
times and dates, IP addresses, e-mail addresses, quoted strings, hexadecimal ids and numbers (``<uuid>``, ``<time>``,
``<ip>``, ``<email>``, ``<str>``, ``<hex>``, ``<n>``), so ``PublishTimeoutError: platform tiktok did not answer in 30 s
(job 8812)`` is ``PublishTimeoutError: platform tiktok did not answer in <n> s (job <n>)``.

Windows: a line at or after ``since`` is in the current window, a line before ``baseline_until`` in the baseline (lines in
between are neither: the incident). The ``signatures`` check fails when a signature of the wanted levels appears in the
current window and never in the baseline; it is unknown when the current window holds no line at all, or when a new
signature is seen but the baseline holds no line (the log read does not reach back that far: nothing to compare with).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils import checks
from ansible_collections.ofm.rollback.plugins.module_utils.durations import parse_duration
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, InputError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import MAX_LOG_LINES, OpsApiClient
from ansible_collections.ofm.rollback.plugins.module_utils.zoned_time import instant, load_zone

SUBJECT = "the application logs"
LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
LEVEL_ALIASES = {"warning": "warn", "err": "error", "critical": "fatal", "crit": "fatal", "panic": "fatal", "emerg": "fatal",
                 "alert": "fatal", "notice": "info", "informational": "info"}
PINO_LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
MAX_NEW_SHOWN = 20
MAX_EXAMPLE = 500

_TIME_KEYS = ("time", "timestamp", "@timestamp", "ts")
_LEVEL_KEYS = ("level", "severity", "lvl")
_MESSAGE_KEYS = ("msg", "message")
_ERROR_KEYS = ("err", "error")
_LOGFMT = re.compile(r'(\w[\w.-]*)=("(?:[^"\\]|\\.)*"|\S+)')

_PLACEHOLDERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE), "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"), "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\[?(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{1,4}\b\]?(?::\d+)?", re.IGNORECASE), "<ip>"),
    (re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`"), "<str>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"(?<![A-Za-z])(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"(?<![A-Za-z<])[-+]?\d+(?:\.\d+)?"), "<n>"),
)


def signature(message: str) -> str:
    """``message`` with UUIDs, times, e-mails, IPs, quoted strings, hex ids and numbers replaced, whitespace collapsed."""
    text = message.strip()
    for pattern, placeholder in _PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return " ".join(text.split())


def level_name(value: Any) -> Optional[str]:
    """A level as one of LEVELS (names, their aliases, syslog-style words, pino's numbers), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return PINO_LEVELS.get(int(value))
    text = str(value).strip().lower()
    if text.isdigit():
        return PINO_LEVELS.get(int(text))
    text = LEVEL_ALIASES.get(text, text)
    return text if text in LEVELS else None


def checked_levels(values: Sequence[Any]) -> frozenset[str]:
    """The ``levels`` option as level names; an InputError naming it on an unknown level."""
    levels = set()
    for value in values or ():
        name = level_name(value)
        if name is None:
            raise InputError(f"{value!r} is not a log level", option="levels", accepted=", ".join(LEVELS) + " (or warning, critical)")
        levels.add(name)
    if not levels:
        raise InputError("levels is empty", option="levels", accepted="a list of one or more of " + ", ".join(LEVELS))
    return frozenset(levels)


def checked_ignore(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for index, pattern in enumerate(patterns or ()):
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise InputError(f"ignore[{index}] {pattern!r} is not a regular expression: {exc}", option="ignore",
                             accepted="Python regular expressions, matched against each error message and its signature") from None
    return tuple(compiled)


@dataclass(frozen=True)
class LogLine:
    time: Optional[datetime]
    level: Optional[str]
    message: str
    raw: str


def parse_time(value: Any, zone: Any = timezone.utc) -> Optional[datetime]:
    """A log time: ISO 8601 (without an offset: in ``zone``) or epoch seconds or milliseconds; None when it is neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, timezone.utc)
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text.replace(",", "."))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _first(data: dict[str, Any], keys: Iterable[str]) -> Any:
    return next((data[key] for key in keys if data.get(key) not in (None, "")), None)


def _error_text(value: Any) -> Optional[str]:
    if isinstance(value, dict):
        kind, text = value.get("type") or value.get("name"), value.get("message") or value.get("msg")
        return f"{kind}: {text}" if kind and text else (str(text or kind) if text or kind else None)
    return str(value) if value not in (None, "") else None


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value[1:-1]) if len(value) >= 2 and value[0] == value[-1] == '"' else value


def parse_line(raw: str, zone: Any = timezone.utc) -> Optional[LogLine]:
    """One log line as JSON or as ``<time> <LEVEL> <rest>``; None when it is neither (a continuation, a stack frame)."""
    text = raw.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            message = _error_text(_first(data, _ERROR_KEYS)) or str(_first(data, _MESSAGE_KEYS) or "")
            return LogLine(parse_time(_first(data, _TIME_KEYS), zone), level_name(_first(data, _LEVEL_KEYS)), message, raw)
    parts = text.split(None, 3)
    if len(parts) < 2:
        return None
    moment = parse_time(" ".join(parts[:2]), zone) if len(parts) > 2 else None
    if moment is not None:  # "<date> <time> <LEVEL> ..."
        parts = parts[1:]
    else:
        moment = parse_time(parts[0], zone)
        parts = text.split(None, 2)
    if moment is None:
        return None
    level = level_name(parts[1].strip("[]:"))
    rest = parts[2] if len(parts) > 2 else ""
    if level is None:
        rest = " ".join(parts[1:])
    pairs = {key.lower(): _unquote(value) for key, value in _LOGFMT.findall(rest)}
    level = level or level_name(pairs.get("level", ""))
    message = _first(pairs, _ERROR_KEYS) or _first(pairs, _MESSAGE_KEYS) or rest
    return LogLine(moment, level, message, raw)


@dataclass
class SignatureSeen:
    signature: str
    count: int = 0
    first_seen: Optional[datetime] = None
    example: str = ""


@dataclass
class Analysis:
    """The log split into the baseline and current windows, with the error signatures of each."""

    since: datetime
    baseline_until: datetime
    lines_read: int = 0
    unparsed: int = 0
    current_lines: int = 0
    baseline_lines: int = 0
    ignored: int = 0
    oldest: Optional[datetime] = None
    newest: Optional[datetime] = None
    current: dict[str, SignatureSeen] = field(default_factory=dict)
    baseline: dict[str, int] = field(default_factory=dict)

    @property
    def new(self) -> list[SignatureSeen]:
        found = [seen for name, seen in self.current.items() if name not in self.baseline]
        return sorted(found, key=lambda seen: (-seen.count, seen.signature))


def analyse(lines: Iterable[str], since: datetime, baseline_until: datetime, levels: frozenset[str],
            ignore: Sequence[re.Pattern[str]] = (), zone: Any = timezone.utc) -> Analysis:
    """Split ``lines`` into the windows and count the signatures of the lines of ``levels`` in each."""
    analysis = Analysis(since, baseline_until)
    for raw in lines:
        if not raw.strip():
            continue
        analysis.lines_read += 1
        line = parse_line(raw, zone)
        if line is None or line.time is None:
            analysis.unparsed += 1
            continue
        analysis.oldest = line.time if analysis.oldest is None else min(analysis.oldest, line.time)
        analysis.newest = line.time if analysis.newest is None else max(analysis.newest, line.time)
        current, baseline = line.time >= since, line.time < baseline_until
        analysis.current_lines += current
        analysis.baseline_lines += baseline
        if not (current or baseline) or line.level not in levels:
            continue
        name = signature(line.message)
        if any(pattern.search(line.message) or pattern.search(name) for pattern in ignore):
            analysis.ignored += 1
            continue
        if baseline:
            analysis.baseline[name] = analysis.baseline.get(name, 0) + 1
        else:
            seen = analysis.current.setdefault(name, SignatureSeen(name))
            seen.count += 1
            if seen.first_seen is None or line.time < seen.first_seen:
                seen.first_seen, seen.example = line.time, raw.strip()[:MAX_EXAMPLE]
    return analysis


def windows(now: datetime, window: float, since: Optional[datetime], baseline_until: Optional[datetime]) -> tuple[datetime, datetime]:
    """``since`` (default: ``window`` seconds before ``now``) and ``baseline_until`` (default: ``since``), checked."""
    since = since or (now - timedelta(seconds=window))
    baseline_until = baseline_until or since
    if baseline_until > since:
        raise InputError(f"baseline_until {baseline_until.isoformat()} is after since {since.isoformat()}", option="baseline_until",
                         accepted="a time at or before since (the baseline ends where the current window starts, or earlier)")
    return since, baseline_until


def judge(analysis: Analysis, levels: frozenset[str], redact: Callable[[str], str] = str) -> checks.Check:
    """The ``signatures`` check of ``analysis``."""
    wanted = "/".join(level for level in LEVELS if level in levels)
    data = {"current_lines": analysis.current_lines, "baseline_lines": analysis.baseline_lines,
            "current_signatures": len(analysis.current), "baseline_signatures": len(analysis.baseline)}
    if analysis.current_lines == 0:
        newest = f"; the newest line read is from {analysis.newest.isoformat()}" if analysis.newest else ""
        return checks.Check("signatures", checks.UNKNOWN, f"no log line at or after {analysis.since.isoformat()} in the "
                                                          f"{analysis.lines_read} line(s) read{newest}", data)
    new = analysis.new
    if not new:
        detail = (f"{len(analysis.current)} {wanted} signature(s) in {analysis.current_lines} current line(s), all seen in the baseline"
                  if analysis.current else f"no {wanted} line in {analysis.current_lines} current line(s)")
        return checks.Check("signatures", checks.OK, detail, data)
    shown = "; ".join(f"{seen.signature} (x{seen.count})" for seen in new[:3]) + (f"; and {len(new) - 3} more" if len(new) > 3 else "")
    if analysis.baseline_lines == 0:
        oldest = analysis.oldest.isoformat() if analysis.oldest else "nowhere"
        return checks.Check("signatures", checks.UNKNOWN, redact(
            f"{len(new)} {wanted} signature(s) in the current window but no baseline line before "
            f"{analysis.baseline_until.isoformat()} to compare with (the lines read start at {oldest}; read more lines): {shown}"), data)
    return checks.Check("signatures", checks.FAILED, redact(f"{len(new)} new {wanted} signature(s) not in the baseline: {shown}"),
                        dict(data, new=[seen.signature for seen in new]))


def new_signatures(analysis: Analysis, redact: Callable[[str], str] = str) -> list[dict[str, Any]]:
    return [{"signature": redact(seen.signature), "count": seen.count, "first_seen": seen.first_seen.isoformat() if seen.first_seen else None,
             "example": redact(seen.example)} for seen in analysis.new[:MAX_NEW_SHOWN]]


@dataclass(frozen=True)
class Options:
    """The module's options, checked before anything is sent."""

    lines: int
    since: Optional[datetime]
    baseline_until: Optional[datetime]
    window: float
    levels: frozenset[str]
    ignore: tuple[re.Pattern[str], ...]
    zone: Any
    unavailable_is: str

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Options":
        lines = params.get("lines")
        if isinstance(lines, bool) or not isinstance(lines, int) or not 1 <= lines <= MAX_LOG_LINES:
            raise InputError(f"lines {lines!r} is out of range", option="lines", accepted=f"an integer from 1 to {MAX_LOG_LINES}")
        unavailable_is = params.get("unavailable_is") or "fail"
        if unavailable_is not in checks.UNAVAILABLE_IS:
            raise InputError(f"{unavailable_is!r} is not a choice", option="unavailable_is", accepted=checks.UNAVAILABLE_IS)
        since = instant(params["since"], "since") if params.get("since") not in (None, "") else None
        until = instant(params["baseline_until"], "baseline_until") if params.get("baseline_until") not in (None, "") else None
        levels = checked_levels(["error", "fatal"] if params.get("levels") is None else params["levels"])
        return cls(lines=lines, since=since, baseline_until=until, window=parse_duration(params.get("window") or "10m", "window"),
                   levels=levels, ignore=checked_ignore(params.get("ignore") or []),
                   zone=load_zone(params.get("log_timezone") or "UTC", "log_timezone"), unavailable_is=unavailable_is)


def check_logs(client: OpsApiClient, options: Options, now: Optional[datetime] = None) -> dict[str, Any]:
    """Read the last ``options.lines`` lines from the ops API and judge them: the module's result fields."""
    now = now or datetime.now(timezone.utc).astimezone()
    since, baseline_until = windows(now, options.window, options.since, options.baseline_until)
    window = {"since": since.isoformat(), "baseline_until": baseline_until.isoformat(), "now": now.isoformat()}
    redact = client.http.redact
    try:
        lines = client.logs(options.lines)
    except (UnavailableError, DeadlineExceeded) as exc:
        if options.unavailable_is != "unknown":
            raise
        reason = f"the ops API could not be asked for its logs ({exc.reason})"
        return checks.result([checks.unavailable("signatures", redact(reason))], SUBJECT,
                             {"new_signatures": [], "baseline_signatures": 0, "lines_read": 0, "window": window, "available": False})
    analysis = analyse(lines, since, baseline_until, options.levels, options.ignore, options.zone)
    return checks.result([judge(analysis, options.levels, redact)], SUBJECT, {
        "new_signatures": new_signatures(analysis, redact), "baseline_signatures": len(analysis.baseline),
        "lines_read": analysis.lines_read, "window": window, "available": True,
        "counts": {"current_lines": analysis.current_lines, "baseline_lines": analysis.baseline_lines, "unparsed": analysis.unparsed,
                   "ignored": analysis.ignored,
                   "oldest": analysis.oldest.isoformat() if analysis.oldest else None,
                   "newest": analysis.newest.isoformat() if analysis.newest else None}})
