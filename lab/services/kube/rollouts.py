"""The Argo Rollouts controller, canary strategy: steps, pauses, weights, abort, promote and undo.

Status fields and their meaning follow Argo Rollouts v1.x: ``currentPodHash`` is the hash of the desired
template, ``stableRS`` the hash serving as stable, ``currentStepIndex`` the step being executed
(``len(steps)`` when fully promoted), ``pauseConditions`` the pauses a promote clears,
``canary.weights`` the traffic split, ``phase`` Healthy/Progressing/Paused/Degraded.

With ``spec.strategy.canary.trafficRouting.nginx``, the controller writes the canary weight into the
``canary-weight`` annotation of the canary Ingress, as Argo's nginx traffic routing does (0 after an abort).
Argo names the canary Ingress it manages ``<rollout>-<stableIngress>-canary``; the OFM deployment names its own
(``ofm-social-os-api-canary``), so this controller finds it as the Ingress annotated ``canary: "true"`` whose
backend is the Rollout's ``canaryService``.
"""
from __future__ import annotations

import copy
import math
import re
from typing import TYPE_CHECKING, Any, Optional

from lab.services.kube import resources
from lab.services.kube.selectors import selector_string
from lab.services.kube.store import Write
from lab.services.kube.workloads import (ANALYSISRUNS, DEFAULT_PROGRESS_DEADLINE, ROLLOUT_HASH, ROLLOUT_REVISION, ROLLOUTS, annotation_revision,
                                         condition_of, owner_reference, parse_time, rfc3339, set_condition, template_hash)

if TYPE_CHECKING:
    from lab.services.kube.controllers import Controllers

INGRESSES = resources.find("networking.k8s.io", "v1", "ingresses")
NGINX_ANNOTATION_PREFIX = "nginx.ingress.kubernetes.io"
PAUSE_STEP = "CanaryPauseStep"
DEFAULT_ABORT_SCALE_DOWN_DELAY = 30
DURATION = re.compile(r"^(\d+)([smh]?)$")


def parse_duration(value: Any) -> Optional[int]:
    """Seconds of an Argo pause duration (``30``, ``"30s"``, ``"5m"``, ``"1h"``); None when there is none."""
    if value is None:
        return None
    match = DURATION.match(str(value))
    if not match:
        return None
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def steps_of(rollout: dict[str, Any]) -> list[dict[str, Any]]:
    return (((rollout["spec"].get("strategy") or {}).get("canary") or {}).get("steps")) or []


def current_weight(status: dict[str, Any], steps: list[dict[str, Any]]) -> int:
    """Argo's GetCurrentSetWeight: 0 when aborted, 100 past the last step, else the last setWeight so far."""
    if status.get("abort"):
        return 0
    index = status.get("currentStepIndex", len(steps))
    if index >= len(steps):
        return 100
    return next((step["setWeight"] for step in reversed(steps[:index + 1]) if "setWeight" in step), 0)


def reconcile_rollout(ctl: "Controllers", rollout: dict[str, Any]) -> None:
    """One controller pass over a Rollout."""
    if "template" not in rollout["spec"]:
        return
    steps = steps_of(rollout)
    status = copy.deepcopy(rollout.get("status") or {})
    new_rs = ctl.ensure_replicaset(rollout, ctl.owned_replicasets(rollout), ROLLOUT_HASH, ROLLOUT_REVISION)
    digest = new_rs["metadata"]["labels"][ROLLOUT_HASH]
    if status.get("currentPodHash") != digest:
        _start_update(status, digest, len(steps))
    now = ctl.clock()
    if status.get("promoteFull"):
        status["currentStepIndex"] = len(steps)
        for key in ("pauseConditions", "controllerPause"):
            status.pop(key, None)
    if status.get("abort"):
        status.setdefault("abortedAt", rfc3339(now))
        for key in ("pauseConditions", "controllerPause"):
            status.pop(key, None)
    elif not rollout["spec"].get("paused"):
        _advance(ctl, rollout, status, steps, new_rs, now)
    if not status.get("abort") and status.get("currentStepIndex", 0) >= len(steps) and _available(new_rs):
        status["stableRS"] = digest
        status.pop("promoteFull", None)
    _scale(ctl, rollout, status, steps, now)
    _summarise(ctl, rollout, status, steps, now)
    ctl.save(ROLLOUTS, rollout, {**rollout, "status": status})
    _route_nginx(ctl, rollout, status["canary"]["weights"]["canary"]["weight"])


def backend_services(ingress: dict[str, Any]) -> set[str]:
    """The Services an Ingress sends requests to (default backend and every rule path)."""
    spec = ingress.get("spec") or {}
    backends = [spec.get("defaultBackend") or {}] + [path.get("backend") or {} for rule in spec.get("rules") or []
                                                     for path in (rule.get("http") or {}).get("paths") or []]
    return {(backend.get("service") or {}).get("name") for backend in backends} - {None}


def _route_nginx(ctl: "Controllers", rollout: dict[str, Any], weight: int) -> None:
    """nginx traffic routing: the canary Ingress of the Rollout's canaryService gets the canary weight."""
    canary = (rollout["spec"].get("strategy") or {}).get("canary") or {}
    nginx = (canary.get("trafficRouting") or {}).get("nginx")
    service = canary.get("canaryService")
    if not isinstance(nginx, dict) or not service:
        return
    prefix = nginx.get("annotationPrefix") or NGINX_ANNOTATION_PREFIX
    weight_key = f"{prefix}/canary-weight"

    def routed(ingress: dict[str, Any]) -> bool:
        annotations = ingress["metadata"].get("annotations") or {}
        return annotations.get(f"{prefix}/canary") == "true" and service in backend_services(ingress)

    ingresses, _revision = ctl.store.list(INGRESSES, rollout["metadata"]["namespace"], routed)
    for ingress in ingresses:
        if ingress["metadata"]["annotations"].get(weight_key) != str(weight):
            wanted = copy.deepcopy(ingress)
            wanted["metadata"]["annotations"][weight_key] = str(weight)
            ctl.store.update(INGRESSES, ingress["metadata"]["namespace"], ingress["metadata"]["name"], wanted)


def _start_update(status: dict[str, Any], digest: str, step_count: int) -> None:
    """A new desired template: start the steps, or skip them for the first version and for a return to stable."""
    status["currentPodHash"] = digest
    if not status.get("stableRS") or status["stableRS"] == digest:
        status["stableRS"] = digest
        status["currentStepIndex"] = step_count
    else:
        status["currentStepIndex"] = 0
    for key in ("abort", "abortedAt", "pauseConditions", "controllerPause", "promoteFull"):
        status.pop(key, None)


def _available(rs: dict[str, Any]) -> bool:
    return (rs.get("status") or {}).get("availableReplicas", 0) >= rs["spec"].get("replicas", 0)


def _advance(ctl: "Controllers", rollout: dict[str, Any], status: dict[str, Any], steps: list[dict[str, Any]],  # pylint: disable=too-many-arguments
             new_rs: dict[str, Any], now: float) -> None:
    """Execute the current step; move to the next one when it is done."""
    index = status.get("currentStepIndex", len(steps))
    if index >= len(steps):
        return
    step = steps[index]
    done = True
    if "setWeight" in step:
        done = _available(new_rs) and new_rs["spec"].get("replicas", 0) > 0 or step["setWeight"] == 0
    elif "pause" in step:
        done = _pause_done(status, step.get("pause") or {}, now)
    elif "analysis" in step:
        _ensure_analysis_run(ctl, rollout, status["currentPodHash"], index, now)
    if done:
        status["currentStepIndex"] = index + 1


def _pause_done(status: dict[str, Any], pause: dict[str, Any], now: float) -> bool:
    conditions = status.get("pauseConditions") or []
    current = next((c for c in conditions if c.get("reason") == PAUSE_STEP), None)
    duration = parse_duration(pause.get("duration"))
    if current is None and status.get("controllerPause"):
        status.pop("controllerPause", None)
        return True
    if current is None:
        status["pauseConditions"] = conditions + [{"reason": PAUSE_STEP, "startTime": rfc3339(now)}]
        status["controllerPause"] = True
        return False
    if duration is not None and now >= parse_time(current["startTime"]) + duration:
        status["pauseConditions"] = [c for c in conditions if c is not current] or None
        if status["pauseConditions"] is None:
            del status["pauseConditions"]
        status.pop("controllerPause", None)
        return True
    return False


def _ensure_analysis_run(ctl: "Controllers", rollout: dict[str, Any], digest: str, index: int, now: float) -> None:
    namespace = rollout["metadata"]["namespace"]
    name = f"{rollout['metadata']['name']}-{digest}-{index}"
    existing, _revision = ctl.store.list(ANALYSISRUNS, namespace, lambda obj: obj["metadata"]["name"] == name)
    if existing:
        return
    analysis = steps_of(rollout)[index].get("analysis") or {}
    run = ctl.store.create(ANALYSISRUNS, namespace, {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": name, "namespace": namespace, "labels": {ROLLOUT_HASH: digest},
                     "ownerReferences": [owner_reference(rollout)]},
        "spec": {"metrics": [{"name": template.get("templateName", "analysis"), "provider": {"job": {}}}
                             for template in analysis.get("templates") or []], "args": analysis.get("args") or []}})
    run["status"] = {"phase": "Successful", "startedAt": rfc3339(now), "message": "", "dryRunSummary": {}}
    ctl.store.update(ANALYSISRUNS, namespace, name, run, Write(subresource="status"))


def _scale(ctl: "Controllers", rollout: dict[str, Any], status: dict[str, Any], steps: list[dict[str, Any]], now: float) -> None:
    replicas = rollout["spec"].get("replicas", 1)
    weight = current_weight(status, steps)
    canary_delay = ((rollout["spec"].get("strategy") or {}).get("canary") or {}).get("abortScaleDownDelaySeconds", DEFAULT_ABORT_SCALE_DOWN_DELAY)
    for rs in ctl.owned_replicasets(rollout):
        digest = rs["metadata"]["labels"].get(ROLLOUT_HASH)
        if digest == status["stableRS"]:
            wanted = replicas
        elif digest == status["currentPodHash"] and not status.get("abort"):
            wanted = math.ceil(replicas * weight / 100)
        elif digest == status["currentPodHash"] and now < parse_time(status.get("abortedAt")) + canary_delay:
            wanted = rs["spec"].get("replicas", 0)
        else:
            wanted = 0
        ctl.scale(rs, wanted)


def _summarise(ctl: "Controllers", rollout: dict[str, Any], status: dict[str, Any], steps: list[dict[str, Any]], now: float) -> None:
    """Counts, weights, phase, message and conditions, as Argo reports them."""
    owned = ctl.owned_replicasets(rollout)
    replicas = rollout["spec"].get("replicas", 1)
    new_rs = next(rs for rs in owned if rs["metadata"]["labels"].get(ROLLOUT_HASH) == status["currentPodHash"])
    totals = {key: sum((rs.get("status") or {}).get(key, 0) for rs in owned) for key in ("replicas", "readyReplicas", "availableReplicas")}
    revision = annotation_revision(new_rs, ROLLOUT_REVISION)
    weight = 0 if status["stableRS"] == status["currentPodHash"] else current_weight(status, steps)
    services = (rollout["spec"].get("strategy") or {}).get("canary") or {}
    status.update(
        observedGeneration=str(rollout["metadata"].get("generation", 1)), replicas=totals["replicas"], HPAReplicas=totals["replicas"],
        updatedReplicas=(new_rs.get("status") or {}).get("replicas", 0), readyReplicas=totals["readyReplicas"],
        availableReplicas=totals["availableReplicas"], selector=selector_string(rollout["spec"].get("selector")),
        canary={"weights": {
            "canary": {"podTemplateHash": status["currentPodHash"], "serviceName": services.get("canaryService", ""), "weight": weight},
            "stable": {"podTemplateHash": status["stableRS"], "serviceName": services.get("stableService", ""), "weight": 100 - weight}}})
    if steps:
        status["currentStepHash"] = template_hash({"steps": steps})
    complete = status["stableRS"] == status["currentPodHash"] and _available(new_rs) and totals["replicas"] == replicas
    _conditions(rollout, status, new_rs, revision, complete, totals["availableReplicas"] >= replicas, now)


def _conditions(rollout: dict[str, Any], status: dict[str, Any], new_rs: dict[str, Any], revision: int,  # pylint: disable=too-many-arguments
                complete: bool, available: bool, now: float) -> None:
    conditions = status.setdefault("conditions", [])
    paused = bool(status.get("pauseConditions")) or bool(rollout["spec"].get("paused"))
    name = new_rs["metadata"]["name"]
    progressing = condition_of(status, "Progressing")
    deadline = rollout["spec"].get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
    if status.get("abort"):
        message = f"Rollout aborted update to revision {revision}"
        set_condition(conditions, "Progressing", "False", "RolloutAborted", message, now)
        status.update(phase="Degraded", message=f"RolloutAborted: {message}")
    elif paused:
        set_condition(conditions, "Progressing", "Unknown", "RolloutPaused", "Rollout is paused", now)
        status.update(phase="Paused", message=PAUSE_STEP if status.get("pauseConditions") else "manually paused")
    elif complete:
        set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable", "Rollout has completed successfully", now)
        status["phase"] = "Healthy"
        status.pop("message", None)
    elif progressing.get("reason") == "ProgressDeadlineExceeded" or (
            progressing.get("status") == "True" and progressing.get("reason") == "ReplicaSetUpdated"
            and now - parse_time(progressing.get("lastUpdateTime")) > deadline and not _available(new_rs)):
        message = f'ReplicaSet "{name}" has timed out progressing.'
        set_condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded", message, now)
        status.update(phase="Degraded", message=f"ProgressDeadlineExceeded: {message}")
    else:
        set_condition(conditions, "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.', now,
                      progressed=_available(new_rs))
        status.update(phase="Progressing", message="more replicas need to be updated" if not _available(new_rs)
                      else "waiting for all steps to complete")
    if paused:
        set_condition(conditions, "Paused", "True", "RolloutPaused", "Rollout is paused", now)
    elif condition_of(status, "Paused"):
        set_condition(conditions, "Paused", "False", "RolloutResumed", "Rollout is resumed", now)
    set_condition(conditions, "Available", "True" if available else "False", "AvailableReason",
                  "Rollout has minimum availability" if available else "Rollout does not have minimum availability", now)
    set_condition(conditions, "Completed", "True" if complete else "False", "RolloutCompleted",
                  "Rollout completed update to revision %d (%s): Rollout is completed" % (revision, status["currentPodHash"]) if complete
                  else "Rollout not completed", now)
    healthy = complete and available and not status.get("abort")
    set_condition(conditions, "Healthy", "True" if healthy else "False", "RolloutHealthy",
                  "Rollout is healthy" if healthy else "Rollout is not healthy", now)
