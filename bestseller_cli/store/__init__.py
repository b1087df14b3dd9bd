"""Every SQL statement, one module per thing stored, plus connections, migrations and the run
lock (db). Imports the shapes it reads into, rules and the shared modules; never keepa, slack
or the pictures."""
