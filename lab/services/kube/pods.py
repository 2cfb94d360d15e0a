"""Pods and their logs, derived from the Deployments (the test server runs no pods).

``GET /api/v1/namespaces/{ns}/pods[?labelSelector=...]`` lists one Running pod per ready replica of each Deployment, named
``<deployment>-<hash of its template>-<n>``, with the template's labels; ``GET .../pods/{name}`` reads one; and
``GET .../pods/{name}/log`` (``tailLines``, ``sinceSeconds``, ``timestamps``, ``container``) answers the application log of
the pod's ``version`` (the lab's real OFM API writes it: ``--pod-log canary=<file>``) as text, as the kubelet does.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Optional

from lab.services.kube import resources
from lab.services.kube.errors import ApiError
from lab.services.kube.store import Store

POD_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+))?(?:/(log))?/?$")
DEPLOYMENTS = resources.find("apps", "v1", "deployments")
MAX_LOG_BYTES = 4 * 1024 * 1024


def matches(path: str) -> Optional[re.Match]:
    return POD_PATH.match(path)


def _selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    for term in filter(None, (part.strip() for part in (selector or "").split(","))):
        key, _eq, value = term.partition("=")
        if labels.get(key.rstrip("!")) != value.lstrip("="):
            return False
    return True


def pods(store: Store, namespace: str) -> list[dict[str, Any]]:
    found = []
    deployments, _version = store.list(DEPLOYMENTS, namespace)
    for deployment in deployments:
        template = (deployment.get("spec") or {}).get("template") or {}
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        digest = hashlib.sha1(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
        containers = [{"name": c.get("name"), "image": c.get("image")} for c in (template.get("spec") or {}).get("containers") or []]
        for index in range(ready):
            name = f"{deployment['metadata']['name']}-{digest}-{index}"
            found.append({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": name, "namespace": namespace, "labels": labels,
                                       "ownerReferences": [{"kind": "ReplicaSet", "name": f"{deployment['metadata']['name']}-{digest}"}]},
                          "spec": {"containers": containers}, "status": {"phase": "Running"}})
    return found


def answer(store: Store, match: re.Match, query: Mapping[str, str], logs: Mapping[str, Path]) -> tuple[int, Any]:
    namespace, name, log = match.groups()
    found = pods(store, namespace)
    if name is None:
        items = [pod for pod in found if _selector_matches(query.get("labelSelector", ""), pod["metadata"]["labels"])]
        return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": items}
    pod = next((pod for pod in found if pod["metadata"]["name"] == name), None)
    if pod is None:
        raise ApiError(404, "NotFound", f'pods "{name}" not found', details={"name": name, "kind": "pods"})
    if not log:
        return 200, pod
    path = logs.get(pod["metadata"]["labels"].get("version", ""))
    text = ""
    if path and path.exists():
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - MAX_LOG_BYTES))
            text = handle.read().decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if query.get("sinceSeconds"):
        cutoff = time.time() - float(query["sinceSeconds"])
        lines = [line for line in lines if _line_time(line) is None or _line_time(line) >= cutoff]
    if query.get("tailLines"):
        lines = lines[-int(query["tailLines"]):]
    return 200, "".join(line + "\n" for line in lines)


def _line_time(line: str) -> Optional[float]:
    match = re.match(r"^(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d))", line)
    if not match:
        return None
    text = match.group(1)
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text).timestamp()
    except ValueError:
        return None
