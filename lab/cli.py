"""``lab``: bring the ofm.rollback lab up and down, and drive its canary.

    lab up [--port NAME=N ...] [--load-rate R] [--sli-window 1m]
    lab down [--purge]
    lab status [--json]
    lab reset
    lab canary bad slow|errors|webhooks|db|publish|queue|signature ... | lab canary good | lab canary status
    lab validation slow-query on|off
    lab config bad | lab config good
    lab external bad | lab external good
    lab alert fire NAME [--label k=v ...] [--for 1h] | lab alert clear | lab alert list
    lab traffic
    lab info [--json]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import timedelta
from typing import Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

from lab import app_config, external_config, process
from lab.components import alertmanager
from lab.components import COMPONENTS
from lab.components.base import lab_json
from lab.components.haproxy import weights
from lab.components.postgres import SLOW_QUERY_SECONDS
from lab.config import HOST, REPO_ROOT, LabConfig, load_config
from lab.tls import write_service_cert

FAULTS = ("slow", "errors", "webhooks", "db", "publish", "queue", "content", "signature")
# The components holding the OFM API's configuration (`lab config`).
CONFIG_COMPONENTS = ("kube-apiserver", "redis", "postgres", "unleash")


def cmd_up(cfg: LabConfig, only: Sequence[str] = ()) -> int:
    """Start every component that is not running (with ``only``: just those, e.g. one a test stopped on purpose)."""
    unknown = set(only) - {c.name for c in COMPONENTS}
    if unknown:
        raise process.LabError(f"unknown component(s) {', '.join(sorted(unknown))}; known: {', '.join(c.name for c in COMPONENTS)}")
    missing = [f"{c.name}: {why}" for c in COMPONENTS if (why := c.available())]
    if missing:
        raise process.LabError("cannot start the lab:\n  " + "\n  ".join(missing))
    cfg.save()
    cfg.credentials()
    write_service_cert(cfg.path("tls"))
    for component in COMPONENTS:
        if only and component.name not in only:
            continue
        pid = component.pid(cfg)
        if pid is not None:
            print(f"  {component.name:<18} already running (pid {pid})")
            continue
        busy = [f"{port}={cfg.ports[port]}" for port in component.ports if process.port_open(HOST, cfg.ports[port])]
        if busy:
            raise process.LabError(f"{component.name}: port(s) {', '.join(busy)} already in use by another program; "
                                   "stop it or choose other ports (OFM_LAB_PORT_<NAME> or --port NAME=N)")
        component.prepare(cfg)
        pid = process.start(component.argv(cfg), component.pid_file(cfg), component.log_file(cfg), cwd=REPO_ROOT,
                            env=component.env(cfg), marker=component.marker(cfg))
        process.wait_for(lambda c=component: c.ready(cfg) and c.pid(cfg) is not None, component.start_timeout,
                         component.name, component.log_file(cfg))
        component.started(cfg)
        print(f"  {component.name:<18} started (pid {pid}) {' '.join(component.endpoints(cfg).values())}")
    print(f"lab is up; state in {cfg.state_dir}")
    return 0


def cmd_down(cfg: LabConfig, purge: bool) -> int:
    for component in reversed(COMPONENTS):
        if process.stop(component.pid_file(cfg), signum=component.stop_signal):
            print(f"  {component.name:<18} stopped")
    still_open = [f"{name}={port}" for name, port in cfg.ports.items() if process.port_open(HOST, port)]
    if purge and cfg.state_dir.exists():
        shutil.rmtree(cfg.state_dir)
        print(f"  removed {cfg.state_dir}")
    if still_open:
        print(f"warning: ports still listening: {', '.join(still_open)} (another program?)", file=sys.stderr)
        return 1
    print("lab is down")
    return 0


def component_status(cfg: LabConfig) -> list[dict]:
    rows = []
    for component in COMPONENTS:
        pid = component.pid(cfg)
        healthy = pid is not None and component.ready(cfg)
        rows.append({
            "component": component.name,
            "state": "running" if healthy else ("unhealthy" if pid else "stopped"),
            "pid": pid,
            "ports": {port: cfg.ports[port] for port in component.ports},
            "stand_in": component.stand_in,
            "description": component.description,
        })
    return rows


def cmd_status(cfg: LabConfig, as_json: bool) -> int:
    rows = component_status(cfg)
    if as_json:
        print(json.dumps({"state_dir": str(cfg.state_dir), "components": rows}, indent=2))
    else:
        print(f"lab state: {cfg.state_dir}")
        for row in rows:
            ports = ", ".join(f"{name}={port}" for name, port in row["ports"].items()) or "-"
            pid = row["pid"] or "-"
            print(f"  {row['component']:<18} {row['state']:<10} pid {pid!s:<8} {ports}")
    return 0 if all(row["state"] == "running" for row in rows) else 3


def cmd_reset(cfg: LabConfig) -> int:
    for component in COMPONENTS:
        if component.pid(cfg) is not None:
            component.reset(cfg)
    print(f"lab reset: canary healthy, canary weight {cfg.canary_weight} %, stand-in stores and injected faults cleared, "
          "configuration as seeded (Kubernetes objects, Redis flags, Unleash toggles, rate limits), fast queries, query statistics reset, "
          "lab-posted alerts resolved")
    return 0


def cmd_config(cfg: LabConfig, action: str) -> int:
    down = [c.name for c in COMPONENTS if c.name in CONFIG_COMPONENTS and c.pid(cfg) is None]
    if down:
        raise process.LabError(f"lab config {action}: {', '.join(down)} not running; is the lab up? (lab status)")
    try:
        lines = app_config.make_bad(cfg) if action == "bad" else app_config.make_good(cfg)
    except RuntimeError as exc:
        raise process.LabError(str(exc)) from exc
    print(f"lab config {action}: " + ("a configuration change the canary suffers from" if action == "bad" else "configuration as seeded"))
    for line in lines:
        print(f"  {line}")
    return 0


EXTERNAL_COMPONENTS = ("powerdns", "haproxy", "kube-apiserver", "aws", "platforms")


def cmd_external(cfg: LabConfig, action: str) -> int:
    down = [c.name for c in COMPONENTS if c.name in EXTERNAL_COMPONENTS and c.pid(cfg) is None]
    if down:
        raise process.LabError(f"lab external {action}: {', '.join(down)} not running; is the lab up? (lab status)")
    lines = external_config.make_bad(cfg) if action == "bad" else external_config.make_good(cfg)
    print(f"lab external {action}: " + ("a change to the services in front of the API" if action == "bad" else "external services as seeded"))
    for line in lines:
        print(f"  {line}")
    return 0


def cmd_validation(cfg: LabConfig, switch: str, state: str) -> int:
    """``slow-query on|off``: the database's recent-posts function (the db-writer's read load) slow or fast."""
    postgres = next(c for c in COMPONENTS if c.name == "postgres")
    if postgres.pid(cfg) is None:
        raise process.LabError(f"lab validation {switch}: postgres not running; is the lab up? (lab status)")
    changed = postgres.set_slow_query(cfg, state == "on")
    what = f"ofm_recent_posts sleeps {SLOW_QUERY_SECONDS * 1000:.0f} ms per call" if state == "on" else "ofm_recent_posts as seeded (fast)"
    print(f"lab validation {switch} {state}: {what}" + ("" if changed else " (already)"))
    return 0


def cmd_canary(cfg: LabConfig, action: str, faults: list[str]) -> int:
    url = f"{cfg.url('ofm_api_canary')}/__lab/faults"
    if action == "bad":
        unknown = sorted(set(faults) - set(FAULTS))
        if unknown or not faults:
            raise process.LabError(f"lab canary bad: give one or more of {', '.join(FAULTS)} (got {faults or 'none'})")
        answer = lab_json(cfg, "ofm_api_canary", "/__lab/faults", "POST", {"enable": faults})
    elif action == "good":
        answer = lab_json(cfg, "ofm_api_canary", "/__lab/faults", "PUT", {"faults": []})
    else:
        answer = lab_json(cfg, "ofm_api_canary", "/__lab/faults")
    if answer is None:
        raise process.LabError(f"the canary at {url} does not answer; is the lab up? (lab status)")
    print(json.dumps(answer))
    return 0


def cmd_alert(cfg: LabConfig, action: str, name: Optional[str], labels: list[tuple[str, str]], duration: Optional[str]) -> int:
    """Post a real alert to the lab Alertmanager, resolve the lab-posted ones, or list what is active."""
    try:
        if action == "fire":
            if not name:
                raise process.LabError("lab alert fire: give the alert's NAME, e.g. `lab alert fire OfmManualTest --label severity=page`")
            alert = alertmanager.fire(cfg, name, dict(labels), parse_for(duration or "1h"))
            print(f"lab alert fire: {name} {json.dumps(alert['labels'], sort_keys=True)} active until {alert['endsAt']}")
        elif action == "clear":
            resolved = alertmanager.clear(cfg)
            print(f"lab alert clear: resolved {len(resolved)} lab-posted alert(s){': ' + ', '.join(resolved) if resolved else ''}")
        else:
            for alert in alertmanager.api(cfg, "GET", "alerts?active=true") or []:
                print(f"  {alert['labels'].get('alertname', '?'):<24} {alert['status'].get('state', '?'):<11} since {alert['startsAt']} "
                      f"{json.dumps(alert['labels'], sort_keys=True)}")
    except RuntimeError as exc:
        raise process.LabError(str(exc)) from exc
    return 0


def parse_for(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) == 0:
        raise process.LabError(f"lab alert fire --for takes a duration such as 90s, 10m or 2h, got {text!r}")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def parse_label(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--label takes NAME=VALUE, got {text!r}")
    return name.strip(), value


def cmd_traffic(cfg: LabConfig) -> int:
    current = weights(cfg)
    total = sum(current.values()) or 1
    for server, weight in current.items():
        print(f"  {server:<7} weight {weight:>3}  ({100 * weight / total:.0f} %)")
    return 0


def cmd_info(cfg: LabConfig, as_json: bool) -> int:
    info = {
        "state_dir": str(cfg.state_dir),
        "credentials_file": str(cfg.credentials_file),
        "urls": {name: cfg.url(name) for name in cfg.ports},
        "ca_file": str(cfg.ca_file),
        "haproxy_runtime_socket": str(cfg.path("run", "haproxy.sock")),
        "sli_window": cfg.sli_window,
    }
    print(json.dumps(info, indent=2) if as_json else "\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0


def parse_port(text: str) -> tuple[str, int]:
    name, _sep, port = text.partition("=")
    if not port.isdigit():
        raise argparse.ArgumentTypeError(f"--port takes NAME=NUMBER, got {text!r}")
    return name, int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lab", description="The ofm.rollback lab on loopback.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start every component (harmless when already up)")
    up.add_argument("--port", action="append", type=parse_port, default=[], metavar="NAME=N")
    up.add_argument("--load-rate", type=float)
    up.add_argument("--sli-window")
    up.add_argument("--only", action="append", default=[], metavar="COMPONENT", help="start only this component (repeatable)")
    down = sub.add_parser("down", help="stop every component")
    down.add_argument("--purge", action="store_true", help="also delete the state directory")
    status = sub.add_parser("status", help="each component, its state and ports (exit 3 unless all run)")
    status.add_argument("--json", action="store_true")
    sub.add_parser("reset", help="back to the after-up state without restarting")
    canary = sub.add_parser("canary", help="make the canary bad or good")
    canary.add_argument("action", choices=("bad", "good", "status"))
    canary.add_argument("faults", nargs="*", metavar="FAULT", help=f"one or more of: {', '.join(FAULTS)}")
    config = sub.add_parser("config", help="make the API's configuration bad (a change the canary suffers from) or good (as seeded)")
    config.add_argument("action", choices=("bad", "good"))
    external = sub.add_parser("external", help="make the services in front of the API bad (DNS, load balancers, CDN, platform apps) or good")
    external.add_argument("action", choices=("bad", "good"))
    validation = sub.add_parser("validation", help="break what the post-rollback validation checks, beyond the SLIs")
    validation.add_argument("switch", choices=("slow-query",), help="slow-query: the db-writer's recent-posts query gets slow")
    validation.add_argument("state", choices=("on", "off"))
    alert = sub.add_parser("alert", help="post a real alert to the lab Alertmanager (fire), resolve the lab-posted ones (clear), list")
    alert.add_argument("action", choices=("fire", "clear", "list"))
    alert.add_argument("name", nargs="?", help="the alertname (fire)")
    alert.add_argument("--label", action="append", type=parse_label, default=[], metavar="K=V",
                       help="a label of the alert (repeatable); service=ofm-social-os and severity=page unless given")
    alert.add_argument("--for", dest="duration", metavar="DURATION", help="how long it stays active unless cleared (default 1h)")
    sub.add_parser("traffic", help="HAProxy weights of stable and canary")
    info = sub.add_parser("info", help="URLs, credentials file, sockets")
    info.add_argument("--json", action="store_true")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "up":
            cfg = load_config(port_overrides=dict(args.port) or None)
            if cfg.config_file.exists() and (args.port or args.load_rate or args.sli_window):
                running = [c.name for c in COMPONENTS if c.pid(cfg) is not None]
                if running:
                    raise process.LabError("the lab is running; `lab down` before changing its ports or settings")
            if args.load_rate:
                cfg.load_rate = args.load_rate
            if args.sli_window:
                cfg.sli_window = args.sli_window
            return cmd_up(cfg, args.only)
        cfg = load_config()
        if args.command == "down":
            return cmd_down(cfg, args.purge)
        if args.command == "status":
            return cmd_status(cfg, args.json)
        if args.command == "reset":
            return cmd_reset(cfg)
        if args.command == "canary":
            return cmd_canary(cfg, args.action, args.faults)
        if args.command == "config":
            return cmd_config(cfg, args.action)
        if args.command == "external":
            return cmd_external(cfg, args.action)
        if args.command == "validation":
            return cmd_validation(cfg, args.switch, args.state)
        if args.command == "alert":
            return cmd_alert(cfg, args.action, args.name, args.label, args.duration)
        if args.command == "traffic":
            return cmd_traffic(cfg)
        return cmd_info(cfg, args.json)
    except (process.LabError, ValueError, OSError, OfmRollbackError) as exc:
        print(f"lab {args.command}: {exc}", file=sys.stderr)
        return 2
