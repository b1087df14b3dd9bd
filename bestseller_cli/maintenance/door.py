"""doctor's rows on who can reach the product's schema: the job's role, and the door."""

from itertools import groupby

import psycopg

from bestseller_cli.maintenance.finding import Finding
from bestseller_cli.store import schema

# One red row per object, this many at most; the rest are counted in one more row.
ROWS_AT_MOST = 10
CLOSE_ALL = "`bestseller db upgrade` closes the schema again"


def door_findings(conn: psycopg.Connection) -> list[Finding]:
    """The job's role, then red rows naming each object someone else can reach (with its
    one-line fix), or one green row saying the schema is closed."""
    door = schema.inspect_door(conn)
    role = Finding(
        "database role",
        "ok",
        f"the job runs as {door.role}"
        + (
            " (a superuser: a role of its own is safer, docs/railway-supabase.md)"
            if door.superuser
            else ""
        ),
    )
    problems = [*exposed(door), *granted(door), *unprotected(door)]
    if not problems:
        return [role, Finding("schema access", "ok", closed(door))]
    if len(problems) > ROWS_AT_MOST:
        more = len(problems) - ROWS_AT_MOST
        problems = [
            *problems[:ROWS_AT_MOST],
            Finding("schema access", "fail", f"and {more} more: {CLOSE_ALL}"),
        ]
    return [role, *problems]


def closed(door: schema.Door) -> str:
    who = (
        f"{', '.join(door.data_api_roles)} (Supabase's Data API) and every other role"
        if door.data_api_roles
        else "no Supabase Data API roles on this server; every other role"
    )
    return (
        f"schema {schema.SCHEMA} closed: {who} can neither read nor change it;"
        " row level security on every table"
    )


def exposed(door: schema.Door) -> list[Finding]:
    if not door.exposed:
        return []
    return [
        Finding(
            f"schema {schema.SCHEMA}",
            "fail",
            "on the Data API's exposed schemas (pgrst.db_schemas): remove it in Supabase's"
            " Data API settings",
        )
    ]


def granted(door: schema.Door) -> list[Finding]:
    findings = []
    for (kind, name), grants in groupby(door.grants, key=lambda g: (g.sql_kind, g.name)):
        grants = list(grants)
        who = ", ".join(f"{g.grantee} ({g.privileges})" for g in grants)
        grantees = ", ".join(
            g.grantee if g.grantee == "PUBLIC" else f'"{g.grantee}"' for g in grants
        )
        findings.append(
            Finding(
                f"schema {name}" if kind == "SCHEMA" else name,
                "fail",
                f"granted to {who}: REVOKE ALL ON {kind} {name} FROM {grantees};",
            )
        )
    return findings


def unprotected(door: schema.Door) -> list[Finding]:
    return [
        *(
            Finding(
                table,
                "fail",
                f"row level security is off: ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
            )
            for table in door.without_rls
        ),
        *(
            Finding(
                view,
                "fail",
                f"runs with its owner's rights: ALTER VIEW {view} SET (security_invoker = true);",
            )
            for view in door.views_as_definer
        ),
    ]


def quoted(role: str) -> str:
    return role if role == "PUBLIC" else f'"{role}"'
