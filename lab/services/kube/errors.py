"""Kubernetes ``Status`` error bodies, shaped exactly as the real API server sends them."""
from __future__ import annotations

from typing import Any, Optional


class ApiError(Exception):
    """A request the API server refuses; ``status()`` is the body it answers with."""

    def __init__(self, code: int, reason: str, message: str, details: Optional[dict[str, Any]] = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def qualified(plural: str, group: str) -> str:
    """``deployments.apps`` or, in the core group, ``configmaps``."""
    return f"{plural}.{group}" if group else plural


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified(plural, group)} "{name}" not found', _details(name, group, plural))


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{qualified(plural, group)} "{name}" already exists', _details(name, group, plural))


def conflict(plural: str, group: str, name: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again", _details(name, group, plural))


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid; ``causes`` are (field, kind of problem e.g. ``Required value``, detail) triples."""
    texts = [f"{field}: {problem}" + (f": {detail}" if detail else "") for field, problem, detail in causes]
    message = f'{qualified(kind, group)} "{name}" is invalid: ' + (texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]")
    details = _details(name, group, kind)
    details["causes"] = [{"reason": _cause_reason(problem), "message": text, "field": field}
                         for (field, problem, _detail), text in zip(causes, texts)]
    return ApiError(422, "Invalid", message, details)


def _cause_reason(problem: str) -> str:
    return {"Required value": "FieldValueRequired", "Unsupported value": "FieldValueNotSupported",
            "Forbidden": "FieldValueForbidden", "Duplicate value": "FieldValueDuplicate"}.get(problem, "FieldValueInvalid")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(user: str, verb: str, plural: str, group: str, name: str, namespace: str, subresource: str = "") -> ApiError:
    """403 as the RBAC authorizer words it (``User "x" cannot patch resource "deployments/scale" in API group "apps" ...``)."""
    resource = f"{plural}/{subresource}" if subresource else plural
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    subject = f'{qualified(plural, group)} "{name}"' if name else qualified(plural, group)
    message = f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group "{group}"{where}'
    return ApiError(403, "Forbidden", message, _details(name, group, plural))


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: '
                    f'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, '
                    f'application/strategic-merge-patch+json (got "{content_type}")')


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]})
