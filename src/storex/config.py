"""Settings: one object, read in one place, for the data pipeline, training and the service.

Values come, highest priority first, from explicit arguments, ``STOREX_*`` environment
variables (nested with ``__``, e.g. ``STOREX_SPLIT__STRATEGY=temporal``), a YAML file
(``STOREX_CONFIG`` or ``./config.yaml`` when present) and the defaults below.

The service's settings are the ``serve`` section: ``STOREX_SERVE__DATABASE_URL``,
``STOREX_SERVE__API_KEY``, ``STOREX_SERVE__CORS_ORIGINS`` (a JSON list),
``STOREX_SERVE__HOST``, ``STOREX_SERVE__PORT``, ``STOREX_SERVE__MODEL_NAME``,
``STOREX_SERVE__REDIS_URL``, ``STOREX_SERVE__WORKERS``, ``STOREX_SERVE__REDIS_PREFIX``,
``STOREX_SERVE__CACHE_ENTRIES``,
``STOREX_SERVE__CACHE_TTL_SECONDS``, ``STOREX_SERVE__SEED_DATABASE``,
``STOREX_SERVE__SESSION_MODEL_DIR``, ``STOREX_SERVE__SESSION_BACKEND``; bundles are read from
``STOREX_MODELS_DIR`` and the log level is ``STOREX_LOG_LEVEL`` for every part.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from storex.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///storex.db"
SESSION_MODELS_FOLDER = "sessions"  # under models_dir: <model>/<version>/ per trained model
SESSION_MODEL_MARKER = "manifest.json"
_SERVE_ENV = "STOREX_SERVE_"
SplitStrategy = Literal["random", "temporal", "leave-last-out", "cold-users", "cold-items"]


def _default_data_dir() -> Path:
    """``../shared/data`` beside the project checkout (or the working folder)."""
    checkout = Path(__file__).resolve().parents[2]
    candidates = [checkout.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CleaningSettings(_Section):
    k_core: int = Field(
        default=0, ge=0, description="Iterative k-core on users and items; 0 keeps all."
    )
    implicit_threshold: float | None = Field(
        default=None, description="Ratings at or above this are positives; None: every row is one."
    )
    rating_range: tuple[float, float] = (0.0, 5.0)


class SplitSettings(_Section):
    strategy: SplitStrategy = "random"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    gap_days: float = Field(default=2.0, ge=0, description="Blackout between temporal parts.")
    seed: int = 42

    @model_validator(mode="after")
    def _ratios_sum_to_one(self) -> SplitSettings:
        if abs(sum(self.ratios) - 1.0) > 1e-6 or min(self.ratios) < 0:
            raise ValueError(f"split ratios must be >= 0 and sum to 1, got {self.ratios}")
        return self


class FeatureSettings(_Section):
    text_dim: int = Field(
        default=32, ge=0, description="SVD components of the title TF-IDF; 0 = off."
    )
    top_brands: int = Field(default=50, ge=0)
    sentence_model: str | None = Field(
        default=None,
        description="A sentence-embedding model installed as a package (loaded offline).",
    )


class GraphSettings(_Section):
    negatives_per_positive: int = Field(default=4, ge=1)
    negative_sampling: Literal["uniform", "popularity"] = "uniform"
    cooccurrence_top_n: int = Field(default=20, ge=1)
    cooccurrence_window: int = Field(default=3, ge=1)
    session_gap_minutes: float = Field(default=30.0, gt=0)


class RetrievalSettings(_Section):
    """Top-K retrieval: a nearest-neighbour index for big catalogues, an exact scan below."""

    ann_min_items: int = Field(
        default=50_000,
        ge=0,
        description="Catalogues of at least this many items get a FAISS index in the bundle "
        "(0: never); smaller ones are scanned exactly.",
    )


class ServeSettings(_Section):
    """The HTTP service: its database, how it listens, its cache and who may write."""

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, description="SQLite file (default) or postgresql:// URL."
    )
    seed_database: bool = Field(
        default=True,
        description="Fill a database without items from the served bundle's data set "
        "(catalog and history) when `storex serve` starts.",
    )
    model_name: str | None = Field(
        default=None, description="Model name in the registry; None: the only (or newest) one."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="When set, every write needs it in X-API-Key; model admin always does.",
    )
    cors_origins: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    redis_url: str | None = Field(
        default=None,
        description="Cache answers in Redis instead of memory, and share live updates with "
        "the service's other processes (workers, machines) through it.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Server processes on one port; more than one needs redis_url (live updates).",
    )
    redis_prefix: str = Field(
        default="storex",
        pattern=r"^[^*?\[\]]+$",
        description="Namespace of the service's Redis keys (<prefix>:recs:...) and live-update "
        "channel (<prefix>:live), so several services can share one Redis.",
    )
    cache_entries: int = Field(default=10_000, ge=1)
    cache_ttl_seconds: float = Field(default=300.0, gt=0)
    session_model_dir: Path | None = Field(
        default=None,
        description="Session model folder for POST /recommend; left unset: the newest under "
        "<models_dir>/sessions/; none there, null or empty: session recommendations are off.",
    )
    session_backend: Literal["torch", "onnx"] = Field(
        default="torch", description="Score sessions with PyTorch or ONNX Runtime."
    )

    @field_validator("session_model_dir", mode="before")
    @classmethod
    def _blank_is_off(cls, value: Any) -> Any:
        """``STOREX_SERVE__SESSION_MODEL_DIR=`` turns session recommendations off."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_key")
    @classmethod
    def _key_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("api_key is blank; unset it to leave writes open")
        return value


class Settings(BaseSettings):
    """Everything StoreX can be told, with its defaults."""

    model_config = SettingsConfigDict(
        env_prefix="STOREX_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    cache_dir: Path = Path.home() / ".cache" / "storex"
    artifacts_dir: Path = Path("artifacts")
    models_dir: Path = Field(
        default=Path("models"), description="Root of the model bundle registry."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    seed: int = 42
    stream_rows: int | None = Field(
        default=2_000_000,
        ge=0,
        description="Parquet interactions above this many rows are read in batches into "
        "integer codes (never whole as text); None: always whole.",
    )
    cleaning: CleaningSettings = CleaningSettings()
    split: SplitSettings = SplitSettings()
    features: FeatureSettings = FeatureSettings()
    graph: GraphSettings = GraphSettings()
    serve: ServeSettings = ServeSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    cold_start_max_edges: int = Field(
        default=2_000_000,
        ge=0,
        description="`storex train` skips the cold-start refits above this many training edges.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_flat_serve_variables(cls, values: Any) -> Any:
        """A flat ``STOREX_SERVE_PORT`` would be ignored silently (an API key too): refuse it."""
        flat = sorted(
            name
            for name in os.environ
            if name.upper().startswith(_SERVE_ENV) and not name.upper().startswith(_SERVE_ENV + "_")
        )
        if flat:
            names = ", ".join(f"{name} (use {_setting_variable(name)})" for name in flat)
            raise ValueError(f"not settings: {names}; the service's settings nest with '__'")
        return values

    @model_validator(mode="before")
    @classmethod
    def _newest_session_model(cls, values: Any) -> Any:
        """Fill ``serve.session_model_dir`` with the newest trained one unless it is given
        (an explicit null turns session recommendations off)."""
        if not isinstance(values, dict):
            return values
        serve = values.get("serve")
        if isinstance(serve, ServeSettings):
            given = serve.model_fields_set
        elif serve is None or isinstance(serve, dict):
            given = set(serve or {})
        else:
            return values  # not a section: validation names the field
        if "session_model_dir" in given:
            return values
        models_dir = Path(values.get("models_dir") or cls.model_fields["models_dir"].default)
        newest = newest_session_model(models_dir)
        if newest is None:
            return values
        if isinstance(serve, ServeSettings):
            serve = serve.model_copy(update={"session_model_dir": newest})
        else:
            serve = {**(serve or {}), "session_model_dir": newest}
        return {**values, "serve": serve}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_file = config_file()
        if yaml_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)


def _setting_variable(flat: str) -> str:
    """The variable meant by a flat ``STOREX_SERVE_<FIELD>``."""
    field = flat[len(_SERVE_ENV) :].lower()
    if field in ("models_dir", "log_level"):  # shared by every part, not the service's own
        return f"STOREX_{field.upper()}"
    return f"{_SERVE_ENV}_{field.upper()}"


def newest_session_model(models_dir: Path) -> Path | None:
    """The most recent ``<models_dir>/sessions/<model>/<version>/`` (versions sort by time)."""
    root = models_dir / SESSION_MODELS_FOLDER
    found = sorted(root.glob(f"*/*/{SESSION_MODEL_MARKER}"), key=lambda p: p.parent.name)
    return found[-1].parent if found else None


def config_file() -> Path | None:
    """The YAML file in force: ``STOREX_CONFIG`` if set (it must exist), else ./config.yaml."""
    named = os.environ.get("STOREX_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"STOREX_CONFIG names {path}, which is not a file")
        _check_yaml(path)
        return path
    local = Path("config.yaml")
    if local.is_file():
        _check_yaml(local)
        return local
    return None


def _check_yaml(path: Path) -> None:
    try:
        content: Any = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if content is not None and not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


def load_settings(**overrides: Any) -> Settings:
    """Read settings afresh; pydantic errors become one ConfigError naming the field."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'environment'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
