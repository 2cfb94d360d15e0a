"""Benchmark: time from start to "100 % of the traffic on stable, verified" on the lab.

Compares ``ansible-playbook playbooks/emergency-rollback.yml`` with a minimal script that makes the
same sequence of calls (SLO queries, admin probe, Slack announcement, traffic read, rollback POST,
then polling weights and measured share). Each round resets the lab, breaks the canary and waits for
a sustained breach (not timed) before the timed part. Results go to stdout as JSON and a Markdown row.

Beside it, for both: the time from the process's launch until the router (HAProxy) holds the canary at
weight 0, the moment users stop seeing the canary's errors. A thread polls the router's runtime API
every ``WEIGHT_POLL`` seconds while the process runs.

    python bench/emergency_path.py [--rounds 3] [--fault errors]
    python bench/emergency_path.py --fault ops-api-down   # the playbook with the ops API process stopped (the fallback path)
                                                          # beside the playbook with the ops API up; the canary answers errors
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab import process  # noqa: E402  pylint: disable=wrong-import-position
from lab.components.ops_api import OpsApi  # noqa: E402  pylint: disable=wrong-import-position
from lab.config import load_config  # noqa: E402  pylint: disable=wrong-import-position

SLO_QUERIES = [
    'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{version="canary"}[W])))',
    'sum(rate(http_requests_total{status=~"5..",version="canary"}[W])) / sum(rate(http_requests_total{version="canary"}[W]))',
    'sum(rate(publish_requests_total{result="success",version="canary"}[W])) / sum(rate(publish_requests_total{version="canary"}[W]))',
    'sum(rate(webhook_signature_verified_total{version="canary"}[W])) / sum(rate(webhook_signature_total{version="canary"}[W]))',
    'sum(rate(db_connection_attempts_total{result="failure",version="canary"}[W])) / sum(rate(db_connection_attempts_total{version="canary"}[W]))',
]


WEIGHT_POLL = 0.01


def lab(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def haproxy(cfg, command: str) -> str:
    with socket.create_connection(("127.0.0.1", cfg.ports["haproxy_admin"]), timeout=3) as conn:
        conn.sendall(command.encode() + b"\n")
        return conn.makefile().read()


def canary_weight(cfg) -> int:
    return int(haproxy(cfg, "get weight ofm_api/canary").split()[0])


def canary_share(session: requests.Session, cfg, window: str) -> float | None:
    query = f"sum by (version) (rate(http_requests_total[{window}]))"
    result = session.post(f"{cfg.url('prometheus')}/api/v1/query", data={"query": query}, timeout=5).json()["data"]["result"]
    rates = {item["metric"].get("version"): float(item["value"][1]) for item in result}
    total = sum(rates.values())
    return rates.get("canary", 0.0) / total if total else None


class WeightWatch:
    """Polls the router's canary weight in a thread; ``zero_after`` is the first time it read 0, from ``launched``."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.launched = time.time()
        self.zero_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> "WeightWatch":
        if canary_weight(self.cfg) == 0:
            raise SystemExit("the canary is already at weight 0 before the run")
        self.launched = time.time()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                weight = canary_weight(self.cfg)
            except OSError:
                weight = None
            if weight == 0:
                self.zero_at = time.time()
                return
            self._stop.wait(WEIGHT_POLL)

    @property
    def zero_after(self) -> float:
        if self.zero_at is None:
            raise SystemExit("the router never showed the canary at weight 0 during the run")
        return self.zero_at - self.launched


def prepare(cfg, fault: str) -> None:
    lab("reset")
    lab("canary", "bad", fault)
    wait = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "localhost", "-m", "ofm.rollback.slo_check", "-a",
         json.dumps({"prometheus_url": cfg.url("prometheus"), "window": cfg.sli_window, "sustain": "20s", "resolution": "1s",
                     "wait_for": "breach", "wait_timeout": "3m", "wait_interval": "1s", "ca_path": str(cfg.ca_file)})],
        cwd=ROOT, capture_output=True, text=True, check=False, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")})
    if wait.returncode != 0:
        raise SystemExit(f"no sustained breach:\n{wait.stdout[-2000:]}")


def minimal_script_run(cfg, creds: dict) -> None:
    """The same calls as the playbook's critical path, with nothing around them."""
    session = requests.Session()
    # The lab's HTTPS services, verified against the lab CA as the playbook's clients verify them (trust_env off: requests
    # would let REQUESTS_CA_BUNDLE replace a session's verify).
    session.trust_env = False
    session.verify = str(cfg.ca_file)
    admin = {"Authorization": f"Bearer {creds['identities']['admin']['token']}"}
    now = time.time()
    for query in SLO_QUERIES:
        session.post(f"{cfg.url('prometheus')}/api/v1/query_range",
                     data={"query": query.replace("W", cfg.sli_window), "start": now - 20, "end": now, "step": "1s"}, timeout=10).json()
    session.get(f"{cfg.url('ops_api')}/internal/ops/logs", params={"lines": 1}, headers=admin, timeout=10).raise_for_status()
    session.post(f"{cfg.url('slack')}{creds['slack_webhook_path']}", json={"text": "INC-1: rollback started"}, timeout=10)
    canary_weight(cfg)
    canary_share(session, cfg, "5s")
    session.post(f"{cfg.url('ops_api')}/internal/ops/canary/rollback", headers={**admin, "Idempotency-Key": "bench"},
                 json={"reason": "EMERGENCY_SLO_VIOLATION", "incident_id": "INC-1"}, timeout=10).raise_for_status()
    while not (canary_weight(cfg) == 0 and canary_share(session, cfg, "5s") == 0):
        time.sleep(1)


def minimal_script(cfg) -> tuple[float, float]:
    """The minimal script as its own process (``--minimal``), timed from launch like the playbook.

    Returns (launch to verified, launch to canary weight 0).
    """
    with WeightWatch(cfg) as watch:
        launched = time.monotonic()
        subprocess.run([sys.executable, __file__, "--minimal"], cwd=ROOT, check=True, env=os.environ.copy())
        verified = time.monotonic() - launched
    return verified, watch.zero_after


def playbook(cfg) -> tuple[float, float]:
    """ansible-playbook from launch until the traffic_split_info task saw 100 % on stable, and until the router's canary weight was 0."""
    with tempfile.TemporaryDirectory() as records:
        env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "OFM_AUDIT_LOG": f"{records}/audit.jsonl"}
        with WeightWatch(cfg) as watch:
            launched = watch.launched
            run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "playbooks/emergency-rollback.yml",
                                  "-e", json.dumps({"ofm_incident_record_dir": records, "rollback_incident_id": "INC-2"})],
                                 cwd=ROOT, capture_output=True, text=True, env=env, check=False)
        if run.returncode != 0:
            raise SystemExit(f"playbook failed:\n{run.stdout[-3000:]}")
        record = json.loads(next(Path(records).glob("INC-2-*.json")).read_text())
    monitored = next(phase for phase in record["phases"] if phase["phase"] == "Monitor traffic shift")
    return float(monitored["end"]) - launched, watch.zero_after


def playbook_ops_api_down(cfg) -> tuple[float, float]:
    """The playbook with the ops API process stopped: launch to all traffic on stable through the fallback."""
    process.stop(OpsApi().pid_file(cfg))
    try:
        return playbook(cfg)
    finally:
        lab("up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fault", default="errors")
    parser.add_argument("--minimal", action="store_true", help="run only the minimal script, once, untimed (the benchmark launches it)")
    args = parser.parse_args()
    cfg = load_config()
    creds = json.loads(cfg.credentials_file.read_text())
    if args.minimal:
        minimal_script_run(cfg, creds)
        return
    lab("up")
    variants = {"playbook": lambda: playbook(cfg), "minimal_script": lambda: minimal_script(cfg)}
    canary_fault = args.fault
    if args.fault == "ops-api-down":
        variants, canary_fault = {"playbook": lambda: playbook(cfg), "playbook_ops_api_down": lambda: playbook_ops_api_down(cfg)}, "errors"
    timings: dict[str, list[float]] = {name: [] for name in variants}
    weight_zero: dict[str, list[float]] = {name: [] for name in variants}
    for _round_number in range(args.rounds):
        for name, run in variants.items():
            prepare(cfg, canary_fault)
            verified, zero = run()
            timings[name].append(round(verified, 2))
            weight_zero[name].append(round(zero, 2))
    lab("reset")
    median = {name: statistics.median(values) for name, values in timings.items()}
    zero_median = {name: statistics.median(values) for name, values in weight_zero.items()}
    second = "minimal_script" if "minimal_script" in median else "playbook_ops_api_down"
    report = {"rounds": args.rounds, "fault": args.fault, "seconds": timings, "median": median,
              "ratio": round(median["playbook"] / median[second], 2) if second == "minimal_script"
              else round(median[second] / median["playbook"], 2),
              "launch_to_canary_weight_0": {"seconds": weight_zero, "median": zero_median},
              "load_average": [round(value, 2) for value in os.getloadavg()]}
    if second != "minimal_script":
        print(json.dumps(report, indent=2))
        print(f"| {time.strftime('%Y-%m-%d')} | {args.rounds} | ops API up {median['playbook']:.1f} s | ops API down (fallback) "
              f"{median[second]:.1f} s | {report['ratio']:.2f}x | weight 0 after {zero_median['playbook']:.2f} s / "
              f"{zero_median[second]:.2f} s |")
        return
    print(json.dumps(report, indent=2))
    print(f"| {time.strftime('%Y-%m-%d')} | {args.rounds} | {median['playbook']:.1f} s | {median['minimal_script']:.1f} s | "
          f"{report['ratio']:.2f} | {zero_median['playbook']:.2f} s | {zero_median['minimal_script']:.2f} s |")


if __name__ == "__main__":
    main()
