"""Stand-ins for Slack and Atlassian Statuspage that record every message they receive.

Slack and Statuspage are SaaS products that cannot run on a lab machine (and the lab has no
internet), so this service answers their HTTP contracts as the collection uses them:

* ``--kind slack``: incoming webhooks (``POST /services/T/B/X``) and the Web API methods
  ``chat.postMessage``, ``chat.update`` and ``auth.test``, with Slack's own error strings.
* ``--kind statuspage``: the v1 incidents API under ``/v1/pages/{page_id}/incidents``: create, list, get and update.

Every message lands in ``GET /__lab/messages`` and in a JSONL store that is reloaded at start.
Tokens, API keys and the secret part of webhook URLs are never stored.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import string
import threading
import time
from typing import Any, Optional
from urllib.parse import parse_qs

from lab.services.common import FaultInjector, JsonlFile, build_or_exit, iso_now
from lab.services.httpbase import HTTPError, Request, Response, Router, base_parser, make_handler, serve, tls_context

KINDS = ("slack", "statuspage")
WEBHOOK_PATH = re.compile(r"^/services/[^/]+/[^/]+/[^/]+$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
KNOWN_CHANNELS = {"ops-alerts": "C0OPSALRT", "incident-response": "C0INCRESP", "engineering": "C0ENGINRG"}
SLACK_TEAM = {"url": "https://ofm-lab.slack.com/", "team": "OFM Lab", "user": "ofm-rollback",
              "team_id": "T0OFMLAB", "user_id": "U0LABBOT", "bot_id": "B0LABBOT"}
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved",
                     "scheduled", "in_progress", "verifying", "completed")
IMPACTS = ("none", "minor", "major", "critical")
COMPONENT_STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance")
# The lab page's components (id -> name), as GET /v1/pages/{page_id}/components lists them.
COMPONENTS = {"cmp0ofmapi001": "OFM API", "cmp0publish02": "Publishing"}
UNAUTHENTICATED = {"error": "Could not authenticate"}


def channel_id(channel: str) -> str:
    """Slack's channel id for a channel id or name (``#ops-alerts`` -> ``C0OPSALRT``)."""
    name = channel.lstrip("#")
    if CHANNEL_ID.match(name):
        return name
    return KNOWN_CHANNELS.get(name) or "C0" + hashlib.sha1(name.encode()).hexdigest()[:7].upper()


class TsClock:
    """Slack message timestamps (``seconds.microseconds``), unique and increasing."""

    def __init__(self) -> None:
        self._last_us = 0

    def observe(self, ts: Optional[str]) -> None:
        if ts:
            seconds, _dot, micros = ts.partition(".")
            self._last_us = max(self._last_us, int(seconds) * 1_000_000 + int(micros or 0))

    def next(self) -> str:
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"


class MessageStore:
    """Every message received, in order, kept in memory and in a JSONL file."""

    def __init__(self, store: JsonlFile):
        self._store = store
        self._lock = threading.Lock()
        self._records = store.load()

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records)

    def add(self, kind: str, channel: Optional[str], text: Optional[str], payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """Record a message; ``fields`` sets ``blocks``, ``ts``, ``thread_ts`` or kind-specific extras."""
        record = {"kind": kind, "channel": channel, "text": text, "blocks": None, "ts": None, "thread_ts": None,
                  "received_at": iso_now(), "payload": payload}
        record.update(fields)
        with self._lock:
            self._records.append(record)
            self._store.append(record)
        return record

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._store.truncate()


class ReplayedApi:
    """A stand-in API whose state is rebuilt from the messages it recorded, so that it survives a restart.

    ``_objects`` holds what the records describe (Slack messages, Statuspage incidents) keyed by their ID;
    ``__init__`` replays every stored record through ``_apply``.
    """

    def __init__(self, store: MessageStore, credentials: set[str]):
        self._store = store
        self._credentials = credentials
        self._lock = threading.Lock()
        self._objects: dict[Any, dict[str, Any]] = {}
        for record in store.records():
            self._apply(record)

    def add_routes(self, router: Router) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget what the records described (they were cleared)."""
        with self._lock:
            self._objects.clear()

    def _apply(self, record: dict[str, Any]) -> None:
        raise NotImplementedError


def slack_error(error: str) -> Response:
    return Response(200, {"ok": False, "error": error})


def web_api_args(request: Request) -> tuple[dict[str, Any], Optional[str]]:
    """The arguments of a Web API call (JSON or form body) and the token it carries."""
    scheme, _sep, header_token = (request.headers.get("Authorization") or "").partition(" ")
    if "application/x-www-form-urlencoded" in (request.headers.get("Content-Type") or ""):
        args: dict[str, Any] = {key: values[-1] for key, values in parse_qs(request.body.decode(errors="replace")).items()}
        if isinstance(args.get("blocks"), str):
            try:
                args["blocks"] = json.loads(args["blocks"])
            except ValueError as exc:
                raise HTTPError(200, {"ok": False, "error": "invalid_blocks"}) from exc
    else:
        try:
            args = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise HTTPError(200, {"ok": False, "error": "invalid_json"}) from exc
        if not isinstance(args, dict):
            raise HTTPError(200, {"ok": False, "error": "invalid_json"})
    body_token = args.pop("token", None)
    token = header_token.strip() if scheme.lower() == "bearer" and header_token.strip() else body_token
    return args, token


class SlackApi(ReplayedApi):
    """Incoming webhooks and the Web API methods the collection calls, for the bot tokens in ``credentials``."""

    def __init__(self, store: MessageStore, credentials: set[str]):
        self._clock = TsClock()
        super().__init__(store, credentials)

    def add_routes(self, router: Router) -> None:
        router.add("POST", "/services/{team}/{bot}/{secret}", self._webhook)
        router.add("POST", "/api/chat.postMessage", self._post_message)
        router.add("POST", "/api/chat.update", self._update)
        router.add("POST", "/api/auth.test", self._auth_test)

    def _apply(self, record: dict[str, Any]) -> None:
        self._clock.observe(record.get("ts"))
        key = (record["channel"], record["ts"])
        if record["kind"] in ("webhook", "chat.postMessage"):
            self._objects[key] = {"text": record["text"], "blocks": record["blocks"], "thread_ts": record["thread_ts"]}
        elif record["kind"] == "chat.update" and key in self._objects:
            self._objects[key].update(text=record["text"], blocks=record["blocks"])

    def _authenticate(self, token: Optional[str]) -> Optional[Response]:
        if not token:
            return slack_error("not_authed")
        return None if token in self._credentials else slack_error("invalid_auth")

    def _webhook(self, request: Request) -> Response:
        try:
            payload = self._webhook_payload(request)
        except ValueError:
            return Response(400, "invalid_payload")
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return Response(400, "invalid_payload")
        channel = channel_id(payload["channel"]) if isinstance(payload.get("channel"), str) else None
        with self._lock:
            record = self._store.add("webhook", channel, payload.get("text"), payload, blocks=payload.get("blocks"),
                                     ts=self._clock.next(), webhook=f"{request.params['team']}/{request.params['bot']}")
            self._apply(record)
        return Response(200, "ok", content_type="text/html")

    @staticmethod
    def _webhook_payload(request: Request) -> Any:
        if "application/x-www-form-urlencoded" in (request.headers.get("Content-Type") or ""):
            form = parse_qs(request.body.decode(errors="replace"))
            return json.loads(form.get("payload", [""])[-1])
        return json.loads(request.body or b"null")

    def _post_message(self, request: Request) -> Response:
        args, token = web_api_args(request)
        refused = self._authenticate(token)
        if refused:
            return refused
        if not isinstance(args.get("channel"), str) or not args["channel"].strip("# "):
            return slack_error("channel_not_found")
        if not (args.get("text") or args.get("blocks")):
            return slack_error("no_text")
        channel = channel_id(args["channel"])
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") is not None else None
        with self._lock:
            if thread_ts is not None and (channel, thread_ts) not in self._objects:
                return slack_error("thread_not_found")
            record = self._store.add("chat.postMessage", channel, args.get("text"), args, blocks=args.get("blocks"),
                                     ts=self._clock.next(), thread_ts=thread_ts)
            self._apply(record)
        return Response(200, {"ok": True, "channel": channel, "ts": record["ts"], "message": self._message(record)})

    def _update(self, request: Request) -> Response:
        args, token = web_api_args(request)
        refused = self._authenticate(token)
        if refused:
            return refused
        if not isinstance(args.get("channel"), str) or not args["channel"].strip("# "):
            return slack_error("channel_not_found")
        channel, ts = channel_id(args["channel"]), str(args.get("ts"))
        with self._lock:
            original = self._objects.get((channel, ts))
            if original is None:
                return slack_error("message_not_found")
            record = self._store.add("chat.update", channel, args.get("text"), args, blocks=args.get("blocks"),
                                     ts=ts, thread_ts=original["thread_ts"])
            self._apply(record)
        return Response(200, {"ok": True, "channel": channel, "ts": ts, "text": record["text"], "message": self._message(record)})

    def _auth_test(self, request: Request) -> Response:
        _args, token = web_api_args(request)
        return self._authenticate(token) or Response(200, dict(SLACK_TEAM, ok=True))

    @staticmethod
    def _message(record: dict[str, Any]) -> dict[str, Any]:
        message = {"type": "message", "text": record["text"], "user": SLACK_TEAM["user_id"], "bot_id": SLACK_TEAM["bot_id"], "ts": record["ts"]}
        message.update({key: record[key] for key in ("blocks", "thread_ts") if record[key] is not None})
        return message


def new_incident_id() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _position in range(12))


def _validated_fields(fields: Any, creating: bool) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise HTTPError(400, {"error": "body must be {\"incident\": {...}}"})
    if creating and not (isinstance(fields.get("name"), str) and fields["name"].strip()):
        raise HTTPError(422, {"error": "Name can't be blank"})
    if "status" in fields and fields["status"] not in INCIDENT_STATUSES:
        raise HTTPError(422, {"error": f"Status must be one of {', '.join(INCIDENT_STATUSES)}"})
    if fields.get("impact_override") is not None and fields["impact_override"] not in IMPACTS:
        raise HTTPError(422, {"error": f"Impact override must be one of {', '.join(IMPACTS)}"})
    if "component_ids" in fields and not isinstance(fields["component_ids"], list):
        raise HTTPError(422, {"error": "Component ids must be a list"})
    components = fields.get("components")
    bad = components is not None and (not isinstance(components, dict) or any(
        key not in COMPONENTS or value not in COMPONENT_STATUSES for key, value in components.items()))
    if bad:
        raise HTTPError(422, {"error": f"Components must map ids ({', '.join(COMPONENTS)}) to one of {', '.join(COMPONENT_STATUSES)}"})
    return fields


def _set_components(incident: dict[str, Any], fields: dict[str, Any]) -> None:
    """The incident's components, as Statuspage returns them: [{id, name, status}] for each attached one."""
    statuses = {item["id"]: item["status"] for item in incident.get("components") or []}
    statuses.update(fields.get("components") or {})
    ids = sorted(set(incident.get("component_ids") or []) | set(statuses))
    incident["component_ids"] = ids
    incident["components"] = [{"id": key, "name": COMPONENTS.get(key, key), "status": statuses.get(key, "operational")} for key in ids]


class StatuspageApi(ReplayedApi):
    """The Statuspage v1 incidents API, authenticated by ``Authorization: OAuth <key>`` with a key in ``credentials``."""

    def add_routes(self, router: Router) -> None:
        router.add("POST", "/v1/pages/{page_id}/incidents", self._create)
        router.add("GET", "/v1/pages/{page_id}/incidents", self._list)
        router.add("GET", "/v1/pages/{page_id}/incidents/{incident_id}", self._get)
        router.add("PATCH", "/v1/pages/{page_id}/incidents/{incident_id}", self._patch)
        router.add("GET", "/v1/pages/{page_id}/components", self._components)

    def _components(self, request: Request) -> Response:
        self._authenticate(request)
        return Response(200, [{"id": key, "name": name, "page_id": request.params["page_id"]} for key, name in COMPONENTS.items()])

    def _apply(self, record: dict[str, Any]) -> None:
        if record["kind"] in ("incident.create", "incident.update"):
            self._objects[record["incident_id"]] = record["incident"]

    def _authenticate(self, request: Request) -> None:
        scheme, _sep, key = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "oauth" or key.strip() not in self._credentials:
            raise HTTPError(401, UNAUTHENTICATED)

    def _create(self, request: Request) -> Response:
        self._authenticate(request)
        payload = request.json_object()
        fields = _validated_fields(payload.get("incident"), creating=True)
        now, incident_id = iso_now(), new_incident_id()
        incident = {"id": incident_id, "page_id": request.params["page_id"], "name": fields["name"].strip(),
                    "status": fields.get("status", "investigating"), "impact_override": fields.get("impact_override"),
                    "impact": fields.get("impact_override") or "none", "shortlink": f"https://stspg.io/{incident_id[:7]}",
                    "component_ids": list(fields.get("component_ids") or []), "created_at": now, "updated_at": now,
                    "started_at": now, "monitoring_at": None, "resolved_at": None, "incident_updates": []}
        _set_components(incident, fields)
        self._stamp_status(incident, now)
        self._add_update(incident, fields.get("body") or "", now)
        return Response(201, self._save("incident.create", incident, payload, fields.get("body") or incident["name"]))

    def _list(self, request: Request) -> Response:
        self._authenticate(request)
        with self._lock:
            incidents = [incident for incident in self._objects.values() if incident["page_id"] == request.params["page_id"]]
        return Response(200, sorted(incidents, key=lambda incident: incident["created_at"], reverse=True))

    def _get(self, request: Request) -> Response:
        self._authenticate(request)
        return Response(200, self._incident(request))

    def _patch(self, request: Request) -> Response:
        self._authenticate(request)
        payload = request.json_object()
        fields = _validated_fields(payload.get("incident"), creating=False)
        incident, now = self._incident(request), iso_now()
        incident.update({key: fields[key] for key in ("name", "status", "impact_override", "component_ids") if key in fields})
        _set_components(incident, fields)
        incident["impact"] = incident["impact_override"] or "none"
        incident["updated_at"] = now
        self._stamp_status(incident, now)
        if "status" in fields or "body" in fields:
            self._add_update(incident, fields.get("body") or "", now)
        return Response(200, self._save("incident.update", incident, payload, fields.get("body") or incident["name"]))

    def _incident(self, request: Request) -> dict[str, Any]:
        """A copy of the incident the path names; 404 when that page has no such incident."""
        with self._lock:
            current = self._objects.get(request.params["incident_id"])
        if current is None or current["page_id"] != request.params["page_id"]:
            raise HTTPError(404, {"error": "Not found"})
        return json.loads(json.dumps(current))

    @staticmethod
    def _stamp_status(incident: dict[str, Any], now: str) -> None:
        if incident["status"] in ("monitoring", "resolved") and not incident[f"{incident['status']}_at"]:
            incident[f"{incident['status']}_at"] = now

    @staticmethod
    def _add_update(incident: dict[str, Any], body: str, now: str) -> None:
        update = {"id": new_incident_id(), "incident_id": incident["id"], "status": incident["status"], "body": body,
                  "created_at": now, "updated_at": now, "display_at": now}
        incident["incident_updates"].insert(0, update)

    def _save(self, kind: str, incident: dict[str, Any], payload: dict[str, Any], text: str) -> dict[str, Any]:
        with self._lock:
            record = self._store.add(kind, incident["page_id"], text, payload, incident_id=incident["id"], incident=incident)
            self._apply(record)
        return incident


class CommsApp:
    """One comms stand-in (Slack or Statuspage) with the lab's message log and fault injection."""

    def __init__(self, kind: str, store: MessageStore, tokens: set[str], faults: Optional[FaultInjector] = None):
        if kind not in KINDS:
            raise ValueError(f"comms stand-in kind {kind!r} is not one of {', '.join(KINDS)}")
        self.kind = kind
        self.store = store
        self.faults = faults or FaultInjector()
        self.service = SlackApi(store, tokens) if kind == "slack" else StatuspageApi(store, tokens)

    def handler(self) -> type:
        return make_handler(self.router(), f"{self.kind}-lab", self.before)

    def router(self) -> Router:
        router = Router()
        router.add("GET", "/health", self._health)
        router.add("GET", "/__lab/messages", self._messages)
        router.add("DELETE", "/__lab/messages", self._clear)
        self.faults.add_routes(router)
        self.service.add_routes(router)
        return router

    def before(self, request: Request) -> Optional[Response]:
        intercepted = self.faults.intercept(request)
        if intercepted is None and self.kind == "slack" and request.path.startswith("/services/") and not WEBHOOK_PATH.match(request.path):
            return Response(404, "no_service")
        return intercepted

    def _health(self, _request: Request) -> Response:
        return Response(200, {"ok": True, "timestamp": iso_now(), "service": f"{self.kind}-lab"})

    def _messages(self, request: Request) -> Response:
        kind, channel = request.query.get("kind"), request.query.get("channel")
        wanted_channel = channel_id(channel) if channel and self.kind == "slack" else channel
        messages = [record for record in self.store.records()
                    if (kind is None or record["kind"] == kind) and (channel is None or record["channel"] == wanted_channel)]
        return Response(200, {"messages": messages})

    def _clear(self, _request: Request) -> Response:
        self.store.clear()
        self.service.reset()
        return Response(200, {"messages": []})


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = base_parser("Lab stand-in for Slack (webhooks, Web API) or Statuspage (v1 incidents API) that records every message.")
    parser.add_argument("--kind", choices=KINDS, required=True, help="which service to stand in for")
    parser.add_argument("--store", help="JSONL file of every message received, appended to and reloaded at start")
    parser.add_argument("--token", action="append", default=[],
                        help="accepted Slack bot token or Statuspage API key (repeatable; none accepted by default)")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    app = build_or_exit(f"{args.kind} stand-in", lambda: CommsApp(args.kind, MessageStore(JsonlFile(args.store)), set(args.token)),
                        args.store)
    serve(args.host, args.port, app.handler(), tls=tls_context(args))


if __name__ == "__main__":
    main()
