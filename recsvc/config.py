"""The service's settings: one typed object, read from the environment (prefix RECSVC_).

Nested values use JSON, e.g.
`RECSVC_ARMS='[{"name": "model", "weight": 0.9, "strategy": "blend"}]'`
and `RECSVC_CORS_ORIGINS='["https://shop.example"]'`. A `.env` file in the working directory
is read too. Invalid values fail at start-up with pydantic's message naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsvc.errors import ConfigError
from recsvc.experiments import Arm

EXAMPLE_TOKEN = "change-me"


def _default_arms() -> list[Arm]:
    return [Arm("model", 0.9, strategy="blend"), Arm("popular", 0.1, strategy="popular")]


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="RECSVC_", env_file=".env", extra="ignore")

    models_dir: Path = Path("models")
    event_store_url: str = "sqlite:///var/events.db"
    reload_poll_seconds: float = Field(default=10.0, ge=0.0)  # 0 disables polling

    admin_token: SecretStr | None = None
    dev_mode: bool = False
    user_hash_key: SecretStr = SecretStr("recsvc-dev-hash-key")
    cors_origins: list[str] = Field(default_factory=list)

    experiment_name: str = "recs-2026-11"
    arms: list[Arm] = Field(default_factory=_default_arms)

    # Per-field limits (k ≤ 100, ids ≤ 128 chars, carts ≤ 100 items, ≤ 500 events a batch)
    # are part of the published API schema (recsvc/api/schemas.py), not settings.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)

    fatigue_max_impressions: int = Field(default=3, ge=1)
    fatigue_window_hours: float = Field(default=24.0, gt=0)
    recent_activity_days: float = Field(default=3.0, gt=0)
    retention_days: int = Field(default=180, ge=1)
    # Ranked answers kept per endpoint of the live bundle (recsvc.answer_cache); 0 ranks
    # every request.
    answer_cache_size: int = Field(default=8192, ge=0)
    # How long the event loop may hold the GIL while a background thread (impression writer,
    # event writes in the thread pool) waits for it: Python's default 5 ms made each of a
    # write's SQLite calls wait up to 5 ms, and writes queued behind each other (events p99
    # 646 ms with the load mix at 738 req/s; 8.5 ms with 0.5 ms). Process-wide.
    gil_switch_interval_seconds: float = Field(default=0.0005, gt=0, le=0.1)
    # Impressions are committed at most this often (a waiting event or flush commits at
    # once): each transaction costs about as much SQLite time as 10 impressions.
    impression_commit_interval_seconds: float = Field(default=0.05, ge=0, le=5)

    # "server": rank with the server's time; "bundle": treat the end of the bundle's data
    # window as now (demos on historical data such as Online Retail 2011).
    clock: Literal["server", "bundle"] = "server"
    demo: bool = False  # serve the demo storefront under /demo/

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _production_safety(self) -> Self:
        """Outside dev mode an admin token is required and must not be the example."""
        token = self.admin_token.get_secret_value() if self.admin_token else None
        if not self.dev_mode and token in (None, "", EXAMPLE_TOKEN):
            raise ConfigError(
                "RECSVC_ADMIN_TOKEN must be set to a secret (not the example token) "
                "unless RECSVC_DEV_MODE=true"
            )
        if not self.dev_mode and self.user_hash_key.get_secret_value() == "recsvc-dev-hash-key":
            raise ConfigError("RECSVC_USER_HASH_KEY must be set to a secret outside dev mode")
        return self
