"""Settings, read from the environment and an optional `.env` file."""

from datetime import timedelta
from pathlib import Path

import platformdirs
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bestseller_cli.addresses import https_url, postgres_conninfo
from bestseller_cli.errors import ConfigError
from bestseller_cli.output import LogFormat
from bestseller_cli.redact import redact, register_secret

# Keepa's domain ids (KEEPA.md); 7 (cn) is retired.
MARKETPLACES: dict[str, int] = {
    "com": 1,
    "co.uk": 2,
    "de": 3,
    "fr": 4,
    "co.jp": 5,
    "ca": 6,
    "it": 8,
    "es": 9,
    "in": 10,
    "com.mx": 11,
    "com.br": 12,
}


# Where the key and the token go unless KEEPA_API_URL / SLACK_API_URL say otherwise: any
# https:// host may replace them (a proxy the operator runs; `doctor` names it), http:// only
# a loopback address (a test's fake server).
KEEPA_API_URL = "https://api.keepa.com"
SLACK_API_URL = "https://slack.com/api/"


def normalize_marketplace(value: str) -> str:
    """Accept `com`, `amazon.com`, `.co.uk` or a Keepa domain id; return the canonical suffix."""
    text = value.strip().lower().removeprefix("www.").removeprefix("amazon").lstrip(".")
    if text.isascii() and text.isdigit():
        by_id = {domain_id: name for name, domain_id in MARKETPLACES.items()}
        text = by_id.get(int(text), text)
    if text not in MARKETPLACES:
        raise ValueError(f"unknown marketplace {value!r}; use one of {', '.join(MARKETPLACES)}")
    return text


class Settings(BaseSettings):
    # A blank value (`BESTSELLER_HOME=` as in .env.example) means unset, for every setting;
    # `inf` and `nan` are no number of seconds.
    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
        allow_inf_nan=False,
    )

    # Each field's description is its line in docs/reference/settings.md (generated).
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL connection string; unset: the embedded PostgreSQL. On"
        " Supabase, the session-mode pooler (port 5432), never the transaction pooler.",
    )
    bestseller_home: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("bestseller-cli")),
        description="Where the embedded database lives (default: the platform's user data"
        " directory).",
    )
    keepa_api_key: str | None = Field(
        default=None, description="Keepa API key, required by `check` and `doctor`. Never logged."
    )
    keepa_api_url: str = Field(
        default=KEEPA_API_URL,
        description="Keepa's API: https://, or http:// to a loopback address (tests); doctor names"
        " any other host.",
    )
    keepa_domain: str = Field(
        default="com",
        description="Default marketplace: com, co.uk, de, fr, co.jp, ca, it, es, in, com.mx,"
        " com.br.",
    )
    # 1 day keeps every current rank (Keepa keeps each series' last point) at the smallest
    # response: measured in benchmarks/README.md.
    keepa_history_days: int = Field(
        default=1,
        ge=1,
        le=3650,
        description="Days of rank history Keepa returns at least (same tokens); a request"
        " reaches back further when a product was last checked longer ago.",
    )
    # Keepa's `update`: refresh products whose data is older than N hours before answering;
    # unset, Keepa decides. A refresh may cost one extra token per product (0 = always live).
    keepa_update_hours: int | None = Field(
        default=None,
        ge=0,
        le=24 * 365,
        description="Keepa's `update` for plain requests: it refreshes products whose data is"
        " older than this many hours (0: always live, up to 2 tokens each); unset: not sent,"
        " Keepa's default of 1 h. Checks likely to see a #1 change ask for live data anyway.",
    )
    # /category lookups for ranked categories categoryTree does not name, per pass.
    keepa_category_token_budget: int = Field(
        default=20,
        ge=0,
        le=1_000_000,
        description="Most tokens one pass spends naming new categories.",
    )
    # `check` counts products whose Keepa data (lastUpdate) is older than this.
    keepa_stale_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 3650,
        description="`check` counts products whose Keepa data is older than this.",
    )
    keepa_max_token_wait_seconds: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="Longest wait for Keepa tokens to refill before the pass stops fetching.",
    )
    keepa_token_cost_usd: float = Field(
        default=0.000022, ge=0, le=1, description="Estimated price of one token, for cost figures."
    )
    keepa_max_response_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description="Largest Keepa answer read (decoded); a larger one stops the pass.",
    )
    keepa_missing_passes_unknown: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="Passes in a row an ASIN may be missing from Keepa's answer before it"
        " becomes unknown (never lost).",
    )
    keepa_bestsellers_lookup: bool = Field(
        default=False,
        description="Name the new #1 of an unexplained loss from Keepa's best seller list"
        " (costs tokens).",
    )
    keepa_bestsellers_token_budget: int = Field(
        default=200, ge=0, le=1_000_000, description="Most tokens those lookups spend in one pass."
    )
    category_plan_share: float = Field(
        default=0.1,
        ge=0,
        le=0.5,
        description="Most of the Keepa plan watched categories spend (0.1: 10 %), counted"
        " over the last 24 h of best seller lists; product checks at their ceiling come"
        " first, and categories wait (stretch) when the share is spent.",
    )
    keepa_requests_ahead: int = Field(
        default=1,
        ge=0,
        le=8,
        description="Keepa requests sent ahead while a batch is written (0: one at a time).",
    )
    slack_bot_token: str | None = Field(
        default=None,
        description="Slack bot token (xoxb-…); unset: alerts are printed. Scopes: chat:write,"
        " channels:history, channels:read (files:write for SLACK_CHARTS). Never logged.",
    )
    slack_channel_id: str | None = Field(default=None, description="Default channel for alerts.")
    slack_api_url: str = Field(
        default=SLACK_API_URL,
        description="Slack Web API: https://, or http:// to a loopback address (tests); doctor"
        " names any other host.",
    )
    # A PNG of the last 7 days under each badge alert (needs the files:write scope).
    slack_charts: bool = Field(
        default=False,
        description="Post a chart of the last 7 days in each badge alert's thread (needs"
        " files:write).",
    )
    alert_expiry_days: float = Field(
        default=7,
        gt=0,
        le=3650,
        description="An alert still undelivered this long after it was due expires.",
    )
    slack_ops_channel_id: str | None = Field(
        default=None,
        description="Channel for operations alerts; unset: they show only in `doctor` and"
        " `report`.",
    )
    webhook_secret: str | None = Field(
        default=None,
        description="The Standard Webhooks secret (whsec_…) that signs every webhook request"
        " (`clients rule NAME --webhook URL`); never logged.",
    )
    healthcheck_url: str | None = Field(
        default=None,
        description="A cron monitor's ping URL (Healthchecks.io, Cronitor, Better Stack)."
        " Treated as a secret.",
    )
    # Minutes, at most a year: they become time spans. Cron runs `check` this often, and no
    # cron runs more often than once a minute.
    schedule_minutes: float = Field(
        default=15.0,
        ge=1,
        le=525_600,
        description="How often cron runs `check`; products holding or near #1 are checked"
        " every run.",
    )
    # The longest any watched ASIN waits between two checks (rules/schedule.py).
    check_ceiling_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 365,
        description="The longest any watched ASIN waits between two checks (at least two runs).",
    )
    # Holding #1, or within this rank of it in some category: checked every run.
    check_near_rank: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="Within this rank of #1 in some category, a product is checked every run.",
    )
    # Tokens per hour this tool may spend, below Keepa's refill (a key shared with others).
    keepa_tokens_per_hour: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="Tokens per hour this tool may spend, below the plan's refill (a shared"
        " key); unset: Keepa's refillRate.",
    )
    ops_undelivered_minutes: float = Field(
        default=60.0,
        ge=0,
        le=525_600,
        description="Alerts undelivered longer than this are an operations condition.",
    )
    ops_max_resumes: int = Field(
        default=3,
        ge=0,
        le=1000,
        description="A pass resumed more times than this is an operations condition.",
    )
    database_size_limit_mb: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000_000,
        description="Your plan's database size (Supabase free: 500): `doctor` counts the days"
        " left; from 80 %, an operations condition.",
    )
    batch_size: int = Field(default=100, ge=1, le=100, description="ASINs per Keepa request.")
    max_retries: int = Field(
        default=3, ge=0, le=20, description="Retries of transient Keepa and Slack failures."
    )
    retry_delay_seconds: float = Field(
        default=1.0, ge=0, le=3600, description="Base delay of their exponential backoff."
    )
    api_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Timeout of every network call; for Keepa, of a whole request.",
    )
    # Below SCHEDULE_MINUTES: Railway skips a cron tick while the last run still goes on.
    run_deadline_minutes: float = Field(
        default=14.0,
        gt=0,
        le=1440,
        description="A pass's hard deadline; keep it below SCHEDULE_MINUTES.",
    )
    # Every session SETs it (store/db.py, SessionLimits): above any statement of a pass,
    # below Supabase's global two minutes. At least a second: it is SET in whole
    # milliseconds, and 0 would mean no limit at all.
    database_statement_timeout_seconds: float = Field(
        default=60.0,
        ge=1,
        le=86_400,
        description="Longest one database statement may run (every session sets it).",
    )
    history_retention_days: int = Field(
        default=90,
        ge=1,
        le=36_500,
        description="Days of full history detail `bestseller prune` keeps.",
    )
    log_level: str = Field(
        default="WARNING",
        description="debug, info, warning or error; debug shows traces of unexpected errors.",
    )
    log_format: LogFormat = Field(
        default=LogFormat.auto,
        description="auto: tables on a terminal, JSON lines elsewhere; json or text forces one.",
    )

    @field_validator("keepa_domain")
    @classmethod
    def _known_marketplace(cls, value: str) -> str:
        return normalize_marketplace(value)

    @field_validator("check_ceiling_hours")
    @classmethod
    def _ceiling_spans_runs(cls, value: float, info: ValidationInfo) -> float:
        run = info.data.get("schedule_minutes")
        if run is not None and value * 60 < 2 * run:
            raise ValueError(f"must be at least two runs (SCHEDULE_MINUTES={run:g}): {value:g} h")
        return value

    @field_validator(
        "keepa_update_hours", "database_size_limit_mb", "keepa_tokens_per_hour", mode="before"
    )
    @classmethod
    def _blank_is_not_sent(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use one of debug, info, warning, error")
        return level

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "database_url",
        "keepa_api_key",
        "slack_bot_token",
        "slack_channel_id",
        "slack_ops_channel_id",
        "healthcheck_url",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("database_url")
    @classmethod
    def _postgres_conninfo(cls, value: str | None) -> str | None:
        return None if value is None else postgres_conninfo(value)

    @field_validator("keepa_api_url", "slack_api_url", "healthcheck_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else https_url(value)

    @field_validator("webhook_secret")
    @classmethod
    def _whsec(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip().startswith("whsec_") or len(value.strip()) < 16:
            raise ValueError("not a Standard Webhooks secret: whsec_ followed by base64")
        return value.strip()

    def require_keepa_key(self) -> str:
        if not self.keepa_api_key:
            raise ConfigError(
                "KEEPA_API_KEY is not set: put your Keepa API key in the environment or .env"
            )
        return self.keepa_api_key

    @property
    def unobserved_after(self) -> timedelta:
        """Checks further apart than this leave the time between them unwatched (a chart's
        gap). Not the run schedule: an ASIN far from #1 is checked only every few hours, and
        its next check walks Keepa's rank series over the whole time since, so only a gap
        past the ceiling (plus two runs' lateness) is time the monitor did not see."""
        return timedelta(hours=self.check_ceiling_hours, minutes=2 * self.schedule_minutes)

    @property
    def keepa_domain_id(self) -> int:
        return MARKETPLACES[self.keepa_domain]


def load_settings(**overrides: object) -> Settings:
    """Read settings; a malformed value becomes one ConfigError naming its variable."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{str(error['loc'][0]).upper()}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise ConfigError(redact(f"invalid setting {problems}")) from None
    register_secret(settings.keepa_api_key)
    register_secret(settings.slack_bot_token)
    register_secret(settings.healthcheck_url)  # its path is the monitor's secret
    register_secret(settings.webhook_secret)
    return settings
