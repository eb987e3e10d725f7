"""A mock news web on loopback: outlets with feeds, news sitemaps and article pages wrapped in
realistic chrome (navigation, cookie banner, related stories, footer). One server plays every
outlet, routing by the ``Host`` header (``*.mocknews.localhost``).

Used by ``newscrawl demo``, the tests and the benchmarks:

    python -m crawler.demo.mockweb [--sample FILE] [--port 0] [--outlets-dir DIR]

prints ``READY http://127.0.0.1:PORT`` once it listens. ``GET /_mock/requests`` on any host
returns the request log as JSON (tests use it to see what was fetched); ``/_mock/reset`` clears it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import json
import socket
import struct
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from crawler.demo.sample_outlet import Fault, MockOutlet, Route, load_sample


class MockWeb:
    """The routes of every sample outlet, plus fault routes, served by one threaded server."""

    def __init__(self, sample: dict[str, Any], port: int) -> None:
        self.outlets = [MockOutlet(spec, port) for spec in sample["outlets"]]
        self.routes: dict[tuple[str, str], Route] = {}
        for outlet in self.outlets:
            for path, route in outlet.routes().items():
                self.routes[(outlet.host, path)] = route
        self.requests: list[tuple[str, str]] = []
        self.not_modified: list[tuple[str, str]] = []  # conditional GETs answered 304
        self.lock = threading.Lock()
        self.faults: dict[tuple[str, str], Fault] = {}
        self.served: dict[tuple[str, str], int] = {}

    def write_outlet_files(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for outlet in self.outlets:
            path = folder / f"{outlet.spec['id']}.toml"
            path.write_text(outlet.outlet_toml(), encoding="utf-8")
            written.append(path)
        return written

    def add_route(self, spec: dict[str, Any]) -> None:
        """Register a route from JSON: host, path, and Fault fields (``body_b64`` for bytes)."""
        body = base64.b64decode(spec.pop("body_b64", "")) if "body_b64" in spec else b""
        body = spec.pop("body", "").encode() if "body" in spec else body
        key = (str(spec.pop("host")).lower(), str(spec.pop("path")))
        with self.lock:
            self.faults[key] = Fault(body=body, **spec)
            self.served.pop(key, None)

    def note_not_modified(self, host: str, path: str) -> None:
        with self.lock:
            self.not_modified.append((host.split(":")[0].lower(), path))

    def respond(self, host: str, path: str) -> Route | Fault:
        host = host.split(":")[0].lower()
        if path == "/_mock/requests":
            with self.lock:
                return 200, "application/json", json.dumps(self.requests).encode()
        if path == "/_mock/not_modified":
            with self.lock:
                return 200, "application/json", json.dumps(self.not_modified).encode()
        if path == "/_mock/reset":
            with self.lock:
                self.requests.clear()
                self.not_modified.clear()
            return 200, "text/plain", b"ok"
        with self.lock:
            self.requests.append((host, path))
            fault = self.faults.get((host, path))
            if fault is not None:
                count = self.served.get((host, path), 0)
                self.served[(host, path)] = count + 1
                if count < fault.healthy_after:
                    return Fault(status=503, body=b"busy", headers={"Retry-After": "0"})
                return fault
        return self.routes.get((host, path), (404, "text/html", b"<h1>Not found</h1>"))


def compressed_bomb(encoding: str, size: int = 64 * 1024 * 1024) -> bytes:
    """``size`` zero bytes compressed with ``encoding`` (a few tens of KiB on the wire)."""
    zeros = bytes(size)
    if encoding == "gzip":
        return gzip.compress(zeros, compresslevel=9)
    if encoding == "deflate":
        return zlib.compress(zeros, 9)
    if encoding == "br":
        import brotli

        return bytes(brotli.compress(zeros, quality=5))
    if encoding == "zstd":
        import zstandard

        return bytes(zstandard.ZstdCompressor(level=3).compress(zeros))
    raise ValueError(encoding)


def make_handler(web: MockWeb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stalls on loopback

        def do_POST(self) -> None:
            if self.path != "/_mock/route":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length", "0"))
            web.add_route(json.loads(self.rfile.read(length)))
            self._send(200, "text/plain", b"ok", {})

        def do_GET(self) -> None:
            answer = web.respond(self.headers.get("Host", ""), self.path.split("?")[0])
            if isinstance(answer, tuple):
                self._send(*answer, {})
                return
            fault = answer
            if fault.action == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                return
            if fault.action == "stall":
                time.sleep(fault.delay)
                self.close_connection = True
                return
            if fault.action == "trickle":
                self._trickle(fault)
                return
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status == 200 and self._not_modified(fault.headers):
                web.note_not_modified(self.headers.get("Host", ""), self.path)
                self._send(304, fault.content_type, b"", fault.headers)
                return
            self._send(fault.status, fault.content_type, fault.body, fault.headers, fault.action)

        def _not_modified(self, headers: dict[str, str]) -> bool:
            """A conditional GET whose validator matches the route's ``ETag`` or
            ``Last-Modified`` header, as a server that honours them answers it."""
            etag, since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            return bool(
                (etag and etag == headers.get("ETag"))
                or (since and since == headers.get("Last-Modified"))
            )

        def _trickle(self, fault: Fault) -> None:
            self.close_connection = True
            head = (
                f"HTTP/1.1 {fault.status} OK\r\nContent-Type: {fault.content_type}\r\n"
                f"Content-Length: {len(fault.body)}\r\n\r\n"
            )
            try:
                self.wfile.write(head.encode("latin-1"))
                self.wfile.flush()
                for i in range(len(fault.body)):
                    time.sleep(fault.delay)
                    self.wfile.write(fault.body[i : i + 1])
                    self.wfile.flush()
            except OSError:
                pass  # the client gave up

        def _send(
            self,
            status: int,
            ctype: str,
            body: bytes,
            headers: dict[str, str],
            action: str | None = None,
        ) -> None:
            lines = [
                f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                f"Content-Type: {ctype}",
                "Server: mockweb",
                *(f"{k}: {v}" for k, v in headers.items()),
            ]
            if action == "no_length":
                lines.append("Connection: close")
                self.close_connection = True
            else:
                lines.append(f"Content-Length: {len(body)}")
            if action == "truncate":
                body = body[: max(1, len(body) // 10)]
                self.close_connection = True
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            self.wfile.write(head + body)  # one write per response

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def serve(
    sample: dict[str, Any] | None = None, port: int = 0, host: str = "127.0.0.1"
) -> tuple[_Server, MockWeb]:
    """Start serving in a daemon thread; returns the server (``server_address`` has the port)."""
    sample = sample or load_sample()
    # Bind first: the routes embed the port.
    server = _Server((host, port), BaseHTTPRequestHandler)
    web = MockWeb(sample, server.server_address[1])
    server.RequestHandlerClass = make_handler(web)
    threading.Thread(target=server.serve_forever, name="mockweb", daemon=True).start()
    return server, web


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--outlets-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    server, web = serve(load_sample(args.sample), args.port)
    if args.outlets_dir:
        web.write_outlet_files(args.outlets_dir)
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        # Serve until stdin closes (a parent process ends us that way) or Ctrl-C.
        sys.stdin.read() if not sys.stdin.isatty() else threading.Event().wait()
    server.shutdown()


if __name__ == "__main__":
    main()
