"""Shared plumbing for the lab's HTTP stand-ins: routing, JSON bodies, HTTPS (``--tls-cert``/``--tls-key``), clean shutdown."""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit


ACCESS_LOG = os.environ.get("OFM_LAB_ACCESS_LOG") == "1"
# Seconds a client has to finish the TLS handshake (a connection that never does ties up one thread, never the server).
HANDSHAKE_TIMEOUT = 10.0
TLS_HANDSHAKE_RECORD = b"\x16"
PLAIN_HTTP_ANSWER = (b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
                     b"Client sent an HTTP request to an HTTPS server.\n")


class Request:
    """One parsed HTTP request handed to a route function."""

    def __init__(self, handler: BaseHTTPRequestHandler, params: dict[str, str]):
        self.handler = handler
        self.method = handler.command
        split = urlsplit(handler.path)
        self.path = split.path
        self.query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        self.params = params
        self.headers = handler.headers
        length = int(handler.headers.get("Content-Length") or 0)
        self.body = handler.rfile.read(length) if length else b""

    def json(self) -> Any:
        """The body parsed as JSON; raises HTTPError(400) when it is not JSON."""
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise HTTPError(400, {"error": f"body is not valid JSON: {exc}"}) from exc

    def json_object(self) -> dict[str, Any]:
        """The body parsed as a JSON object; raises HTTPError(400) when it is anything else."""
        body = self.json()
        if not isinstance(body, dict):
            raise HTTPError(400, {"error": "body must be a JSON object"})
        return body

    @property
    def client_ip(self) -> str:
        return self.handler.client_address[0]


class Response:
    """What a route returns: status, body (dict/list -> JSON, str/bytes as is) and headers."""

    def __init__(self, status: int = 200, body: Any = None, headers: Optional[dict[str, str]] = None,
                 content_type: Optional[str] = None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.content_type or "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        if self.body is None:
            return b"", self.content_type or "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), self.content_type or "application/json; charset=utf-8"


class HTTPError(Exception):
    """Raised by a route to answer with an error status and body."""

    def __init__(self, status: int, body: Any):
        super().__init__(status)
        self.response = Response(status, body)


Route = Callable[[Request], Response]


class Router:
    """Maps (method, path pattern) to route functions; patterns use ``{name}`` placeholders."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []

    def add(self, method: str, pattern: str, route: Route) -> None:
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"
        self._routes.append((method.upper(), re.compile(regex), route))

    def resolve(self, method: str, path: str) -> tuple[Optional[Route], dict[str, str], bool]:
        """The route for a request, its path parameters, and whether the path exists at all."""
        path_known = False
        for route_method, regex, route in self._routes:
            match = regex.match(path)
            if not match:
                continue
            path_known = True
            if route_method == method:
                return route, match.groupdict(), True
        return None, {}, path_known


def make_handler(router: Router, name: str, before: Optional[Callable[[Request], Optional[Response]]] = None,
                 after: Optional[Callable[[Request, Response, float], None]] = None) -> type:
    """A request handler class dispatching to ``router``.

    ``before`` may short-circuit a request by returning a Response; ``after`` sees every answered
    request with its duration in seconds (used for metrics).
    """

    class Handler(BaseHTTPRequestHandler):
        server_version = name
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            """Only server errors are logged unless OFM_LAB_ACCESS_LOG=1: the lab answers many requests a second."""
            if ACCESS_LOG or str(code).startswith("5"):
                super().log_request(code, size)

        def _dispatch(self) -> None:
            started = time.monotonic()
            route, params, path_known = router.resolve(self.command, urlsplit(self.path).path)
            request = Request(self, params)
            try:
                response = before(request) if before else None
                if response is None:
                    if route is None:
                        status = 405 if path_known else 404
                        raise HTTPError(status, {"error": "Method not allowed" if path_known else "Not found"})
                    response = route(request)
            except HTTPError as exc:
                response = exc.response
            except Exception as exc:  # pylint: disable=broad-exception-caught
                response = Response(500, {"error": "Internal error", "details": str(exc)})
            if after:
                after(request, response, time.monotonic() - started)
            self._send(response)

        def _send(self, response: Response) -> None:
            payload, content_type = response.encode()
            try:
                self.send_response(response.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
            except (ConnectionError, ssl.SSLError):  # the client went away (over TLS, maybe without close_notify)
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    return Handler


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback by default)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (chain) instead of plain HTTP")
    parser.add_argument("--tls-key", help="the private key of --tls-cert (default: in the same file)")
    return parser


def tls_context(args: argparse.Namespace) -> Optional[ssl.SSLContext]:
    """The server TLS context of ``--tls-cert``/``--tls-key``, or None for plain HTTP; exits saying why a file cannot be used."""
    if not getattr(args, "tls_cert", None):
        if getattr(args, "tls_key", None):
            sys.exit("--tls-key needs --tls-cert")
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        sys.exit(f"cannot load the TLS certificate {args.tls_cert} (key {args.tls_key or 'in the same file'}): {exc}")
    return context


class LabHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that speaks TLS when given a context: each connection's handshake runs in its own thread, so
    a slow or refusing client never holds up the others."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, context: Optional[ssl.SSLContext] = None):
        self.tls = context
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        """An accepted connection, with Nagle's algorithm off (as Go's servers, Prometheus among them, have it): the headers
        and the body are two writes, and with Nagle on the body waited for the client's delayed ACK of the headers, 40 ms
        on Linux, on every answer."""
        request, client_address = super().get_request()
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return request, client_address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request is not worth a traceback; anything else is."""
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            if request.recv(1, socket.MSG_PEEK) not in (TLS_HANDSHAKE_RECORD, b""):
                # Plain HTTP on the HTTPS port: answer as Go's servers (Prometheus) do, instead of a dropped connection
                # (the request is read first, so that closing does not reset the connection under the answer).
                request.recv(65536)
                request.sendall(PLAIN_HTTP_ANSWER)
                request.close()
                return
            connection = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            # A client that does not trust the certificate aborts the handshake: no traceback (a line with the access log on).
            if ACCESS_LOG or not isinstance(exc, (ssl.SSLError, socket.timeout, ConnectionError)):
                sys.stderr.write(f"{client_address[0]} TLS handshake failed: {exc}\n")
            request.close()
            return
        connection.settimeout(None)
        try:
            super().finish_request(connection, client_address)
        finally:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()


def serve(host: str, port: int, handler: type, on_stop: Optional[Callable[[], None]] = None,
          tls: Optional[ssl.SSLContext] = None) -> None:
    """Serve (HTTPS with ``tls``) until SIGTERM or SIGINT, then close the socket and run ``on_stop``."""
    server = LabHTTPServer((host, port), handler, tls)

    def stop(_signum: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if on_stop:
            on_stop()
