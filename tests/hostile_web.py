"""Helpers for the hostile-input and fault tests: a throwaway outlet per test on the session's
mock server (its own host name, so tests never share routes), a canary listener that must see
no connection, and the "nothing lost" check."""

from __future__ import annotations

import contextlib
import html
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from storage.db import Database
from storage.models import Article, UrlState

from .conftest import CrawlResult, MockServer, run_cli


def article_page(title: str, paragraphs: list[str], canonical: str | None = None) -> str:
    link = f'<link rel="canonical" href="{html.escape(canonical)}">' if canonical else ""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title>{link}</head><body><nav><a href='/'>Home</a></nav><article><h1>"
        f"{html.escape(title)}</h1>{body}</article><footer>All rights reserved.</footer>"
        "</body></html>"
    )


def paragraphs(seed: int, n: int = 4) -> list[str]:
    """Distinct, article-like paragraphs (enough text to pass extraction's minimum)."""
    words = [
        "minister",
        "council",
        "report",
        "market",
        "growth",
        "budget",
        "election",
        "court",
        "police",
        "hospital",
        "school",
        "energy",
        "climate",
        "trade",
        "union",
        "vote",
        "city",
        "river",
        "bridge",
        "museum",
        "season",
        "league",
        "coach",
        "player",
    ]
    out = []
    for i in range(n):
        picked = [words[(seed * 7 + i * 5 + k * 3) % len(words)] for k in range(24)]
        out.append(f"Story {seed} paragraph {i}: " + " ".join(picked).capitalize() + ".")
    return out


def rss(items: list[tuple[str, str]], extra_item_xml: str = "") -> str:
    entries = "".join(
        f"<item><title>{html.escape(t)}</title><link>{html.escape(u)}</link></item>"
        for u, t in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Hostile</title>'
        f"<link>http://x/</link><description>d</description>{entries}{extra_item_xml}"
        "</channel></rss>"
    )


@dataclass
class HostileOutlet:
    server: MockServer
    folder: Path
    name: str  # outlet id, also the first label of its host
    sources: list[tuple[str, str]] = field(default_factory=list)
    extra_domains: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=lambda: ["/news/"])
    robots: dict[str, object] = field(
        default_factory=lambda: {"body": "User-agent: *\nAllow: /\n", "content_type": "text/plain"}
    )

    @property
    def host(self) -> str:
        return f"{self.name.replace('_', '-')}.mocknews.localhost"

    def url(self, path: str) -> str:
        return self.server.outlet_url(self.host, path)

    def route(self, path: str, body: bytes | str = b"", **fault: object) -> str:
        return self.server.route(self.host, path, body, **fault)

    def article(self, n: int, **fault: object) -> str:
        """Serve article n (a normal page unless ``fault`` says otherwise); returns its URL."""
        path = f"/news/{n}"
        if "body" not in fault and "body_b64" not in fault:
            fault["body"] = article_page(f"Headline {n}", paragraphs(n))
        body = fault.pop("body", b"")
        return self.route(path, body, **fault)  # type: ignore[arg-type]

    def feed(self, urls: list[str], path: str = "/rss.xml", extra_item_xml: str = "") -> str:
        url = self.route(
            path,
            rss([(u, f"Headline {i}") for i, u in enumerate(urls)], extra_item_xml),
            content_type="application/rss+xml",
        )
        self.sources.append(("rss", url))
        return url

    def write(self) -> None:
        robots = dict(self.robots)
        self.route("/robots.txt", str(robots.pop("body", "")), **robots)
        domains = ", ".join(f'"{d}"' for d in [self.host, *self.extra_domains])
        patterns = ", ".join(f"'{p}'" for p in self.patterns)
        lines = [
            f'id = "{self.name}"',
            f'name = "{self.name}"',
            f'homepage = "{self.url("/")}"',
            'language = "en"',
            f"allowed_domains = [{domains}]",
            f"article_url_patterns = [{patterns}]",
            "[politeness]",
            "download_delay = 0",
            "concurrency = 8",
        ]
        for kind, url in self.sources:
            lines += ["[[sources]]", f'kind = "{kind}"', f'url = "{url}"']
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{self.name}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def crawl(self, db_url: str, *settings: str, timeout: float = 240) -> CrawlResult:
        self.write()
        args = ["crawl", self.name, "--db", db_url, "--outlets-dir", str(self.folder)]
        for s in ("DOWNLOAD_TIMEOUT=3", "RETRY_TIMES=1", *settings):
            args += ["--set", s]
        return run_cli(*args, timeout=timeout)

    def requests_to(self, path: str) -> int:
        return sum(1 for host, p in self.server.requests() if host == self.host and p == path)


class Canary:
    """A loopback listener that counts connections: hostile links must never reach it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def stored_and_failed(db_url: str) -> tuple[dict[str, int], dict[str, str]]:
    """(canonical URL -> number of rows, URL -> failure reason) from the database."""
    db = Database(db_url)
    with db.read() as s:
        urls = list(s.scalars(select(Article.url)))
        failed = {u.url: u.reason or "" for u in s.scalars(select(UrlState)) if u.state != "stored"}
    db.dispose()
    counts: dict[str, int] = {}
    for url in urls:
        counts[url] = counts.get(url, 0) + 1
    return counts, failed


def assert_nothing_lost(db_url: str, stored: set[str], failed: dict[str, set[str] | str]) -> None:
    """Exactly the expected articles, once each; every other URL with a recorded reason."""
    counts, reasons = stored_and_failed(db_url)
    assert set(counts) == stored, (sorted(counts), sorted(stored))
    assert all(n == 1 for n in counts.values())
    for url, expected in failed.items():
        allowed = {expected} if isinstance(expected, str) else expected
        assert reasons.get(url) in allowed, (url, reasons.get(url), allowed)


class TcpProxy:
    """A loopback TCP proxy to a real server; ``cut()`` drops every connection and stops
    listening, as a database server that goes down does."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.down = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.down:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.down = True
        # shutdown() wakes the thread blocked in accept(); close() alone would not
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
