"""The Kubernetes API test server's RBAC: SelfSubjectAccessReviews and SelfSubjectReviews by bearer token, the optional
enforcement on other requests, discovery, and the lab's two RBAC users against the emergency fallback's requests."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils import kube_access
from lab.components.kube_apiserver import SRE_RULES, VIEWER_RULES, rbac_users
from lab.services.kube import protobuf, rbac, seed
from lab.services.kube.controllers import Controllers
from lab.services.kube.store import Store
from lab.services.kube_apiserver import KubeApi

SSAR, SSR = rbac.SSAR_PATH, rbac.SSR_PATH
USERS = {"sre-token": rbac.User("kube-sre", SRE_RULES), "viewer-token": rbac.User("kube-viewer", VIEWER_RULES)}
SCALE = f"/apis/apps/v1/namespaces/{seed.NAMESPACE}/deployments/{seed.CANARY}/scale"


def server(enforce: bool = False, token: str = "") -> KubeApi:
    store = Store()
    controllers = Controllers(store)
    seed.seed(store, controllers.tick)
    return KubeApi(store, controllers, token or None, users=USERS, enforce=enforce)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def ask(api: KubeApi, token: str, **attributes: str):
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}}
    return api.handle("POST", SSAR, {}, bearer(token), json.dumps(body).encode())


def test_a_review_is_answered_for_the_tokens_user():
    api = server()
    allowed = ask(api, "sre-token", verb="patch", group="apps", resource="deployments", subresource="scale", namespace=seed.NAMESPACE,
                  name=seed.CANARY)
    assert allowed.status == 201 and allowed.body["kind"] == "SelfSubjectAccessReview"
    assert allowed.body["status"]["allowed"] is True and "kube-sre" in allowed.body["status"]["reason"]
    assert allowed.body["spec"]["resourceAttributes"]["subresource"] == "scale", "the spec comes back as sent"
    denied = ask(api, "viewer-token", verb="patch", group="apps", resource="deployments", subresource="scale", namespace=seed.NAMESPACE)
    assert denied.body["status"] == {"allowed": False, "denied": True,
                                     "reason": f"RBAC: no rule of kube-viewer allows patch deployments/scale in {seed.NAMESPACE}"}


def test_no_token_is_the_cluster_admin_and_an_unknown_token_is_unauthorized():
    api = server()
    admin = ask(api, "", verb="delete", group="", resource="namespaces")
    assert admin.status == 201 and admin.body["status"]["allowed"] is True
    stranger = ask(api, "nobody", verb="get", group="", resource="pods", namespace="default")
    assert stranger.status == 401 and stranger.body["kind"] == "Status" and stranger.body["reason"] == "Unauthorized"


def test_the_token_file_still_guards_requests_without_an_rbac_token():
    api = server(token="the-one-token")
    assert ask(api, "", verb="get", group="", resource="pods").status == 401
    assert ask(api, "the-one-token", verb="get", group="", resource="pods").body["status"]["allowed"] is True
    assert ask(api, "viewer-token", verb="patch", group="", resource="pods").body["status"]["allowed"] is False


def test_a_selfsubjectreview_names_the_user():
    api = server()
    assert api.handle("POST", SSR, {}, bearer("sre-token"), b"{}").body["status"]["userInfo"]["username"] == "kube-sre"
    assert api.handle("POST", SSR, {}, {}, b"{}").body["status"]["userInfo"]["username"] == "system:admin"


def test_discovery_lists_the_review_apis_without_serving_them_as_objects():
    api = server()
    groups = {group["name"] for group in api.handle("GET", "/apis", {}, {}, b"").body["groups"]}
    assert {"authorization.k8s.io", "authentication.k8s.io", "apps", "argoproj.io"} <= groups
    listing = api.handle("GET", "/apis/authorization.k8s.io/v1", {}, {}, b"").body
    assert listing["resources"] == [{"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview", "namespaced": False,
                                     "kind": "SelfSubjectAccessReview", "verbs": ["create"]}]
    assert api.handle("GET", SSAR, {}, {}, b"").status == 404
    assert "apis/authorization.k8s.io/v1" not in api.handle("GET", "/openapi/v3", {}, {}, b"").body["paths"]


def test_rules_are_enforced_on_other_requests_only_when_asked():
    body = json.dumps({"spec": {"replicas": 0}}).encode()
    headers = {"Content-Type": "application/merge-patch+json"}
    assert server().handle("PATCH", SCALE, {}, {**headers, **bearer("viewer-token")}, body).status == 200
    api = server(enforce=True)
    refused = api.handle("PATCH", SCALE, {}, {**headers, **bearer("viewer-token")}, body)
    assert refused.status == 403 and refused.body["reason"] == "Forbidden"
    assert refused.body["message"] == (f'deployments.apps "{seed.CANARY}" is forbidden: User "kube-viewer" cannot patch resource '
                                       f'"deployments/scale" in API group "apps" in the namespace "{seed.NAMESPACE}"')
    assert api.handle("GET", f"/apis/apps/v1/namespaces/{seed.NAMESPACE}/deployments/{seed.CANARY}", {}, bearer("viewer-token"), b"").status == 200
    assert api.handle("GET", "/apis", {}, bearer("viewer-token"), b"").status == 200, "discovery is open to every user"
    assert api.handle("PATCH", SCALE, {}, {**headers, **bearer("sre-token")}, body).status == 200
    assert api.handle("DELETE", f"/apis/apps/v1/namespaces/{seed.NAMESPACE}/deployments/{seed.CANARY}", {}, bearer("sre-token"), b"").status == 403
    assert api.handle("PATCH", SCALE, {}, headers, body).status == 200, "no token: the cluster admin"


def test_the_lab_sre_may_do_exactly_what_the_fallback_does_in_its_namespace():
    checks = kube_access.emergency_fallback(seed.NAMESPACE, seed.ROLLOUT, seed.CANARY_INGRESS, seed.CANARY)
    sre, viewer = USERS["sre-token"], USERS["viewer-token"]
    assert all(rbac.allows(sre, check.attributes())[0] for check in checks)
    assert not any(rbac.allows(sre, check.attributes())[0] for check in kube_access.emergency_fallback("staging", "r", "i", "d"))
    neighbours = [dict(check.attributes(), verb=verb) for check in checks for verb in ("create", "update", "delete", "watch")]
    neighbours = [attributes for attributes in neighbours if (attributes["verb"], attributes["resource"]) != ("watch", "replicasets")]
    assert not any(rbac.allows(sre, attributes)[0] for attributes in neighbours), "no verb beyond the fallback's"
    assert [check.verb for check in checks if rbac.allows(viewer, check.attributes())[0]] == ["get", "list", "get", "get"]


def test_the_rbac_file_holds_the_lab_identities_tokens(tmp_path: Path):
    identities = {name: SimpleNamespace(token=f"{name}-token") for name in ("kube_sre", "kube_viewer")}
    path = tmp_path / "rbac.json"
    path.write_text(json.dumps(rbac_users(identities)))
    users = rbac.load(path)
    assert {token: user.name for token, user in users.items()} == {"kube_sre-token": "kube-sre", "kube_viewer-token": "kube-viewer"}
    assert users["kube_sre-token"].rules == SRE_RULES


@pytest.mark.parametrize("rule, allowed", [
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, True),
    ({"verbs": ["patch"], "apiGroups": ["apps"], "resources": ["deployments"]}, False),
    ({"verbs": ["patch"], "apiGroups": ["apps"], "resources": ["deployments/scale"], "resourceNames": ["other"]}, False),
    ({"verbs": ["patch"], "apiGroups": ["apps"], "resources": ["deployments/scale"], "resourceNames": ["api"], "namespaces": ["ofm"]}, True),
    ({"verbs": ["patch"], "apiGroups": [""], "resources": ["deployments/scale"]}, False),
])
def test_rule_matching(rule, allowed):
    attributes = {"verb": "patch", "group": "apps", "resource": "deployments", "subresource": "scale", "name": "api", "namespace": "ofm"}
    assert rbac.allows(rbac.User("u", [rule]), attributes)[0] is allowed


def _field(number: int, payload: bytes) -> bytes:
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_kubectls_protobuf_review_is_read():
    """``kubectl auth can-i`` sends its SelfSubjectAccessReview as protobuf."""
    attributes = _field(1, b"ofm-production") + _field(2, b"patch") + _field(3, b"apps") + _field(5, b"deployments") + _field(6, b"scale")
    review = _field(2, _field(1, attributes))
    type_meta = _field(1, b"authorization.k8s.io/v1") + _field(2, b"SelfSubjectAccessReview")
    decoded = protobuf.decode(protobuf.MAGIC + _field(1, type_meta) + _field(2, review))
    assert decoded == {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                       "spec": {"resourceAttributes": {"namespace": "ofm-production", "verb": "patch", "group": "apps",
                                                       "resource": "deployments", "subresource": "scale"}}}
    assert rbac.review(USERS["sre-token"], decoded)["status"]["allowed"] is True
