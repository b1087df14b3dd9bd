"""The product's own schema: migrations (owns schema_migrations), moving an older release's
tables out of `public`, and the door: who else may reach the schema, and closing it.

The tables live in `bestseller`, not `public`, because Supabase's Data API serves `public`
(and `graphql_public`) to anyone holding the project's anon key, which ships in every front
end. A schema not on the Data API's list is not served at all; on top of that, nobody but the
job's role holds a privilege in it, and every table has row level security on with no policy
(the owner is not restricted by it), so a schema added to the list by mistake still shows
nothing."""

from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

SCHEMA = "bestseller"
# Arbitrary constant naming our advisory lock; stable across versions.
MIGRATION_LOCK_ID = 0x6265_7374_0001
# Every relation a release before 0.2 created in `public` (migrations 0001-0017): an
# upgrade moves these, with every row, into SCHEMA. Only these: other tables in `public`
# belong to someone else.
RELEASED_IN_PUBLIC = (
    "schema_migrations",
    "clients",
    "global_notification_settings",
    "notification_rules",
    "tracked_asins",
    "check_runs",
    "asin_current_state",
    "asin_history",
    "bestseller_changes",
    "notification_log",
    "api_usage_log",
    "error_log",
    "keepa_best_seller_lists",
    "category_names",
    "asin_checks",
    "rank_points",
    "asin_details",
    "check_spans",
    "history_checks",
    "ops_conditions",
)
# The roles Supabase's Data API runs requests as (anon key, signed-in user).
DATA_API_ROLES = ("anon", "authenticated")


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("bestseller_cli.store") / "migrations"
    files = sorted(
        (entry.name, entry.read_text()) for entry in folder.iterdir() if entry.name.endswith(".sql")
    )
    return [(name.removesuffix(".sql"), sql) for name, sql in files]


def use_schema(conn: psycopg.Connection) -> None:
    """Name our schema for this session's unqualified names (pg_catalog stays first)."""
    conn.execute("SELECT set_config('search_path', %s, false)", (SCHEMA,))


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; safe to run twice and from two processes at once. With
    none pending it writes nothing, so commands that only read work on a read-only
    database. An older release's tables in `public` move into SCHEMA first, in the same
    transaction; whatever was applied, the schema is closed again before it commits."""
    idle = conn.info.transaction_status == TransactionStatus.IDLE
    pending = pending_migrations(conn)
    if idle and not conn.autocommit:
        conn.rollback()  # end the transaction the look opened
    if not pending:
        return []
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        create_schema(conn)
        if move_out_of_public(conn):
            applied_now.append(MOVE_OUT_OF_PUBLIC)
        use_schema(conn)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, statements in migration_files():
            if version in done:
                continue
            conn.execute(statements)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
        close_schema(conn)
    return applied_now


def pending_migrations(conn: psycopg.Connection) -> list[str]:
    """The migrations not applied yet. On an older release's layout, moving its tables out
    of `public` is pending too (it happens first, in the same transaction)."""
    where = recorded_in(conn)
    if where is None:
        return [version for version, _ in migration_files()]
    table = sql.Identifier(where, "schema_migrations")
    done = {row[0] for row in conn.execute(sql.SQL("SELECT version::text FROM {}").format(table))}
    pending = [version for version, _ in migration_files() if version not in done]
    return ([MOVE_OUT_OF_PUBLIC] if where == "public" else []) + pending


MOVE_OUT_OF_PUBLIC = "move the tables out of public"


def recorded_in(conn: psycopg.Connection) -> str | None:
    """Where our schema_migrations is: SCHEMA, `public` (an older release's, known by its
    first migration: another application's schema_migrations in `public` is not ours), or
    nowhere yet."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.schema_migrations",))
    if (found := row.fetchone()) and found[0]:
        return SCHEMA
    row = conn.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
    if not ((found := row.fetchone()) and found[0]):
        return None
    ours = conn.execute(
        "SELECT EXISTS (SELECT FROM public.schema_migrations WHERE version::text = %s)",
        (migration_files()[0][0],),
    ).fetchone()
    return "public" if ours and ours[0] else None


def create_schema(conn: psycopg.Connection) -> None:
    """Created by the job where missing. Asked first, so that a role without CREATE on the
    database works in a schema an administrator made for it (docs/railway-supabase.md, 'A
    role of its own')."""
    found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()
    if not found:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))


def move_out_of_public(conn: psycopg.Connection) -> list[str]:
    """On an older release's layout, move its relations into SCHEMA: rows, indexes,
    constraints and identity sequences go along. Returns what moved."""
    if recorded_in(conn) != "public":
        return []
    rows = conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relname = ANY(%s) ORDER BY c.relname",
        (list(RELEASED_IN_PUBLIC),),
    ).fetchall()
    for name, kind in rows:
        statement = "ALTER VIEW {} SET SCHEMA {}" if kind == "v" else "ALTER TABLE {} SET SCHEMA {}"
        conn.execute(
            sql.SQL(statement).format(sql.Identifier("public", name), sql.Identifier(SCHEMA))
        )
    return [name for name, _ in rows]


# Every role but the owner loses what it was granted on the schema and everything in it,
# PUBLIC and the Data API's roles by name (where they exist) even with no grant yet; every
# table gets row level security (no policy: nobody but the owner and BYPASSRLS roles sees a
# row); every view runs with its caller's privileges (PostgreSQL 15 and later). Composed
# client-side: a DO block takes no parameters.
CLOSE_SCHEMA = """
DO $close$
DECLARE
    target text := {schema};
    outsider text;
    relation record;
BEGIN
    FOR outsider IN
        SELECT 'PUBLIC'
        UNION SELECT quote_ident(rolname) FROM pg_roles WHERE rolname = ANY({api_roles})
        UNION SELECT quote_ident(r.rolname) FROM (
            SELECT (aclexplode(nspacl)).grantee AS grantee, nspowner AS owner
            FROM pg_namespace WHERE nspname = target
            UNION ALL
            SELECT (aclexplode(relacl)).grantee, relowner
            FROM pg_class WHERE relnamespace = target::regnamespace
            UNION ALL
            SELECT (aclexplode(proacl)).grantee, proowner
            FROM pg_proc WHERE pronamespace = target::regnamespace
        ) granted JOIN pg_roles r ON r.oid = granted.grantee
        WHERE granted.grantee <> granted.owner
    LOOP
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %s', target, outsider);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %s', target, outsider);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %s', target, outsider);
        EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM %s', target, outsider);
    END LOOP;
    FOR relation IN
        SELECT relname, relkind FROM pg_class
        WHERE relnamespace = target::regnamespace AND relkind IN ('r', 'p', 'v')
    LOOP
        IF relation.relkind <> 'v' THEN
            EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', target, relation.relname);
        ELSIF current_setting('server_version_num')::int >= 150000 THEN
            EXECUTE format('ALTER VIEW %I.%I SET (security_invoker = true)',
                           target, relation.relname);
        END IF;
    END LOOP;
END
$close$
"""

# Whoever, other than the object's owner, holds a privilege on the schema or on anything
# in it (PUBLIC as 'PUBLIC'; a function's default EXECUTE for PUBLIC counts).
GRANTS = """
WITH objects AS (
    SELECT 'schema' AS kind, n.nspname::text AS name, n.nspowner AS owner, n.nspacl AS acl
    FROM pg_namespace n WHERE n.nspname = %(schema)s
    UNION ALL
    SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'S' THEN 'sequence' ELSE 'table' END,
           n.nspname || '.' || c.relname, c.relowner, c.relacl
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT 'function', n.nspname || '.' || p.proname, p.proowner,
           coalesce(p.proacl, acldefault('f', p.proowner))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = %(schema)s
)
SELECT o.kind, o.name,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END,
       string_agg(DISTINCT a.privilege_type, ', ' ORDER BY a.privilege_type)
FROM objects o, aclexplode(o.acl) a
WHERE a.grantee <> o.owner
GROUP BY o.kind, o.name, a.grantee
ORDER BY o.kind, o.name, 3
"""


def close_again(conn: psycopg.Connection) -> None:
    """Close the schema in a transaction of its own (`db upgrade`: after an operator's
    grant, say, with no migration pending)."""
    with conn.transaction():
        close_schema(conn)


def close_schema(conn: psycopg.Connection) -> None:
    """Revoke every outsider's privilege, row level security on, views as invoker."""
    conn.execute(
        sql.SQL(CLOSE_SCHEMA).format(
            schema=sql.Literal(SCHEMA), api_roles=sql.Literal(list(DATA_API_ROLES))
        )
    )


@dataclass(frozen=True)
class Grant:
    """A privilege someone other than the object's owner holds in our schema."""

    kind: str
    name: str
    grantee: str
    privileges: str

    @property
    def sql_kind(self) -> str:
        """What GRANT and REVOKE call this kind of object."""
        return {"schema": "SCHEMA", "function": "FUNCTION", "sequence": "SEQUENCE"}.get(
            self.kind, "TABLE"
        )


@dataclass(frozen=True)
class Door:
    """Who can reach the product's schema besides the job: what doctor reports."""

    role: str
    superuser: bool
    grants: list[Grant]
    without_rls: list[str]
    views_as_definer: list[str]
    exposed: bool
    data_api_roles: list[str]


def inspect_door(conn: psycopg.Connection) -> Door:
    """Read the catalogs: the job's role, outsiders' grants, tables without row level
    security, views that run as their owner, and whether the Data API serves the schema."""
    role, superuser = conn.execute(
        "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
    ).fetchone() or ("?", False)
    grants = [Grant(*row) for row in conn.execute(GRANTS, {"schema": SCHEMA})]
    without_rls = [
        row[0]
        for row in conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity"
            " ORDER BY 1",
            (SCHEMA,),
        )
    ]
    views_as_definer = [
        row[0]
        for row in conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = 'v'"
            " AND current_setting('server_version_num')::int >= 150000"
            " AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=true'], false)"
            " AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=on'], false)"
            " ORDER BY 1",
            (SCHEMA,),
        )
    ]
    served = conn.execute("SELECT current_setting('pgrst.db_schemas', true)").fetchone()
    exposed = SCHEMA in {s.strip().strip('"') for s in ((served and served[0]) or "").split(",")}
    api_roles = [
        row[0]
        for row in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1",
            (list(DATA_API_ROLES),),
        )
    ]
    return Door(role, bool(superuser), grants, without_rls, views_as_definer, exposed, api_roles)
