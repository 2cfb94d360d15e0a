"""A fault-injecting HTTP proxy for tests: a real server on a loopback port in front of a real lab service.

Each request takes the next action of a script (the last one repeats): ``pass`` forwards it; ``status:<code>[:<retry-after>]``
answers that status (with a ``Retry-After`` header when given); ``malformed`` answers 200 with a body that is not JSON;
``reset`` closes the connection without an answer (the client sees a connection reset); ``hang`` never answers (until the
proxy stops); ``delay:<seconds>`` waits, then forwards. Requests are counted by the action they met.
"""
from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional


class FaultProxy:
    def __init__(self, upstream: str, script: list[str], cafile: Optional[str] = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.script = list(script)
        self.seen: Counter[str] = Counter()
        self.requests = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        context = ssl.create_default_context(cafile=cafile) if upstream.startswith("https") else None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:  # quiet
                return

            def _handle(self) -> None:
                action = proxy.next_action()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if action == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if action == "hang":
                    proxy._stop.wait(300)
                    self.close_connection = True
                    return
                if action.startswith("status:"):
                    parts = action.split(":")
                    headers = {"Retry-After": parts[2]} if len(parts) > 2 else {}
                    self._answer(int(parts[1]), b'{"error": "injected by the fault proxy"}', headers)
                    return
                if action == "malformed":
                    self._answer(200, b'{"this is": not json', {})
                    return
                if action.startswith("delay:"):
                    time.sleep(float(action.split(":", 1)[1]))
                request = urllib.request.Request(proxy.upstream + self.path, data=body, method=self.command,
                                                 headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "accept-encoding")})
                try:
                    with urllib.request.urlopen(request, timeout=30, context=context) as answer:  # nosec: loopback test proxy
                        self._answer(answer.status, answer.read(), {"Content-Type": answer.headers.get("Content-Type", "application/json")})
                except urllib.error.HTTPError as error:
                    self._answer(error.code, error.read(), {"Content-Type": error.headers.get("Content-Type", "application/json")})

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def next_action(self) -> str:
        with self._lock:
            action = self.script.pop(0) if len(self.script) > 1 else self.script[0]
            self.seen[action.split(":")[0]] += 1
            self.requests += 1
            return action

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
