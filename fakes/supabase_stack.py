"""A Supabase-shaped database on this machine: PostgreSQL 15 (Supabase's major version)
behind PgBouncer in session mode with TLS, as Supabase's session pooler sits in front of its
database (SUPABASE.md §6). A throwaway CA is made at start; clients verify the server with
`sslmode=verify-full`. A fault proxy sits between PgBouncer and PostgreSQL, where statements
pass in plaintext:

    job --TLS--> [proxy: the test's] --TLS--> PgBouncer --plain--> [proxy: statements] --> PG 15

A second PgBouncer, in transaction mode, listens on a port of its own
(`transaction_pooler_port`), as Supabase's transaction pooler (6543) beside its session
pooler; `restart_pooler()` restarts the session pooler in the middle of what goes on.

PostgreSQL and PgBouncer refuse to run as root: as root (CI), they run as the unprivileged
`postgres` user through `runuser`. `start()` raises StackUnavailable, saying why, where a
part is missing; `.ci/run` installs PgBouncer (`apt-get install pgbouncer`) and makes sure
the user exists.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from fakes.fault_proxy import FaultProxy

PG_BIN = Path(os.environ.get("BESTSELLER_PG15_BIN", "/usr/lib/postgresql/15/bin"))
RUN_AS = "postgres"
PASSWORD = "stack-secret-7Qx"
# Supabase's `postgres` owns the project's objects and is no superuser; here the stack's
# superuser is named postgres, so this role plays Supabase's.
PROJECT_OWNER = "project_owner"
OWNER_PASSWORD = "owner-secret-4Rk"
# Supabase's project setup, as SUPABASE.md §7 gives it: the Data API's roles, granted to
# the owner, and the long-standing default privileges on what the owner creates in public.
SUPABASE_ROLES = f"""
DO $roles$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
        CREATE ROLE {PROJECT_OWNER} LOGIN NOSUPERUSER CREATEDB CREATEROLE
            PASSWORD '{OWNER_PASSWORD}';
        GRANT anon, authenticated, service_role TO {PROJECT_OWNER};
    END IF;
END $roles$
"""
SUPABASE_DATABASE = f"""
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {PROJECT_OWNER} IN SCHEMA public
    GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {PROJECT_OWNER} IN SCHEMA public
    GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {PROJECT_OWNER} IN SCHEMA public
    GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
"""
START_WITHIN_SECONDS = 30


class StackUnavailable(Exception):
    """The stack cannot start here; the message says what is missing."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SupabaseStack:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bestseller-stack-"))
        self.pg_port = free_port()
        self.pooler_port = free_port()
        self.transaction_pooler_port = free_port()
        self.ca = self.root / "ca.crt"
        self.statements: FaultProxy | None = None
        self._as_root = os.geteuid() == 0
        self._pgbouncer = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"

    # -- what tests use --------------------------------------------------------------

    def direct_url(self, dbname: str = "postgres") -> str:
        """PostgreSQL itself, over TLS (the admin's way in)."""
        return self._url(port=self.pg_port, dbname=dbname)

    def pooler_url(self, dbname: str, *, port: int | None = None) -> str:
        """Through PgBouncer (or a proxy in front of it, at `port`), over verified TLS."""
        return self._url(port=port or self.pooler_port, dbname=dbname)

    def supabase_database(self, dbname: str) -> str:
        """A new database set up as a Supabase project is (SUPABASE_DATABASE), owned by
        PROJECT_OWNER; returns the owner's direct URL. Drop it with `drop_database`."""
        with psycopg.connect(self.direct_url(), autocommit=True) as admin:
            admin.execute(SUPABASE_ROLES)
            admin.execute(f"CREATE DATABASE {dbname} OWNER {PROJECT_OWNER}")
            admin.execute(
                f"ALTER DATABASE {dbname} SET pgrst.db_schemas = 'public, graphql_public'"
            )
        with psycopg.connect(self.direct_url(dbname), autocommit=True) as admin:
            admin.execute(SUPABASE_DATABASE)
        return self._url(
            port=self.pg_port, dbname=dbname, user=PROJECT_OWNER, password=OWNER_PASSWORD
        )

    def drop_database(self, dbname: str) -> None:
        with psycopg.connect(self.direct_url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")

    def _url(
        self, *, port: int, dbname: str, user: str = "postgres", password: str = PASSWORD
    ) -> str:
        return make_conninfo(
            host="127.0.0.1",
            port=str(port),
            dbname=dbname,
            user=user,
            password=password,
            sslmode="verify-full",
            sslrootcert=str(self.ca),
        )

    # -- start and stop ----------------------------------------------------------------

    def start(self) -> "SupabaseStack":
        initdb, pg_ctl = PG_BIN / "initdb", PG_BIN / "pg_ctl"
        if not initdb.exists():
            raise StackUnavailable(f"PostgreSQL 15 is not installed ({initdb} is missing)")
        if not Path(self._pgbouncer).exists():
            raise StackUnavailable("PgBouncer is not installed (`apt-get install pgbouncer`)")
        if not shutil.which("openssl"):
            raise StackUnavailable("openssl is not installed")
        if self._as_root and subprocess.run(["id", "-u", RUN_AS], capture_output=True).returncode:
            raise StackUnavailable(f"running as root and there is no {RUN_AS!r} user to run as")
        self.root.chmod(0o755)
        self._make_certificates()
        (self.root / "pw").write_text(PASSWORD + "\n")
        self._own()
        self._run(
            str(initdb), "-D", str(self.root / "pg"), "-U", "postgres", "-A", "scram-sha-256",
            f"--pwfile={self.root / 'pw'}", "--no-sync",
        )  # fmt: skip
        with (self.root / "pg" / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.pg_port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                f"ssl = on\nssl_cert_file = '{self.root / 'server.crt'}'\n"
                f"ssl_key_file = '{self.root / 'server.key'}'\n"
                "max_connections = 60\nfsync = off\nsynchronous_commit = off\n"
                "full_page_writes = off\n"
            )
        self._run(str(pg_ctl), "-D", str(self.root / "pg"), "-l", str(self.root / "pg.log"),
                  "-w", "-t", str(START_WITHIN_SECONDS), "start")  # fmt: skip
        self.statements = FaultProxy(("127.0.0.1", self.pg_port)).__enter__()
        self._write_pgbouncer_config(
            "pgbouncer", port=self.pooler_port, mode="session", upstream=self.statements.port
        )
        self._write_pgbouncer_config(
            "pgbouncer-transaction",
            port=self.transaction_pooler_port,
            mode="transaction",
            upstream=self.pg_port,
        )
        self._start_pooler("pgbouncer", self.pooler_port)
        self._start_pooler("pgbouncer-transaction", self.transaction_pooler_port)
        return self

    def restart_pooler(self) -> None:
        """Restart the session pooler: PgBouncer 1.18 ends on SIGTERM at once, dropping
        every client and server connection, and starts again on the same port."""
        self._stop_pooler("pgbouncer")
        self._start_pooler("pgbouncer", self.pooler_port)

    def stop(self) -> None:
        for name in ("pgbouncer", "pgbouncer-transaction"):
            self._stop_pooler(name)
        if (self.root / "pg" / "postmaster.pid").exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.root / "pg"), "-m", "immediate",
                      "stop", check=False)  # fmt: skip
        if self.statements is not None:
            self.statements.__exit__(None, None, None)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the parts ---------------------------------------------------------------------

    def _make_certificates(self) -> None:
        root = self.root
        openssl = ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj"]
        subprocess.run(
            [*openssl, "/CN=bestseller-test-ca", "-x509", "-days", "2",
             "-keyout", str(root / "ca.key"), "-out", str(self.ca)],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [*openssl, "/CN=localhost", "-keyout", str(root / "server.key"),
             "-out", str(root / "server.csr")],
            check=True, capture_output=True,
        )  # fmt: skip
        (root / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        subprocess.run(
            ["openssl", "x509", "-req", "-in", str(root / "server.csr"), "-CA", str(self.ca),
             "-CAkey", str(root / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(root / "san.ext"), "-out", str(root / "server.crt")],
            check=True, capture_output=True,
        )  # fmt: skip
        (root / "server.key").chmod(0o600)

    def _write_pgbouncer_config(self, name: str, *, port: int, mode: str, upstream: int) -> None:
        root = self.root
        (root / "userlist.txt").write_text(f'"postgres" "{PASSWORD}"\n')
        (root / f"{name}.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={upstream}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
            f"unix_socket_dir =\nauth_type = scram-sha-256\nauth_file = {root / 'userlist.txt'}\n"
            f"pool_mode = {mode}\nserver_reset_query = DISCARD ALL\n"
            "max_client_conn = 200\ndefault_pool_size = 40\n"
            "ignore_startup_parameters = extra_float_digits\n"
            f"client_tls_sslmode = require\nclient_tls_key_file = {root / 'server.key'}\n"
            f"client_tls_cert_file = {root / 'server.crt'}\n"
            "server_tls_sslmode = disable\n"
            f"pidfile = {root / f'{name}.pid'}\nlogfile = {root / f'{name}.log'}\n"
        )
        self._own()

    def _start_pooler(self, name: str, port: int) -> None:
        command = [self._pgbouncer, "-d"]
        if self._as_root:
            command += ["-u", RUN_AS]
        self._run(*command, str(self.root / f"{name}.ini"), as_user=False)
        self._wait_for(port)

    def _stop_pooler(self, name: str) -> None:
        pidfile = self.root / f"{name}.pid"
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            return  # not running
        give_up = time.monotonic() + START_WITHIN_SECONDS
        while time.monotonic() < give_up:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise StackUnavailable(f"PgBouncer ({name}) did not stop within {START_WITHIN_SECONDS}s")

    def _own(self) -> None:
        if not self._as_root:
            return
        subprocess.run(["chown", "-R", f"{RUN_AS}:", str(self.root)], check=True)

    def _run(self, *command: str, as_user: bool = True, check: bool = True) -> None:
        if self._as_root and as_user:
            command = ("runuser", "-u", RUN_AS, "--", *command)
        result = subprocess.run(command, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise StackUnavailable(
                f"{Path(command[4 if self._as_root and as_user else 0]).name} failed:"
                f" {(result.stderr or result.stdout).strip()[-500:]}"
            )

    def _wait_for(self, port: int) -> None:
        give_up = time.monotonic() + START_WITHIN_SECONDS
        while time.monotonic() < give_up:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise StackUnavailable(f"PgBouncer did not listen on {port} within {START_WITHIN_SECONDS}s")
