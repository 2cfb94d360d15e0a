"""The patch formats of the Kubernetes API: JSON merge patch, JSON patch and strategic merge patch."""
from __future__ import annotations

import copy
from typing import Any, Optional

from lab.services.kube.errors import ApiError, bad_request

# Merge keys of the lists the served kinds use (k8s.io/api ``patchMergeKey`` tags); other lists are replaced.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name", "volumes": "name",
    "imagePullSecrets": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "hostAliases": "ip",
    "conditions": "type", "ownerReferences": "uid", "readinessGates": "conditionType", "resourceClaims": "name",
}
SET_LISTS = ("finalizers",)
DIRECTIVE = "$patch"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f'json patch path "{path}" must start with "/"')
    return [_unescape(token) for token in path[1:].split("/")]


def _index(container: list[Any], token: str, path: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or int(token) > len(container) - (0 if allow_end else 1):
        raise ApiError(422, "Invalid", f'the server rejected our request due to an error in our request: index "{token}" of path "{path}" is out of range')
    return int(token)


def _parent(document: Any, tokens: list[str], path: str) -> Any:
    node = document
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, path, allow_end=False)]
        else:
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: "
                           f'doc is missing path: "{path}": missing value')
    return node


def _get(document: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return document
    parent = _parent(document, tokens, path)
    if isinstance(parent, list):
        return parent[_index(parent, tokens[-1], path, allow_end=False)]
    if not isinstance(parent, dict) or tokens[-1] not in parent:
        raise ApiError(422, "Invalid", f'the server rejected our request due to an error in our request: doc is missing key: "{path}": missing value')
    return parent[tokens[-1]]


def _remove(document: Any, path: str) -> Any:
    tokens = _pointer(path)
    parent = _parent(document, tokens, path)
    if isinstance(parent, list):
        return parent.pop(_index(parent, tokens[-1], path, allow_end=False))
    if not isinstance(parent, dict) or tokens[-1] not in parent:
        raise ApiError(422, "Invalid", f'the server rejected our request due to an error in our request: '
                       f'remove operation does not apply: doc is missing path: "{path}": missing value')
    return parent.pop(tokens[-1])


def _add(document: Any, path: str, value: Any, replace: bool) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(document, tokens, path)
    if isinstance(parent, list):
        position = _index(parent, tokens[-1], path, allow_end=not replace)
        if replace:
            parent[position] = value
        else:
            parent.insert(position, value)
    elif isinstance(parent, dict):
        if replace and tokens[-1] not in parent:
            raise ApiError(422, "Invalid", f'the server rejected our request due to an error in our request: '
                           f'replace operation does not apply: doc is missing key: {path}: missing value')
        parent[tokens[-1]] = value
    else:
        raise ApiError(422, "Invalid", f'the server rejected our request due to an error in our request: doc is missing path: "{path}"')
    return document


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    if not isinstance(operations, list):
        raise bad_request("json patch body must be a JSON array of operations")
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise bad_request(f"json patch operation {operation!r} needs 'op' and 'path'")
        op, path = operation["op"], operation["path"]
        if op in ("add", "replace"):
            result = _add(result, path, copy.deepcopy(operation.get("value")), replace=op == "replace")
        elif op == "remove":
            _remove(result, path)
        elif op in ("move", "copy"):
            value = _remove(result, operation.get("from", "")) if op == "move" else copy.deepcopy(_get(result, operation.get("from", "")))
            result = _add(result, path, value, replace=False)
        elif op == "test":
            if _get(result, path) != operation.get("value"):
                raise ApiError(422, "Invalid", f'the server rejected our request due to an error in our request: testing value {path} failed: test failed')
        else:
            raise bad_request(f'json patch operation "{op}" is not one of add, remove, replace, move, copy, test')
    return result


def _merge_key(field: str, items: list[Any]) -> Optional[str]:
    if field == "ports":
        return "containerPort" if any(isinstance(item, dict) and "containerPort" in item for item in items) else "port"
    return MERGE_KEYS.get(field)


def _merge_keyed_list(original: list[Any], patch: list[Any], key: str) -> list[Any]:
    if any(isinstance(item, dict) and item.get(DIRECTIVE) == "replace" for item in patch):
        return [strip_directives(item) for item in patch if not (isinstance(item, dict) and item.get(DIRECTIVE) == "replace")]
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            result.append(copy.deepcopy(item))
            continue
        position = next((i for i, existing in enumerate(result) if isinstance(existing, dict) and existing.get(key) == item.get(key)), None)
        if item.get(DIRECTIVE) == "delete":
            if position is not None:
                result.pop(position)
        elif position is None:
            result.append(strip_directives(item))
        else:
            result[position] = strategic_merge_patch(result[position], item)
    return result


def _merge_list(field: str, original: Any, patch: list[Any]) -> list[Any]:
    key = _merge_key(field, patch + (original if isinstance(original, list) else []))
    if key and isinstance(original, list):
        return _merge_keyed_list(original, patch, key)
    if field in SET_LISTS and isinstance(original, list):
        return original + [item for item in patch if item not in original]
    return [strip_directives(item) for item in patch if not (isinstance(item, dict) and item.get(DIRECTIVE) == "replace")]


def strip_directives(value: Any) -> Any:
    """A copy of ``value`` without ``$patch``, ``$retainKeys``, ``$setElementOrder/...`` and similar keys."""
    if isinstance(value, dict):
        return {key: strip_directives(item) for key, item in value.items() if not key.startswith("$")}
    if isinstance(value, list):
        return [strip_directives(item) for item in value]
    return copy.deepcopy(value)


def strategic_merge_patch(original: Any, patch: Any) -> Any:
    """Kubernetes strategic merge patch for the fields of the served kinds.

    Lists with a merge key (containers, env, volumes ... by ``name``, container ports by ``containerPort``)
    are merged item by item; ``$patch: delete`` removes an item, ``$patch: replace`` replaces a map or a
    list; ``$deleteFromPrimitiveList/<field>`` removes values from a list of scalars; other lists replace.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get(DIRECTIVE) == "replace":
        return strip_directives(patch)
    if patch.get(DIRECTIVE) == "delete":
        return None
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [item for item in result.get(field) or [] if item not in (value or [])]
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    return result
