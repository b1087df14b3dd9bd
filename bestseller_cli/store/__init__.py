"""Every SQL statement, one module per thing stored, plus connections, migrations and the run
lock (db). Imports rules and the shared modules; never keepa or slack."""
