"""Settings of the HTTP service, read from ``STOREX_SERVE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storex.serve.db import DEFAULT_URL


class ServeSettings(BaseSettings):
    """Where the service finds its database and models, and how it listens."""

    model_config = SettingsConfigDict(env_prefix="STOREX_SERVE_", extra="forbid", frozen=True)

    database_url: str = DEFAULT_URL
    models_dir: Path = Path("models")
    model_name: str | None = Field(
        None, description="Model name in the registry; None: the only (or newest) one."
    )
    api_key: SecretStr | None = Field(
        None, description="When set, every write needs it in X-API-Key; model admin always does."
    )
    cors_origins: list[str] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    redis_url: str | None = Field(None, description="Cache answers in Redis instead of memory.")
    cache_entries: int = Field(10_000, ge=1)
    cache_ttl_seconds: float = Field(300.0, gt=0)
    log_level: str = "INFO"

    @field_validator("api_key")
    @classmethod
    def _key_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("api_key is blank; unset it to leave writes open")
        return value
