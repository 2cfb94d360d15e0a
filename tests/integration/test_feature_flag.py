"""feature_flag run through ansible against the lab's real Redis and Unleash and each Kubernetes target (kubelab.TARGETS).

The API Deployments (``ofm-social-os-api`` and its canary, container ``api``, env ``FEATURE_FLAGS``) are created on the
target for each test. The lab's flag cache and Unleash toggles are put back in their after-``lab up`` state before and
after each test with the lab's own reset of those two components (lab/components/redis.py, unleash.py).

How OFM's app reads a flag (lab/flags.py): the Redis key ``feature_flags:<name>`` first; when it is gone (its TTL ran out),
its own ``FEATURE_FLAGS``. ``effective()`` below reads a flag that way, so the tests can show that a flag turned off through
the source of truth stays off past the cache TTL while a Redis-only write does not.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
import redis
import yaml
from kubelab import KubeServer, deployment_ready
from labtest import AnsibleRun, Secrets, credentials, lab_request, run_module, stopped, wait_until

from lab import flags as ofm_flags
from lab.cli import component_status
from lab.components.redis import Redis
from lab.components.unleash import Unleash
from lab.config import HOST, LabConfig, load_config

# Changes the lab's shared flag cache and Unleash toggles (and stops Redis in one test): runs in the shared-lab process.
pytestmark = pytest.mark.shared_lab

API, CANARY = "ofm-social-os-api", "ofm-social-os-api-canary"
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME, labels: {app: NAME}}
spec:
  replicas: 1
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      containers:
        - name: api
          image: "ofm/api:1"
          env:
            - {name: NODE_ENV, value: production}
            - {name: FEATURE_FLAGS, value: "@FLAGS@"}
"""
# A Redis database of this module's own: the lab's OFM API stand-ins read (and fill again) the flag cache of database 0.
FLAG_DB = 1
SOURCE_OF_TRUTH = ofm_flags.render(ofm_flags.FLAGS)  # platform_instagram=true,platform_tiktok=true,...,publish_v2=false


@pytest.fixture(scope="module", name="flag_lab")
def fixture_flag_lab() -> LabConfig:
    """The lab, with its Redis and Unleash running (this module needs no other component)."""
    cfg = load_config()
    if not cfg.config_file.exists():
        pytest.fail(f"no lab at {cfg.state_dir}: run the suite with scripts/test.sh (it brings the lab up)")
    down = [row["component"] for row in component_status(cfg) if row["component"] in ("redis", "unleash") and row["state"] != "running"]
    if down:
        pytest.fail(f"lab components not running: {down}; see {cfg.state_dir}/logs")
    return cfg


@pytest.fixture(name="lab_flags")
def fixture_lab_flags(flag_lab: LabConfig) -> Iterator[LabConfig]:
    """The flag cache and the Unleash toggles as ``lab up`` leaves them, before and after the test."""
    seed_cache(flag_lab)
    Unleash().reset(flag_lab)
    yield flag_lab
    seed_cache(flag_lab)
    Unleash().reset(flag_lab)


@pytest.fixture(name="secrets")
def fixture_secrets(flag_lab: LabConfig) -> Secrets:
    return credentials(flag_lab)


@pytest.fixture(name="api")
def fixture_api(kube: KubeServer) -> Iterator[KubeServer]:
    """Both API Deployments with the lab's FEATURE_FLAGS, rolled out; deleted afterwards."""
    for name in (API, CANARY):
        kube.apply(DEPLOYMENT.replace("NAME", name).replace("@FLAGS@", SOURCE_OF_TRUTH))
    for name in (API, CANARY):
        kube.wait_for(deployment_ready(kube, name), f"{name} ready")
    yield kube
    for name in (API, CANARY):
        kube.resource("apps/v1", "Deployment").delete(name=name, namespace=kube.namespace)


def cache(lab: LabConfig, password: Optional[str] = None) -> redis.Redis:
    return redis.Redis(host=HOST, port=lab.ports["redis"], password=password or credentials(lab)["redis_password"], decode_responses=True,
                       socket_timeout=5, db=FLAG_DB)


def seed_cache(lab: LabConfig) -> None:
    """This module's flag cache as the lab seeds its own: every lab flag with the full TTL, nothing else."""
    client = cache(lab)
    pipe = client.pipeline(transaction=True)
    pipe.flushdb()
    for name, enabled in ofm_flags.FLAGS.items():
        pipe.set(f"feature_flags:{name}", "true" if enabled else "false", ex=300)
    pipe.execute()


def feature_flags(kube: KubeServer, name: str = API) -> str:
    env = kube.get("apps/v1", "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["env"]
    return next(entry["value"] for entry in env if entry["name"] == "FEATURE_FLAGS")


def effective(lab: LabConfig, kube: KubeServer, name: str) -> bool:
    """A flag as OFM's app reads it: the cache, else its Deployment's FEATURE_FLAGS."""
    cached = cache(lab).get(f"feature_flags:{name}")
    return cached == "true" if cached is not None else ofm_flags.parse(feature_flags(kube))[name]


def unleash_states(lab: LabConfig) -> dict[str, bool]:
    status, body = lab_request(f"{lab.url('unleash')}/api/admin/projects/default/features", headers={
        "Authorization": credentials(lab)["unleash_admin_token"]})
    assert status == 200, body
    return {feature["name"]: next(env["enabled"] for env in feature["environments"] if env["name"] == "production") for feature in body["features"]}


def ofm_args(lab: LabConfig, kube: KubeServer, **args: Any) -> dict[str, Any]:
    return {**kube.connection, "redis_url": f"redis://{HOST}:{lab.ports['redis']}/{FLAG_DB}", **args}


def unleash_args(lab: LabConfig, **args: Any) -> dict[str, Any]:
    return {"provider": "unleash", "unleash_url": lab.url("unleash"), **args}


def env_of(secrets: Secrets, **overrides: str) -> dict[str, str]:
    """The credentials, as the module reads them from the environment."""
    return Secrets({"REDIS_PASSWORD": secrets["redis_password"], "UNLEASH_TOKEN": secrets["unleash_admin_token"], **overrides})


def flag_module(args: dict[str, Any], tmp_path: Path, secrets: Secrets, *, check: bool = False, diff: bool = False,
                env: Optional[dict[str, str]] = None) -> AnsibleRun:
    """Run the module; its output (result, messages, invocation) never holds a secret of the lab."""
    run = run_module("feature_flag", args, tmp_path, check=check, diff=diff, env=env if env is not None else env_of(secrets))
    for name in ("redis_password", "unleash_admin_token"):
        assert secrets[name] not in run.output, f"the {name} leaked into the output"
    return run


def snapshot(lab: LabConfig) -> dict[str, tuple[Optional[str], int]]:
    """Every flag key's value and remaining TTL."""
    client = cache(lab)
    return {key: (client.get(key), client.pttl(key)) for key in sorted(client.scan_iter(match="feature_flags:*"))}


def test_turning_flags_off_changes_each_deployment_and_the_cache_and_returns_the_previous_states(lab_flags, api, secrets, tmp_path):
    run = flag_module(ofm_args(lab_flags, api, names=["platform_tiktok", "publish_v2"], state="disabled"), tmp_path, secrets, diff=True)
    assert not run.failed, run.output
    assert run.result["changed"] is True and run.result["previous"] == {"platform_tiktok": True, "publish_v2": False}
    expected = SOURCE_OF_TRUTH.replace("platform_tiktok=true", "platform_tiktok=false")
    assert feature_flags(api, API) == expected == feature_flags(api, CANARY)
    client = cache(lab_flags)
    assert client.get("feature_flags:platform_tiktok") == "false" and 290_000 < client.pttl("feature_flags:platform_tiktok") <= 300_000
    assert client.get("feature_flags:publish_v2") == "false"
    assert run.result["flags"][0]["before"] == {f"deployment/{API}": True, f"deployment/{CANARY}": True, "redis": True}
    assert "would come back" in run.result["cache"]["note"]
    assert "--- before" in run.output and "+++ after" in run.output  # --diff shows it

    again = flag_module(ofm_args(lab_flags, api, names=["platform_tiktok", "publish_v2"], state="disabled"), tmp_path, secrets)
    assert not again.failed and again.result["changed"] is False and again.result["applied"] == []

    undo = [name for name, state in run.result["previous"].items() if state]
    back = flag_module(ofm_args(lab_flags, api, names=undo, state="enabled"), tmp_path, secrets)
    assert not back.failed and feature_flags(api, API) == SOURCE_OF_TRUTH and client.get("feature_flags:platform_tiktok") == "true"


def test_check_mode_leaves_redis_the_deployments_and_unleash_untouched(lab_flags, api, secrets, tmp_path):
    client = cache(lab_flags)
    client.set("feature_flags:platform_tiktok", "true", px=123_456)  # a TTL no write of the module would give
    api.wait_for(lambda: all(deployment_ready(api, name)() for name in (API, CANARY)), "both Deployments rolled out")
    versions = {name: api.get("apps/v1", "Deployment", name)["metadata"]["resourceVersion"] for name in (API, CANARY)}
    before, toggles = snapshot(lab_flags), unleash_states(lab_flags)

    ofm = flag_module(ofm_args(lab_flags, api, names=["platform_tiktok", "platform_x"], state="disabled"), tmp_path, secrets, check=True, diff=True)
    unleash = flag_module(unleash_args(lab_flags, names=["new_composer"], state="disabled"), tmp_path, secrets, check=True)
    assert not ofm.failed and not unleash.failed, ofm.output + unleash.output
    assert ofm.result["changed"] is True and unleash.result["changed"] is True and ofm.result["applied"] == []
    assert {name: api.get("apps/v1", "Deployment", name)["metadata"]["resourceVersion"] for name in (API, CANARY)} == versions
    after = snapshot(lab_flags)
    assert {key: value for key, (value, _ttl) in after.items()} == {key: value for key, (value, _ttl) in before.items()}
    assert all(after[key][1] <= before[key][1] for key in before)  # counting down, never written again
    assert after["feature_flags:platform_tiktok"][1] <= 123_456
    assert unleash_states(lab_flags) == toggles


def test_a_flag_turned_off_at_the_source_survives_the_cache_ttl_a_redis_only_write_does_not(lab_flags, api, secrets, tmp_path):
    run = flag_module(ofm_args(lab_flags, api, names=["platform_tiktok"], state="disabled", cache_ttl=2), tmp_path, secrets)
    assert not run.failed, run.output
    client = cache(lab_flags)
    assert 0 < client.pttl("feature_flags:platform_tiktok") <= 2000
    # What a kill switch written only to Redis does: the same value with the same TTL, nothing else.
    client.set("feature_flags:platform_x", "false", px=2000)
    assert effective(lab_flags, api, "platform_tiktok") is False and effective(lab_flags, api, "platform_x") is False

    wait_until(lambda: not client.exists("feature_flags:platform_tiktok", "feature_flags:platform_x"), 15, interval=0.2,
               what="both keys expired")
    assert effective(lab_flags, api, "platform_tiktok") is False, "the module's change holds past the TTL"
    assert effective(lab_flags, api, "platform_x") is True, "the Redis-only write came back to the source of truth's state"
    assert ofm_flags.parse(feature_flags(api, CANARY))["platform_tiktok"] is False


def test_unleash_toggles_off_and_back_with_previous_states(lab_flags, secrets, tmp_path):
    run = flag_module(unleash_args(lab_flags, names=["new_composer", "publish_v2"], state="disabled"), tmp_path, secrets, diff=True)
    assert not run.failed, run.output
    assert run.result["previous"] == {"new_composer": True, "publish_v2": False}
    assert unleash_states(lab_flags) == {"publish_v2": False, "new_composer": False, "tiktok_direct_post": True}
    again = flag_module(unleash_args(lab_flags, names=["new_composer", "publish_v2"], state="disabled"), tmp_path, secrets)
    assert not again.failed and again.result["changed"] is False
    undo = [name for name, state in run.result["previous"].items() if state]
    back = flag_module(unleash_args(lab_flags, names=undo, state="enabled"), tmp_path, secrets)
    assert not back.failed and unleash_states(lab_flags)["new_composer"] is True


def test_an_unknown_flag_fails_before_anything_changes(lab_flags, api, secrets, tmp_path):
    versions = {name: api.get("apps/v1", "Deployment", name)["metadata"]["generation"] for name in (API, CANARY)}
    before = {key: value for key, (value, _ttl) in snapshot(lab_flags).items()}
    ofm = flag_module(ofm_args(lab_flags, api, names=["platform_tiktok", "platform_myspace"], state="disabled"), tmp_path, secrets)
    unleash = flag_module(unleash_args(lab_flags, names=["new_composer", "nope_toggle"], state="disabled"), tmp_path, secrets)
    for run, unknown in ((ofm, "platform_myspace"), (unleash, "nope_toggle")):
        assert run.failed and run.result["error"]["option"] == "names" and unknown in run.result["msg"]
        assert "Nothing was changed" in run.result["msg"] and run.result["changed"] is False
    assert {name: api.get("apps/v1", "Deployment", name)["metadata"]["generation"] for name in (API, CANARY)} == versions
    assert {key: value for key, (value, _ttl) in snapshot(lab_flags).items()} == before
    assert unleash_states(lab_flags)["new_composer"] is True


@pytest.mark.reliability("secret", procedure="feature_flag", case="a Redis password and an Unleash token the servers refuse",
                         expected="no secret in any output")
def test_wrong_credentials_name_the_option_and_are_never_shown(lab_flags, api, secrets, tmp_path, reliability):
    wrong_password, wrong_token = "not-the-redis-password-4711", "*:*.not-the-unleash-token-4711"
    ofm = flag_module(ofm_args(lab_flags, api, names=["publish_v2"], state="disabled"), tmp_path, secrets,
                      env=env_of(secrets, REDIS_PASSWORD=wrong_password))
    unleash = flag_module(unleash_args(lab_flags, names=["publish_v2"], state="disabled", unleash_token=wrong_token), tmp_path, secrets)
    assert ofm.failed and ofm.result["error"]["type"] == "AuthenticationError" and ofm.result["error"]["system"] == "Redis"
    assert "redis_password" in ofm.result["msg"] and "Nothing was changed" in ofm.result["msg"]
    assert unleash.failed and unleash.result["error"]["type"] == "AuthenticationError" and "unleash_token" in unleash.result["msg"]
    assert wrong_password not in ofm.output and wrong_token not in unleash.output
    assert feature_flags(api) == SOURCE_OF_TRUTH
    reliability.observed("both refused naming redis_password and unleash_token, flags unchanged, neither credential in the output")


def test_a_password_given_as_an_option_is_not_shown_either(lab_flags, api, secrets, tmp_path):
    args = ofm_args(lab_flags, api, names=["publish_v2"], state="disabled", redis_password=secrets["redis_password"])
    run = flag_module(args, tmp_path, secrets, env={}, diff=True)  # flag_module checks the output holds no secret
    assert not run.failed, run.output
    assert run.result["changed"] is False


@pytest.fixture(name="redis_stopped")
def fixture_redis_stopped(lab_flags: LabConfig) -> Iterator[LabConfig]:
    """The lab's redis-server process stopped for the test, started again (and its flags seeded) afterwards."""
    with stopped(lab_flags, Redis()):
        yield lab_flags


@pytest.mark.reliability("fault", procedure="config", case="Redis stopped",
                         expected="failed clearly (unavailable), nothing changed")
def test_redis_down_is_a_clear_unavailable_error_with_nothing_changed(redis_stopped, api, secrets, tmp_path):
    versions = {name: api.get("apps/v1", "Deployment", name)["metadata"]["generation"] for name in (API, CANARY)}
    run = flag_module(ofm_args(redis_stopped, api, names=["platform_tiktok"], state="disabled"), tmp_path, secrets)
    assert run.failed and run.result["error"]["type"] == "UnavailableError" and run.result["error"]["system"] == "Redis"
    assert run.result["msg"].startswith(f"Redis: GET/PTTL pipeline on {HOST}:{redis_stopped.ports['redis']}/{FLAG_DB} failed")
    assert run.result["msg"].endswith("Nothing was changed.") and run.result["changed"] is False and run.result["applied"] == []
    assert {name: api.get("apps/v1", "Deployment", name)["metadata"]["generation"] for name in (API, CANARY)} == versions
    assert feature_flags(api) == SOURCE_OF_TRUTH


def test_the_results_are_json_serialisable_and_name_the_source_of_truth(lab_flags, api, secrets, tmp_path):
    run = flag_module(ofm_args(lab_flags, api, names=["publish_v2"], state="enabled"), tmp_path, secrets)
    assert not run.failed, run.output
    source = json.loads(json.dumps(run.result))["source_of_truth"]
    assert source.startswith(f"FEATURE_FLAGS of container api of Deployment(s) {API}, {CANARY} (namespace {api.namespace})")
    assert run.result["round_trips"]["redis"] == 2  # one read pipeline, one MULTI/EXEC


@pytest.mark.reliability("fault", procedure="config", case="Kubernetes API refuses a patch half way",
                         expected="reports what was and was not changed; a re-run finishes")
def test_a_patch_refused_half_way_reports_what_was_and_was_not_changed_and_a_rerun_finishes(lab_flags, api, secrets, tmp_path):
    if api.real:
        pytest.skip("the refusal is injected through the test server's /__lab/faults")
    server = yaml.safe_load(api.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    canary_path = f"/apis/apps/v1/namespaces/{api.namespace}/deployments/{CANARY}"
    lab_request(f"{server}/__lab/faults", "PUT", {"status": 403, "count": 1, "verbs": ["patch"], "paths": [canary_path]})
    try:
        run = flag_module(ofm_args(lab_flags, api, names=["platform_reddit"], state="disabled"), tmp_path, secrets)
    finally:
        lab_request(f"{server}/__lab/faults", "DELETE")
    assert run.failed and run.result["error"]["type"] == "AuthorizationError" and run.result["changed"] is True
    assert run.result["applied"] == [f"Deployment {api.namespace}/{API}"]
    assert run.result["not_applied"] == [f"Deployment {api.namespace}/{CANARY}", "Redis cache (feature_flags:platform_reddit)"]
    assert "Run the task again to finish." in run.result["msg"]
    assert "platform_reddit=false" in feature_flags(api, API) and "platform_reddit=true" in feature_flags(api, CANARY)
    assert cache(lab_flags).get("feature_flags:platform_reddit") == "true"

    rerun = flag_module(ofm_args(lab_flags, api, names=["platform_reddit"], state="disabled"), tmp_path, secrets)
    assert not rerun.failed, rerun.output
    assert rerun.result["applied"] == [f"Deployment {api.namespace}/{CANARY}", "Redis cache (feature_flags:platform_reddit)"]
    assert "platform_reddit=false" in feature_flags(api, CANARY) and cache(lab_flags).get("feature_flags:platform_reddit") == "false"
