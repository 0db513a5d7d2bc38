"""The one typed settings tree, built once in ``main()``.

Precedence (highest first): environment variables (``LIQBOT_``, nested ``__``), ``.env``,
the user's TOML file (``--config``), the packaged ``config/default.toml``.
Unknown keys anywhere are errors; ``load_settings`` turns every validation problem into a
one-line ``ConfigError`` naming the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict,
                               TomlConfigSettingsSource)

from bot.errors import ConfigError

DEFAULT_TOML = Path(__file__).with_name("default.toml")
ENV_PREFIX = "LIQBOT_"
ENV_DELIMITER = "__"


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=True)


class LoggingSettings(Section):
    """Where and how liqbot logs."""

    level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$",
                       description="Minimum level written to console and file.")
    file: Path | None = Field(Path("liqbot.log"), description="JSON-lines log file; empty to disable.")
    console: bool = Field(True, description="Readable log lines on stderr.")

    @field_validator("file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value in ("", None) else value


class ExchangeSettings(Section):
    """The exchange reached through ccxt. Keys are secrets: never logged, never stored."""

    id: str = Field("binanceusdm", description="ccxt exchange id.")
    api_key: SecretStr | None = Field(None, description="API key (set via LIQBOT_EXCHANGE__API_KEY or .env).")
    api_secret: SecretStr | None = Field(None, description="API secret (set via LIQBOT_EXCHANGE__API_SECRET or .env).")
    sandbox: bool = Field(False, description="Use the exchange's testnet through ccxt's sandbox switch.")
    timeout_ms: int = Field(10_000, gt=0, description="HTTP timeout for exchange calls.")


class ProviderSettings(Section):
    """Heatmap providers and their keys."""

    heatmap_source: str = Field("synthetic", pattern=r"^(synthetic|kiyotaka|coinglass|bastion|perp-api|recorded)$",
                                description="Which heatmap source the bot uses.")
    kiyotaka_api_key: SecretStr | None = Field(None, description="X-Kiyotaka-Key header value.")
    kiyotaka_base_url: str = Field("https://api.kiyotaka.ai", description="Kiyotaka API base URL.")
    coinglass_api_key: SecretStr | None = Field(None, description="CG-API-KEY header value.")
    coinglass_base_url: str = Field("https://open-api-v4.coinglass.com", description="CoinGlass API base URL.")
    perp_api_base_url: str = Field("http://127.0.0.1:8004", description="Cluster API base URL.")


class ClusterSettings(Section):
    """How heatmap levels become clusters, and how their state is tracked."""

    bin_pct: float = Field(0.15, gt=0, le=5, description="Log-price bin width in percent of price.")
    smooth_bins: int = Field(1, ge=0, le=10, description="Half-width (bins) of the triangular smoothing kernel.")
    min_cluster_usd: float = Field(0.0, ge=0, description="Clusters with less USD are dropped.")
    gap_bins: int = Field(1, ge=0, le=20,
                          description="Empty bins tolerated inside one cluster before it splits in two.")
    match_pct: float = Field(0.5, gt=0, le=10,
                             description="A new cluster inherits an id when its price is within this percent.")
    broken_retention_s: float = Field(6 * 3600, ge=0, description="How long broken clusters are kept (seconds).")
    strength_quantile: float = Field(0.95, gt=0, le=1,
                                     description="Strength = cluster USD / this quantile of past cluster USD.")
    strength_window: int = Field(2000, ge=10, description="How many past cluster sizes the strength reference holds.")
    typical_position_usd: float = Field(25_000.0, gt=0,
                                        description="USD per position for the liquidation_count estimate.")
    bias_threshold: float = Field(1.2, ge=1, description="Magnet asymmetry above this (or below 1/x) sets a bias.")


class Settings(BaseSettings):
    """The whole liqbot configuration."""

    model_config = SettingsConfigDict(extra="forbid", env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_DELIMITER,
                                      frozen=True)

    symbols: list[str] = Field(default_factory=lambda: ["BTC/USDT:USDT"],
                               description="ccxt unified symbols the bot trades.")
    state_dir: Path = Field(Path("state"), description="Folder for the SQLite store and the snapshot store.")
    logging: LoggingSettings = LoggingSettings()
    exchange: ExchangeSettings = ExchangeSettings()
    providers: ProviderSettings = ProviderSettings()
    clusters: ClusterSettings = ClusterSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings,
                TomlConfigSettingsSource(settings_cls, toml_file=[DEFAULT_TOML, *cls._user_toml]))

    _user_toml: ClassVar[tuple[Path, ...]] = ()


def load_settings(config_file: Path | None = None, env_file: Path | None = Path(".env"),
                  **overrides: Any) -> Settings:
    """Build the settings tree once; every problem is a one-line ``ConfigError`` naming the key."""
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"--config: no such file: {config_file}")
        _check_toml(config_file)
    _check_env_keys(dict(os.environ), "environment")
    dotenv = env_file if env_file is not None and env_file.is_file() else None
    if dotenv is not None:
        from dotenv import dotenv_values
        _check_env_keys({k: v or "" for k, v in dotenv_values(dotenv).items()}, str(dotenv))
    # pydantic-settings reads its sources from the class, so the user's file is bound to a
    # throwaway subclass instead of module state.
    loaded = type("Settings", (Settings,), {"_user_toml": (config_file,) if config_file else ()})
    try:
        return loaded(_env_file=dotenv, **overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


def _check_toml(path: Path) -> None:
    import tomllib
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _check_env_keys(env: dict[str, str], where: str) -> None:
    """pydantic-settings ignores unknown ``LIQBOT_`` variables; a typo there must not pass silently."""
    for key in env:
        if not key.upper().startswith(ENV_PREFIX):
            continue
        parts = key[len(ENV_PREFIX):].lower().split(ENV_DELIMITER)
        model: type[BaseModel] = Settings
        for i, part in enumerate(parts):
            fld = model.model_fields.get(part)
            if fld is None:
                dotted = ".".join(parts[: i + 1])
                raise ConfigError(f"{where}: {key}: unknown setting '{dotted}'")
            ann = fld.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                model = ann
            elif i < len(parts) - 1:
                raise ConfigError(f"{where}: {key}: '{'.'.join(parts[: i + 1])}' has no sub-settings")


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "<root>"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown setting"
    got = err.get("input")
    suffix = ""
    if err["type"] != "extra_forbidden" and not isinstance(got, (dict, list)) and got is not None:
        suffix = f" (got {got!r})" if "secret" not in key and "key" not in key else ""
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"config: {key}: {msg}{suffix}{more}"
