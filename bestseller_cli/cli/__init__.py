"""The command line: the Typer app and one module per command group. Parses, calls the use
cases, prints; no SQL, no HTTP. May import every layer below."""
