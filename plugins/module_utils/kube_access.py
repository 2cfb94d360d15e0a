# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the caller may do in a Kubernetes cluster, asked of the cluster itself: one SelfSubjectAccessReview per check.

``checks_from_params`` validates the checks (or expands the ``emergency_fallback`` preset into the exact verbs the emergency
rollback's Kubernetes paths use); ``review`` asks the API server (``authorization.k8s.io/v1``) and returns each answer;
``whoami`` asks who the credentials are (``authentication.k8s.io/v1``), for the record.
No AnsibleModule in here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import call_mapped

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
PRESETS = ("emergency_fallback",)
PRESET_OPTIONS = ("rollout", "canary_ingress", "canary_deployment")


@dataclass(frozen=True)
class Check:
    """One question: may the caller ``verb`` the ``group``/``resource``(/``subresource``) ``name`` in ``namespace``?"""

    verb: str
    group: str
    resource: str
    namespace: str
    subresource: str = ""
    name: str = ""

    def attributes(self) -> dict[str, str]:
        values = {"verb": self.verb, "group": self.group, "resource": self.resource, "namespace": self.namespace,
                  "subresource": self.subresource, "name": self.name}
        return {key: value for key, value in values.items() if value or key == "group"}

    def describe(self) -> str:
        kind = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        group = f"{self.group}/" if self.group else ""
        return f"{self.verb} {group}{kind}{' ' + self.name if self.name else ''} in {self.namespace}"


def emergency_fallback(namespace: str, rollout: str, canary_ingress: str, canary_deployment: str) -> list[Check]:
    """Every request of the emergency rollback's Kubernetes paths, in the order they send them.

    ofm.rollback.argo_rollout: abort reads the Rollout, patches its ``status`` subresource and reads it until Degraded; undo
    to stable reads it, lists the ReplicaSets (its history), patches the Rollout (a JSON patch of its template) and reads it
    until Healthy. ofm.rollback.canary_ingress: reads the Ingress and the Deployment (the Deployment itself, not its scale),
    patches the Ingress's weight annotation, then patches the Deployment's ``scale`` subresource.
    """
    return [
        Check("get", "argoproj.io", "rollouts", namespace, name=rollout),
        Check("patch", "argoproj.io", "rollouts", namespace, "status", rollout),
        Check("list", "apps", "replicasets", namespace),
        Check("patch", "argoproj.io", "rollouts", namespace, name=rollout),
        Check("get", "networking.k8s.io", "ingresses", namespace, name=canary_ingress),
        Check("get", "apps", "deployments", namespace, name=canary_deployment),
        Check("patch", "networking.k8s.io", "ingresses", namespace, name=canary_ingress),
        Check("patch", "apps", "deployments", namespace, "scale", canary_deployment),
    ]


def checks_from_params(params: Mapping[str, Any]) -> list[Check]:
    """The checks the options ask for, validated before anything is sent; ``InputError`` names the option."""
    namespace = params.get("namespace") or "default"
    if not params.get("preset"):
        stray = next((option for option in PRESET_OPTIONS if params.get(option)), None)
        if stray:
            raise InputError(f"{stray} is only used with a preset; set preset or leave {stray} out", option=stray,
                             accepted=f"nothing without preset (preset: {', '.join(PRESETS)})")
    if params.get("preset"):
        if params["preset"] not in PRESETS:
            raise InputError(f"unknown preset {params['preset']!r}", option="preset", accepted=PRESETS)
        names = {option: params.get(option) for option in PRESET_OPTIONS}
        for option, value in names.items():
            if not value:
                raise InputError(f"preset {params['preset']} needs {option}", option=option, accepted="the name of the object")
        return emergency_fallback(namespace, **names) + [checks_item(item, index, namespace) for index, item in enumerate(params.get("checks") or [])]
    if not params.get("checks"):
        raise InputError("nothing to check: give checks or a preset", option="checks", accepted="a list of {verb, group, resource, ...}")
    return [checks_item(item, index, namespace) for index, item in enumerate(params["checks"])]


def checks_item(item: Mapping[str, Any], index: int, namespace: str) -> Check:
    option = f"checks[{index}]"
    verb = str(item.get("verb") or "")
    if verb not in VERBS:
        raise InputError(f"{option}.verb {verb!r} is not a Kubernetes verb", option=f"{option}.verb", accepted=VERBS)
    resource = str(item.get("resource") or "").strip()
    if not resource:
        raise InputError(f"{option}.resource is empty", option=f"{option}.resource", accepted="a resource such as deployments or rollouts")
    return Check(verb, str(item.get("group") or ""), resource, str(item.get("namespace") or namespace), str(item.get("subresource") or ""),
                 str(item.get("name") or ""))


@dataclass(frozen=True)
class Answer:
    check: Check
    allowed: bool
    denied: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.check.attributes(), "description": self.check.describe(), "allowed": self.allowed, "denied": self.denied,
                "reason": self.reason}


Create = Callable[[dict[str, Any]], Any]


def review(create: Create, checks: Sequence[Check], target: str, *, retries: int = 2,
           sleep: Callable[[float], None] = time.sleep) -> list[Answer]:
    """One SelfSubjectAccessReview per check through ``create`` (the client's create_self_subject_access_review)."""
    answers = []
    for check in checks:
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": check.attributes()}}
        result = call_mapped(lambda body=body: create(body), "SelfSubjectAccessReview", target, retries=retries, sleep=sleep)
        status = _status(result)
        answers.append(Answer(check, bool(status.get("allowed")), bool(status.get("denied")), str(status.get("reason") or "")))
    return answers


def _status(result: Any) -> dict[str, Any]:
    data: Optional[Any] = result.to_dict() if hasattr(result, "to_dict") else result
    return dict((data or {}).get("status") or {})


def whoami(create: Create, target: str) -> Optional[str]:
    """The user name the cluster sees for these credentials (a SelfSubjectReview, ``authentication.k8s.io/v1``, through
    ``create``), or None when the cluster does not say: the API is older than Kubernetes 1.28 or refuses it. Asked once,
    after the reviews: the name is for the record only, and a failure of its own is not worth a retry or a failed task."""
    try:
        result = call_mapped(lambda: create({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
                             "SelfSubjectReview", target, retries=0, sleep=time.sleep)
    except OfmRollbackError:
        return None
    status = _status(result)
    user_info = status.get("user_info") or status.get("userInfo") or {}
    return str(user_info.get("username") or "") or None
