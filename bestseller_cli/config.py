"""Settings, read from the environment and an optional `.env` file."""

from pathlib import Path

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bestseller_cli.errors import ConfigError
from bestseller_cli.redact import register_secret

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


def normalize_marketplace(value: str) -> str:
    """Accept `com`, `amazon.com`, `.co.uk` or a Keepa domain id; return the canonical suffix."""
    text = value.strip().lower().removeprefix("www.").removeprefix("amazon").lstrip(".")
    if text.isdigit():
        by_id = {domain_id: name for name, domain_id in MARKETPLACES.items()}
        text = by_id.get(int(text), text)
    if text not in MARKETPLACES:
        raise ValueError(f"unknown marketplace {value!r}; use one of {', '.join(MARKETPLACES)}")
    return text


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str | None = None
    bestseller_home: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("bestseller-cli"))
    )
    keepa_api_key: str | None = None
    keepa_api_url: str = "https://api.keepa.com"
    keepa_domain: str = "com"
    keepa_history_days: int = Field(default=30, ge=1, le=3650)
    keepa_max_token_wait_seconds: float = Field(default=300, ge=0)
    keepa_token_cost_usd: float = Field(default=0.000022, ge=0)
    keepa_bestsellers_lookup: bool = False
    keepa_bestsellers_token_budget: int = Field(default=200, ge=0)
    keepa_requests_ahead: int = Field(default=1, ge=0, le=8)
    slack_bot_token: str | None = None
    slack_channel_id: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    batch_size: int = Field(default=100, ge=1, le=100)
    max_retries: int = Field(default=3, ge=0, le=20)
    retry_delay_seconds: float = Field(default=1.0, ge=0)
    api_timeout_seconds: float = Field(default=30.0, gt=0)
    run_deadline_minutes: float = Field(default=50.0, gt=0)
    log_level: str = "WARNING"

    @field_validator("keepa_domain")
    @classmethod
    def _known_marketplace(cls, value: str) -> str:
        return normalize_marketplace(value)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use one of debug, info, warning, error")
        return level

    @field_validator("database_url", "keepa_api_key", "slack_bot_token", "slack_channel_id")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def require_keepa_key(self) -> str:
        if not self.keepa_api_key:
            raise ConfigError(
                "KEEPA_API_KEY is not set: put your Keepa API key in the environment or .env"
            )
        return self.keepa_api_key

    @property
    def keepa_domain_id(self) -> int:
        return MARKETPLACES[self.keepa_domain]


def load_settings(**overrides: object) -> Settings:
    """Read settings; a malformed value becomes one ConfigError naming its variable."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{str(error['loc'][0]).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"invalid setting {problems}") from None
    register_secret(settings.keepa_api_key)
    register_secret(settings.slack_bot_token)
    return settings
