"""The kinds the test server serves, and the discovery and OpenAPI documents that describe them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SERVER_VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.4-ofm-lab", "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.6", "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    generation: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group_version(self) -> str:
        return self.api_version

    def has_status(self) -> bool:
        return "status" in self.subresources


ALL = ("all",)
RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",), subresources=("status",)),
    ResourceType("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    ResourceType("", "v1", "secrets", "Secret"),
    ResourceType("", "v1", "services", "Service", short_names=("svc",), subresources=("status",), categories=ALL),
    ResourceType("", "v1", "pods", "Pod", short_names=("po",), subresources=("status",), categories=ALL),
    ResourceType("", "v1", "events", "Event", short_names=("ev",)),
    ResourceType("apps", "v1", "deployments", "Deployment", short_names=("deploy",), subresources=("status", "scale"),
                 categories=ALL, generation=True),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), subresources=("status", "scale"),
                 categories=ALL, generation=True),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", short_names=("sts",), subresources=("status", "scale"),
                 categories=ALL, generation=True),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), subresources=("status",), categories=ALL,
                 generation=True),
    ResourceType("apps", "v1", "controllerrevisions", "ControllerRevision"),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease"),
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=("ing",), subresources=("status",), generation=True),
    ResourceType("argoproj.io", "v1alpha1", "rollouts", "Rollout", short_names=("ro",), subresources=("status", "scale"),
                 categories=ALL, generation=True),
    ResourceType("argoproj.io", "v1alpha1", "analysisruns", "AnalysisRun", short_names=("ar",), subresources=("status",),
                 generation=True),
    # OpenShift's Route (an aggregated API of the OpenShift API server on a real cluster, not a CRD: strategic merge patches work).
    ResourceType("route.openshift.io", "v1", "routes", "Route", subresources=("status",), generation=True),
)


NAMESPACES = RESOURCES[0]
# Kinds that are only created, and answered at once, never stored (see rbac.py); in discovery so that clients find them.
REVIEWS: tuple[ResourceType, ...] = (
    ResourceType("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", namespaced=False),
    ResourceType("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", namespaced=False),
)


def find(group: str, version: str, plural: str) -> Optional[ResourceType]:
    for resource in RESOURCES:
        if (resource.group, resource.version, resource.plural) == (group, version, plural):
            return resource
    return None


def by_kind(api_version: str, kind: str) -> Optional[ResourceType]:
    for resource in RESOURCES:
        if resource.api_version == api_version and resource.kind == kind:
            return resource
    return None


def group_versions(kinds: tuple[ResourceType, ...] = RESOURCES) -> dict[str, list[str]]:
    """Group name -> its versions, in table order; the core group is ``""``."""
    groups: dict[str, list[str]] = {}
    for resource in kinds:
        versions = groups.setdefault(resource.group, [])
        if resource.version not in versions:
            versions.append(resource.version)
    return groups


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def api_group_list() -> dict[str, Any]:
    groups = []
    for group, versions in group_versions(RESOURCES + REVIEWS).items():
        if not group:
            continue
        entries = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
        groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> Optional[dict[str, Any]]:
    versions = group_versions(RESOURCES + REVIEWS).get(group)
    if not group or not versions:
        return None
    entries = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def resource_list(group: str, version: str) -> Optional[dict[str, Any]]:
    members = [resource for resource in RESOURCES + REVIEWS if (resource.group, resource.version) == (group, version)]
    if not members:
        return None
    entries: list[dict[str, Any]] = []
    for resource in members:
        entry: dict[str, Any] = {"name": resource.plural, "singularName": resource.singular, "namespaced": resource.namespaced,
                                 "kind": resource.kind, "verbs": ["create"] if resource in REVIEWS else VERBS}
        if resource.short_names:
            entry["shortNames"] = list(resource.short_names)
        if resource.categories:
            entry["categories"] = list(resource.categories)
        entries.append(entry)
        for sub in resource.subresources:
            sub_entry: dict[str, Any] = {"name": f"{resource.plural}/{sub}", "singularName": "", "namespaced": resource.namespaced,
                                         "kind": resource.kind, "verbs": ["get", "patch", "update"]}
            if sub == "scale":
                sub_entry.update(group="autoscaling", version="v1", kind="Scale")
            entries.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": members[0].api_version, "resources": entries}


def openapi_v3_index() -> dict[str, Any]:
    """``/openapi/v3``: one document per group version (``api/v1``, ``apis/apps/v1`` ...)."""
    paths = {}
    for group, versions in group_versions().items():
        for version in versions:
            key = f"apis/{group}/{version}" if group else f"api/{version}"
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash=0"}
    return {"paths": paths}


def openapi_v3_document(group: str, version: str) -> Optional[dict[str, Any]]:
    """A minimal OpenAPI v3 document for one group version.

    It lists every resource's PATCH operation with its ``x-kubernetes-group-version-kind`` and the
    ``fieldValidation`` query parameter, which is what kubectl reads to decide that the server validates
    fields itself (so kubectl skips client-side schema validation). It has no schemas, so kubectl builds
    strategic merge patches from its compiled-in types, as it does for a server without OpenAPI.
    """
    members = [resource for resource in RESOURCES if (resource.group, resource.version) == (group, version)]
    if not members:
        return None
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    parameters = [{"name": name, "in": "query", "schema": {"type": "string"}}
                  for name in ("dryRun", "fieldManager", "fieldValidation", "force")]
    paths = {}
    for resource in members:
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        gvk = {"group": group, "version": version, "kind": resource.kind}
        operation = {"operationId": f"patch{resource.kind}", "parameters": parameters, "x-kubernetes-action": "patch",
                     "x-kubernetes-group-version-kind": gvk, "responses": {"200": {"description": "OK"}}}
        paths[f"{prefix}{scope}/{resource.plural}/{{name}}"] = {"patch": operation}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]}, "paths": paths,
            "components": {"schemas": {}}}
