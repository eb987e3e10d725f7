"""Shared fixtures: the mock news web in a subprocess on port 0, scratch databases (SQLite files,
and a PostgreSQL database created on the local server for the session), and a crawl runner.

Tests that need PostgreSQL or Redis skip when the server is absent, unless
``NEWSCRAWL_REQUIRE_SERVICES=1`` (set by ``.ci/run``) turns that skip into a failure."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest

from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "NEWSCRAWL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("NEWSCRAWL_REQUIRE_SERVICES") == "1"


def sync_registry(db: Database, outlets: Iterable[Any]) -> None:
    """Record registry outlets (``crawler.registry.Outlet``) as storage's plain records."""
    from storage.outlets import sync_outlets

    sync_outlets(db, [o.record() for o in outlets])


def service_missing(what: str, why: object) -> None:
    message = f"{what} is not reachable ({why})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; NEWSCRAWL_REQUIRE_SERVICES=1 forbids skipping")
    pytest.skip(message)


@dataclass
class MockServer:
    base: str  # http://127.0.0.1:PORT
    port: int
    outlets_dir: Path
    process: subprocess.Popen[str]

    def outlet_url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    def requests(self) -> list[tuple[str, str]]:
        with urlopen(Request(self.base + "/_mock/requests"), timeout=10) as resp:
            return [tuple(x) for x in json.load(resp)]

    def not_modified(self) -> list[tuple[str, str]]:
        """(host, path) of each conditional GET answered 304."""
        with urlopen(Request(self.base + "/_mock/not_modified"), timeout=10) as resp:
            return [tuple(x) for x in json.load(resp)]

    def reset(self) -> None:
        with urlopen(Request(self.base + "/_mock/reset"), timeout=10) as resp:
            resp.read()

    def route(self, host: str, path: str, body: bytes | str = b"", **fault: object) -> str:
        """Serve ``body`` (and a fault: status, headers, action, delay...) at host+path; returns
        the URL."""
        data = body.encode() if isinstance(body, str) else body
        spec = {"host": host, "path": path, "body_b64": base64.b64encode(data).decode(), **fault}
        req = Request(
            self.base + "/_mock/route",
            data=json.dumps(spec).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urlopen(req, timeout=10) as resp:
            resp.read()
        return self.outlet_url(host, path)


def start_mock_server(outlets_dir: Path, *extra: str) -> MockServer:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.demo.mockweb",
            "--port",
            "0",
            "--outlets-dir",
            str(outlets_dir),
            *extra,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"mock server did not start: {line!r}")
    base = line.split()[1]
    return MockServer(
        base=base, port=int(base.rsplit(":", 1)[1]), outlets_dir=outlets_dir, process=proc
    )


@pytest.fixture(scope="session")
def mock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    server = start_mock_server(tmp_path_factory.mktemp("outlets"))
    # The safety layer refuses loopback: allow exactly this server's port, nothing else.
    previous = os.environ.get("NEWSCRAWL_ALLOWED_ADDRESSES")
    os.environ["NEWSCRAWL_ALLOWED_ADDRESSES"] = f"127.0.0.1:{server.port}"
    yield server
    if previous is None:
        os.environ.pop("NEWSCRAWL_ALLOWED_ADDRESSES", None)
    else:
        os.environ["NEWSCRAWL_ALLOWED_ADDRESSES"] = previous
    assert server.process.stdin is not None
    server.process.stdin.close()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'corpus.db'}"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A scratch PostgreSQL database for the session, dropped afterwards."""
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(
            PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        service_missing("PostgreSQL at " + PG_ADMIN_URL, exc)
    name = f"newscrawl_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """An empty schema state for each test: every table dropped before the test."""
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_server_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    yield pg_server_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Database]:
    """A migrated database with the Press TV outlet, on SQLite and on PostgreSQL."""
    from crawler.registry import load_registry

    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    database = Database(url)
    sync_registry(database, [load_registry()["presstv"]])
    yield database
    database.dispose()


CHROMIUM = os.environ.get("NEWSCRAWL_TEST_CHROMIUM", "/usr/bin/chromium")
# As the machine's notes advise: no background networking (the network is closed), fresh profile.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """The machine's headless Chromium, driven by Playwright (no browser download)."""
    if not os.path.exists(CHROMIUM):
        service_missing("Chromium at " + CHROMIUM, "not installed; apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        service_missing("Playwright", exc)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> CrawlResult:
    """``newscrawl ARGS`` in a subprocess (Twisted's reactor cannot restart in one process)."""
    # one extraction worker: a test crawl stores a handful of pages, and each worker's start-up
    # (trafilatura, datasketch, scipy) costs more CPU than they do on a 2-core CI machine
    full_env = {**os.environ, "NEWSCRAWL_EXTRACT_WORKERS": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=full_env,
    )
    return CrawlResult(proc.returncode, proc.stdout, proc.stderr)
