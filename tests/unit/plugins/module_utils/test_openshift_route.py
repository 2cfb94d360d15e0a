# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenShift Route backend weights and the snapshot kind ``routes``, over the Kubernetes test server's store (its OpenShift
defaults and validation included): one merge patch of the whole backend list, conditional on the resourceVersion read; bad
input refused before anything is sent; snapshot -> change -> restore -> equal."""
from __future__ import annotations

from typing import Any

import pytest
from kubefake import StoreClient, api_exception

from ansible_collections.ofm.rollback.plugins.module_utils.config import kinds, plan
from ansible_collections.ofm.rollback.plugins.module_utils.errors import ConflictError, DataError, InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.openshift_route import (
    Backend, RouteClient, backends_of, desired_backends, parse_backends, patch_body, set_backends)
from ansible_collections.ofm.rollback.plugins.module_utils.openshift_route_kind import KIND, RoutesApplier

NS = "ofm-production"
API = "route.openshift.io/v1"
MERGE = "application/merge-patch+json"
STABLE, CANARY = "ofm-social-os-api", "ofm-social-os-api-canary"


def route(name: str, to: tuple[str, int], *alternates: tuple[str, int]) -> dict[str, Any]:
    backends = [{"kind": "Service", "name": n, "weight": w} for n, w in (to, *alternates)]
    return {"metadata": {"name": name}, "spec": {"host": f"{name}.ofm.social", "to": backends[0], "alternateBackends": backends[1:]}}


@pytest.fixture(name="server")
def fixture_server() -> StoreClient:
    server = StoreClient()
    server.create("v1", "Namespace", "", {"metadata": {"name": NS}})
    server.create(API, "Route", NS, route("ofm-api", (STABLE, 90), (CANARY, 10)))
    server.create(API, "Route", NS, route("ofm-web", ("ofm-web", 100)))
    return server


@pytest.fixture(name="client")
def fixture_client(server: StoreClient) -> RouteClient:
    return RouteClient(server.kube(), NS)


def spec(server: StoreClient, name: str = "ofm-api") -> dict[str, Any]:
    return server.read(API, "Route", NS, name)["spec"]


def test_the_backends_are_read_in_order_spec_to_first(client):
    current = client.read("ofm-api")
    assert current.backends == (Backend(STABLE, 90), Backend(CANARY, 10))
    assert current.weights() == {STABLE: 90, CANARY: 10} and current.target == "Route ofm-production/ofm-api"
    assert current.resource_version


def test_weights_change_the_named_backends_and_keep_the_others(client):
    current = client.read("ofm-api")
    assert desired_backends(current, {CANARY: 0}) == (Backend(STABLE, 90), Backend(CANARY, 0))
    assert desired_backends(current, {STABLE: "100", CANARY: 0}) == (Backend(STABLE, 100), Backend(CANARY, 0))


def test_a_service_the_route_lacks_is_an_error_unless_added(client):
    current = client.read("ofm-api")
    with pytest.raises(InputError) as refused:
        desired_backends(current, {"ofm-social-os-api-v3": 5})
    assert refused.value.option == "weights" and "no backend Service ofm-social-os-api-v3" in str(refused.value)
    assert STABLE in str(refused.value.accepted)
    assert desired_backends(current, {"ofm-social-os-api-v3": 5}, add=True)[-1] == Backend("ofm-social-os-api-v3", 5)


@pytest.mark.parametrize("weight", [257, -1, True, "ten", None, 1.5])
def test_a_weight_out_of_range_names_the_option_and_the_range(client, weight):
    with pytest.raises(InputError) as refused:
        desired_backends(client.read("ofm-api"), {CANARY: weight})
    assert refused.value.option == f"weights.{CANARY}" and refused.value.accepted == "an integer from 0 to 256"


def test_exact_lists_are_checked_whole():
    with pytest.raises(InputError, match="more than once"):
        parse_backends([{"service": "a", "weight": 1}, {"service": "a", "weight": 2}])
    with pytest.raises(InputError, match="at most 3 alternateBackends"):
        parse_backends([{"service": f"s{i}", "weight": 1} for i in range(5)])
    with pytest.raises(InputError, match="at least one backend"):
        parse_backends([])
    with pytest.raises(InputError) as refused:
        parse_backends([{"service": "a", "weight": 300}])
    assert refused.value.option == "backends[0].weight"


def test_one_merge_patch_with_the_whole_backend_list_and_the_resource_version(server, client):
    change = set_backends(client, "ofm-api", weights={CANARY: 0})
    assert change.changed
    [(content_type, body)] = server.patches
    assert content_type == MERGE
    assert body["spec"] == {"to": {"kind": "Service", "name": STABLE, "weight": 90},
                            "alternateBackends": [{"kind": "Service", "name": CANARY, "weight": 0}]}
    assert body["metadata"]["resourceVersion"] == change.before.resource_version
    assert spec(server)["alternateBackends"] == [{"kind": "Service", "name": CANARY, "weight": 0}]
    assert change.result()["patches"] == [{"route": "Route ofm-production/ofm-api", "patch": {"spec": body["spec"]}}]
    assert change.result()["diff"] == {"before": {"backends": [{"service": STABLE, "weight": 90}, {"service": CANARY, "weight": 10}]},
                                       "after": {"backends": [{"service": STABLE, "weight": 90}, {"service": CANARY, "weight": 0}]}}


def test_the_same_weights_again_send_nothing(server, client):
    set_backends(client, "ofm-api", weights={CANARY: 0})
    again = set_backends(RouteClient(server.kube(), NS), "ofm-api", weights={CANARY: 0})
    assert not again.changed and len(server.patches) == 1


def test_check_mode_sends_no_write(server, client):
    change = set_backends(client, "ofm-api", weights={STABLE: 100, CANARY: 0}, check_mode=True)
    assert change.changed and change.result()["current"] == [{"service": STABLE, "weight": 100}, {"service": CANARY, "weight": 0}]
    assert server.patches == [] and [r for r in server.requests if not r.startswith("get")] == []
    assert spec(server)["to"]["weight"] == 90


def test_a_route_changed_after_the_read_is_a_conflict_and_keeps_the_other_write(server, client):
    server.after_get.append(lambda: server.write(API, "Route", NS, "ofm-api", {"spec": {"to": {"weight": 50}}}))
    with pytest.raises(ConflictError):
        set_backends(client, "ofm-api", weights={CANARY: 0})
    assert spec(server)["to"]["weight"] == 50 and spec(server)["alternateBackends"][0]["weight"] == 10
    assert client.patches == []


def test_a_missing_route_and_an_unavailable_server_are_clear_errors(server, client):
    with pytest.raises(NotFoundError, match="ofm-nothing"):
        client.read("ofm-nothing")
    server.faults["get"] = [api_exception(503, "etcdserver: leader changed")]
    with pytest.raises(Exception, match="503"):
        client.read("ofm-api")


def test_a_backend_that_is_not_a_service_is_a_data_error():
    with pytest.raises(DataError, match="not a named Service"):
        backends_of({"metadata": {"name": "r", "namespace": NS}, "spec": {"to": {"kind": "Deployment", "name": "x"}}})


def test_patch_body_without_a_resource_version_has_no_precondition():
    assert "metadata" not in patch_body([Backend("a", 1)])


# --- the snapshot kind ------------------------------------------------------------------------

def applier(server: StoreClient, names: Any = None) -> RoutesApplier:
    return RoutesApplier(RouteClient(server.kube(), NS), names)


def restore(server: StoreClient, section: dict[str, Any], check_mode: bool = False) -> plan.RestoreReport:
    routes = applier(server)
    return plan.restore(plan.make_plan({"routes": routes}, {"routes": section}), {"routes": routes}, check_mode)


def test_the_kind_is_registered_with_its_option():
    assert kinds.EXTERNAL["routes"] is KIND and KIND.systems == ("kubernetes",)
    assert kinds.EXTERNAL_SPEC["routes"] == {"type": "dict", "options": KIND.options}


def test_snapshot_change_restore_equal_then_nothing_left(server):
    snapshot = applier(server).read()
    assert snapshot == {"ofm-api": {STABLE: 90, CANARY: 10}, "ofm-web": {"ofm-web": 100}}
    server.write(API, "Route", NS, "ofm-api", {"spec": {"to": {"kind": "Service", "name": CANARY, "weight": 100}, "alternateBackends": [
        {"kind": "Service", "name": STABLE, "weight": 0}, {"kind": "Service", "name": "ofm-social-os-api-v3", "weight": 5}]}})

    report = restore(server, snapshot)

    assert report.restored_targets("routes") == ["ofm-api"] and report.failed is None
    assert applier(server).read() == snapshot
    assert spec(server)["to"] == {"kind": "Service", "name": STABLE, "weight": 90}
    assert len(server.patches) == 1, "one merge patch for the Route that differs, none for the other"
    again = restore(server, snapshot)
    assert not again.changed and len(server.patches) == 1


def test_a_restore_in_check_mode_writes_nothing(server):
    snapshot = applier(server).read()
    server.write(API, "Route", NS, "ofm-api", {"spec": {"to": {"weight": 1}}})
    report = restore(server, snapshot, check_mode=True)
    assert report.changed and report.result("routes").status == plan.PLANNED
    assert server.patches == [] and spec(server)["to"]["weight"] == 1


def test_a_restore_that_fails_half_way_says_what_was_restored_and_a_rerun_completes_it(server):
    snapshot = applier(server).read()
    for name in ("ofm-api", "ofm-web"):
        server.write(API, "Route", NS, name, {"spec": {"to": {"weight": 3}}})
    routes = applier(server)
    planned = plan.make_plan({"routes": routes}, {"routes": snapshot})
    original = routes.client.kube.patch
    calls = []

    def second_fails(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[3])
        if len(calls) == 2:
            raise NotFoundError("gone", target=args[3])
        return original(*args, **kwargs)

    routes.client.kube.patch = second_fails
    report = plan.restore(planned, {"routes": routes})
    result = report.result("routes")
    assert result.status == plan.FAILED and result.restored == ("ofm-api",) and result.not_restored == ("ofm-web",)
    assert spec(server, "ofm-web")["to"]["weight"] == 3

    rerun = restore(server, snapshot)
    assert rerun.restored_targets("routes") == ["ofm-web"] and applier(server).read() == snapshot


def test_a_route_the_snapshot_holds_that_is_gone_stops_the_plan_before_any_write(server):
    snapshot = {**applier(server).read(), "ofm-old": {STABLE: 100}}
    server.write(API, "Route", NS, "ofm-api", {"spec": {"to": {"weight": 1}}})
    with pytest.raises(NotFoundError, match="ofm-old"):
        restore(server, snapshot)
    assert server.patches == [] and spec(server)["to"]["weight"] == 1


@pytest.mark.parametrize("section, match", [({"ofm-api": {STABLE: 900}}, "not valid"), ({"ofm-api": ["x"]}, "not a mapping"),
                                            ({"ofm-api": {}}, "at least one backend")])
def test_a_bad_snapshot_section_is_refused_before_any_write(server, section, match):
    with pytest.raises((InputError, DataError), match=match):
        restore(server, section)
    assert server.patches == []


def test_only_the_named_routes_are_read(server):
    assert applier(server, ["ofm-web"]).read() == {"ofm-web": {"ofm-web": 100}}
