# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the planned procedure's results judge its checklist lines (one function per line id).

The results are those of playbooks/planned-rollback.yml by role: ``planned_rollback`` (plan, verification, announcement,
execution, validation: see roles/planned_rollback/tasks/result.yml) and the method's role, ``helm_rollback``,
``k8s_rollback`` or ``argo_rollback`` (or ``canary_rollback`` for the ops API). A command line of the Helm or kubectl
section that the chosen method does not use is ``ok`` with "not needed" and the method that was used instead.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from ansible_collections.ofm.rollback.plugins.plugin_utils import checklist_rules_config
from ansible_collections.ofm.rollback.plugins.plugin_utils.checklist import NotReached, Rule, Verdict, failed, manual, ok


def _planned(results: Mapping[str, Any]) -> dict[str, Any]:
    found = results.get("planned_rollback") or {}
    if not found:
        raise NotReached("the planned procedure did not start")
    return found.get("evidence") or {}


def _stopped(evidence: Mapping[str, Any]) -> str:
    failure = evidence.get("failure") or {}
    return f"the run stopped earlier ({failure.get('task')}: {failure.get('msg')})" if failure else "the run stopped earlier"


def change_window(results: Mapping[str, Any]) -> Verdict:
    evidence = _planned(results)
    window = evidence.get("window") or {}
    if not window:
        raise NotReached(_stopped(evidence))
    seen = f"now {window.get('now')}, window {window.get('window')}"
    if window.get("inside"):
        return ok(seen)
    if evidence.get("override_window") and str(evidence.get("override_reason") or "").strip():
        return ok(f"{seen} (outside; opens {window.get('opens_at')}) - OVERRIDDEN, reason: {evidence['override_reason']}")
    return failed(f"{seen} (outside; opens {window.get('opens_at')})")


def team_availability(results: Mapping[str, Any]) -> Verdict:
    people = _planned(results).get("key_personnel") or []
    if people:
        return manual(f"Confirm that the key personnel are available for the whole change: {', '.join(people)}.")
    return manual("Confirm that the key personnel are available for the whole change (set planned_rollback_key_personnel to list them).")


def rollback_reason(results: Mapping[str, Any]) -> Verdict:
    reason = str(_planned(results).get("reason") or "").strip()
    return ok(reason) if reason else failed("no rollback_reason given")


def communication(results: Mapping[str, Any]) -> Verdict:
    evidence = _planned(results)
    announcement = evidence.get("announcement")
    channel = evidence.get("channel") or "Slack"
    if not announcement:
        raise NotReached(_stopped(evidence))
    if results.get("check_mode"):
        return ok(f"would be posted to {channel} (check mode)")
    if announcement.get("delivered"):
        return ok(f"Slack {channel}: start message delivered")
    reason = (announcement.get("error") or {}).get("reason") or announcement.get("msg") or "no Slack configured"
    return manual(f"Notify the stakeholders of the planned rollback by hand ({channel}): {(announcement.get('payload') or {}).get('text') or ''}".rstrip(": "),
                  f"NOT delivered ({reason})")


def backup_verification(results: Mapping[str, Any]) -> Verdict:
    evidence = _planned(results)
    verify = evidence.get("verify") or {}
    if not verify.get("started"):
        raise NotReached(_stopped(evidence))
    if not verify.get("done"):
        return failed((evidence.get("failure") or {}).get("msg") or "the verification failed")
    target = f"target {verify.get('target') or 'unknown'} exists"
    registry = verify.get("registry")
    if registry:
        return ok(f"{target}; in the registry: {', '.join(image.get('image', '?') for image in registry.get('images') or [])}")
    images = ", ".join(verify.get("images") or []) or "see the chart values"
    how = "set planned_rollback_registry_url" if not verify.get("registry_url") else "list them in rollback_images"
    return manual(f"Confirm that the target's images ({images}) can be pulled from the registry ({how} to automate this).", target)


def initiate_rollback(results: Mapping[str, Any]) -> Verdict:
    evidence = _planned(results)
    execute = evidence.get("execute") or {}
    if not execute.get("started"):
        raise NotReached(_stopped(evidence))
    if not execute.get("done"):
        return failed((evidence.get("failure") or {}).get("msg") or "the rollback failed")
    changes = "; ".join(execute.get("changes") or []) or "nothing to change, already on the target"
    return ok(f"method {evidence.get('method')}: {changes}")


def monitor_progress(results: Mapping[str, Any]) -> Verdict:
    evidence = _planned(results)
    method = evidence.get("method")
    execute = evidence.get("execute") or {}
    if method == "ops_api" and not evidence.get("argo_rollout"):
        return manual("Watch the Argo Rollouts progress in its dashboard (kubectl argo rollouts get rollout <name> --watch); set "
                      "planned_rollback_argo_rollout to automate this.", "the traffic was watched until all on stable")
    if not execute.get("done"):
        raise NotReached(_stopped(evidence))
    if method == "argo":
        return ok(f"argo_rollout waited for Healthy: {_phase(results, 'argo_rollback').get('phase') or 'not reached'}")
    if method == "helm":
        return ok("helm rollback --wait: resources ready")
    if method == "kubectl":
        waited = _phase(results, "k8s_rollback").get("undo_status") or []
        return ok("k8s_rollout_undo waited for the rollout: " + "; ".join(str(status) for status in waited))
    return ok(f"Rollout {evidence.get('argo_rollout')} {evidence.get('ops_argo_phase') or 'not reached'}")


def _phase(results: Mapping[str, Any], role: str) -> dict[str, Any]:
    return (results.get(role) or {}).get("evidence") or {}


def validate_health(results: Mapping[str, Any]) -> Verdict:
    evidence = _planned(results)
    validate = evidence.get("validate") or {}
    if not validate.get("started"):
        raise NotReached(_stopped(evidence))
    method = evidence.get("method")
    if method in ("kubectl", "helm"):
        ready = _phase(results, "k8s_rollback").get("rollout") if method == "kubectl" else validate.get("rollout")
        ready = ready or []
        if not ready:
            return manual("Check the health of the stable version (set planned_rollback_health_name to automate this).",
                          "no workload to check")
        seen = "; ".join(str(item.get("message")) for item in ready)
        return ok(seen) if all(item.get("ready") for item in ready) else failed(seen)
    if method == "argo":
        phase = _phase(results, "argo_rollback").get("phase") or "unknown"
        return ok(f"Rollout {phase}") if phase == "Healthy" else failed(f"Rollout {phase}")
    traffic = validate.get("traffic") or {}
    weight = (traffic.get("configured") or {}).get("canary_weight", "unknown")
    argo_phase = evidence.get("ops_argo_phase")
    seen = f"canary weight {weight}" + (f", Rollout {evidence.get('argo_rollout')} {argo_phase}" if argo_phase else "")
    healthy = (traffic.get("all_on_stable") or results.get("check_mode")) and (argo_phase or "Healthy") == "Healthy"
    return ok(seen) if healthy else failed(seen)


def smoke_tests(results: Mapping[str, Any]) -> Verdict:
    evidence = _planned(results)
    validate = evidence.get("validate") or {}
    if not validate.get("started"):
        raise NotReached(_stopped(evidence))
    if not evidence.get("smoke_tests"):
        return manual("Run the critical path smoke tests by hand (list them in planned_rollback_smoke_tests to automate this).")
    if results.get("check_mode"):
        return manual("Run the critical path smoke tests after the rollback.", "check mode: not run")
    runs = [_smoke(run) for run in validate.get("smoke") or []]
    bad = [run for run in runs if not run["passed"]]
    seen = f"{len(runs) - len(bad)} of {len(runs)} passed"
    return failed(f"{seen}; FAILED: " + "; ".join(f"{run['name']}: {run['detail']}" for run in bad)) if bad else ok(seen)


def _smoke(run: Mapping[str, Any]) -> dict[str, Any]:
    """One smoke test as ansible.builtin.uri returned it: the status it expected, and the body matching the regex if given."""
    item = run.get("item") or {}
    wanted = int(item.get("status", 200))
    status = run.get("status", -1)
    regex = item.get("body_regex")
    body_ok = regex is None or re.search(regex, run.get("content") or "") is not None
    detail = f"HTTP {status}" + (f" (expected {wanted})" if status != wanted else "")
    detail += "" if body_ok else f", body does not match /{regex}/"
    detail += f": {run.get('msg')}" if status == -1 else ""
    return {"name": item.get("name") or item.get("url"), "passed": status == wanted and body_ok, "detail": detail}


def full_validation(results: Mapping[str, Any]) -> Verdict:
    evidence = _planned(results)
    command = evidence.get("test_command") or ""
    if not command:
        return manual("Run the comprehensive test suite by hand (set planned_rollback_test_command to automate this).")
    suite = (evidence.get("validate") or {}).get("suite")
    if results.get("check_mode"):
        return manual(f"Run '{command}' after the rollback.", "check mode: not run")
    if not suite:
        raise NotReached(_stopped(evidence))
    return ok(f"'{command}' exited 0") if suite.get("rc") == 0 else failed(f"'{command}' exited {suite.get('rc')}")


def _method_line(method: str, judge: Rule) -> Rule:
    def rule(results: Mapping[str, Any]) -> Verdict:
        used = _planned(results).get("method")
        if used != method:
            return ok(f"not needed: method {used} rolled back instead (planned_rollback_method={method} runs it)")
        return judge(results)
    return rule


def _helm_undo(helm: Mapping[str, Any]) -> dict[str, Any]:
    """What the helm_rollback role did, in the terms of :func:`_undo`."""
    result = helm.get("result") or {}
    return {"to_revision": str(helm.get("target") or "previous").isdigit(), "name": helm.get("release"),
            "revision": (result.get("target_revision") or {}).get("revision", "?"), "changed": result.get("changed")}


def _kubectl_undo(kubectl: Mapping[str, Any]) -> dict[str, Any]:
    """What the k8s_rollback role did, in the terms of :func:`_undo`."""
    return {"to_revision": bool(kubectl.get("to_revision")), "name": kubectl.get("workload"),
            "revision": (kubectl.get("target") or {}).get("revision", "?"), "changed": kubectl.get("changed")}


def _undo(role: str, read: Callable[[Mapping[str, Any]], dict[str, Any]], to_revision: bool) -> Rule:
    """The checklist's rollback command of ``role`` (helm rollback, kubectl rollout undo), to the previous revision or, with
    ``to_revision``, to a given one: ok with where it went, or "not needed" when the run went the other way."""
    def rule(results: Mapping[str, Any]) -> Verdict:
        evidence = _phase(results, role)
        if not evidence:
            raise NotReached(_stopped(_planned(results)))
        done = read(evidence)
        if done["to_revision"] != to_revision:
            other = "to a given revision (rollback_to_revision)" if not to_revision else "to the previous revision"
            return ok(f"not needed: the rollback went {other}")
        return ok(f"{done['name']} to revision {done['revision']}" + (" (rolled back)" if done["changed"] else " (already there)"))
    return rule


def _helm_history(results: Mapping[str, Any]) -> Verdict:
    current = _phase(results, "helm_rollback").get("history") or {}
    if not current:
        raise NotReached(_stopped(_planned(results)))
    release = _phase(results, "helm_rollback").get("release")
    return ok(f"{release}: revision {current.get('revision')} {current.get('status')}: {current.get('description')}")


def _kubectl_status(results: Mapping[str, Any]) -> Verdict:
    rollout = _phase(results, "k8s_rollback").get("rollout") or []
    if not rollout:
        raise NotReached(_stopped(_planned(results)))
    seen = "; ".join(str(status.get("message")) for status in rollout)
    return ok(seen) if all(status.get("ready") for status in rollout) else failed(seen)


def outcome(results: Mapping[str, Any], _lines: Mapping[str, Mapping[str, Any]]) -> str:
    """The run's outcome in one line: the step that failed, else whether anything was rolled back (a run that reached the
    end was validated: the validation fails the run otherwise)."""
    found = results.get("planned_rollback") or {}
    if not found:
        return "FAILED: the planned procedure did not start"
    failure = (found.get("evidence") or {}).get("failure")
    if failure:
        return f"FAILED: {failure.get('task')}: {failure.get('msg')}"
    return "rolled back and validated" if found.get("changes") else "nothing to roll back: already on the target, validated"


def texts(results: Mapping[str, Any], lines: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What the planned_rollback role prints besides the lines, decided here instead of in Jinja: ``window`` (the change
    window and whether the run was outside it, overridden), ``changed`` (one line per change, or "nothing") and ``message``
    (the outcome, the changes and the manual steps left, for the closing Slack message)."""
    found = results.get("planned_rollback") or {}
    changes = list(found.get("changes") or [])
    left = [line["title"] for line in lines.values() if line["owned"] and line["status"] == "manual"]
    message = f"planned rollback {outcome(results, lines)}." + (f" Changed: {'; '.join(changes)}." if changes else "")
    return {"window": _window(found.get("evidence") or {}), "changed": changes or ["nothing"],
            "message": f"{message} Manual steps left: {', '.join(left) or 'none'}."}


def _window(evidence: Mapping[str, Any]) -> str:
    window = evidence.get("window") or {}
    if not window:
        return "not checked"
    if window.get("inside"):
        return str(window.get("window"))
    overridden = f", OVERRIDDEN: {evidence.get('override_reason')}" if evidence.get("override_window") else ""
    return f"{window.get('window')} - OUTSIDE{overridden}"


RULES: dict[str, Rule] = {
    "planned.change-window": change_window,
    "planned.team-availability": team_availability,
    "planned.rollback-reason": rollback_reason,
    "planned.communication": communication,
    "planned.backup-verification": backup_verification,
    "planned.initiate-rollback": initiate_rollback,
    "planned.monitor-progress": monitor_progress,
    "planned.validate-health": validate_health,
    "planned.smoke-tests": smoke_tests,
    "planned.full-validation": full_validation,
    "helm.rollback-previous": _method_line("helm", _undo("helm_rollback", _helm_undo, False)),
    "helm.rollback-to-revision": _method_line("helm", _undo("helm_rollback", _helm_undo, True)),
    "helm.history": _method_line("helm", _helm_history),
    "kubectl.undo": _method_line("kubectl", _undo("k8s_rollback", _kubectl_undo, False)),
    "kubectl.undo-to-revision": _method_line("kubectl", _undo("k8s_rollback", _kubectl_undo, True)),
    "kubectl.status": _method_line("kubectl", _kubectl_status),
    # The configuration lines, judged when the run restored configuration too (rollback_config: true).
    **checklist_rules_config.RULES,
}
