"""Ordinary mistakes: a typo, a bad value, a malformed URL. Each is refused with exit 2 and one
clear line, changes nothing, and leaks no secret."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner, Result

from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import Settings, load_settings
from bestseller_cli.store import asin_store, client_store
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from tests.conftest import FULL_PASS, SLACK_CHANNEL

runner = CliRunner()
GADGETS = 289913
OURS = "B0C1234567"
PASSWORD = "hunter2-Secret"


def run(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=stdin)


def everything(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    """Every row of every table: what "nothing changed" compares."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'bestseller' ORDER BY tablename"
        )
    ]
    return {
        table: sorted(map(repr, conn.execute(f"SELECT * FROM {table}").fetchall()))
        for table in tables
    }


@pytest.fixture
def acme(env: dict[str, str], conn: psycopg.Connection) -> None:
    """A client with one rule and one ASIN: something a mistake could damage."""
    assert run("clients", "add", "acme", "--channel", "C0ACME1234").exit_code == 0
    assert run("asins", "add", OURS, "--client", "acme").exit_code == 0
    assert run("asins", "add", "B0C7654321").exit_code == 0


BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"
TEXT_WITH_NUL = b"B0C1234567\x00B0C7654321\n"

# (command line, environment changes, what the one line says). "{file}" and "{nul_file}" are
# files written by the test.
MISTAKES = {
    "binary --file": (["asins", "add", "--file", "{file}"], {}, "not a UTF-8 text file"),
    "--file with NUL bytes": (["asins", "add", "--file", "{nul_file}"], {}, "not a text file"),
    "asins add --client ''": (["asins", "add", OURS, "--client", ""], {}, "cannot be empty"),
    "asins list --client ''": (["asins", "list", "--client", " "], {}, "cannot be empty"),
    "asins remove --client ''": (["asins", "remove", OURS, "--client", ""], {}, "cannot be empty"),
    "check --client ''": (["check", "--client", ""], {}, "cannot be empty"),
    "report --client ''": (["report", "--client", ""], {}, "cannot be empty"),
    "clients add ''": (["clients", "add", ""], {}, "cannot be empty"),
    "a 10,000-character client name": (["clients", "add", "x" * 10_000], {}, "at most 100"),
    "a newline in a client name": (["clients", "add", "acme\nltd"], {}, "no newlines"),
    "a control character in a client name": (["clients", "add", "ac\x07me"], {}, "no newlines"),
    "--renotify-window too large": (
        ["clients", "rule", "acme", "--renotify-window", "99999999999"],
        {},
        "--renotify-window must be 0 or more minutes, at most 525600",
    ),
    "--renotify-window too large on add": (
        ["clients", "add", "globex", "--renotify-window", "99999999999"],
        {},
        "--renotify-window must be",
    ),
    "--max-main-rank too large": (
        ["clients", "rule", "acme", "--max-main-rank", "99999999999"],
        {},
        "--max-main-rank must be a rank from 1 to 2147483647",
    ),
    "--ignore-category too large": (
        ["clients", "rule", "acme", "--ignore-category", "99999999999999999999"],
        {},
        "--ignore-category takes positive Amazon category ids",
    ),
    "--daily-hour too large": (
        ["clients", "rule", "acme", "--mode", "daily", "--daily-hour", "99999999999"],
        {},
        "--daily-hour must be an hour from 0 to 23",
    ),
    "--renotify-window not a number": (
        ["clients", "rule", "acme", "--renotify-window", "soon"],
        {},
        "Invalid value for '--renotify-window'",
    ),
    "settings set a huge number": (
        ["settings", "set", "renotify_window_minutes", "99999999999"],
        {},
        "whole number of minutes from 0 to 525600",
    ),
    "settings set a superscript digit": (
        ["settings", "set", "renotify_window_minutes", "²"],
        {},
        "whole number of minutes from 0 to 525600",
    ),
    "report --since 999999d": (["report", "--since", "999999d"], {}, "before the year 1"),
    "report --since beyond any number": (
        ["report", "--since", "99999999999999999999d"],
        {},
        "before the year 1",
    ),
    "DATABASE_URL [::1": (["asins", "list"], {"DATABASE_URL": "[::1"}, "DATABASE_URL"),
    "DATABASE_URL postgresql://[::1": (
        ["asins", "list"],
        {"DATABASE_URL": "postgresql://u:" + PASSWORD + "@[::1"},
        "DATABASE_URL: not a PostgreSQL connection string",
    ),
    "DATABASE_URL with a SQLAlchemy scheme": (
        ["check"],
        {"DATABASE_URL": f"postgresql+psycopg://bestseller:{PASSWORD}@127.0.0.1:1/app"},
        "postgresql+psycopg:// is not one",
    ),
    "DATABASE_URL with a port out of range": (
        ["asins", "list"],
        {"DATABASE_URL": f"postgresql://u:{PASSWORD}@127.0.0.1:99999/app"},
        "DATABASE_URL: port 99999 is not a port number",
    ),
    "KEEPA_API_URL [::1": (["check"], {"KEEPA_API_URL": "[::1"}, "KEEPA_API_URL: not an http"),
    "KEEPA_API_URL with a port out of range": (
        ["check"],
        {"KEEPA_API_URL": "https://api.keepa.com:99999"},
        "KEEPA_API_URL: port 99999",
    ),
    "HEALTHCHECK_URL [::1": (["check"], {"HEALTHCHECK_URL": "https://[::1"}, "HEALTHCHECK_URL"),
    "an infinite timeout": (["check"], {"API_TIMEOUT_SECONDS": "inf"}, "API_TIMEOUT_SECONDS"),
    "KEEPA_TOKENS_PER_HOUR of none": (["check"], {"KEEPA_TOKENS_PER_HOUR": "0"}, "KEEPA_TOKENS"),
    "KEEPA_TOKENS_PER_HOUR not a number": (
        ["doctor"],
        {"KEEPA_TOKENS_PER_HOUR": "lots"},
        "KEEPA_TOKENS_PER_HOUR: Input should be a valid integer",
    ),
    "a ceiling shorter than two runs": (
        ["check"],
        {"CHECK_CEILING_HOURS": "0.25"},
        "CHECK_CEILING_HOURS: must be at least two runs (SCHEDULE_MINUTES=15): 0.25 h",
    ),
    "an unparseable ceiling": (["check"], {"CHECK_CEILING_HOURS": "a day"}, "CHECK_CEILING_HOURS"),
    "a near rank of zero": (["asins", "list"], {"CHECK_NEAR_RANK": "0"}, "CHECK_NEAR_RANK"),
    "a schedule of no minutes": (["check"], {"SCHEDULE_MINUTES": "0"}, "SCHEDULE_MINUTES"),
    "SLACK_API_URL https://[::1": (
        ["doctor"],
        {"SLACK_API_URL": "https://[::1"},
        "SLACK_API_URL: not an http",
    ),
    "clients add with a bad channel": (
        ["clients", "add", "globex", "--channel", "not a channel"],
        {},
        "is not a Slack channel",
    ),
    "clients add with a bad time zone": (
        ["clients", "add", "globex", "--timezone", "Mars/Olympus"],
        {},
        "unknown timezone 'Mars/Olympus'",
    ),
    "a time zone name too long for a file name": (
        ["clients", "rule", "acme", "--timezone", "Europe/" + "x" * 300],
        {},
        "unknown timezone",
    ),
    "clients add --mode daily without an hour": (
        ["clients", "add", "globex", "--mode", "daily"],
        {},
        "--mode daily needs --daily-hour",
    ),
    "asins add to a mistyped client": (
        ["asins", "add", "B0C0000001", "--client", "acmee"],
        {},
        "no client named 'acmee' (did you mean 'acme'?): add it with `bestseller clients add",
    ),
    "check an unknown client": (["check", "--client", "nosuch"], {}, "no client named 'nosuch'"),
    "check an unwatched ASIN": (
        ["check", "--asin", "B0NOTWATCH"],
        {},
        "not watched: B0NOTWATCH (add with `bestseller asins add`)",
    ),
    "check an ASIN another client watches": (
        ["check", "--asin", "B0C7654321", "--client", "acme"],
        {},
        "not watched by client acme: B0C7654321",
    ),
    "an invalid ASIN": (["asins", "add", "B0C0000002", "B0C-BROKEN"], {}, "'B0C-BROKEN' is not"),
    "an unknown marketplace": (
        ["asins", "add", "B0C0000002", "--marketplace", "moon"],
        {},
        "unknown marketplace 'moon'",
    ),
    "a superscript marketplace id": (
        ["asins", "add", "B0C0000002", "--marketplace", "²"],
        {},
        "unknown marketplace '²'",
    ),
    "an unknown option": (["asins", "add", "--bogus"], {}, "No such option: --bogus"),
    "a missing argument": (["clients", "rule"], {}, "Missing argument 'name'"),
}


@pytest.mark.parametrize(("args", "environment", "message"), MISTAKES.values(), ids=MISTAKES)
def test_a_mistake_exits_2_with_one_clear_line_and_changes_nothing(
    acme: None,
    conn: psycopg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    environment: dict[str, str],
    message: str,
) -> None:
    (tmp_path / "binary.png").write_bytes(BINARY)
    (tmp_path / "nul.txt").write_bytes(TEXT_WITH_NUL)
    files = {"file": str(tmp_path / "binary.png"), "nul_file": str(tmp_path / "nul.txt")}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    before = everything(conn)
    result = run(*[arg.format(**files) if "{" in arg else arg for arg in args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output and "unexpected error" not in result.stderr
    assert PASSWORD not in result.output
    assert everything(conn) == before


# --- secrets ---------------------------------------------------------------------------------

DSN_FORMS = {
    "a SQLAlchemy URL": f"postgresql+psycopg://user:{PASSWORD}@127.0.0.1:1/app",
    "a URL without a scheme": f"user:{PASSWORD}@127.0.0.1:1/app",
    "a URL with a password containing @": f"postgresql://user:{PASSWORD}@x@127.0.0.1:1/app",
    "a key=value DSN": f"host=127.0.0.1 port=1 password={PASSWORD} dbname=app",
    "a quoted key=value DSN": f"host=127.0.0.1 port=1 password='{PASSWORD} x' dbname=app",
    "spaces around the equals sign": f"host=127.0.0.1 port=1 password = {PASSWORD} dbname=app",
    "a password query parameter": f"postgresql://127.0.0.1:1/app?password={PASSWORD}&x=1",
    "a supabase pooler URL": (
        f"postgresql://postgres.abcdefgh:{PASSWORD}@aws-0-eu-central-1.pooler.supabase.com:5432/"
        "postgres?sslmode=require"
    ),
}


@pytest.mark.parametrize("dsn", DSN_FORMS.values(), ids=DSN_FORMS)
def test_no_spelling_of_a_database_url_prints_its_password(
    keepa: FakeKeepa, monkeypatch: pytest.MonkeyPatch, dsn: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", dsn)
    for command in (["check"], ["doctor"], ["asins", "list"]):
        result = run(*command)
        assert result.exit_code in (1, 2)
        assert PASSWORD not in result.output
        assert "hunter2" not in result.output


@pytest.mark.parametrize("dsn", DSN_FORMS.values(), ids=DSN_FORMS)
def test_redact_masks_the_password_of_every_dsn_form(dsn: str) -> None:
    from bestseller_cli.redact import redact

    assert "hunter2" not in redact(f'missing "=" after "{dsn}" in connection info string')


def test_a_database_that_refuses_the_connection_is_reported_without_the_password(
    keepa: FakeKeepa, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://user:{PASSWORD}@127.0.0.1:1/app")
    for command in (["asins", "list"], ["doctor"]):
        result = run(*command)
        assert result.exit_code == 1
        assert "cannot connect to the database" in result.output
        assert PASSWORD not in result.output


# --- typos that did something else ----------------------------------------------------------


def test_asins_remove_without_a_client_says_what_it_removed_and_where(
    env: dict[str, str],
) -> None:
    for name in ("acme", "globex"):
        run("clients", "add", name)
        run("asins", "add", OURS, "--client", name)
    run("asins", "add", OURS)
    result = run("asins", "remove", OURS)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"removed {OURS} (com, no client)",
        f"removed {OURS} (com, client acme)",
        f"removed {OURS} (com, client globex)",
    ]


# --- --file ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        'title,ASIN,price\nA lamp,B0C1234567,9.99\n"Desk, oak",b0c7654321,120\n',
        "ASIN\nB0C1234567\nB0C7654321\n",
        "Product id;Title\nB0C1234567;A lamp\nB0C7654321;A desk # oak\n",
        "\ufeffB0C1234567\n# a comment line\nB0C7654321  # and a trailing comment\n",
        "\ufeffasin\tname\nB0C1234567\tlamp\nB0C7654321\tdesk\n",
    ],
    ids=["asin column", "one column", "first column", "BOM and comments", "tab-separated"],
)
def test_a_file_of_asins_may_be_a_csv_export_or_a_plain_list(
    env: dict[str, str], tmp_path: Path, content: str
) -> None:
    path = tmp_path / "asins.csv"
    path.write_text(content, encoding="utf-8")
    result = run("asins", "add", "--file", str(path))
    assert result.exit_code == 0, result.stderr
    listed = json.loads(run("asins", "list", "--json").stdout)
    assert [row["asin"] for row in listed] == ["B0C1234567", "B0C7654321"]


def test_standard_input_with_a_bom_is_read_like_a_file(env: dict[str, str]) -> None:
    result = run("asins", "add", "--file", "-", stdin="\ufeffB0C1234567\n")
    assert result.exit_code == 0, result.stderr
    assert "added B0C1234567" in result.stdout


# --- rules -----------------------------------------------------------------------------------


def quiet_now() -> str:
    """A quiet window that holds alerts now, whatever the time of day (UTC)."""
    now = datetime.now(UTC)
    return f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=2):%H:%M}"


@pytest.mark.parametrize("lift", [["--no-quiet"], ["--remove"]], ids=["no-quiet", "remove"])
def test_lifting_quiet_hours_releases_held_alerts_at_the_next_run(
    keepa: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection, lift: list[str]
) -> None:
    assert run("clients", "add", "acme", "--channel", SLACK_CHANNEL).exit_code == 0
    assert run("clients", "rule", "acme", "--quiet", quiet_now()).exit_code == 0
    assert run("asins", "add", OURS, "--client", "acme").exit_code == 0
    keepa.set_ranks(OURS, {GADGETS: 2})
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(OURS, {GADGETS: 1})
    held = run_check(load_settings(), options=FULL_PASS)
    assert (held.counts["gained"], slack.messages()) == (1, [])
    lifted = run("clients", "rule", "acme", *lift)
    assert lifted.exit_code == 0, lifted.stderr
    run_check(load_settings(), options=FULL_PASS)
    [message] = slack.messages(SLACK_CHANNEL)
    assert OURS in message.text


def test_a_time_zone_unknown_at_delivery_falls_back_to_utc_and_is_logged(
    keepa: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    client_store.add_client(conn, name="acme", channel=SLACK_CHANNEL, rule_changes={})
    # Validated on a laptop with a newer time zone database than this machine's.
    conn.execute("UPDATE notification_rules SET timezone = 'America/Nowhere_New'")
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client="acme")
    keepa.set_ranks(OURS, {GADGETS: 2})
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(OURS, {GADGETS: 1})
    summary = run_check(load_settings(), options=FULL_PASS)
    assert summary.exit_code == 0
    assert len(slack.messages(SLACK_CHANNEL)) == 1
    logged = conn.execute(
        "SELECT source, kind, message FROM error_log WHERE kind = 'unknown_timezone'"
    ).fetchall()
    assert logged and all("America/Nowhere_New" in message for _, _, message in logged)


def test_tzdata_ships_with_the_package() -> None:
    from importlib.metadata import requires

    assert any(requirement.startswith("tzdata") for requirement in requires("bestseller-cli"))


# --- setup -----------------------------------------------------------------------------------


@pytest.fixture
def empty_database(postgres_server_url: str, env: dict[str, str], monkeypatch) -> str:
    """A fresh database with no migrations applied, like a new Supabase project."""
    name = f"bestseller_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = make_conninfo(postgres_server_url, dbname=name)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_doctor_on_a_database_without_migrations_reports_them_and_checks_the_rest(
    empty_database: str, keepa: FakeKeepa, slack: FakeSlack
) -> None:
    result = run("doctor")
    assert "UndefinedTable" not in result.output and "unexpected" not in result.output
    assert "pending: 0001_initial" in result.output
    for part in ("Keepa key", "Slack token", SLACK_CHANNEL):
        assert part in result.output
    assert result.exit_code == 0, result.output


def test_a_blank_value_means_unset_for_every_setting(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    example = Path(__file__).parents[2] / ".env.example"
    names = [
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    ]
    for name in names:
        monkeypatch.delenv(name, raising=False)
    defaults = load_settings()
    (tmp_path / ".env").write_text("".join(f"{name}=\n" for name in names))
    assert load_settings() == defaults
    assert defaults.bestseller_home.is_absolute()  # not ./pgdata in the working directory
    for name in names:
        monkeypatch.setenv(name, "")
    assert load_settings() == defaults
    assert set(Settings.model_fields) == {name.lower() for name in names}


def test_check_json_without_a_slack_token_prints_only_json_on_stdout(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client=None)
    keepa.set_ranks(OURS, {GADGETS: 2})
    assert run("check", "--all", "--json").exit_code == 0
    keepa.set_ranks(OURS, {GADGETS: 1})
    result = run("check", "--all", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["alerts_printed"] == 1
    assert "ALERT" in result.stderr and OURS in result.stderr
