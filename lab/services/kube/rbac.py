"""The test server's RBAC: bearer tokens mapped to a user and its rules, answering SelfSubjectAccessReviews.

A rule is ``{"verbs": [...], "apiGroups": [...], "resources": [...], "resourceNames": [...]?, "namespaces": [...]?}`` with
``"*"`` as a wildcard and ``resource/subresource`` names as RBAC writes them (``deployments/scale``). Requests without a
token are the cluster admin (the lab's kubeconfig has none: kubectl sends no token over plain HTTP). The rules answer
``SelfSubjectAccessReview``s, and ``SelfSubjectReview``s say the user's name; other requests are checked against them only
when the server runs with ``--rbac-enforce`` (403 Forbidden otherwise).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SSR_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@dataclass(frozen=True)
class User:
    name: str
    rules: list[dict[str, Any]] = field(default_factory=list)
    admin: bool = False

    @property
    def groups(self) -> list[str]:
        return ["system:masters", "system:authenticated"] if self.admin else ["system:authenticated"]


ADMIN = User("system:admin", admin=True)


def load(path: Optional[Path]) -> dict[str, User]:
    """Token -> user, from the JSON file ``{token: {"user": name, "rules": [...]}}``."""
    if path is None:
        return {}
    return {token: User(entry["user"], list(entry.get("rules") or [])) for token, entry in json.loads(path.read_text()).items()}


def _matches(values: Any, wanted: str) -> bool:
    values = values or []
    return "*" in values or wanted in values


def allows(user: User, attributes: dict[str, Any]) -> tuple[bool, str]:
    """Whether ``user`` may do what ``attributes`` (a resourceAttributes) says, and why."""
    if user.admin:
        return True, "cluster admin (no token)"
    resource = attributes.get("resource") or ""
    if attributes.get("subresource"):
        resource = f"{resource}/{attributes['subresource']}"
    for index, rule in enumerate(user.rules):
        if (_matches(rule.get("verbs"), attributes.get("verb") or "") and _matches(rule.get("apiGroups"), attributes.get("group") or "")
                and _matches(rule.get("resources"), resource)
                and (not rule.get("resourceNames") or not attributes.get("name") or _matches(rule["resourceNames"], attributes["name"]))
                and (not rule.get("namespaces") or _matches(rule["namespaces"], attributes.get("namespace") or ""))):
            return True, f"RBAC: allowed by rule {index} of {user.name}"
    return False, f"RBAC: no rule of {user.name} allows {attributes.get('verb')} {resource} in {attributes.get('namespace') or 'the cluster'}"


def review(user: User, body: dict[str, Any]) -> dict[str, Any]:
    """The answer to a SelfSubjectAccessReview ``body`` (spec.resourceAttributes)."""
    attributes = ((body or {}).get("spec") or {}).get("resourceAttributes") or {}
    allowed, reason = allows(user, attributes)
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "metadata": {"creationTimestamp": None},
            "spec": (body or {}).get("spec") or {}, "status": {"allowed": allowed, **({} if allowed else {"denied": True}), "reason": reason}}


def who(user: User) -> dict[str, Any]:
    """The answer to a SelfSubjectReview: the caller's user info."""
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {"creationTimestamp": None},
            "status": {"userInfo": {"username": user.name, "groups": user.groups}}}
