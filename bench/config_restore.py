"""Benchmark: restore 1,000 flags + 200 ConfigMap/Secret keys + 50 rate-limit rows with ofm.rollback.config_restore,
side by side with the same restore written as a shell script of redis-cli, kubectl and psql calls.

Everything runs against the lab (Redis, the Kubernetes API test server, PostgreSQL), on objects of the benchmark's own so
the lab's state is not touched: Redis database 2 (``feature_flags:bench_NNNN``, TTL 300 s), namespace ``ofm-bench`` (a
Deployment ``bench-api`` whose FEATURE_FLAGS holds the 1,000 flags, two ConfigMaps and two Secrets of 50 keys each) and
table ``bench_rate_limits`` (50 rows). Before the measurements one snapshot is taken (untimed); before every measured
run every value is changed (untimed); after it every value must equal the snapshot again, otherwise the benchmark stops.

- **module**: ``ansible-playbook`` with one ``ofm.rollback.config_restore`` task (the vault password in a file), timed
  from launch to exit; its ``round_trips`` per system are reported;
- **shell**: a bash script of one ``redis-cli SET ... PX ...`` per flag, one ``kubectl patch`` per ConfigMap/Secret, one
  ``kubectl set env`` for FEATURE_FLAGS and one ``psql -c`` per row (what a responder writes by hand), timed from launch.

    .venv/bin/python bench/config_restore.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.config import HOST, load_config  # noqa: E402  pylint: disable=wrong-import-position

NAMESPACE = "ofm-bench"
DEPLOYMENT = "bench-api"
FLAGS = 1000
OBJECT_KEYS = 50
ROWS = 50
REDIS_DB = 2
TABLE = "bench_rate_limits"
TTL_MS = 300_000
VAULT_PASSWORD = "bench-vault-password"


class Lab:
    """The lab's endpoints and credentials, and small clients for the setup."""

    def __init__(self) -> None:
        self.cfg = load_config()
        self.creds = json.loads(self.cfg.credentials_file.read_text())
        self.kube = requests.Session()
        self.kube.trust_env = False  # else REQUESTS_CA_BUNDLE would replace the lab CA below
        self.kube.verify = str(self.cfg.ca_file)
        self.kube_url = self.cfg.url("kube_apiserver")
        self.redis = redis.Redis(host=HOST, port=self.cfg.ports["redis"], db=REDIS_DB, password=self.creds["redis_password"], decode_responses=True)

    def db(self) -> Any:
        return psycopg.connect(host=HOST, port=self.cfg.ports["postgres"], dbname="ofm", user="ofm_admin", password=self.creds["db_admin_password"],
                               autocommit=True)

    def put(self, path: str, body: dict[str, Any]) -> None:
        """Create or replace one object of the benchmark's namespace."""
        url = f"{self.kube_url}{path}"
        name = body["metadata"]["name"]
        found = self.kube.get(f"{url}/{name}", timeout=10)
        if found.status_code == 404:
            self.kube.post(url, json=body, timeout=10).raise_for_status()
        else:
            body["metadata"]["resourceVersion"] = found.json()["metadata"]["resourceVersion"]
            self.kube.put(f"{url}/{name}", json=body, timeout=10).raise_for_status()


def flag_names() -> list[str]:
    return [f"bench_{n:04d}" for n in range(FLAGS)]


def state(generation: int) -> dict[str, Any]:
    """The benchmark's configuration; generation 0 is the snapshot's, every other one differs in every value."""
    flags = {name: (n + generation) % 2 == 0 for n, name in enumerate(flag_names())}
    return {
        "flags": flags,
        "configmaps": {f"bench-config-{i}": {f"KEY_{k:02d}": f"value-{i}-{k}-g{generation}" for k in range(OBJECT_KEYS)} for i in range(2)},
        "secrets": {f"bench-secret-{i}": {f"SECRET_{k:02d}": f"secret-{i}-{k}-g{generation}" for k in range(OBJECT_KEYS)} for i in range(2)},
        "rows": {f"platform_{n:02d}": (10 + n + generation, 100 + n, 1000 + n, 5) for n in range(ROWS)},
    }


def render_flags(flags: dict[str, bool]) -> str:
    return ",".join(f"{name}={'true' if on else 'false'}" for name, on in flags.items())


def apply_state(lab: Lab, wanted: dict[str, Any]) -> None:
    """Write ``wanted`` everywhere (untimed setup), with the lab's own clients."""
    lab.put("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    for name, data in wanted["configmaps"].items():
        lab.put(f"/api/v1/namespaces/{NAMESPACE}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
    for name, data in wanted["secrets"].items():
        encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
        lab.put(f"/api/v1/namespaces/{NAMESPACE}/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": encoded})
    labels = {"app": DEPLOYMENT}
    container = {"name": "api", "image": "ghcr.io/ofm-social/ofm-social-os-api:2.3.0",
                 "envFrom": [{"configMapRef": {"name": name}} for name in wanted["configmaps"]] +
                            [{"secretRef": {"name": name}} for name in wanted["secrets"]],
                 "env": [{"name": "FEATURE_FLAGS", "value": render_flags(wanted["flags"])}]}
    lab.put(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments",
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": DEPLOYMENT, "labels": labels},
             "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                      "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}})
    pipe = lab.redis.pipeline(transaction=True)
    pipe.flushdb()
    for name, on in wanted["flags"].items():
        pipe.set(f"feature_flags:{name}", "true" if on else "false", px=TTL_MS)
    pipe.execute()
    with lab.db() as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (platform text PRIMARY KEY, per_minute int NOT NULL, per_hour int NOT NULL,"
                     " per_day int NOT NULL, burst int NOT NULL)")
        conn.execute(f"TRUNCATE {TABLE}")
        with conn.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s, %s)", [(key, *values) for key, values in wanted["rows"].items()])


def read_state(lab: Lab) -> dict[str, Any]:
    """What the systems hold now, in ``state``'s shape (to check a restore)."""
    deployment = lab.kube.get(f"{lab.kube_url}/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{DEPLOYMENT}", timeout=10).json()
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    text = next(entry["value"] for entry in env if entry["name"] == "FEATURE_FLAGS")
    source = {pair.split("=")[0]: pair.split("=")[1] == "true" for pair in text.split(",")}
    cache = {key.split(":", 1)[1]: value == "true" for key, value in zip(
        [f"feature_flags:{name}" for name in flag_names()], lab.redis.mget([f"feature_flags:{name}" for name in flag_names()]))}
    configmaps = {name: lab.kube.get(f"{lab.kube_url}/api/v1/namespaces/{NAMESPACE}/configmaps/{name}", timeout=10).json().get("data")
                  for name in state(0)["configmaps"]}
    secrets = {name: {key: base64.b64decode(value).decode() for key, value in
                      (lab.kube.get(f"{lab.kube_url}/api/v1/namespaces/{NAMESPACE}/secrets/{name}", timeout=10).json().get("data") or {}).items()}
               for name in state(0)["secrets"]}
    with lab.db() as conn:
        rows = {row[0]: tuple(row[1:]) for row in conn.execute(f"SELECT * FROM {TABLE} ORDER BY 1")}
    if source != cache:
        raise SystemExit("FEATURE_FLAGS and the Redis cache disagree after the restore")
    return {"flags": source, "configmaps": configmaps, "secrets": secrets, "rows": rows}


def connection(lab: Lab) -> dict[str, Any]:
    return {"kubeconfig": str(lab.cfg.path("kubeconfig")), "namespace": NAMESPACE, "deployments": [DEPLOYMENT], "container": "api",
            "configmaps": list(state(0)["configmaps"]), "secrets": list(state(0)["secrets"]),
            "redis_url": f"redis://{HOST}:{lab.cfg.ports['redis']}/{REDIS_DB}", "redis_password": lab.creds["redis_password"],
            "database": {"host": HOST, "port": lab.cfg.ports["postgres"], "database": "ofm", "user": "ofm_admin",
                         "password": lab.creds["db_admin_password"], "sslmode": "disable"},
            "rate_limits_table": TABLE, "environment": "bench"}


def playbook(lab: Lab, workdir: Path, action: str, args: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """One ansible-playbook run of one task of ``action`` (and a debug of its result: an action in the worker, no module
    process, so the timing is the task's); the seconds from launch to exit and the task's result."""
    play = [{"name": "bench", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": action, f"ofm.rollback.{action}": args, "register": "result"},
        {"name": "result", "ansible.builtin.debug": {"var": "result"}}]}]
    playbook_file = workdir / f"{action}.yml"
    playbook_file.write_text(json.dumps(play))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "OFM_AUDIT_LOG": str(workdir / "audit.jsonl"),
           "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_NOCOLOR": "1"}
    launched = time.monotonic()
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook_file), "--vault-password-file",
                          str(workdir / "vault-pass")], cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    took = time.monotonic() - launched
    if run.returncode != 0:
        raise SystemExit(f"{action} failed:\n{run.stdout[-3000:]}")
    shown = run.stdout.rsplit("ok: [localhost] => ", 1)[1]
    return took, json.JSONDecoder().raw_decode(shown)[0]["result"]


def shell_script(lab: Lab, wanted: dict[str, Any], workdir: Path) -> Path:
    """The same restore as a responder writes it: one CLI call per key, object or row."""
    kubectl = f"kubectl --kubeconfig {lab.cfg.path('kubeconfig')} -n {NAMESPACE}"
    lines = ["#!/usr/bin/env bash", "set -euo pipefail", f"export REDISCLI_AUTH='{lab.creds['redis_password']}'",
             f"export PGPASSWORD='{lab.creds['db_admin_password']}'"]
    redis_cli = f"redis-cli -h {HOST} -p {lab.cfg.ports['redis']} -n {REDIS_DB}"
    for name, on in wanted["flags"].items():
        lines.append(f"{redis_cli} SET feature_flags:{name} {'true' if on else 'false'} PX {TTL_MS} >/dev/null")
    lines.append(f"{kubectl} set env deployment/{DEPLOYMENT} -c api FEATURE_FLAGS='{render_flags(wanted['flags'])}' >/dev/null")
    for name, data in wanted["configmaps"].items():
        lines.append(f"{kubectl} patch configmap {name} --type merge -p '{json.dumps({'data': data})}' >/dev/null")
    for name, data in wanted["secrets"].items():
        encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
        lines.append(f"{kubectl} patch secret {name} --type merge -p '{json.dumps({'data': encoded})}' >/dev/null")
    for platform, values in wanted["rows"].items():
        lines.append(f"psql -X -q -h {HOST} -p {lab.cfg.ports['postgres']} -U ofm_admin -d ofm -c \"UPDATE {TABLE} SET per_minute={values[0]}, "
                     f"per_hour={values[1]}, per_day={values[2]}, burst={values[3]} WHERE platform='{platform}'\" >/dev/null")
    script = workdir / "restore.sh"
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o700)
    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for tool in ("redis-cli", "kubectl", "psql"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed for the shell script variant")
    lab = Lab()
    snapshot_state, changed_state = state(0), state(1)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "vault-pass").write_text(VAULT_PASSWORD)
        apply_state(lab, snapshot_state)
        store = {"snapshot_dir": str(workdir / "snapshots")}
        _took, taken = playbook(lab, workdir, "config_snapshot", {**connection(lab), **store})
        snapshot_id = taken["snapshot"]["id"]
        expected = read_state(lab)
        seconds: dict[str, list[float]] = {"module": [], "shell": []}
        round_trips: dict[str, Any] = {}
        for _round in range(args.rounds):
            apply_state(lab, changed_state)
            took, result = playbook(lab, workdir, "config_restore", {**connection(lab), **store, "snapshot_id": snapshot_id, "rollout": "none"})
            after = read_state(lab)
            if after != expected:
                wrong = [part for part in expected if after[part] != expected[part]]
                raise SystemExit(f"the module's restore did not bring every value back: {wrong}")
            seconds["module"].append(round(took, 2))
            round_trips = result.get("round_trips") or {}
            apply_state(lab, changed_state)
            script = shell_script(lab, snapshot_state, workdir)
            launched = time.monotonic()
            subprocess.run(["bash", str(script)], check=True)
            seconds["shell"].append(round(time.monotonic() - launched, 2))
            after = read_state(lab)
            if after != expected:
                wrong = [part for part in expected if after[part] != expected[part]]
                raise SystemExit(f"the shell script's restore did not bring every value back: {wrong}")
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    shell_calls = {"redis": FLAGS, "kubernetes": 1 + 2 + 2, "postgres": ROWS}
    print(json.dumps({"rounds": args.rounds, "seconds": seconds, "median": medians, "ratio": round(medians["module"] / medians["shell"], 2),
                      "round_trips": {"module": round_trips, "shell": shell_calls}}, indent=2))
    print(f"| {time.strftime('%Y-%m-%d')} | {args.rounds} | {medians['module']:.1f} s | {medians['shell']:.1f} s | "
          f"{medians['module'] / medians['shell']:.2f} | module {round_trips} vs shell {shell_calls} |")


if __name__ == "__main__":
    main()
