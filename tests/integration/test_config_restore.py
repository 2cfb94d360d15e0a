"""config_snapshot and config_restore run with ansible-playbook (and a vault password file) against the lab's real Redis,
Unleash and PostgreSQL and each Kubernetes target (kubelab.TARGETS).

What the tests touch, so that nothing of the lab's own state changes:

- Kubernetes: the OFM ConfigMap, Secret and both API Deployments, created by each test on the target (the test server's
  ``default`` namespace, or a fresh namespace of a real cluster) and deleted afterwards;
- Redis: database 3 of the lab's Redis (the lab's flags are in database 0), its ``feature_flags:*`` keys seeded by each test;
- Unleash: the lab's toggles in environment ``development`` (the lab seeds and resets only ``production``);
- PostgreSQL: a rate limits table of each test's own in database ``ofm`` (and a role of its own for the half-way failure);
- Helm: a release of the test's own (tests/integration/charts/ofm-mini) on the Kubernetes target, uninstalled afterwards.

The module is marked shared_lab nevertheless: one test stops the lab's Redis (which the shared-lab modules use), and
test_feature_flag stops and restarts it too, which empties every database of that Redis (it keeps nothing on disk), so these
tests must not run while that one does.
"""
from __future__ import annotations

import base64
import json
import secrets as random
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
import redis
import yaml
from helmtest import Helm, helm_binary, rendered
from kubelab import KubeServer, deployment_ready
from labtest import AnsibleRun, Secrets, admin_connection, credentials, lab_request, run_play, stopped

from lab.cli import component_status
from lab.components.redis import Redis
from lab.config import HOST, LabConfig, load_config

pytestmark = pytest.mark.shared_lab

API, CANARY = "ofm-social-os-api", "ofm-social-os-api-canary"
REDIS_DB = 3
UNLEASH_ENV = "development"
VAULT_PASSWORD = "cfg-restore-vault-pw-71c3"
KEY_THEN, KEY_NOW = "sk-tiktok-then-5b0f9e2a41c7", "sk-tiktok-now-d83c6a1e90f4"
META_THEN = "meta-app-secret-then-44e1b9"
FLAGS_THEN = "platform_instagram=true,platform_tiktok=true,publish_v2=false"
TOGGLES_THEN = {"publish_v2": False, "new_composer": True, "tiktok_direct_post": True}
ROWS_THEN = {"instagram": (60, 1000, 10000, 10), "tiktok": (30, 600, 6000, 5), "x": (50, 900, 9000, 10)}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


OBJECTS = f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: ofm-social-os-config}}
data: {{LOG_LEVEL: info, PUBLISH_TIMEOUT_MS: "30000", WEBHOOK_URL_TIKTOK: "https://hooks.ofm.social/tiktok",
        WEBHOOK_URL_META: "https://hooks.ofm.social/meta"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: ofm-social-os-secrets}}
type: Opaque
data: {{TIKTOK_API_KEY: {b64(KEY_THEN)}, META_APP_SECRET: {b64(META_THEN)}}}
"""
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
        envFrom: [{configMapRef: {name: ofm-social-os-config}}]
        env:
        - {name: FEATURE_FLAGS, value: "@FLAGS@"}
        - {name: TIKTOK_API_KEY, valueFrom: {secretKeyRef: {name: ofm-social-os-secrets, key: TIKTOK_API_KEY}}}
        - {name: NODE_ENV, value: production}
""".replace("@FLAGS@", FLAGS_THEN)


# --- the systems -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", name="config_lab")
def fixture_config_lab() -> LabConfig:
    """The lab, with its Redis, Unleash and PostgreSQL running (this module needs no other component)."""
    cfg = load_config()
    if not cfg.config_file.exists():
        pytest.fail(f"no lab at {cfg.state_dir}: run the suite with scripts/test.sh (it brings the lab up)")
    wanted = ("redis", "unleash", "postgres")
    down = [row["component"] for row in component_status(cfg) if row["component"] in wanted and row["state"] != "running"]
    if down:
        pytest.fail(f"lab components not running: {down}; see {cfg.state_dir}/logs")
    return cfg


@pytest.fixture(name="secrets")
def fixture_secrets(config_lab: LabConfig) -> Secrets:
    return credentials(config_lab)


def cache(lab: LabConfig, secrets: Secrets) -> redis.Redis:
    return redis.Redis(host=HOST, port=lab.ports["redis"], db=REDIS_DB, password=secrets["redis_password"], decode_responses=True, socket_timeout=5)


def unleash_states(lab: LabConfig, secrets: Secrets) -> dict[str, bool]:
    status, body = lab_request(f"{lab.url('unleash')}/api/admin/projects/default/features", headers={"Authorization": secrets["unleash_admin_token"]})
    assert status == 200, body
    return {feature["name"]: next(env["enabled"] for env in feature["environments"] if env["name"] == UNLEASH_ENV) for feature in body["features"]}


def set_toggles(lab: LabConfig, secrets: Secrets, states: dict[str, bool]) -> None:
    """Turn the development toggles on and off (Unleash's bulk endpoint answers with an empty body)."""
    for enabled in (False, True):
        names = [name for name, state in states.items() if state is enabled]
        if names:
            request = urllib.request.Request(f"{lab.url('unleash')}/api/admin/projects/default/bulk_features/environments/{UNLEASH_ENV}/"
                                             f"{'on' if enabled else 'off'}", data=json.dumps({"features": names}).encode(), method="POST",
                                             headers={"Content-Type": "application/json", "Authorization": secrets["unleash_admin_token"]})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200


@pytest.fixture(name="systems")
def fixture_systems(config_lab: LabConfig, secrets: Secrets, kube: KubeServer) -> Iterator[dict[str, Any]]:
    """Every system at its "then" state: the OFM objects on the Kubernetes target, the flag cache in Redis database 3, the
    development toggles, a rate limits table of the test's own. Put away afterwards."""
    kube.apply(OBJECTS)
    for name in (API, CANARY):
        kube.apply(DEPLOYMENT.replace("NAME", name))
    for name in (API, CANARY):
        kube.wait_for(deployment_ready(kube, name), f"{name} ready")
    client = cache(config_lab, secrets)
    client.flushdb()
    for name, enabled in (("platform_instagram", True), ("platform_tiktok", True), ("publish_v2", False)):
        client.set(f"feature_flags:{name}", "true" if enabled else "false", px=280_000)
    set_toggles(config_lab, secrets, TOGGLES_THEN)
    table = f"cfg_rate_limits_{random.token_hex(4)}"
    with admin_connection(config_lab, autocommit=True) as db:
        db.execute(f"CREATE TABLE {table} (platform text PRIMARY KEY, per_minute int NOT NULL, per_hour int NOT NULL, per_day int NOT NULL, "
                   "burst int NOT NULL)")
        for platform, row in ROWS_THEN.items():
            db.execute(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)", (platform, *row))
    yield {"lab": config_lab, "kube": kube, "table": table, "cache": client}
    with admin_connection(config_lab, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {table}")
    set_toggles(config_lab, secrets, dict.fromkeys(TOGGLES_THEN, False))
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError:
        pass
    if not kube.real:
        for api_version, kind, name in (("apps/v1", "Deployment", API), ("apps/v1", "Deployment", CANARY), ("v1", "ConfigMap", "ofm-social-os-config"),
                                        ("v1", "Secret", "ofm-social-os-secrets")):
            kube.resource(api_version, kind).delete(name=name, namespace=kube.namespace)


# --- running the actions ----------------------------------------------------------------------------------------------

def connection(systems: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The options pointing both actions at the test's systems; the credentials come from the environment (see ``env_of``)."""
    lab = systems["lab"]
    return {**systems["kube"].connection, "redis_url": f"redis://{HOST}:{lab.ports['redis']}/{REDIS_DB}", "unleash_url": lab.url("unleash"),
            "unleash_environment": UNLEASH_ENV, "rate_limits_table": systems["table"],
            "database": {"host": HOST, "port": lab.ports["postgres"], "database": "ofm", "user": "ofm_admin",
                         "password": "{{ lookup('env', 'CFG_DB_PASSWORD') }}", "sslmode": "disable"}, **extra}


def env_of(secrets: Secrets, **overrides: str) -> dict[str, str]:
    return Secrets({"REDIS_PASSWORD": secrets["redis_password"], "UNLEASH_TOKEN": secrets["unleash_admin_token"],
                    "CFG_DB_PASSWORD": secrets["db_admin_password"], **overrides})


def play(tasks: list[dict[str, Any]], tmp_path: Path, secrets: Secrets, *, vault_password: str = VAULT_PASSWORD, check: bool = False,
         diff: bool = False, verbose: bool = False, env: Optional[dict[str, str]] = None) -> AnsibleRun:
    """Run the tasks with a vault password file; whatever they print or register holds no secret of the test or the lab."""
    password_file = tmp_path / f"vault-password-{random.token_hex(3)}"
    password_file.write_text(vault_password + "\n")
    options = ["--vault-password-file", str(password_file)] + ["--check"] * check + ["-vvv"] * verbose
    run = run_play(tasks, tmp_path, env if env is not None else env_of(secrets), diff=diff, options=options)
    shown = run.output + json.dumps(run.result)
    for value in (KEY_THEN, KEY_NOW, META_THEN, VAULT_PASSWORD, secrets["redis_password"], secrets["unleash_admin_token"], secrets["db_admin_password"]):
        assert value not in shown, "a secret value is in the output or the results"
    return run


def snapshot_task(systems: dict[str, Any], tmp_path: Path, register: str = "snap", **extra: Any) -> dict[str, Any]:
    return {"name": "Snapshot", "ofm.rollback.config_snapshot": connection(systems, snapshot_dir=str(tmp_path / "snapshots"), change_id="deploy-2.4.0",
                                                                           **extra), "register": register}


def restore_task(systems: dict[str, Any], tmp_path: Path, register: str = "restored", **extra: Any) -> dict[str, Any]:
    options = connection(systems, snapshot_dir=str(tmp_path / "snapshots"), rollout_timeout=int(systems["kube"].patience), **extra)
    if not any(name in options for name in ("snapshot_id", "snapshot_path", "from_release")):
        options["latest"] = True
    return {"name": "Restore", "ofm.rollback.config_restore": options, "register": register, "ignore_errors": True}


def take(systems: dict[str, Any], tmp_path: Path, secrets: Secrets, **extra: Any) -> dict[str, Any]:
    run = play([snapshot_task(systems, tmp_path, **extra)], tmp_path, secrets)
    assert not run.failed and not run.result["snap"].get("failed"), run.output
    return run.result["snap"]


# --- what the systems hold --------------------------------------------------------------------------------------------

def values(systems: dict[str, Any], secrets: Secrets) -> dict[str, Any]:
    """Every value the restore is about, as each system holds it."""
    kube, client = systems["kube"], systems["cache"]
    with admin_connection(systems["lab"], autocommit=True) as db:
        rows = {row[0]: tuple(row[1:]) for row in db.execute(f"SELECT * FROM {systems['table']} ORDER BY 1").fetchall()}
    return {"configmap": kube.get("v1", "ConfigMap", "ofm-social-os-config").get("data"),
            "secret": kube.get("v1", "Secret", "ofm-social-os-secrets").get("data"),
            "env": {name: kube.get("apps/v1", "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["env"] for name in (API, CANARY)},
            "cache": {key: client.get(key) for key in sorted(client.scan_iter(match="feature_flags:*"))},
            "unleash": unleash_states(systems["lab"], secrets), "rows": rows}


def versions(systems: dict[str, Any], secrets: Secrets) -> dict[str, Any]:
    """What shows any write: resourceVersions (a Deployment's generation and spec), Redis values with their TTLs, toggle states,
    rows with their xmin."""
    kube, client = systems["kube"], systems["cache"]
    with admin_connection(systems["lab"], autocommit=True) as db:
        rows = db.execute(f"SELECT xmin::text, * FROM {systems['table']} ORDER BY platform").fetchall()
    objects = (("v1", "ConfigMap", "ofm-social-os-config"), ("v1", "Secret", "ofm-social-os-secrets"), ("apps/v1", "Deployment", API),
               ("apps/v1", "Deployment", CANARY))

    def written(api: str, kind: str, name: str) -> Any:
        obj = kube.get(api, kind, name)
        # A Deployment's status is written by its controller (a rollout an earlier test started may still be moving): its
        # spec, and the generation that counts the spec's writes, show a restore's writes; the other objects have no status.
        # The revision annotation is the controller's too, written once it has taken the last template change in.
        if kind == "Deployment":
            annotations = {key: value for key, value in (obj["metadata"].get("annotations") or {}).items()
                           if key != "deployment.kubernetes.io/revision"}
            return obj["metadata"].get("generation"), json.dumps(obj["spec"], sort_keys=True), annotations
        return obj["metadata"]["resourceVersion"]

    return {"objects": {f"{kind}/{name}": written(api, kind, name) for api, kind, name in objects},
            "cache": {key: (client.get(key), client.pttl(key)) for key in sorted(client.scan_iter(match="feature_flags:*"))},
            "unleash": unleash_states(systems["lab"], secrets), "rows": rows}


def change_everything(systems: dict[str, Any], secrets: Secrets) -> None:
    """What a bad release and a hurried operator did: every kind changed, keys added and removed."""
    kube, client = systems["kube"], systems["cache"]
    config = {"LOG_LEVEL": "debug", "WEBHOOK_URL_TIKTOK": "https://evil.example/hook", "WEBHOOK_URL_META": None, "NEW_SETTING": "1"}
    kube.patch("v1", "ConfigMap", "ofm-social-os-config", {"data": config})
    kube.patch("v1", "Secret", "ofm-social-os-secrets", {"data": {"TIKTOK_API_KEY": b64(KEY_NOW), "META_APP_SECRET": None}})
    kube.patch("apps/v1", "Deployment", API, [{"op": "replace", "path": "/spec/template/spec/containers/0/env", "value": [
        {"name": "FEATURE_FLAGS", "value": "platform_instagram=true,platform_tiktok=false,publish_v2=true"},
        {"name": "NODE_ENV", "value": "staging"}, {"name": "DEBUG", "value": "ofm:*"}]}], content_type="application/json-patch+json")
    kube.patch("apps/v1", "Deployment", CANARY, [{"op": "replace", "path": "/spec/template/spec/containers/0/env/0/value",
                                                  "value": "publish_v2=true,platform_instagram=true,platform_tiktok=true"}],
               content_type="application/json-patch+json")
    client.set("feature_flags:publish_v2", "true", px=300_000)
    client.set("feature_flags:brand_new", "true")
    client.delete("feature_flags:platform_tiktok")
    set_toggles(systems["lab"], secrets, {"publish_v2": True, "new_composer": False})
    with admin_connection(systems["lab"], autocommit=True) as db:
        db.execute(f"UPDATE {systems['table']} SET per_minute = 600 WHERE platform = 'tiktok'")
        db.execute(f"DELETE FROM {systems['table']} WHERE platform = 'x'")
        db.execute(f"INSERT INTO {systems['table']} VALUES ('reddit', 1, 1, 1, 1)")


# --- tests ------------------------------------------------------------------------------------------------------------

def test_snapshot_change_everything_restore_gives_every_value_back_and_a_second_restore_changes_nothing(systems, secrets, tmp_path):
    snap = take(systems, tmp_path, secrets)
    assert snap["changed"] is True and snap["skipped_kinds"] == []
    assert snap["snapshot"]["kinds"] == {"flags": 9, "unleash": 3, "configmaps": 4, "secrets": 2, "env": 4, "rate_limits": 3}
    stored = Path(snap["snapshot"]["location"]).read_text()
    assert KEY_THEN not in stored and META_THEN not in stored and stored.count("$ANSIBLE_VAULT;1.1;AES256") == 2
    then = values(systems, secrets)
    ttls = {key: entry["ttl_ms"] for key, entry in json.loads(stored)["kinds"]["flags"]["cache"].items()}
    change_everything(systems, secrets)
    assert values(systems, secrets) != then

    run = play([restore_task(systems, tmp_path, snapshot_id=snap["snapshot"]["id"])], tmp_path, secrets, verbose=True)
    restored = run.result["restored"]
    assert not restored.get("failed"), run.output
    assert restored["changed"] is True and restored["verified"] == dict.fromkeys(["flags", "unleash", "configmaps", "secrets", "env", "rate_limits"], True)
    assert restored["snapshot"]["source"] == "snapshot" and restored["snapshot"]["id"] == snap["snapshot"]["id"]
    # The API's env was restored after the ConfigMap and Secret: its rollout reads them. The canary's FEATURE_FLAGS was restored before
    # them (the flags kind comes first) and its pods read both when they start: restarted.
    assert {entry["deployment"]: entry["action"] for entry in restored["rollouts"]} == {API: "wait", CANARY: "restart"}
    assert all(entry["ready"] for entry in restored["rollouts"])
    assert restored["round_trips"]["redis"] == 3 and restored["round_trips"]["postgres"] == 2  # SCAN + GET/PTTL + MULTI/EXEC; read + transaction
    now = values(systems, secrets)
    assert now == then
    client = systems["cache"]
    assert all(0 < client.pttl(key) <= ttls[key] for key in ttls)  # written back with the snapshot's remaining TTL
    assert client.ttl("feature_flags:platform_tiktok") > 200

    again = play([restore_task(systems, tmp_path, snapshot_id=snap["snapshot"]["id"])], tmp_path, secrets).result["restored"]
    assert not again.get("failed") and again["changed"] is False and again["rollouts"] == []
    assert {item["status"] for item in again["report"]["kinds"]} == {"unchanged"} and values(systems, secrets) == then


def test_check_mode_leaves_every_system_byte_identical_and_the_diff_masks_secrets(systems, secrets, tmp_path):
    snap = take(systems, tmp_path, secrets)
    change_everything(systems, secrets)
    kube = systems["kube"]
    for name in (API, CANARY):
        kube.wait_for(deployment_ready(kube, name), f"{name} rolled out")
    before = versions(systems, secrets)

    run = play([restore_task(systems, tmp_path, snapshot_id=snap["snapshot"]["id"])], tmp_path, secrets, check=True, diff=True)
    planned = run.result["restored"]
    assert not planned.get("failed") and planned["changed"] is True, run.output
    assert {item["status"] for item in planned["report"]["kinds"]} == {"planned"}
    assert planned["changes"]["secrets"] == [
        {"target": "ofm-social-os-secrets", "key": "META_APP_SECRET", "action": "add", "value": "<added>"},
        {"target": "ofm-social-os-secrets", "key": "TIKTOK_API_KEY", "action": "change", "value": "<changed>"}]
    assert '"TIKTOK_API_KEY": "<changed>"' in run.output and '"TIKTOK_API_KEY": "<secret>"' in run.output  # the --diff, masked
    assert '"LOG_LEVEL": "debug"' in run.output and '"LOG_LEVEL": "info"' in run.output
    after = versions(systems, secrets)
    assert after["objects"] == before["objects"] and after["unleash"] == before["unleash"] and after["rows"] == before["rows"]
    assert {key: value for key, (value, _ttl) in after["cache"].items()} == {key: value for key, (value, _ttl) in before["cache"].items()}
    assert all(after["cache"][key][1] <= before["cache"][key][1] for key in before["cache"])  # counting down: never written again
    assert after["cache"]["feature_flags:brand_new"][1] == -1

    unwritten = play([snapshot_task(systems, tmp_path, register="snap")], tmp_path, secrets, check=True).result["snap"]
    assert unwritten["changed"] is False and unwritten["snapshot"]["location"] is None
    assert [path.name for path in (tmp_path / "snapshots").iterdir()] == [f"{snap['snapshot']['id']}.json"]


def test_refusals_before_anything_changes_tampered_file_wrong_vault_secret_other_namespace_and_unleash_token(systems, secrets, tmp_path):
    snap = take(systems, tmp_path, secrets)
    change_everything(systems, secrets)
    before = versions(systems, secrets)
    stored = Path(snap["snapshot"]["location"])
    tampered = tmp_path / "tampered.json"
    tampered.write_text(stored.read_text().replace('"LOG_LEVEL": "info"', '"LOG_LEVEL": "warn"'))
    copied = tmp_path / "copied.json"
    copied.write_text(stored.read_text())

    tasks = [restore_task(systems, tmp_path, "tampered", snapshot_path=str(tampered)),
             restore_task(systems, tmp_path, "namespace", snapshot_path=str(copied), namespace="ofm-staging"),
             restore_task(systems, tmp_path, "unknown", snapshot_id="cfg-20200101T000000Z-abcdef"),
             restore_task(systems, tmp_path, "token", snapshot_path=str(copied), unleash_token="*:*.not-the-unleash-token-58f1")]
    run = play(tasks, tmp_path, secrets)
    wrong_vault = play([restore_task(systems, tmp_path, "vault", snapshot_path=str(copied))], tmp_path, secrets, vault_password="not-it-0c2d")
    refused = {**run.result, "vault": wrong_vault.result["vault"]}
    assert "not-the-unleash-token-58f1" not in run.output + json.dumps(run.result)
    for name, result in refused.items():
        assert result["failed"] is True and result["changed"] is False and result["msg"].endswith("Nothing was changed."), (name, result["msg"])
    assert "content hash does not match" in refused["tampered"]["msg"] and refused["tampered"]["error"]["option"] == "snapshot_path"
    assert f"namespace: the snapshot's is '{systems['kube'].namespace}', this restore's is 'ofm-staging'" in refused["namespace"]["msg"]
    assert refused["unknown"]["error"]["type"] == "NotFoundError" and snap["snapshot"]["id"] in refused["unknown"]["msg"]
    assert refused["token"]["error"]["type"] == "AuthenticationError" and "unleash_token" in refused["token"]["msg"]
    assert refused["vault"]["error"]["system"] == "Ansible Vault" and "secrets/ofm-social-os-secrets/" in refused["vault"]["msg"]
    assert "cannot be decrypted" in refused["vault"]["msg"]
    after = versions(systems, secrets)
    assert after["objects"] == before["objects"] and after["unleash"] == before["unleash"] and after["rows"] == before["rows"]
    assert {key: value for key, (value, _ttl) in after["cache"].items()} == {key: value for key, (value, _ttl) in before["cache"].items()}


@pytest.fixture(name="redis_stopped")
def fixture_redis_stopped(systems: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The lab's redis-server process stopped for the test, started again (and its own flags seeded) afterwards."""
    with stopped(systems["lab"], Redis()):
        yield systems


@pytest.mark.reliability("fault", procedure="config", case="Redis stopped",
                         expected="refused before any change")
def test_redis_stopped_refuses_the_restore_before_anything_changes(systems, secrets, tmp_path, request):
    snap = take(systems, tmp_path, secrets)
    change_everything(systems, secrets)
    kube = systems["kube"]
    objects = {name: kube.get("apps/v1", "Deployment", name)["metadata"]["generation"] for name in (API, CANARY)}
    data = kube.get("v1", "ConfigMap", "ofm-social-os-config")["data"]
    toggles = unleash_states(systems["lab"], secrets)
    request.getfixturevalue("redis_stopped")
    result = play([restore_task(systems, tmp_path, snapshot_id=snap["snapshot"]["id"])], tmp_path, secrets).result["restored"]
    assert result["failed"] is True and result["changed"] is False and result["error"]["system"] == "Redis"
    assert result["error"]["type"] == "UnavailableError" and result["msg"].endswith("Nothing was changed.")
    assert {name: kube.get("apps/v1", "Deployment", name)["metadata"]["generation"] for name in (API, CANARY)} == objects
    assert kube.get("v1", "ConfigMap", "ofm-social-os-config")["data"] == data and unleash_states(systems["lab"], secrets) == toggles


@pytest.fixture(name="reader_role")
def fixture_reader_role(systems: dict[str, Any], secrets: Secrets) -> Iterator[tuple[str, str]]:
    """A login role that may read the test's rate limits table but not write it."""
    role, password = f"cfg_reader_{random.token_hex(4)}", random.token_hex(12)
    with admin_connection(systems["lab"], autocommit=True) as db:
        db.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        db.execute(f"GRANT SELECT ON {systems['table']} TO {role}")
    yield role, password
    with admin_connection(systems["lab"], autocommit=True) as db:
        db.execute(f"DROP OWNED BY {role}")
        db.execute(f"DROP ROLE {role}")


@pytest.mark.reliability("fault", procedure="config", case="PostgreSQL refuses the write half way",
                         expected="failed saying what was restored; a re-run completes it")
def test_a_restore_refused_half_way_by_postgresql_says_what_was_restored_and_a_rerun_completes_it(systems, secrets, tmp_path, reader_role):
    snap = take(systems, tmp_path, secrets)
    then = values(systems, secrets)
    change_everything(systems, secrets)
    role, password = reader_role
    as_reader = {"database": {**connection(systems)["database"], "user": role, "password": "{{ lookup('env', 'CFG_READER_PASSWORD') }}"}}
    env = env_of(secrets, CFG_READER_PASSWORD=password)

    first = play([restore_task(systems, tmp_path, snapshot_id=snap["snapshot"]["id"], **as_reader)], tmp_path, secrets, env=env)
    failed = first.result["restored"]
    assert password not in first.output + json.dumps(first.result)
    assert failed["failed"] is True and failed["changed"] is True and failed["report"]["failed"] == "rate_limits"
    assert [(item["kind"], item["status"]) for item in failed["report"]["kinds"]] == [
        ("flags", "restored"), ("unleash", "restored"), ("configmaps", "restored"), ("secrets", "restored"), ("env", "restored"),
        ("rate_limits", "failed")]
    assert "permission denied" in failed["report"]["kinds"][-1]["error"]["msg"] and "Run the restore again to finish" in failed["msg"]
    assert failed["verified"] == {**dict.fromkeys(["flags", "unleash", "configmaps", "secrets", "env"], True), "rate_limits": False}
    now = values(systems, secrets)
    assert {key: now[key] for key in ("configmap", "secret", "cache", "unleash")} == {key: then[key] for key in ("configmap", "secret", "cache", "unleash")}
    assert now["rows"] != then["rows"]

    with admin_connection(systems["lab"], autocommit=True) as db:
        db.execute(f"GRANT INSERT, UPDATE, DELETE ON {systems['table']} TO {role}")
    second = play([restore_task(systems, tmp_path, snapshot_id=snap["snapshot"]["id"], **as_reader)], tmp_path, secrets, env=env).result["restored"]
    assert not second.get("failed"), second
    assert {item["kind"]: item["status"] for item in second["report"]["kinds"]}["rate_limits"] == "restored"
    assert [item["kind"] for item in second["report"]["kinds"] if item["status"] == "restored"] == ["rate_limits"]
    assert values(systems, secrets) == then


def test_from_release_takes_the_env_of_the_previous_replicaset_and_says_what_it_cannot_restore(systems, secrets, tmp_path):
    kube = systems["kube"]
    env_then = kube.get("apps/v1", "Deployment", API)["spec"]["template"]["spec"]["containers"][0]["env"]
    kube.patch("apps/v1", "Deployment", API, [{"op": "replace", "path": "/spec/template/spec/containers/0/env/2/value", "value": "staging"}],
               content_type="application/json-patch+json")
    kube.wait_for(deployment_ready(kube, API), f"{API} rolled out with the changed env")
    run = play([restore_task(systems, tmp_path, from_release="replicaset", deployments=[API])], tmp_path, secrets)
    result = run.result["restored"]
    assert not result.get("failed"), run.output
    assert result["snapshot"]["source"] == "replicaset" and result["snapshot"]["id"].startswith(f"replicaset:{API}: revision 1")
    assert [(item["kind"], item["status"]) for item in result["report"]["kinds"]] == [("env", "restored")]
    assert {item["kind"] for item in result["not_restorable"]} == {"flags", "unleash", "configmaps", "secrets", "rate_limits"}
    assert kube.get("apps/v1", "Deployment", API)["spec"]["template"]["spec"]["containers"][0]["env"] == env_then
    assert result["verified"] == {"env": True} and result["rollouts"][0]["action"] == "wait"


def test_snapshots_kept_as_secrets_of_the_cluster_are_found_by_latest(systems, secrets, tmp_path):
    kube = systems["kube"]
    snap = take(systems, tmp_path, secrets, store="kubernetes", kinds=["configmaps", "secrets"])
    assert snap["snapshot"]["location"] == f"Secret {kube.namespace}/ofm-config-snapshot-{snap['snapshot']['id'].lower()}"
    stored = base64.b64decode(kube.get("v1", "Secret", f"ofm-config-snapshot-{snap['snapshot']['id'].lower()}")["data"]["snapshot.json"]).decode()
    assert KEY_THEN not in stored and yaml.safe_load(stored)["id"] == snap["snapshot"]["id"]
    kube.patch("v1", "ConfigMap", "ofm-social-os-config", {"data": {"LOG_LEVEL": "debug"}})
    try:
        result = play([restore_task(systems, tmp_path, store="kubernetes", latest=True, rollout="none")], tmp_path, secrets).result["restored"]
        assert not result.get("failed"), result
        assert result["snapshot"]["id"] == snap["snapshot"]["id"] and result["report"]["restored"] == ["configmaps", "secrets"]
        assert kube.get("v1", "ConfigMap", "ofm-social-os-config")["data"]["LOG_LEVEL"] == "info"
        assert [entry["done"] for entry in result["rollouts"]] == [False, False]
    finally:
        if not kube.real:
            kube.resource("v1", "Secret").delete(name=f"ofm-config-snapshot-{snap['snapshot']['id'].lower()}", namespace=kube.namespace)


def test_from_release_takes_the_previous_helm_revisions_configmap_and_env(systems, secrets, tmp_path):
    kube = systems["kube"]
    helm = Helm(helm_binary("v3"), kube, tmp_path / "helm")
    release = f"cfg-{random.token_hex(3)}"
    helm.install(release, "message=hello")
    helm.upgrade(release, "message=broken-config")
    assert rendered(helm, release)[0] == "broken-config"
    try:
        run = play([restore_task(systems, tmp_path, from_release="helm", release=release, helm_binary_path=str(helm.binary),
                                 deployments=[f"{release}-api"], kinds=["configmaps", "env"])], tmp_path, secrets)
        result = run.result["restored"]
        assert not result.get("failed"), run.output
        assert result["snapshot"]["source"] == "helm" and result["snapshot"]["id"] == f"helm:{release}@1"
        assert [(item["kind"], item["status"]) for item in result["report"]["kinds"]] == [("configmaps", "restored"), ("env", "restored")]
        assert result["changes"]["configmaps"] == [{"target": f"{release}-config", "key": "message", "action": "change", "before": "broken-config",
                                                   "after": "hello"}]
        assert rendered(helm, release)[0] == "hello" and result["verified"] == {"configmaps": True, "env": True}
        env = kube.get("apps/v1", "Deployment", f"{release}-api")["spec"]["template"]["spec"]["containers"][0]["env"]
        assert env == [{"name": "MESSAGE", "value": "hello"}] and result["not_restorable"] == []
    finally:
        helm("uninstall", release, "--namespace", kube.namespace, check=False)
