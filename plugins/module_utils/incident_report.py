# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident report: one self-contained HTML file and its Markdown twin (ofm.rollback.incident_report).

The sections (fixed titles, in this order) come from the incident record, the measured impact (incident_impact.py), the
audit trail (audit_history.py) and what people add (events). A section with nothing to say says why ("not measured: ...",
"No data for ..."), never nothing. The HTML embeds its CSS and charts (``data:`` URIs), so it reads offline and can be
attached to a ticket; the Markdown points at ``charts/<sli>.png`` beside it.

Idempotence: the report's content hash (everything but the generation time) is kept in a comment of the HTML; a run whose
content hashes the same rewrites nothing.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import tempfile
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils import audit_history
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.incident_impact import record_times
from ansible_collections.ofm.rollback.plugins.module_utils.report_charts import chart
from ansible_collections.ofm.rollback.plugins.module_utils.zoned_time import load_zone

SECTIONS = ("Summary", "Rollback trigger", "Timeline", "Impact assessment", "Recovery time", "Charts", "Command history",
            "Team actions", "Configuration changes", "Operations log", "Contributing factors", "Lessons learned", "Follow-up items")
PLACEHOLDER = "_To be written at the post-incident review._"
# The checklist's "Prevention Measures", each a follow-up item of the post-incident review.
FOLLOWUPS = (
    ("Review Deployment Process", "Identify the process gaps that let this release reach production."),
    ("Update Checklists", "Enhance the pre-deployment validation with what would have caught it."),
    ("Improve Monitoring", "Add alerts for the early warning signs seen in the charts above."),
    ("Automate Rollbacks", "Implement automated rollback triggers (the SLO burn-rate alerts can start this playbook)."),
    ("Testing Enhancement", "Add tests that prevent a similar issue."),
    ("Circuit Breakers", "Implement circuit breakers for the external dependencies involved."),
    ("Feature Flags", "Put the change behind a feature flag for a safer rollout."),
    ("Blue-Green Deployment", "Consider blue-green deployment for zero-downtime rollbacks."),
    ("Database Migrations", "Improve migration safety if a schema change was involved."),
    ("Configuration Management", "Track configuration changes (playbooks/config-snapshot.yml before each deploy)."),
)
HASH_COMMENT = re.compile(r"<!-- ofm\.rollback incident report sha256:([0-9a-f]{64}) -->")
CSS = """body{font:14px/1.5 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328;max-width:1000px;margin:24px auto;padding:0 16px}
h1{font-size:24px;border-bottom:1px solid #d0d7de;padding-bottom:8px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #eaeef2}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.gap{color:#9a6700}.bad{color:#cf222e;font-weight:600}.ok{color:#1a7f37}.todo{background:#fff8c5;padding:8px;border-radius:6px}
img{max-width:100%;border:1px solid #eaeef2;margin:6px 0}code{background:#f6f8fa;padding:1px 4px;border-radius:4px;font-size:12px}
.meta{color:#57606a;font-size:12px}"""


class Clock:
    """Times as people read them: in one zone, with its abbreviation and offset."""

    def __init__(self, zone_name: str) -> None:
        self.zone = load_zone(zone_name or "UTC", "timezone")
        self.name = zone_name or "UTC"

    def show(self, value: Any) -> str:
        moment = self.moment(value)
        if moment is None:
            return "not recorded"
        local = moment.astimezone(self.zone)
        offset = f"{local:%z}"
        return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"

    @staticmethod
    def moment(value: Any) -> Optional[datetime]:
        if value is None or value == "":
            return None
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(float(value), timezone.utc)
        text = str(value)
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)

    def label(self) -> str:
        offset = f"{datetime.now(self.zone):%z}"
        return f"{self.name} (UTC{offset[:3]}:{offset[3:]})"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Dict[str, Any]:
    return {"table": {"headers": list(headers), "rows": [[str(cell) if cell is not None else "-" for cell in row] for row in rows]}}


def _text(text: str, kind: str = "") -> Dict[str, Any]:
    return {"text": text, "kind": kind}


def timeline(record: Mapping[str, Any], records: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]], clock: Clock) -> List[Dict[str, Any]]:
    found: List[Dict[str, Any]] = []
    operator = (record.get("operator") or {}).get("name") if isinstance(record.get("operator"), Mapping) else record.get("operator")
    found.append({"at": record.get("started_at"), "what": f"Incident {record.get('incident_id')} opened by {operator or 'unknown'}; SLO gate assessed",
                  "source": "record"})
    announcement = record.get("announcement") or {}
    if announcement.get("delivered"):
        found.append({"at": _ts_time(announcement.get("ts")) or record.get("started_at"), "what": f"Declared in {announcement.get('channel')}",
                      "source": "record"})
    for phase in record.get("phases") or []:
        found.append({"at": phase.get("start"), "what": f"{phase.get('phase')} started", "source": "record"})
        if phase.get("end"):
            found.append({"at": phase.get("end"), "what": f"{phase.get('phase')} finished ({phase.get('took')})", "source": "record"})
    page = record.get("status_page") or {}
    if page.get("delivered"):
        found.append({"at": None, "what": f"Status page incident {page.get('status')} ({page.get('shortlink') or page.get('incident_id')})",
                      "source": "record"})
    times = record_times(record)
    found.append({"at": times["finished"], "what": f"Procedure ended: {record.get('outcome')}", "source": "record"})
    found.extend(audit_history.timeline_events(records))
    found.extend({"at": event.get("at"), "what": event.get("what"), "source": event.get("source") or "event"} for event in events)
    dated = [event for event in found if clock.moment(event["at"]) is not None]
    undated = [event for event in found if clock.moment(event["at"]) is None]
    dated.sort(key=lambda event: clock.moment(event["at"]))
    return dated + undated


def _ts_time(ts: Any) -> Optional[float]:
    try:
        return float(str(ts)) if ts else None
    except ValueError:
        return None


def build(record: Mapping[str, Any], impact: Mapping[str, Any], records: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
          record_md: Optional[str]) -> Dict[str, Any]:
    """The report's content: sections (each a list of blocks), charts (name -> PNG bytes) and gaps."""
    clock = Clock(params.get("timezone") or "UTC")
    incident_id = record.get("incident_id")
    gaps = list(impact.get("gaps") or [])
    trigger = record.get("trigger") or {}
    slos = trigger.get("slos") or {}
    sections: Dict[str, List[Dict[str, Any]]] = {}
    customers = params.get("customers_affected")
    failed, total = impact.get("requests_failed"), impact.get("requests_total")
    recovery = impact.get("recovery") or {}
    sections["Summary"] = [_table(["", ""], [
        ["Incident", incident_id], ["Environment", record.get("environment")], ["Procedure", record.get("procedure")],
        ["Operator", (record.get("operator") or {}).get("name") if isinstance(record.get("operator"), Mapping) else record.get("operator")],
        ["Started", clock.show(record.get("started_at"))], ["Outcome", record.get("outcome")],
        ["Rollback path", (record.get("rollback") or {}).get("path_summary") or (record.get("rollback") or {}).get("path")],
        ["Requests failed", f"{failed} of {total}" if failed is not None else "not measured"],
        ["Time to recover", recovery.get("time_to_recover") or "not measured"]])]
    if trigger.get("breached"):
        rows = [[name, (slos.get(name) or {}).get("current_text") or (slos.get(name) or {}).get("current"),
                 f"{(slos.get(name) or {}).get('comparison', '')} {(slos.get(name) or {}).get('threshold')}", (slos.get(name) or {}).get("line")]
                for name in trigger["breached"]]
        sections["Rollback trigger"] = [_text("The SLO gate confirmed a sustained breach of the canary:"),
                                        _table(["SLO", "value", "breaches when", "verdict"], rows)]
    elif trigger.get("forced"):
        sections["Rollback trigger"] = [_text(f"Forced without a confirmed breach: {trigger.get('force_reason') or 'no reason given'}", "bad")]
    else:
        sections["Rollback trigger"] = [_text(f"No sustained SLO breach was confirmed: {trigger.get('verdict') or record.get('outcome')}", "gap")]
    events = timeline(record, records, params.get("events") or [], clock)
    sections["Timeline"] = [_text(f"Times in {clock.label()}.", "meta"),
                            _table(["time", "event", "source"], [[clock.show(event["at"]), event["what"], event["source"]] for event in events])]
    burned = impact.get("error_budget_burned") or {}
    impact_rows = [["Requests answered", total if total is not None else "not measured"],
                   ["Requests failed (5xx)", failed if failed is not None else "not measured"],
                   ["Customers affected", customers if customers is not None else "not measured (no affected-customers query)"]]
    impact_rows += [[f"Error budget burned: {name}", f"{value:.4g} % of {impact.get('slo_period') or '30d'}" if value is not None else "not measured"]
                    for name, value in sorted(burned.items())]
    window = impact.get("window") or {}
    sections["Impact assessment"] = [_text(f"Measured over {clock.show(window.get('since'))} to {clock.show(window.get('until'))}."
                                           if window else "Not measured: " + "; ".join(gaps), "" if window else "gap"),
                                     _table(["measure", "value"], impact_rows)]
    sections["Recovery time"] = [_table(["moment", "time"], [
        ["Detected (incident opened)", clock.show(recovery.get("detected_at"))], ["Rollback requested", clock.show(recovery.get("rollback_at"))],
        ["Traffic on stable", clock.show(recovery.get("traffic_on_stable_at"))], ["SLOs compliant", clock.show(recovery.get("slos_compliant_at"))],
        ["Detection to traffic on stable", recovery.get("time_to_stable") or "not measured"],
        ["Detection to SLOs compliant", recovery.get("time_to_recover") or "not measured"]])]
    charts: Dict[str, bytes] = {}
    thresholds = impact.get("thresholds") or {}
    start, end = Clock.moment(window.get("since")), Clock.moment(window.get("until"))
    if start is None:
        started = Clock.moment(record.get("started_at")) or datetime.now(timezone.utc)
        start, end = started, started
    span = (start.timestamp(), max(end.timestamp(), start.timestamp() + 1))
    marks = {"rollback requested": _epoch(recovery.get("rollback_at")), "traffic on stable": _epoch(recovery.get("traffic_on_stable_at"))}
    chart_blocks = []
    for name, spec in thresholds.items():
        points = (impact.get("series") or {}).get(name) or []
        charts[name] = chart(name, spec.get("description", ""), points, (impact.get("canary_series") or {}).get(name) or [],
                             float(spec.get("threshold")), spec.get("comparison", ">"), marks, span, clock.zone, clock.label())
        chart_blocks.append({"image": name, "alt": f"{name} over the incident window" if points else f"No data for {name}"})
        if not points:
            chart_blocks.append(_text(f"No data for {name} between {clock.show(span[0])} and {clock.show(span[1])}.", "gap"))
    if not thresholds:
        chart_blocks.append(_text("No charts: Prometheus could not be asked (" + "; ".join(gaps) + ")", "gap"))
    sections["Charts"] = chart_blocks
    commands = audit_history.command_history(records)
    sections["Command history"] = [_table(["time", "actor", "task", "module", "status", "arguments"],
                                          [[clock.show(c["time"]), c["actor"], c["task"], c["module"], c["status"], c["args"]] for c in commands])
                                   if commands else _text("No audit records for this incident (audit log not given or empty).", "gap")]
    actions = audit_history.team_actions(records)
    sections["Team actions"] = [_table(["time", "who", "action"], [[clock.show(a["time"]), a["actor"], a["action"]] for a in actions])
                                if actions else _text("No audit records for this incident.", "gap")]
    changes = audit_history.config_changes(records)
    sections["Configuration changes"] = [_table(["time", "who", "task", "module", "diff"],
                                                [[clock.show(c["time"]), c["actor"], c["task"], c["module"],
                                                  "; ".join(f"{d.get('object') or ''} +{d.get('added')} -{d.get('removed')}" for d in c["diff"]) or "-"]
                                                 for c in changes])
                                         if changes else _text("No configuration or routing change was recorded during the incident.")]
    table = params.get("audit_table")
    chain = [["records of this incident", len(records)], ["first seq", records[0].get("seq") if records else "-"],
             ["last seq", records[-1].get("seq") if records else "-"], ["last hash", records[-1].get("hash") if records else "-"]]
    if table is not None:
        chain.append(["audit_logs table", ("every record of the log is in the table, unchanged" if table.get("ok") else
                                           "DOES NOT match the log: " + "; ".join(
                                               f"{label} {', '.join(map(str, table.get(key) or []))}" for key, label in
                                               (("missing_seqs", "missing seq"), ("extra", "rows not in the log, seq"), ("differing", "rows changed, seq"))
                                               if table.get(key)) + (f"; first broken {table['first_broken']}" if table.get("first_broken") else ""))])
    else:
        chain.append(["audit_logs table", "not checked (no audit database configured)"])
    sections["Operations log"] = [_table(["", ""], chain)]
    lessons = _record_section(record_md, "Lessons learned")
    sections["Contributing factors"] = [_text(_record_section(record_md, "Contributing factors") or PLACEHOLDER, "todo")]
    sections["Lessons learned"] = [_text(lessons or PLACEHOLDER, "todo" if not lessons or "To be written" in lessons else "")]
    sections["Follow-up items"] = [_table(["checklist line", "follow-up", "owner", "due"], [[title, text, "", ""] for title, text in FOLLOWUPS])]
    return {"sections": sections, "charts": charts, "gaps": gaps, "title": params.get("title") or f"Incident report {incident_id}"}


def _epoch(value: Any) -> Optional[float]:
    moment = Clock.moment(value)
    return moment.timestamp() if moment else None


def _record_section(markdown: Optional[str], title: str) -> str:
    if not markdown:
        return ""
    match = re.search(rf"^##+\s+{re.escape(title)}\s*$(.*?)(?=^##\s|\Z)", markdown, re.MULTILINE | re.DOTALL | re.IGNORECASE)
    return match.group(1).strip() if match else ""


def render_markdown(content: Mapping[str, Any]) -> str:
    lines = [f"# {content['title']}", ""]
    for title in SECTIONS:
        lines += [f"## {title}", ""]
        for block in content["sections"].get(title) or [_text("Nothing to report.", "gap")]:
            if "table" in block:
                headers, rows = block["table"]["headers"], block["table"]["rows"]
                lines.append("| " + " | ".join(h or " " for h in headers) + " |")
                lines.append("|" + "---|" * len(headers))
                lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
            elif "image" in block:
                lines.append(f"![{block['alt']}](charts/{block['image']}.png)")
            else:
                lines.append(block["text"])
            lines.append("")
    return "\n".join(lines)


def render_html(content: Mapping[str, Any], digest: str, generated: str) -> str:
    esc = html.escape
    body = [f"<h1>{esc(content['title'])}</h1>", f"<p class=\"meta\">Generated {esc(generated)} by ofm.rollback.incident_report.</p>"]
    for title in SECTIONS:
        anchor = title.lower().replace(" ", "-")
        body.append(f"<h2 id=\"{anchor}\">{esc(title)}</h2>")
        for block in content["sections"].get(title) or [_text("Nothing to report.", "gap")]:
            if "table" in block:
                head = "".join(f"<th>{esc(h)}</th>" for h in block["table"]["headers"])
                rows = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in block["table"]["rows"])
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif "image" in block:
                data = base64.b64encode(content["charts"][block["image"]]).decode()
                body.append(f"<img alt=\"{esc(block['alt'])}\" src=\"data:image/png;base64,{data}\">")
            else:
                body.append(f"<p class=\"{esc(block.get('kind') or '')}\">{esc(block['text'])}</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(content['title'])}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + f"\n<!-- ofm.rollback incident report sha256:{digest} -->\n</body></html>\n")


def digest_of(markdown: str, charts: Mapping[str, bytes]) -> str:
    hashed = hashlib.sha256(markdown.encode())
    for name in sorted(charts):
        hashed.update(name.encode() + b"\0" + charts[name])
    return hashed.hexdigest()


def existing_digest(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            match = HASH_COMMENT.search(handle.read())
    except OSError:
        return None
    return match.group(1) if match else None


def check_dest(dest: str) -> str:
    dest = os.path.abspath(dest)
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise InputError(f"dest: {dest} exists and is not a directory", option="dest", accepted="a directory (created when missing)")
    return dest


def write(dest: str, content: Mapping[str, Any], force: bool, check_mode: bool) -> Dict[str, Any]:
    """Write report.html, report.md and charts/*.png into ``dest`` unless the content is unchanged."""
    markdown = render_markdown(content)
    digest = digest_of(markdown, content["charts"])
    html_path, md_path = os.path.join(dest, "report.html"), os.path.join(dest, "report.md")
    chart_paths = [os.path.join(dest, "charts", f"{name}.png") for name in sorted(content["charts"])]
    unchanged = existing_digest(html_path) == digest and os.path.exists(md_path) and all(map(os.path.exists, chart_paths))
    changed = force or not unchanged
    if changed and not check_mode:
        os.makedirs(os.path.join(dest, "charts"), mode=0o700, exist_ok=True)
        generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for name in content["charts"]:
            _atomic(os.path.join(dest, "charts", f"{name}.png"), content["charts"][name])
        _atomic(md_path, markdown.encode())
        _atomic(html_path, render_html(content, digest, generated).encode())
    return {"changed": changed, "sha256": digest, "files": {"html": html_path, "markdown": md_path, "charts": chart_paths},
            "sections": list(SECTIONS), "gaps": content["gaps"], "diff": {"before": "" if changed else digest, "after": digest}}


def _atomic(path: str, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".report-", dir=os.path.dirname(path))
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
