"""Benchmark: restore the weights of 50 HAProxy servers with ofm.rollback.haproxy_server, side by side with
community.general.haproxy in a loop.

The benchmark starts an HAProxy of its own (backend ``bench``, 50 servers, a UNIX admin socket, since community.general.haproxy
speaks only over one), so the lab is not needed and not touched. Before every measured run every server gets another weight
(untimed, raw socket commands); after it every weight must be the configured one again, otherwise the benchmark stops.

- **ours**: ``ansible-playbook`` with one ``ofm.rollback.haproxy_server`` task whose ``servers`` lists the 50 weights (what
  ``haproxy_server_info`` returns as a snapshot), timed from launch to exit;
- **community.general**: ``ansible-playbook`` with one ``community.general.haproxy`` task (``state: enabled``, ``weight``) and
  a ``loop`` over the same 50 servers, timed from launch to exit. community.general comes from the ``ansible`` package on
  PyPI (``bench/install-community-general.sh``; benchmark only).

Both playbooks run on localhost with connection ``local``, the same ansible.cfg and the same collections path.

    .venv/bin/python bench/haproxy_weights.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SERVERS = 50
BACKEND = "bench"
# community.general.haproxy with state enabled, per server: show stat (state before), show stat (find the server), the
# command line (get weight; enable server; set weight), show stat (state after); read in its source.
CG_CONNECTIONS_PER_SERVER = 4


def command(sock: Path, line: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(sock))
        conn.sendall(line.encode() + b"\n")
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def weights(sock: Path) -> dict[str, int]:
    rows = [line.split() for line in command(sock, f"show servers state {BACKEND}").splitlines()[2:] if line.strip()]
    return {row[3]: int(row[7]) for row in rows}


def configured() -> dict[str, int]:
    return {f"srv{index:02d}": index for index in range(1, SERVERS + 1)}


def start_haproxy(work: Path) -> tuple[subprocess.Popen, Path]:
    sock = work / "admin.sock"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    servers = "\n".join(f"    server {name} 127.0.0.1:{port} weight {weight}" for name, weight in configured().items())
    config = work / "haproxy.cfg"
    config.write_text(f"global\n    stats socket {sock} mode 600 level admin\n\ndefaults\n    mode tcp\n    timeout connect 1s\n"
                      f"    timeout client 5s\n    timeout server 5s\n\nbackend {BACKEND}\n{servers}\n")
    process = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if weights(sock) == configured():
                return process, sock
        except OSError:
            pass
        time.sleep(0.05)
    process.terminate()
    raise SystemExit("haproxy did not start")


def scramble(sock: Path) -> None:
    line = "; ".join(f"set server {BACKEND}/{name} weight {200 - weight}" for name, weight in configured().items())
    command(sock, line)
    if weights(sock) == configured():
        raise SystemExit("the weights did not change before the run")


def playbooks(work: Path, sock: Path) -> dict[str, Path]:
    servers = [{"backend": BACKEND, "server": name, "weight": weight} for name, weight in configured().items()]
    ours = [{"name": "Restore 50 weights", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Restore the weights", "ofm.rollback.haproxy_server": {"haproxy_runtime_api": str(sock), "servers": servers},
         "register": "restored"},
        {"name": "Show the round trips", "ansible.builtin.debug": {"var": "restored.round_trips"}}]}]
    theirs = [{"name": "Restore 50 weights", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Restore the weights", "community.general.haproxy": {
            "socket": str(sock), "backend": "{{ item.backend }}", "host": "{{ item.server }}", "weight": "{{ item.weight }}",
            "state": "enabled"}, "loop": servers}]}]
    paths = {}
    for name, play in (("ours", ours), ("community.general", theirs)):
        paths[name] = work / f"{name}.yml"
        paths[name].write_text(yaml.safe_dump(play, sort_keys=False))
    return paths


def run(playbook: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)],
                          env=env, capture_output=True, text=True, check=False, cwd=playbook.parent)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{playbook.name} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("haproxy") is None:
        raise SystemExit("haproxy is not installed")
    bench_collections = subprocess.run(["bash", str(ROOT / "bench" / "install-community-general.sh")], capture_output=True, text=True,
                                       check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-haproxy-") as tmp:
        work = Path(tmp)
        (work / "ansible.cfg").write_text("[defaults]\nstdout_callback = ansible.builtin.default\nretry_files_enabled = false\n")
        env = {**{key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")},
               "ANSIBLE_CONFIG": str(work / "ansible.cfg"), "ANSIBLE_COLLECTIONS_PATH": f"{ROOT / '.collections'}:{bench_collections}",
               "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_NOCOLOR": "1"}
        process, sock = start_haproxy(work)
        try:
            times: dict[str, list[float]] = {"ours": [], "community.general": []}
            round_trips = None
            for _round in range(args.rounds):
                for name, playbook in playbooks(work, sock).items():
                    scramble(sock)
                    elapsed, output = run(playbook, env)
                    if weights(sock) != configured():
                        raise SystemExit(f"{name}: the weights are not restored: {weights(sock)}")
                    times[name].append(elapsed)
                    if name == "ours":
                        round_trips = json.loads(output.split('"restored.round_trips": ', 1)[1].split("\n", 1)[0])
                    print(f"{name}: {elapsed:.2f} s", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=10)
    medians: dict[str, Any] = {name: statistics.median(values) for name, values in times.items()}
    print(json.dumps({"rounds": args.rounds, "times": times, "median": medians, "ratio": round(medians["ours"] / medians["community.general"], 3),
                      "connections_ours": round_trips, "connections_community_general": CG_CONNECTIONS_PER_SERVER * SERVERS}, indent=2))


if __name__ == "__main__":
    main()
