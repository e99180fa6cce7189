"""Shared fixtures: databases (SQLite file; PostgreSQL when SLABOT_TEST_DATABASE_URL is set),
the Slack stand-in, and a running `slabot serve`."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.domain.agreement import Agreement
from storage import queries
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.signing import SIGNING_SECRET

PG_URL = os.environ.get("SLABOT_TEST_DATABASE_URL", "")

EXAMPLE_TERMS = {
    "agreement": {
        "name": "Marketing & Sales SLA, H2",
        "effective": "2026-07-01",
        "period": "month",
        "tolerance": 0.10,
    },
    "calendar": {
        "timezone": "America/New_York",
        "workdays": ["mon", "tue", "wed", "thu", "fri"],
        "hours": "09:00-17:00",
        "holidays": "US",
        "closed": ["2026-12-24", "2026-12-31"],
    },
    "marketing": {
        "mql_target": 3900,
        "sql_target": 1326,
        "sources": {"website": 0.6, "outbound": 0.4},
    },
    "funnel": {
        "quota": 500000,
        "aov": 2000,
        "win": 0.23,
        "sql_to_opp": 0.82,
        "mql_to_sql": 0.34,
        "sources": {"outbound": {"mql_to_sql": 0.30, "win": 0.18}},
    },
    "teams": [
        {"name": "na", "channel": "C0STANDUP", "standup": "09:00", "timezone": "America/New_York"}
    ],
}

# for tests that act at the real time (a clock, a button): an office that never closes, so a
# breach is told whatever the hour the suite runs at
ALWAYS_OPEN_TERMS = {
    **EXAMPLE_TERMS,
    # its owners are no reps of the agreement: watched, and told, since it took effect
    "agreement": {**EXAMPLE_TERMS["agreement"], "watch_from": "2026-07-01T00:00:00"},
    "calendar": {
        **EXAMPLE_TERMS["calendar"],
        "workdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "hours": "00:00-23:59:59.999999",
        "holidays": "",
        "closed": [],
    },
}


def replaying(text: str, since: str = "2026-07-01") -> str:
    """An agreement's text with `watch_from`: what leads reached since `since` is news, as
    though slabot had watched all along. The tests replay leads dated before the moment they
    apply the agreement; a real install pages only what happens after it starts watching."""
    return text.replace("[agreement]\n", f"[agreement]\nwatch_from = {since}\n", 1)


def _pg_schema_url(base: str, schema: str) -> str:
    url = base.replace("postgres://", "postgresql://", 1)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a throw-away PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'slabot.db'}"
        return
    if not PG_URL:
        pytest.skip("SLABOT_TEST_DATABASE_URL is not set")
    schema = f"slabot_test_{uuid.uuid4().hex[:10]}"
    admin = engine_for(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def engine_for(url: str) -> Engine:
    """An engine for a URL as a user writes it (postgres://… included)."""
    from bot.settings import Settings

    return make_engine(Settings(DATABASE_URL=url).database_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty database shared by a module's tests (a module-wide server's)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    from bot.settings import Settings

    engine = make_engine(Settings(DATABASE_URL=database_url).database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def seed_agreement(
    engine: Engine, terms: dict | None = None, in_force_from: date = date(2026, 7, 1)
) -> Agreement:
    agreement = Agreement.model_validate(terms or EXAMPLE_TERMS)
    with session_scope(engine) as session:
        queries.add_agreement_version(
            session,
            name=agreement.agreement.name,
            effective=agreement.agreement.effective,
            in_force_from=in_force_from,
            period=agreement.period,
            terms=agreement.model_dump(mode="json"),
            applied_at=datetime.combine(in_force_from, datetime.min.time(), UTC),  # watched since
        )
    return agreement


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(
        users_by_email={
            "rita@example.com": "U0RITA",
            "sam@example.com": "U0SAM",
            "max@example.com": "U0MAX",
        }
    ).start()
    yield fake
    fake.stop()


def wait_for(condition, seconds: float = 20.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    """Until `condition()` holds (work a press hands to a thread), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or 'the condition'}"
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    def __init__(
        self, process: subprocess.Popen, url: str, log: Path, database_url: str = ""
    ) -> None:
        self.process, self.url, self.log = process, url, log
        self.database_url = database_url

    def post(self, path: str, body: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(self.url + path, content=body, headers=headers, timeout=10)


def slabot_env(database_url: str, fake: FakeSlack, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "SLABOT_", "DATABASE_URL"))
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        DATABASE_URL=database_url,
        WEB_CONCURRENCY="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_server(env: dict[str, str], log: Path) -> RunningServer:
    port = free_port()
    env = {**env, "PORT": str(port)}
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slabot serve exited:\n{log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return RunningServer(process, url, log, env.get("DATABASE_URL", ""))
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"slabot serve did not become healthy:\n{log.read_text()}")


class InProcessServer(RunningServer):
    """The web app (Bolt over HTTP, the webhooks, /healthz) served from a thread of the test
    process: what `slabot serve` serves, without starting a process for each test. Its log
    lines go to `log`, as the process's would."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        from unittest import mock

        from werkzeug.serving import make_server

        from bot.app import build_app
        from bot.settings import Settings
        from bot.web import create_web_app
        from storage.db import is_sqlite
        from storage.migrate import ensure_current

        with mock.patch.dict(os.environ, env, clear=True):
            settings = Settings()
        self.engine = make_engine(
            settings.database_url, statement_timeout=settings.statement_timeout
        )
        ensure_current(self.engine, auto_upgrade=is_sqlite(settings.database_url))
        app = create_web_app(build_app(settings, self.engine), self.engine, settings)
        self.http = make_server("127.0.0.1", 0, app, threaded=True)
        self.handler = logging.FileHandler(log)
        self.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(self.handler)
        logging.getLogger().setLevel(logging.INFO)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()
        url = f"http://127.0.0.1:{self.http.server_port}"
        super().__init__(None, url, log, env.get("DATABASE_URL", ""))  # type: ignore[arg-type]

    def stop(self) -> None:
        self.http.shutdown()
        self.thread.join(timeout=15)
        self.http.server_close()
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()
        self.engine.dispose()


def start_app(env: dict[str, str], log: Path) -> RunningServer:
    """The app in the test process (see InProcessServer); `start_server` for a real process."""
    return InProcessServer(env, log)


def stop_server(server: RunningServer) -> None:
    if isinstance(server, InProcessServer):
        server.stop()
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
