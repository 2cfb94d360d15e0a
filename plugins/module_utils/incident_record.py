# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is an incident record (the Markdown file the emergency procedure writes) complete for the post-incident review?

A section is a Markdown ATX heading (``##`` to ``######``; the ``#`` title is not a section) and the text up to the next
heading of the same or a higher level; headings inside fenced code blocks do not count. A required section is found by
its title, ignoring case and spaces; it is written when its text holds something besides HTML comments and does not hold
the placeholder (the emergency record writes ``_To be written at the post-incident review._`` under Lessons learned).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.checks import FAILED, OK, Check
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError

SYSTEM = "incident record"
# The checklist's "Incident Documentation" (Post-Rollback Documentation) as the emergency record names its sections.
DEFAULT_SECTIONS = ("Rollback trigger", "Timeline", "Impact assessment", "Recovery time", "Lessons learned")
DEFAULT_PLACEHOLDER = "_To be written"
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_STARTED = re.compile(r"^\d{4}-\d\d-\d\dT")
_INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class Section:
    title: str
    level: int
    line: int
    body: list[str] = field(default_factory=list)

    def text(self) -> str:
        return _COMMENT.sub("", "\n".join(self.body)).strip()


def key(title: str) -> str:
    return " ".join(title.split()).casefold()


def parse_sections(markdown: str) -> list[Section]:
    """The sections of ``markdown`` (level 2 and deeper), each with the lines up to the next heading of its level or above."""
    sections: list[Section] = []
    open_sections: list[Section] = []
    fence: Optional[str] = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        fenced = _FENCE.match(line)
        if fenced and (fence is None or fenced.group(1) == fence):
            fence = None if fence else fenced.group(1)
        heading = None if fence or fenced else _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            open_sections = [section for section in open_sections if section.level < level]
            if level >= 2:
                section = Section(heading.group(2), level, number)
                sections.append(section)
                open_sections.append(section)
            continue
        for section in open_sections:
            section.body.append(line)
    return sections


def section_check(name: str, sections: Sequence[Section], placeholder: str, record: str) -> Check:
    found = next((section for section in sections if key(section.title) == key(name)), None)
    if found is None:
        return Check(name, FAILED, f"no section {name!r} in {record}: add a heading '## {name}' and write it", {"found": False})
    text = found.text()
    data = {"found": True, "line": found.line, "lines": len([line for line in text.splitlines() if line.strip()])}
    if not text:
        return Check(name, FAILED, f"section {name!r} (line {found.line}) is empty", {**data, "placeholder": False})
    if placeholder in text:
        return Check(name, FAILED, f"section {name!r} (line {found.line}) still holds the placeholder {placeholder!r}: not written yet",
                     {**data, "placeholder": True})
    return Check(name, OK, f"section {name!r} written ({data['lines']} line(s))", {**data, "placeholder": False})


def checked_options(required_sections: Optional[Sequence[Any]], placeholder: Optional[str]) -> tuple[list[str], str]:
    names = list(DEFAULT_SECTIONS if required_sections is None else required_sections)
    if not names or any(not isinstance(name, str) or not name.strip() for name in names):
        raise InputError("required_sections must be a non-empty list of section titles", option="required_sections",
                         accepted="titles such as " + ", ".join(DEFAULT_SECTIONS))
    text = DEFAULT_PLACEHOLDER if placeholder is None else placeholder
    if not text.strip():
        raise InputError("placeholder must not be empty: every section would hold it", option="placeholder",
                         accepted=f"the text that marks an unwritten section, such as {DEFAULT_PLACEHOLDER!r}")
    return [name.strip() for name in names], text


def find_record(record_dir: str, incident_id: str) -> Optional[str]:
    """The newest ``<record_dir>/<incident_id>-<started>.md`` (the name holds the start time, so the last by name), or None."""
    if not _INCIDENT_ID.match(incident_id or ""):
        raise InputError(f"incident_id {incident_id!r} is not an incident id", option="incident_id",
                         accepted="an id such as INC-1234 (letters, digits, '.', '_' and '-')")
    prefix = incident_id + "-"
    try:
        names = os.listdir(record_dir)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DataError(f"cannot list {record_dir}: {exc.strerror}", system=SYSTEM, operation="find record", target=record_dir) from exc
    # <id>-<started ISO time>.md: the start time follows the id, so INC-1 does not pick INC-12's or INC-1-5's records.
    matching = sorted(name for name in names if name.startswith(prefix) and name.endswith(".md") and _STARTED.match(name[len(prefix):]))
    return os.path.join(record_dir, matching[-1]) if matching else None


def read_record(path: str) -> Optional[str]:
    """The text of the record at ``path``; None when there is no such file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}", system=SYSTEM, operation="read record",
                        target=path) from exc


def incident_times(record: str) -> dict[str, Any]:
    """When the incident began and when its procedure ended, from the JSON record written beside the Markdown one (the
    emergency procedure writes both): ``started_at`` and ``finished_at`` as ISO 8601 with an offset, and its ``outcome``.
    Empty when there is no JSON record or it does not say."""
    json_path = os.path.splitext(record)[0] + ".json"
    text = read_record(json_path)
    if text is None:
        return {}
    try:
        data = json.loads(text)
        started = datetime.fromisoformat(str(data["started_at"]).replace("Z", "+00:00"))
        duration = float(data.get("duration_seconds") or 0)
    except (ValueError, KeyError, TypeError):
        return {}
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    finished = started + timedelta(seconds=duration)
    return {"started_at": started.isoformat(timespec="seconds"), "finished_at": finished.isoformat(timespec="seconds"),
            "outcome": data.get("outcome"), "json_record": json_path}


def evaluate(path: Optional[str], incident_id: Optional[str], record_dir: str, required: Sequence[str], placeholder: str) -> dict[str, Any]:
    """The checks (one per required section) and the fields ``record`` and ``sections`` of the module's result."""
    wanted = path or os.path.join(record_dir, f"{incident_id}-*.md")
    record = path or find_record(record_dir, incident_id or "")
    text = read_record(record) if record else None
    if text is None:
        reason = f"no incident record {wanted}" + (f" for {incident_id}" if incident_id else "")
        checks = [Check(name, FAILED, f"{reason}: write the record (the emergency procedure does) before the review", {"found": False})
                  for name in required]
        return {"checks": checks, "record": None, "sections": [], "incident": {}}
    sections = parse_sections(text)
    shown = [{"title": section.title, "level": section.level, "line": section.line,
              "lines": len([line for line in section.text().splitlines() if line.strip()]), "placeholder": placeholder in section.text()}
             for section in sections]
    return {"checks": [section_check(name, sections, placeholder, os.path.basename(record)) for name in required], "record": record,
            "sections": shown, "incident": incident_times(record)}
