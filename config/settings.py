"""The one typed settings tree, built once in ``main()``.

Precedence (highest first): environment variables (``LIQBOT_``, nested ``__``), ``.env``,
the user's TOML file (``--config``), the packaged ``config/default.toml``.
Unknown keys anywhere are errors; ``load_settings`` turns every validation problem into a
one-line ``ConfigError`` naming the key.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator,
                      model_validator)
from pydantic_settings import (BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict,
                               TomlConfigSettingsSource)
from pydantic_settings.exceptions import SettingsError

from bot.errors import ConfigError
from bot.inputs import bounds
from bot.inputs.values import (check_funding_interval, check_log_file, check_span, check_symbols, check_time,
                               check_timeframe, split_symbols)
from bot.search_space import searchable
from strategies.breakout import BreakoutParams
from strategies.filters import FilterLimits
from strategies.cascade import CascadeParams
from strategies.hunt import HuntParams
from strategies.levels import LevelParams
from strategies.sizing import OISizingParams
from strategies.support_resistance import SupportResistanceParams

DEFAULT_TOML = Path(__file__).with_name("default.toml")
ENV_PREFIX = "LIQBOT_"
ENV_DELIMITER = "__"


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=True, allow_inf_nan=False)


class LoggingSettings(Section):
    """Where and how liqbot logs."""

    level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$",
                       description="Minimum level written to console and file.")
    file: Path | None = Field(Path("liqbot.log"), description="JSON-lines log file; relative to the state folder "
                                                              "(--state or state_dir); empty to disable.")
    console: bool = Field(True, description="Readable log lines on stderr.")
    max_bytes: int = Field(10_000_000, ge=0, description="Rotate the log file at this size; 0 never rotates.")
    backups: int = Field(3, ge=0, description="Rotated log files kept (liqbot.log.1 ... .N).")
    compile_notice: bool = Field(True, description="Say on stderr when numba compiles liqbot's kernels (a first "
                                                   "run on an empty cache), with one line per kernel.")

    @field_validator("file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @field_validator("file")
    @classmethod
    def _file_in_a_folder(cls, value: Path | None) -> Path | None:
        return check_log_file(value)


class ExchangeSettings(Section):
    """The exchange reached through ccxt. Keys are secrets: never logged, never stored."""

    id: str = Field("binanceusdm", description="ccxt exchange id.")
    api_key: SecretStr | None = Field(None, description="API key (set via LIQBOT_EXCHANGE__API_KEY or .env).")
    api_secret: SecretStr | None = Field(None, description="API secret (set via LIQBOT_EXCHANGE__API_SECRET or .env).")
    sandbox: bool = Field(False, description="Use the exchange's testnet through ccxt's sandbox switch.")
    timeout_ms: int = Field(10_000, gt=0, description="HTTP timeout for exchange calls.")


class ProviderSettings(Section):
    """Heatmap providers and their keys."""

    heatmap_source: str = Field("synthetic",
                                pattern=r"^(synthetic|kiyotaka|coinglass|bastion|perp-api|hyperliquid|store|recorded)$",
                                description="Which heatmap source the bot uses (recorded = store).")
    kiyotaka_api_key: SecretStr | None = Field(None, description="X-Kiyotaka-Key header value.")
    kiyotaka_base_url: str = Field("https://api.kiyotaka.ai", description="Kiyotaka API base URL.")
    coinglass_api_key: SecretStr | None = Field(None, description="CG-API-KEY header value.")
    coinglass_base_url: str = Field("https://open-api-v4.coinglass.com", description="CoinGlass API base URL.")
    perp_api_base_url: str = Field("http://127.0.0.1:8004", description="Cluster API base URL.")
    # --- heatmap sources in the runner (bot.feeds.provider_maps) ---
    kiyotaka_interval: str = Field("HOUR", pattern=r"^(MINUTE|HOUR|DAY)$",
                                   description="Kiyotaka point interval requested; also its poll cadence.")
    kiyotaka_weight_per_min: float = Field(300.0, gt=0, description="Kiyotaka weight budget per minute "
                                                                     "(a points request of this type weighs 5).")
    kiyotaka_max_depth: int = Field(1500, ge=1, le=15000, description="Kiyotaka maxDepth (above 1500 costs 20% "
                                                                       "more weight per 1500-level band).")
    coinglass_model: str = Field("model2", pattern=r"^model[123]$", description="CoinGlass heatmap model.")
    coinglass_cadence_s: float = Field(300.0, gt=0, description="CoinGlass poll cadence (its model interval).")
    coinglass_requests_per_min: float = Field(30.0, gt=0, description="CoinGlass plan limit, requests per minute.")
    bastion_api_key: SecretStr | None = Field(None, description="Bastion key (optional: the endpoint is public).")
    bastion_base_url: str = Field("http://127.0.0.1:8005", description="Bastion heatmap API base URL.")
    bastion_cadence_s: float = Field(30.0, gt=0, description="Bastion poll cadence, seconds.")
    bastion_requests_per_min: float = Field(60.0, gt=0, description="Bastion requests per minute.")
    perp_api_api_key: SecretStr | None = Field(None, description="Cluster API key (optional).")
    perp_api_cadence_s: float = Field(5.0, gt=0, description="Cluster API poll cadence (clusters refresh every 5 s).")
    perp_api_requests_per_min: float = Field(60.0, gt=0, description="Cluster API requests per minute.")
    hyperliquid_base_url: str = Field("https://api.hyperliquid.xyz", description="Hyperliquid info API base URL.")
    hyperliquid_cadence_s: float = Field(60.0, gt=0, description="Hyperliquid map refresh cadence, seconds.")
    hyperliquid_weight_per_min: float = Field(600.0, gt=0, le=1200,
                                              description="Share of Hyperliquid's 1200 weight/min per IP to use.")
    hyperliquid_accounts: list[str] = Field(default_factory=list, description="Accounts (0x addresses) to track.")
    hyperliquid_discover: bool = Field(True, description="Also track accounts seen in public trades (recentTrades).")
    hyperliquid_max_accounts: int = Field(500, ge=1, description="At most this many tracked accounts.")
    hyperliquid_bin_pct: float = Field(0.1, gt=0, le=5, description="Price bin of the Hyperliquid map, % of mark.")
    hyperliquid_range_pct: float = Field(25.0, gt=0, le=100, description="Map range around the mark, +- %.")
    stale_after_intervals: int = Field(3, ge=1, description="A map older than this many cadences is stale: "
                                                            "entries pause until a fresh one arrives.")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of provider requests.")
    retry_attempts: int = Field(3, ge=1, le=10, description="Replay: attempts per history request.")
    backoff_initial_s: float = Field(1.0, gt=0, description="First backoff after a failed poll, seconds.")
    backoff_max_s: float = Field(60.0, gt=0, description="Longest backoff between failed polls, seconds.")
    retry_after_max_s: float = Field(300.0, gt=0, description="Longest Retry-After honoured, seconds.")
    record_liquidations: bool = Field(True, description="Live feeds: record the exchange's liquidation stream "
                                                        "beside the snapshots (ccxt watch_liquidations).")
    liquidations_ws_url: str = Field("", description="WebSocket URL of the liquidation stream (empty: the "
                                                     "exchange's own; needed with download.exchange_api_base).")


class ClusterSettings(Section):
    """How heatmap levels become clusters, and how their state is tracked."""

    bin_pct: float = searchable(0.15, low=0.05, high=0.6, log=True, gt=0, le=5,
                                description="Log-price bin width in percent of price (never finer "
                                            "than the snapshot's own level spacing).")
    smooth_bins: int = searchable(1, low=0, high=4, ge=0, le=10,
                                  description="Half-width (bins) of the triangular smoothing kernel.")
    min_cluster_usd: float = Field(0.0, ge=0, le=bounds.MAX_ACCOUNT_USD,
                                   description="Clusters with less USD are dropped.")
    gap_bins: int = searchable(1, low=0, high=4, ge=0, le=20,
                               description="Empty bins tolerated inside one cluster before it splits in two "
                                           "(a tolerated hole never splits a cluster by itself).")
    core_frac: float = searchable(0.5, low=0.2, high=0.8, ge=0, le=1,
                                  description="A cluster's core is where the smoothed profile is >= this fraction of "
                                              "its peak; thinner flanks form their own clusters. A peak must also rise "
                                              "by (1 - core_frac) of its height above the valley to count as a magnet.")
    implied_tiers: tuple[Annotated[float, Field(gt=1, le=bounds.MAX_LEVERAGE)], ...] = Field(
        (5, 10, 20, 25, 50, 75, 100, 125), min_length=1,
        description="Leverages a cluster's tier is implied from (by distance to price) when the source has no "
                    "tier data.")
    implied_mmr: float = Field(0.004, ge=0, lt=0.5,
                               description="Maintenance margin rate of the implied-tier distance formula.")
    match_pct: float = searchable(0.5, low=0.1, high=2.0, log=True, gt=0, le=10,
                                  description="A new cluster inherits an id when its price is within this percent.")
    broken_retention_s: float = Field(6 * 3600, ge=0, le=bounds.MAX_SPAN.total_seconds(),
                                      description="How long broken clusters are kept (seconds).")
    strength_quantile: float = searchable(0.99, low=0.8, high=0.999, gt=0, le=1,
                                          description="Strength = cluster USD / this quantile of past cluster USD.")
    strength_window: int = Field(20_000, ge=10, description="How many past cluster sizes the strength reference holds "
                                                            "(20,000: about two days of 5m updates).")
    typical_position_usd: float = Field(25_000.0, gt=0, le=bounds.MAX_POSITION_USD,
                                        description="USD per position for the liquidation_count estimate.")
    bias_threshold: float = searchable(1.2, low=1.05, high=2.5, log=True, ge=1, le=1000,
                                       description="Magnet asymmetry above this (or below 1/x) sets a bias.")
    cascade_gap_pct: float = Field(0.5, gt=0, le=10,
                                   description="The cascade read of a side (in every signal) runs through consecutive "
                                               "clusters whose gaps stay within this percent of the level.")


class PaperSettings(Section):
    """The paper broker: balance, fees, slippage and funding (docs/architecture.md §5)."""

    starting_balance: float = Field(10_000.0, gt=0, le=bounds.MAX_ACCOUNT_USD,
                                    description="Paper wallet at the first start, USDT.")
    taker_fee: float = Field(0.0005, ge=0, lt=0.01, description="Taker fee rate (market entries, stops).")
    maker_fee: float = Field(0.0002, ge=-0.001, lt=0.01, description="Maker fee rate (take-profit limits).")
    slippage_bps: float = Field(2.0, ge=0, le=500, description="Adverse slippage on market and stop fills, bps.")
    funding_interval_h: int = Field(8, description="Funding every N hours from 00:00 UTC (1, 2, 4 or 8).")
    default_funding_rate: float = Field(0.0001, ge=-0.01, le=0.01,
                                        description="Funding rate per interval, a fraction (0.0001 = 0.01 %), "
                                                    "used when the feed carries none.")
    venue_max_leverage: float = Field(20.0, gt=0, le=bounds.MAX_LEVERAGE,
                                      description="The paper venue rejects entries beyond equity x this.")

    @field_validator("funding_interval_h")
    @classmethod
    def _funding_interval(cls, value: int) -> int:
        return check_funding_interval(value)


class RiskSettings(Section):
    """The risk guard's limits; a trip persists until ``liqbot risk reset``."""

    max_open_positions: int = Field(3, ge=1, le=10_000, description="Open positions across all symbols.")
    max_notional_per_symbol: float = Field(25_000.0, gt=0, le=bounds.MAX_ACCOUNT_USD,
                                           description="Open notional per symbol, USD.")
    max_leverage: float = Field(3.0, gt=0, le=bounds.MAX_LEVERAGE, description="Open notional over equity.")
    max_daily_loss_pct: float = Field(5.0, gt=0, le=100,
                                      description="Loss from start-of-day equity (UTC) that trips REDUCING.")
    max_drawdown_pct: float = Field(15.0, gt=0, le=100, description="Drawdown from the equity peak that trips HALTED.")
    max_consecutive_errors: int = Field(5, ge=1, le=1_000_000, description="Consecutive step errors that trip HALTED.")


class FeedSettings(Section):
    """Where the paper bot's market data comes from, and how fast it runs."""

    kind: str = Field("sim", pattern=r"^(sim|replay|live)$", description="sim | replay | live.")
    timeframe: str = Field("5m", pattern=r"^[0-9]+[mhd]$", description="Bar timeframe (e.g. 5m, 1h).")
    speed: str = Field("max", pattern=r"^(max|[0-9]+(\.[0-9]+)?)$",
                       description="sim/replay pace: max, or N x real time.")
    duration: str = Field("2d", pattern=r"^[0-9]+(\.[0-9]+)?[smhdw]$",
                          description="Market time to run (sim/replay) or wall time (live).")
    warmup: str = Field("1d", pattern=r"^[0-9]+(\.[0-9]+)?[smhdw]$",
                        description="sim: market history fed to the heatmap model before trading starts.")
    sim_seed: int = Field(7, ge=0, le=2**32 - 1, description="Seed of the simulator (same seed, same market).")
    sim_start: str = Field("2025-01-06T00:00:00Z", description="Time of the simulator's first bar (UTC).")
    stale_after_s: float = Field(900.0, gt=0, description="A bar older than this is stale: no new entries.")
    resume_after_bars: int = Field(3, ge=1, le=100_000,
                                   description="Contiguous bars needed after a gap before entries resume.")
    live_clusters_s: float = Field(5.0, gt=0, description="live: heatmap/cluster refresh period, seconds.")
    live_prices_s: float = Field(10.0, gt=0, description="live: candle and ticker poll period, seconds.")
    live_oi_s: float = Field(30.0, gt=0, description="live: open interest and long/short poll period, seconds.")
    commit_every_bars: int = Field(500, ge=1, le=100_000,
                                   description="sim/replay: steps committed in one SQLite transaction (1 = every "
                                               "step); a kill -9 resumes from the last committed batch. Live "
                                               "runs commit every step.")
    commit_every_s: float = Field(5.0, gt=0, le=3600,
                                  description="sim/replay: commit the open batch at the latest after this many "
                                              "seconds of wall time.")

    @field_validator("duration", "warmup")
    @classmethod
    def _span(cls, value: str) -> str:
        return check_span(value)

    @field_validator("sim_start")
    @classmethod
    def _start(cls, value: str) -> str:
        return check_time(value)

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str) -> str:
        return check_timeframe(value)


class StrategySettings(Section):
    """The strategy engine: which strategies run, their parameters, filters, sizing and the signal log."""

    enabled: list[str] = Field(
        default_factory=lambda: ["liquidation_hunt", "support_resistance", "breakout", "oi_sizing"],
        description="Strategies the engine runs; oi_sizing is the sizing stage (off: every multiplier is 1).")
    base_position_usd: float = Field(1000.0, gt=0, le=bounds.MAX_POSITION_USD,
                                     description="Base position notional before OI sizing, USD.")
    # the filter limits are declared once, by the engine's FilterLimits model (defaults, bounds, ranges, text)
    min_rr: float = FilterLimits.model_fields["min_rr"]
    min_confidence: float = FilterLimits.model_fields["min_confidence"]
    max_stop_pct: float = FilterLimits.model_fields["max_stop_pct"]
    min_target_pct: float = FilterLimits.model_fields["min_target_pct"]
    cooldown_bars: int = searchable(12, low=0, high=144, ge=0, le=10_000,
                                    description="A signal of the same (strategy, cluster, direction) is emitted at "
                                                "most once within this many bars (0 = every bar). Read by the shared "
                                                "decision step (bot.decide), so paper, live and backtest agree.")
    cluster_zone_pct: float = searchable(0.5, low=0.1, high=2.0, log=True, gt=0, le=10,
                                         description="A cluster's zone (what stops stay out of and targets stop "
                                                     "before): its range, capped to this percent around its level.")
    signal_log: Path = Field(Path("signals.jsonl"), description="Signal log (JSONL); relative to state_dir.")
    log_fsync: str = Field("always", pattern=r"^(always|close|never)$",
                           description="fsync the signal log after every line, only on close, or never.")
    levels: LevelParams = Field(default_factory=LevelParams, description="Support/resistance lists in signals.")
    liquidation_hunt: HuntParams = Field(default_factory=HuntParams, description="Liquidation hunt parameters.")
    support_resistance: SupportResistanceParams = Field(default_factory=SupportResistanceParams,
                                                        description="Support/resistance parameters.")
    breakout: BreakoutParams = Field(default_factory=BreakoutParams, description="Cluster breakout parameters.")
    oi_sizing: OISizingParams = Field(default_factory=OISizingParams, description="OI sizing parameters.")
    cascade: CascadeParams = Field(default_factory=CascadeParams, description="Cascade strategy parameters.")

    @field_validator("enabled")
    @classmethod
    def _known_strategies(cls, value: list[str]) -> list[str]:
        from strategies.params import unknown_key_message
        from strategies.registry import ALL_NAMES
        for name in value:
            if name not in ALL_NAMES:
                raise ValueError(unknown_key_message("strategy", name, list(ALL_NAMES)))
        return value


class RetryPolicySettings(Section):
    """Bounded retries with backoff for reads (timeouts, 429, 5xx). An order create is never retried."""

    retry_attempts: int = Field(4, ge=1, le=20, description="Attempts per read or cancel (first try included) on "
                                                           "timeouts, 429 and 5xx; then it fails with the cause.")
    backoff_initial_s: float = Field(0.5, ge=0, description="First retry delay, seconds; doubles per retry, jittered.")
    backoff_max_s: float = Field(8.0, ge=0, description="Longest delay between two retries, seconds.")
    retry_after_max_s: float = Field(60.0, ge=0, description="Longest server Retry-After honoured, seconds; a "
                                                             "longer one (an IP ban) fails at once instead of hanging.")


class DownloadSettings(RetryPolicySettings):
    """``liqbot download`` and ``heatmap import``: where history comes from, timeouts and retries (reads only)."""

    archive_base_url: str = Field("https://data.binance.vision",
                                  description="Base URL of the exchange's public daily archive (metrics files).")
    exchange_api_base: str = Field("", description="Send every ccxt REST call to this base URL instead of the "
                                                   "exchange's own hosts (a proxy or a local fake); empty = off.")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of archive and provider requests, seconds.")


class SyntheticSettings(Section):
    """The synthetic heatmap: a point-in-time cohort ledger (docs/architecture.md §3, ``bot.synthetic``)."""

    venue: str = Field("binance", pattern=r"^(binance|hyperliquid)$",
                       description="Liquidation rule: binance (tiered mmr/cum brackets) or hyperliquid.")
    tier_leverages: list[Annotated[float, Field(gt=1, le=bounds.MAX_LEVERAGE)]] = Field(
                                        default_factory=lambda: [5.0, 10.0, 25.0, 50.0, 100.0], min_length=1,
                                        description="Leverage tiers new positions are spread over.")
    tier_weights: list[Annotated[float, Field(ge=0, le=1e6)]] = Field(
                                      default_factory=lambda: [0.15, 0.30, 0.25, 0.20, 0.10], min_length=1,
                                      description="Prior share of new positions per tier (normalised).")
    position_usd: float = searchable(10_000.0, low=1000.0, high=100000.0, log=True, gt=0,
                                     le=bounds.MAX_POSITION_USD,
                                     description="Representative position notional, USD (picks the bracket).")
    half_life_h: float = searchable(72.0, low=6.0, high=336.0, log=True, ge=0,
                                    le=bounds.MAX_SPAN.total_seconds() / 3600,
                                    description="Half-life of positions closed unseen, hours (0 = none).")
    source_mode: str = Field("AUTO", pattern=r"^(AUTO|OI|VOL)$",
                             description="What opens positions: AUTO (OI where known, else volume), OI, VOL.")
    entry: str = Field("typical", pattern=r"^(typical|close)$", description="Entry price of new cohorts.")
    side_split_gain: float = searchable(1.0, low=0.0, high=1.0, ge=0, le=1,
                                        description="Candle-direction long/short split: "
                                                                "share = 0.5 + 0.5 * gain * body/range.")
    oi_spread: bool = Field(True, description="Spread an OI rise over the bars since the previous OI value.")
    oi_spread_max_bars: int = Field(96, ge=1, le=10_000, description="At most this many bars receive one OI rise.")
    oi_max_age_h: float = Field(8.0, gt=0, le=bounds.MAX_SPAN.total_seconds() / 3600,
                                description="AUTO: OI older than this counts as missing (volume takes over).")
    vol_oi_ratio: float = searchable(0.02, low=0.002, high=0.2, log=True, ge=0, le=100,
                                     description="VOL: new positions = this x USD volume on directional bars.")
    vol_min_body: float = searchable(0.3, low=0.0, high=0.8, ge=0, le=1,
                                     description="VOL: a directional bar has |close-open| >= this x range.")
    churn: float = searchable(0.3, low=0.0, high=3.0, ge=0, le=100,
                              description="OI source: this x bar USD volume closes pro rata and reopens at the bar.")
    spike: bool = searchable(False, choices=(False, True),
                             description="Spike mode: open cohorts only on abnormal OI-delta / volume bars.")
    spike_z: float = searchable(2.0, low=1.0, high=4.0, gt=0, le=100, description="Spike mode: z-score threshold.")
    spike_lookback: int = Field(288, ge=2, le=100_000, description="Spike mode: observations in the z-score window.")
    spike_min_obs: int = Field(20, ge=2, le=100_000,
                               description="Spike mode: observations needed before any spike counts.")
    spike_min_gap_bars: int = Field(12, ge=0, le=100_000, description="Spike mode: minimum bars between two spikes.")
    funding_erosion: bool = Field(True, description="Funding paid moves liquidation prices (isolated margin erosion).")
    grid_bin_pct: float = searchable(0.1, low=0.05, high=0.5, log=True, gt=0, le=5,
                                     description="Log-price bin width of the levels, percent.")
    range_pct: float = Field(22.0, gt=0, lt=100, description="Levels kept within this percent of price (must hold "
                                                             "every tier: 5x is liquidated 19.7 % away).")
    oi_venue_share: float = Field(1.0, gt=0, le=1,
                                  description="Share of the fed open interest that trades on the candles' venue: "
                                              "the OI is multiplied by it so OI and volume share one basis (CoinGlass "
                                              "all-exchange BTC OI vs Binance: 0.16, its exchange chart of May 2025).")
    settle_h: float = Field(168.0, ge=0, le=8760,
                            description="Hours of bars after which the ledger counts as settled (its USD per USD "
                                        "of OI ramps for about 7 days): liqbot validate scores nothing before.")
    usd_scale: float = Field(1.0, gt=0, le=1000,
                             description="Calibration of the map's USD (output only): liqbot validate --split T "
                                         "prints the factor fitted on the data before T (scale.*.calibration_factor); "
                                         "0.0128 = BTC before 2025-03-15, CoinGlass all-exchange OI vs Binance "
                                         "liquidations (default 1.0: the strategies' USD floors assume it).")

    @model_validator(mode="after")
    def _one_weight_per_tier(self) -> "SyntheticSettings":
        if len(self.tier_weights) != len(self.tier_leverages):
            raise ValueError(f"tier_weights has {len(self.tier_weights)} values for {len(self.tier_leverages)} "
                             "tier_leverages (one weight per tier)")
        if sum(self.tier_weights) <= 0:
            raise ValueError("tier_weights must not all be zero")
        return self


class LiveSettings(RetryPolicySettings):
    """Live trading through ccxt (``liqbot live``): account setup, reconciliation, read retries."""

    leverage: int = Field(3, ge=1, le=125, description="Leverage set on each symbol before its first order.")
    margin_mode: str = Field("isolated", pattern=r"^(isolated|cross)$",
                             description="Margin mode set on each symbol before its first order.")
    recv_window_ms: int = Field(5000, ge=1000, le=60_000,
                                description="Binance recvWindow: how stale a signed request may arrive, ms.")
    reconcile_interval_s: float = Field(30.0, gt=0, description="How often working orders and positions are "
                                                                "re-read from the exchange while running, seconds.")
    unknown_grace_s: float = Field(30.0, ge=0, description="An order whose submit timed out and that the exchange "
                                                           "still does not know after this long counts as never "
                                                           "placed, seconds (exchanges show new orders late).")
    api_base: str = Field("", description="Send every ccxt REST call to this base URL (a proxy or a local fake "
                                          "exchange); empty = the exchange's own hosts.")


class BacktestSettings(Section):
    """``liqbot backtest``: capital, funding on/off and the warmup (docs/architecture.md §6).

    Fees and slippage are the venue's (``[paper]``), so backtest and paper pay the same costs.
    """

    initial_cash: float = Field(10_000.0, gt=0, le=bounds.MAX_ACCOUNT_USD,
                                description="Starting cash of every portfolio column, USD.")
    funding: bool = Field(True, description="Charge funding on open positions at the venue's funding times.")
    warmup: str = Field("1d", pattern=r"^[0-9]+(\.[0-9]+)?[smhdw]$",
                        description="History after --from fed to the heatmap model before trading starts.")
    report_days: float = Field(3.0, gt=0, le=bounds.MAX_SPAN.days,
                               description="Span of the report's detailed heatmap (the last N days).")
    lookahead_cuts: int = Field(4, ge=1, le=50, description="Cut points of --check-lookahead.")

    @field_validator("warmup")
    @classmethod
    def _span(cls, value: str) -> str:
        return check_span(value)


class ServeSettings(Section):
    """``liqbot serve``: the cluster API, the bot's read-only API and the dashboard."""

    host: str = Field("127.0.0.1", min_length=1, description="Bind address; any but a loopback one needs a token.")
    port: int = Field(8765, ge=1, le=65535, description="TCP port.")
    token: SecretStr | None = Field(None, description="Required on every request when set (Bearer header or ?token=).")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed cross-origin; [] = closed.")
    poll_s: float = Field(1.0, gt=0, le=60, description="How often the live stream looks for new rows, seconds.")

    @field_validator("token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value in ("", None) else value


class Settings(BaseSettings):
    """The whole liqbot configuration."""

    model_config = SettingsConfigDict(extra="forbid", env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_DELIMITER,
                                      frozen=True)

    symbols: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["BTC/USDT:USDT"], min_length=1,
                                                    description="ccxt unified symbols the bot trades (the "
                                                                "environment takes a JSON list or a comma list).")
    state_dir: Path = Field(Path("state"), description="Folder for the SQLite store and the snapshot store.")
    logging: LoggingSettings = LoggingSettings()
    exchange: ExchangeSettings = ExchangeSettings()
    providers: ProviderSettings = ProviderSettings()
    clusters: ClusterSettings = ClusterSettings()
    paper: PaperSettings = PaperSettings()
    risk: RiskSettings = RiskSettings()
    feed: FeedSettings = FeedSettings()
    strategies: StrategySettings = StrategySettings()
    download: DownloadSettings = DownloadSettings()
    synthetic: SyntheticSettings = SyntheticSettings()
    live: LiveSettings = LiveSettings()
    backtest: BacktestSettings = BacktestSettings()
    serve: ServeSettings = ServeSettings()

    @field_validator("symbols", mode="before")
    @classmethod
    def _symbol_list(cls, value: Any) -> Any:
        return split_symbols(value) if isinstance(value, str) else value

    @field_validator("symbols")
    @classmethod
    def _symbols_wellformed(cls, value: list[str]) -> list[str]:
        return check_symbols(value)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
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
    except SettingsError as exc:  # a value pydantic-settings could not decode (e.g. JSON of a list)
        cause = exc.__cause__
        raise ConfigError(f"config: {exc}" + (f": {cause}" if cause else "")) from None


def with_log_level(settings: Settings, level: str) -> Settings:
    """``settings`` with ``logging.level`` replaced, validated like every other setting (``--log-level``)."""
    try:
        logging_ = LoggingSettings.model_validate({**settings.logging.model_dump(), "level": level.upper()})
    except ValidationError as exc:
        raise ConfigError(f"--log-level: {exc.errors()[0]['msg']} (got {level!r})") from None
    return settings.model_copy(update={"logging": logging_})


def _check_toml(path: Path) -> None:
    import tomllib
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a TOML file (not UTF-8 text at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit integer, arrays nested thousands deep
        raise ConfigError(f"{path}: not valid TOML: {str(exc).splitlines()[0] or type(exc).__name__}") from None


# python-dotenv logs a warning per line it cannot parse: on stderr that is a second line next to
# liqbot's own; such lines are skipped either way, and a missing setting is caught by validation.
logging.getLogger("dotenv.main").setLevel(logging.ERROR)

# LIQBOT_ variables that are not settings: where tests and benchmarks find the shared market data
NOT_SETTINGS = frozenset({"LIQBOT_SHARED_DATA"})


def _check_env_keys(env: dict[str, str], where: str) -> None:
    """pydantic-settings ignores unknown ``LIQBOT_`` variables; a typo there must not pass silently."""
    for key in env:
        if not key.upper().startswith(ENV_PREFIX) or key.upper() in NOT_SETTINGS:
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
