"""The product's schema on a Supabase-shaped PostgreSQL 15: closed to the Data API's roles
on a fresh project and after an upgrade from a release that kept its tables in `public`.

A probe plays PostgREST: the project's owner connects and, for each request, runs
`SET LOCAL ROLE anon` (or `authenticated`) before one statement, then rolls back."""

import uuid
from collections import Counter
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from bestseller_cli.cli.app import app
from bestseller_cli.store import asin_store, schema
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from fakes.supabase_stack import PROJECT_OWNER, SupabaseStack
from tests.maintenance.test_doctor import table_text

GADGETS, KITCHEN = 289913, 1055398
A, B = "B0AAAAAAAA", "B0BBBBBBBB"
ROLES = ("anon", "authenticated")
VERBS = ("select", "insert", "update", "delete")
runner = CliRunner()


@pytest.fixture
def project(supabase_stack: SupabaseStack) -> Iterator[str]:
    """A new Supabase-shaped database; the URL of its owner (a non-superuser)."""
    name = f"bestseller_supabase_{uuid.uuid4().hex[:12]}"
    yield supabase_stack.supabase_database(name)
    supabase_stack.drop_database(name)


def product_relations(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(schema, name) of every relation the product made, wherever it is."""
    return conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = ANY(%s) AND n.nspname IN ('public', %s) ORDER BY 1, 2",
        (list(schema.RELEASED_IN_PUBLIC), schema.SCHEMA),
    ).fetchall()


def statement(verb: str, relation: sql.Identifier, column: str) -> sql.Composed:
    first = sql.Identifier(column)
    return {
        "select": sql.SQL("SELECT count(*) FROM {}").format(relation),
        "insert": sql.SQL("INSERT INTO {} DEFAULT VALUES").format(relation),
        "update": sql.SQL("UPDATE {} SET {} = {}").format(relation, first, first),
        "delete": sql.SQL("DELETE FROM {}").format(relation),
    }[verb]


def probe(owner_url: str) -> dict[tuple[str, str, str], str]:
    """(role, relation, verb) -> 'refused' (no privilege, or a select that sees no row of
    the rows there are), 'open' (it ran, or failed only past the privilege check: a
    constraint, a view that cannot be changed)."""
    outcomes = {}
    with psycopg.connect(owner_url) as conn:
        for where, name in product_relations(conn):
            relation = sql.Identifier(where, name)
            column = conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
                (f"{where}.{name}",),
            ).fetchone()[0]
            rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(relation)).fetchone()[0]
            conn.rollback()
            for role in ROLES:
                for verb in VERBS:
                    outcomes[(role, name, verb)] = attempt(
                        conn, role, statement(verb, relation, column), rows
                    )
    return outcomes


def attempt(conn: psycopg.Connection, role: str, query: sql.Composed, rows: int) -> str:
    try:
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        cursor = conn.execute(query)
        seen = cursor.fetchone()[0] if cursor.description else None
        return "refused" if seen == 0 and rows > 0 else "open"
    except psycopg.errors.InsufficientPrivilege:
        return "refused"
    except psycopg.Error:
        return "open"
    finally:
        conn.rollback()


def tally(outcomes: dict[tuple[str, str, str], str]) -> Counter[str]:
    return Counter(outcomes.values())


def seed(conn: psycopg.Connection) -> None:
    asin_store.add_tracked(conn, asins=[A, B], marketplace="com", client=None)


# The last migration of the releases that kept their tables in `public`.
LAST_RELEASED_IN_PUBLIC = "0018_webhooks"


def release_in_public(owner_url: str) -> None:
    """The layout every release before this one made: its tables in `public`, applied as
    the owner (so the project's default privileges grant them to the Data API's roles)."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("SET search_path = public")
        conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at"
                     " timestamptz NOT NULL DEFAULT now())")  # fmt: skip
        for version, statements in schema.migration_files():
            if version > LAST_RELEASED_IN_PUBLIC:
                break  # later migrations came after the move: `bestseller` only
            conn.execute(statements)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        conn.execute(
            "INSERT INTO tracked_asins (asin, marketplace) VALUES (%s, 'com'), (%s, 'com')", (A, B)
        )


def test_a_fresh_project_is_closed_to_anon_and_authenticated(project: str) -> None:
    with psycopg.connect(project) as conn:
        assert schema.migrate(conn)
        seed(conn)
        conn.commit()
        door = schema.inspect_door(conn)
    outcomes = probe(project)
    assert {name for _, name, _ in outcomes} == set(schema.RELEASED_IN_PUBLIC)
    assert tally(outcomes) == Counter(refused=len(ROLES) * len(VERBS) * 20)
    assert (door.superuser, door.grants, door.without_rls, door.views_as_definer) == (
        False,
        [],
        [],
        [],
    )
    assert (door.exposed, door.data_api_roles) == (False, ["anon", "authenticated"])


def test_a_release_in_public_moves_out_with_every_row_and_closes(project: str) -> None:
    release_in_public(project)
    before = probe(project)
    assert tally(before)["open"] > 100, "the probe must see the old release's open door"

    with psycopg.connect(project) as conn:
        since = [v for v, _ in schema.migration_files() if v > LAST_RELEASED_IN_PUBLIC]
        assert schema.pending_migrations(conn) == [schema.MOVE_OUT_OF_PUBLIC, *since]
        assert schema.migrate(conn) == [schema.MOVE_OUT_OF_PUBLIC, *since]
        assert schema.pending_migrations(conn) == []
        where = {where for where, _ in product_relations(conn)}
        tracked = conn.execute("SELECT asin FROM tracked_asins ORDER BY asin").fetchall()
    assert where == {schema.SCHEMA}
    assert tracked == [(A,), (B,)]
    assert tally(probe(project)) == Counter(refused=len(ROLES) * len(VERBS) * 20)


def test_another_applications_schema_migrations_in_public_is_left_alone(project: str) -> None:
    with psycopg.connect(project, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.schema_migrations (version varchar PRIMARY KEY)")
        conn.execute("CREATE TABLE public.clients (id int)")
        conn.execute("INSERT INTO public.schema_migrations VALUES ('20240101000000')")
        schema.migrate(conn)
        left = product_relations(conn)
    assert ("public", "schema_migrations") in left and ("public", "clients") in left
    assert (schema.SCHEMA, "clients") in left


def test_doctor_is_red_naming_a_table_granted_to_anon_until_db_upgrade_closes_it(
    project: str, keepa: FakeKeepa, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", project)
    with psycopg.connect(project, autocommit=True) as conn:
        schema.migrate(conn)
        seed(conn)
        conn.execute(f"GRANT USAGE ON SCHEMA {schema.SCHEMA} TO anon")
        conn.execute(f"GRANT SELECT ON {schema.SCHEMA}.clients TO anon")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    text = table_text(result.output)
    assert (
        "fail bestseller.clients granted to anon (SELECT): REVOKE ALL ON TABLE bestseller.clients"
        ' FROM "anon";'
    ) in text
    assert "fail schema bestseller granted to anon (USAGE)" in text
    assert "ok database role the job runs as project_owner" in text

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    again = runner.invoke(app, ["doctor"])
    assert again.exit_code == 0, again.output
    assert "closed" in again.output


def test_the_product_passes_on_an_upgraded_project_every_alert_once(
    project: str, keepa: FakeKeepa, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    release_in_public(project)
    monkeypatch.setenv("DATABASE_URL", project)
    keepa.set_ranks(A, {KITCHEN: 40, GADGETS: 1})
    keepa.set_ranks(B, {KITCHEN: 3})
    first = runner.invoke(app, ["check", "--all"])
    assert first.exit_code == 0, first.output
    keepa.set_ranks(A, {KITCHEN: 41, GADGETS: 2})
    keepa.set_ranks(B, {KITCHEN: 1})
    assert runner.invoke(app, ["check", "--all"]).exit_code == 0
    assert runner.invoke(app, ["check", "--all"]).exit_code == 0
    posted = [m.text for m in slack.messages("C0ALERTS")]
    assert len(posted) == 2 and any(A in t for t in posted) and any(B in t for t in posted)
    report = runner.invoke(app, ["report", "--json"])
    assert report.exit_code == 0 and A in report.output and B in report.output
    assert tally(probe(project)) == Counter(refused=len(ROLES) * len(VERBS) * 20)


def test_a_role_of_its_own_that_owns_only_its_schema_runs_the_product(
    project: str, keepa: FakeKeepa, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's statements: a login role, no superuser, no CREATE on the database, and
    the schema made for it."""
    job = f"job_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(project, autocommit=True) as owner:
        owner.execute(f"CREATE ROLE {job} LOGIN PASSWORD 'job-secret-9Zt'")
        owner.execute(f"REVOKE CREATE ON DATABASE {owner.info.dbname} FROM PUBLIC")
        owner.execute(f"GRANT {job} TO {PROJECT_OWNER}")  # PostgreSQL 15 asks it of CREATE SCHEMA
        owner.execute(f"CREATE SCHEMA {schema.SCHEMA} AUTHORIZATION {job}")
    job_url = make_conninfo(project, user=job, password="job-secret-9Zt")
    monkeypatch.setenv("DATABASE_URL", job_url)
    assert runner.invoke(app, ["asins", "add", A]).exit_code == 0
    with psycopg.connect(job_url) as conn:
        door = schema.inspect_door(conn)
    assert (door.role, door.superuser, door.grants, door.without_rls) == (job, False, [], [])
    with psycopg.connect(project, autocommit=True) as owner:
        owner.execute(f"GRANT anon, authenticated TO {job}")  # to play PostgREST as the job
    assert tally(probe(job_url)) == Counter(refused=len(ROLES) * len(VERBS) * 20)
