# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The root-cause evidence bundle of an incident (ofm.rollback.rca_collect): one reproducible ``.tar.gz`` with a manifest.

Artefacts (``KINDS``), each collected on its own so that one source down leaves the others: the canary's pod logs
(Kubernetes logs API), the ops API's application log, the SLI series as CSV (Prometheus, the incident's window), the
namespace's Kubernetes events, the rollout history (the Argo Rollout and the ReplicaSets), the Helm history, the
configuration diff of a restore, the audit excerpt (every record of the runs that touched the incident), and the incident
record. A source that cannot be asked is a **gap** in ``manifest.json`` with the reason, never a silently missing file.

Every text passes the redactor (tokens, passwords, cookies, Authorization headers, URL credentials, and the literal
secrets given). Log lines are kept inside the window, so once the window is past, the same evidence gives the same bytes:
names sorted, modification times the incident's start, owner root, gzip without a time stamp; an unchanged bundle is not
rewritten.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import time as _time
from datetime import datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ansible_collections.ofm.rollback.plugins.module_utils.audit_table import incident_records_from_file
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.incident_impact import measure, options_window, record_times, zoned_iso
from ansible_collections.ofm.rollback.plugins.module_utils.redact import Redactor

FORMAT = "ofm.rollback/rca-bundle v1"
KINDS = ("pod_logs", "ops_api_logs", "sli_series", "events", "rollout_history", "helm_history", "config_diff", "audit_excerpt", "record")
LINE_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))")
MAX_LOG_LINES = 20000


def line_time(line: str) -> Optional[float]:
    match = LINE_TIME.match(line)
    if not match:
        return None
    text = match.group(1)
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text).timestamp()
    except ValueError:
        return None


def in_window(lines: List[str], start: float, end: float) -> List[str]:
    """The lines whose leading time is inside the window (a line without one follows the line before it)."""
    kept: List[str] = []
    keep = False
    for line in lines:
        moment = line_time(line)
        if moment is not None:
            keep = start <= moment <= end
        if keep:
            kept.append(line)
    return kept[-MAX_LOG_LINES:]


class NotApplicable(Exception):
    """An artefact that does not apply to this incident (no Helm release named, no configuration restored): listed as
    skipped in the manifest, not a gap."""


class Bundle:
    """The files of the bundle (name -> bytes) and its gaps, every text redacted."""

    def __init__(self, redactor: Redactor) -> None:
        self.files: Dict[str, bytes] = {}
        self.gaps: List[Dict[str, str]] = []
        self.skipped: List[Dict[str, str]] = []
        self._redactor = redactor

    def text(self, name: str, text: str) -> None:
        self.files[name] = self._redactor.text(text).encode("utf-8")

    def json(self, name: str, value: Any) -> None:
        self.text(name, json.dumps(self._redactor.value(value), indent=1, sort_keys=True, default=str) + "\n")

    def collect(self, kind: str, action: Callable[[], None]) -> None:
        try:
            action()
        except NotApplicable as exc:
            self.skipped.append({"artefact": kind, "reason": str(exc)})
        except OfmRollbackError as exc:
            self.gaps.append({"artefact": kind, "reason": self._redactor.text(str(exc))})
        except Exception as exc:  # pylint: disable=broad-except
            self.gaps.append({"artefact": kind, "reason": self._redactor.text(f"{type(exc).__name__}: {exc}")})


def sli_csv(points: List[List[float]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "epoch", "value"])
    for moment, value in points:
        writer.writerow([zoned_iso(moment), f"{moment:.3f}", repr(float(value))])
    return out.getvalue()


def tar_bytes(files: Mapping[str, bytes], mtime: float) -> bytes:
    """A gzip'd tar of ``files``: sorted names, fixed time stamps and owners, so the same files give the same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = int(mtime)
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            archive.addfile(info, io.BytesIO(files[name]))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=int(mtime), compresslevel=6) as zipped:
        zipped.write(raw.getvalue())
    return out.getvalue()


def manifest(bundle: Bundle, record: Mapping[str, Any], start: float, end: float) -> Dict[str, Any]:
    return {"format": FORMAT, "incident_id": record.get("incident_id"), "window": {"since": zoned_iso(start), "until": zoned_iso(end)},
            "files": [{"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in sorted(bundle.files.items())],
            "gaps": sorted(bundle.gaps, key=lambda gap: gap["artefact"]), "skipped": sorted(bundle.skipped, key=lambda item: item["artefact"])}


def write_atomic(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".rca-", dir=directory)
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def check_dest(dest: str, incident_id: str) -> str:
    if not dest.endswith((".tar.gz", ".tgz")):
        raise InputError(f"dest must name a .tar.gz file, not {dest!r}", option="dest",
                         accepted=f"a path such as <record_dir>/{incident_id}/rca-{incident_id}.tar.gz")
    if os.path.isdir(dest):
        raise InputError(f"dest {dest} is a directory", option="dest", accepted="a .tar.gz file path")
    return os.path.abspath(dest)


def check_include(include: List[str]) -> List[str]:
    unknown = sorted(set(include) - set(KINDS))
    if unknown:
        raise InputError(f"include: unknown artefact(s) {', '.join(unknown)}", option="include", accepted=KINDS)
    return include


class Sources:
    """The clients the collectors use, each built only when asked (a source not configured is a gap, not an error)."""

    def __init__(self, kube: Callable[[], Any], ops_api: Callable[[], Any], prometheus: Callable[[], Any], helm: Callable[[], Any]) -> None:
        self.kube, self.ops_api, self.prometheus, self.helm = kube, ops_api, prometheus, helm


def collect(record: Mapping[str, Any], record_path: str, params: Mapping[str, Any], sources: Sources, redactor: Redactor,
            now: Optional[float] = None) -> Tuple[Bundle, float, float]:
    """Every artefact of ``include`` into a Bundle (module docstring)."""
    now = _time.time() if now is None else now
    start, end = options_window(record, params, now)
    bundle = Bundle(redactor)
    include = params.get("include") or list(KINDS)
    namespace = params.get("namespace") or "ofm-production"

    def pod_logs() -> None:
        kube = sources.kube()
        pods = kube.list("v1", "Pod", namespace, label_selector=params.get("selector"))
        if not pods:
            raise InputError(f"no pod matches {params.get('selector')} in {namespace}")
        from kubernetes.client import CoreV1Api  # pylint: disable=import-outside-toplevel
        core = CoreV1Api(kube.client.client)
        for pod in pods:
            name = pod["metadata"]["name"]
            text = kube.call("read log", f"Pod {namespace}/{name}", lambda name=name: core.read_namespaced_pod_log(
                name, namespace, since_seconds=max(1, int(now - start) + 1), tail_lines=params.get("tail_lines") or 5000, _preload_content=True))
            bundle.text(f"pod-logs/{name}.log", "\n".join(in_window(str(text).splitlines(), start, end)) + "\n")

    def ops_api_logs() -> None:
        lines = sources.ops_api().logs(params.get("tail_lines") or 5000)
        bundle.text("ops-api.log", "\n".join(in_window(lines, start, end)) + "\n")

    def sli_series() -> None:
        # "selector" is the pods' label selector here: the SLO queries take the service's series unfiltered.
        found = measure(sources.prometheus(), record, {**params, "selector": "", "since": start, "until": end, "max_points": 100000})
        for name, points in sorted(found["series"].items()):
            if not points:
                bundle.gaps.append({"artefact": "sli_series", "reason": f"no data for {name} between {zoned_iso(start)} and {zoned_iso(end)}"})
            bundle.text(f"sli/{name}.csv", sli_csv(points))
        for name, points in sorted(found["canary_series"].items()):
            bundle.text(f"sli/{name}.canary.csv", sli_csv(points))
        bundle.json("sli/queries.json", found["queries"])

    def events() -> None:
        found = sources.kube().list("v1", "Event", namespace)
        bundle.json("kubernetes/events.json", sorted(found, key=lambda event: str(event.get("lastTimestamp") or event.get("metadata", {}).get("name"))))

    def rollout_history() -> None:
        kube = sources.kube()
        history: Dict[str, Any] = {}
        if params.get("rollout"):
            rollout = kube.get("argoproj.io/v1alpha1", "Rollout", namespace, params["rollout"])
            history["rollout"] = {"metadata": {key: rollout.get("metadata", {}).get(key) for key in ("name", "generation", "annotations")},
                                  "spec": rollout.get("spec"), "status": rollout.get("status")}
        sets = kube.list("apps/v1", "ReplicaSet", namespace)
        history["replicasets"] = sorted(({"name": item["metadata"]["name"],
                                          "revision": (item["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision"),
                                          "labels": item["metadata"].get("labels"), "created": item["metadata"].get("creationTimestamp"),
                                          "images": [c.get("image") for c in
                                                     ((item.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers", [])],
                                          "replicas": (item.get("status") or {}).get("replicas")} for item in sets), key=lambda item: item["name"])
        bundle.json("kubernetes/rollout-history.json", history)

    def helm_history() -> None:
        if not params.get("helm_release"):
            raise NotApplicable("no helm_release given")
        bundle.json("helm/history.json", [revision.as_dict() for revision in sources.helm().history(params["helm_release"])])

    def config_diff() -> None:
        if not params.get("config_diff"):
            raise NotApplicable("no configuration was restored (config_diff not given)")
        with open(params["config_diff"], encoding="utf-8") as handle:
            bundle.text("config/diff.json", handle.read())

    def audit_excerpt() -> None:
        if not params.get("audit_log") or not os.path.exists(params["audit_log"]):
            raise InputError(f"no audit log at {params.get('audit_log')}")
        records = incident_records_from_file(params["audit_log"], record.get("incident_id"))
        bundle.text("audit/excerpt.jsonl", "".join(json.dumps(item, sort_keys=True) + "\n" for item in records))

    def incident_record() -> None:
        with open(record_path, encoding="utf-8") as handle:
            bundle.text("incident/record.json", handle.read())
        markdown = record_path[:-5] + ".md"
        if record_path.endswith(".json") and os.path.exists(markdown):
            with open(markdown, encoding="utf-8") as handle:
                bundle.text("incident/record.md", handle.read())

    collectors = {"pod_logs": pod_logs, "ops_api_logs": ops_api_logs, "sli_series": sli_series, "events": events,
                  "rollout_history": rollout_history, "helm_history": helm_history, "config_diff": config_diff,
                  "audit_excerpt": audit_excerpt, "record": incident_record}
    for kind in KINDS:
        if kind in include:
            bundle.collect(kind, collectors[kind])
    return bundle, start, end


def build_archive(bundle: Bundle, record: Mapping[str, Any], start: float, end: float) -> Tuple[bytes, Dict[str, Any]]:
    listing = manifest(bundle, record, start, end)
    files = dict(bundle.files)
    files["manifest.json"] = (json.dumps(listing, indent=1, sort_keys=True) + "\n").encode()
    mtime = record_times(record)["started"] or start
    return tar_bytes(files, mtime), listing


def file_sha256(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None
