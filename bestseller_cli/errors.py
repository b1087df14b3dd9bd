"""Expected failures. The CLI turns each into one clear line and an exit code."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Every status a command exits with, defined here only (docs/reference/exit-codes.md is
    generated from it)."""

    meaning: str

    def __new__(cls, code: int, meaning: str) -> "ExitCode":
        member = int.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        return member

    OK = (
        0,
        "All done. Also when another `check` holds the run lock and is within its deadline:"
        " this one does nothing, names that session and does not ping the cron monitor.",
    )
    FAILED = (
        1,
        "The command ran, but something failed; one line says what. A pass left ASINs"
        " unchecked or alerts undelivered or expired, or was stopped by SIGTERM (the next run"
        " picks them up); the database, Keepa or Slack failed; a red `doctor` row; an"
        " unexpected error (in `error_log`; LOG_LEVEL=debug shows the trace).",
    )
    USAGE = (
        2,
        "Configuration or usage error: a missing or malformed setting, a wrong command line,"
        " an unknown client, a transaction pooler, Keepa rejecting the key or account."
        " One line on stderr; nothing changed.",
    )


class BestsellerError(Exception):
    """A failure the user can act on; its message is safe to print (no secrets)."""

    exit_code: ExitCode = ExitCode.FAILED


class ConfigError(BestsellerError):
    """A setting is missing or malformed, or the command line is wrong."""

    exit_code = ExitCode.USAGE


class DatabaseError(BestsellerError):
    """The database cannot be reached or refused an operation. `sqlstate` is the server's
    code, when it gave one (`25006` read-only, `53100` disk full, ...)."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class KeepaError(BestsellerError):
    """Keepa answered with an error or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, final: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.final = final


class KeepaAuthError(KeepaError):
    """Keepa rejected the key or the account (400 REQUEST_REJECTED, 402 PAYMENT_REQUIRED)."""

    exit_code = ExitCode.USAGE


class DeliveryError(BestsellerError):
    """A channel refused or could not take a message. `permanent`: asking again will not
    help until someone fixes something; `refuses` says what the refusal covers ("channel":
    every message to that channel, "everything": every message through that channel's
    sender, e.g. a revoked token); `code` is the channel's own error code, when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str | None = None,
        refuses: str | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.refuses = refuses


class DeliveryUnknown(DeliveryError):
    """The channel may have taken the message but never said so: its outbox rows stay
    claimed, for the next delivery to reconcile."""


class SlackError(DeliveryError):
    """Slack refused or could not take a message. `code` is Slack's error code, when it gave
    one (`invalid_auth`, `channel_not_found`, ...)."""


class WebhookError(DeliveryError):
    """A webhook's receiver refused the request or could not be reached."""
