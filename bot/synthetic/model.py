"""The synthetic liquidation heatmap: parameters, the batch builder and the incremental model.

``build_heatmaps`` (backtests) and ``SyntheticModel.on_bar`` (paper bot) drive the same ledger
kernel (``bot.synthetic.ledger.run_bars``) on the same state layout, so on the same bars they
produce identical snapshots. Point in time: the snapshot of a bar depends only on inputs known
at that bar's close.
"""

from __future__ import annotations

import math
import dataclasses
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any, Mapping

import numpy as np
import pandas as pd

from bot.domain import HeatmapSnapshot
from bot.errors import ConfigError, DataError
from bot.synthetic import ledger as lg
from bot.synthetic.brackets import BracketTable, Venue, table_for
from bot.synthetic.inputs import NS, BarInputs, align
from bot.synthetic.liqprice import feasible, tier_factors
from bot.synthetic.series import BreakEvents, HeatmapSeries, make_snapshot

WINDOW_MARGIN_PCT = 1.0  # the window reaches this far past the farthest tier (funding and drift move levels)
GRID_LOG_SPAN = 4.0  # the ledger window spans e^4 (x55) in price; it re-centres when price drifts


class SourceMode(StrEnum):
    """Which stream opens positions: open interest, volume, or OI where known else volume."""

    AUTO = "AUTO"
    OI = "OI"
    VOL = "VOL"


class EntryPrice(StrEnum):
    """The price new cohorts are opened at."""

    TYPICAL = "typical"  # (high + low + close) / 3
    CLOSE = "close"


@dataclass(frozen=True)
class SyntheticParams:
    """Model parameters (see ``SyntheticSettings`` for what each one means)."""

    tier_leverages: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 100.0)
    tier_weights: tuple[float, ...] = (0.15, 0.30, 0.25, 0.20, 0.10)
    position_usd: float = 10_000.0
    half_life_h: float = 72.0
    source_mode: SourceMode = SourceMode.AUTO
    entry: EntryPrice = EntryPrice.TYPICAL
    side_split_gain: float = 1.0
    oi_spread: bool = True
    oi_spread_max_bars: int = 96
    oi_max_age_h: float = 8.0
    vol_oi_ratio: float = 0.02
    churn: float = 0.3
    vol_min_body: float = 0.3
    spike: bool = False
    spike_z: float = 2.0
    spike_lookback: int = 288
    spike_min_obs: int = 20
    spike_min_gap_bars: int = 12
    funding_erosion: bool = True
    grid_bin_pct: float = 0.1
    range_pct: float = 22.0
    venue: Venue = Venue.BINANCE
    oi_venue_share: float = 1.0
    usd_scale: float = 1.0
    settle_h: float = 168.0
    brackets: BracketTable | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_mode", SourceMode(self.source_mode))
        object.__setattr__(self, "entry", EntryPrice(self.entry))
        object.__setattr__(self, "venue", Venue(self.venue))
        object.__setattr__(self, "tier_leverages", tuple(float(x) for x in self.tier_leverages))
        object.__setattr__(self, "tier_weights", tuple(float(x) for x in self.tier_weights))
        if len(self.tier_leverages) != len(self.tier_weights) or not self.tier_leverages:
            raise ConfigError("synthetic: tier_leverages and tier_weights must be non-empty and of equal length")
        if min(self.tier_leverages) < 1 or min(self.tier_weights) < 0 or sum(self.tier_weights) <= 0:
            raise ConfigError("synthetic: leverages must be >= 1 and weights >= 0 with a positive sum")
        if not 0 < self.grid_bin_pct <= 5 or not 0 < self.range_pct < 100:
            raise ConfigError("synthetic: grid_bin_pct must be in (0, 5] and range_pct in (0, 100)")
        if not (0 <= self.settle_h <= 24 * 365):
            raise ConfigError("synthetic: settle_h must be in [0, 8760]")
        if not (0 < self.oi_venue_share <= 1 and 0 < self.usd_scale <= 1e3):
            raise ConfigError("synthetic: oi_venue_share must be in (0, 1] and usd_scale in (0, 1000]")

    @classmethod
    def from_settings(cls, settings: Any) -> "SyntheticParams":
        """From a ``SyntheticSettings`` section (or any object with the same attribute names)."""
        names = {f.name for f in fields(cls)} - {"brackets"}
        return cls(**{n: getattr(settings, n) for n in names if hasattr(settings, n)})

    def replace(self, **changes: Any) -> "SyntheticParams":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def bin_width(self) -> float:
        """Log-price width of one grid bin."""
        return math.log1p(self.grid_bin_pct / 100.0)

    def bracket_table(self, symbol: str) -> BracketTable:
        """The explicit table, else the venue's default for the symbol."""
        return self.brackets if self.brackets is not None else table_for(self.venue, symbol)

    def window(self) -> tuple[int, int]:
        """Bins kept below and above the close's bin in every snapshot."""
        w, r = self.bin_width, self.range_pct / 100.0
        return int(math.ceil(-math.log1p(-r) / w)), int(math.ceil(math.log1p(r) / w))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of the parameters."""
        out = {k: v for k, v in asdict(self).items() if k != "brackets"}
        out["tier_leverages"], out["tier_weights"] = list(self.tier_leverages), list(self.tier_weights)
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in out.items()}


@dataclass(frozen=True, slots=True)
class _Kernel:
    """Everything the kernel needs besides bars and state, precomputed once per model."""

    p: np.ndarray
    tw: np.ndarray
    fl: np.ndarray
    fs: np.ndarray
    width: int
    oi_share: float
    usd_scale: float
    assumptions: Mapping[str, Any]


def check_tiers(params: SyntheticParams, symbol: str, fl: np.ndarray, fs: np.ndarray, brackets: BracketTable) -> None:
    """Every tier must be priced by the brackets and lie inside the window (issue 11, defects 4-5).

    A tier the venue cannot price (its leverage above the bracket's maximum at ``position_usd``,
    or a maintenance rate that liquidates it at once)
    used to be dropped silently with its share of every cohort; a tier beyond ``range_pct`` was
    clipped at the window's edge. Both are configuration errors now.
    """
    ok = feasible(np.array(params.tier_leverages), params.position_usd, brackets)
    bad = [f"{lev:g}x" for lev, a, b, f in zip(params.tier_leverages, fl, fs, ok)
           if not (f and np.isfinite(a) and np.isfinite(b))]
    if bad:
        cap = float(brackets.max_leverage[brackets.index(params.position_usd)])
        raise ConfigError(f"synthetic: tier {', '.join(bad)} cannot be priced by {brackets.name} for {symbol} at "
                          f"${params.position_usd:,.0f} (max leverage {cap:g}x): lower tier_leverages or pass that "
                          "symbol's brackets (live: refreshed from ccxt)")
    far = float(100 * max(np.max(1 - fl), np.max(fs - 1)))
    if far + WINDOW_MARGIN_PCT > params.range_pct:
        raise ConfigError(f"synthetic: range_pct {params.range_pct:g} cuts the tier liquidated {far:.1f} % away: "
                          f"raise range_pct to at least {far + WINDOW_MARGIN_PCT:.1f}")


def _kernel(params: SyntheticParams, symbol: str) -> _Kernel:
    brackets = params.bracket_table(symbol)
    fl, fs = tier_factors(np.array(params.tier_leverages), params.position_usd, brackets)
    check_tiers(params, symbol, fl, fs, brackets)
    tw = np.array(params.tier_weights) / sum(params.tier_weights)
    lo, hi = params.window()
    p = np.zeros(lg.NP)
    p[lg.P_BINW] = params.bin_width
    p[lg.P_HALF_LIFE_S] = params.half_life_h * 3600.0
    p[lg.P_MODE] = {SourceMode.AUTO: lg.MODE_AUTO, SourceMode.OI: lg.MODE_OI, SourceMode.VOL: lg.MODE_VOL}[
        params.source_mode]
    p[lg.P_SPIKE] = float(params.spike)
    p[lg.P_SPIKE_Z] = params.spike_z
    p[lg.P_SPIKE_MIN_OBS] = params.spike_min_obs
    p[lg.P_SPIKE_GAP] = params.spike_min_gap_bars
    p[lg.P_SPLIT_GAIN] = params.side_split_gain
    p[lg.P_VOL_RATIO] = params.vol_oi_ratio
    p[lg.P_VOL_MIN_BODY] = params.vol_min_body
    p[lg.P_CHURN] = params.churn
    p[lg.P_OI_SPREAD] = float(params.oi_spread)
    p[lg.P_OI_MAX_AGE_S] = params.oi_max_age_h * 3600.0
    p[lg.P_ENTRY] = lg.ENTRY_TYPICAL if params.entry is EntryPrice.TYPICAL else lg.ENTRY_CLOSE
    p[lg.P_FUNDING] = float(params.funding_erosion)
    p[lg.P_WIN_LO], p[lg.P_WIN_HI] = lo, hi
    assumptions = {
        "model": "cohort-ledger", "symbol": symbol, **params.to_dict(), "brackets": brackets.name,
        "liquidation_distance_pct": {f"{lev:g}x": [round(float(100 * (1 - a)), 4), round(float(100 * (b - 1)), 4)]
                                     for lev, a, b in zip(params.tier_leverages, fl, fs)}}
    return _Kernel(p=p, tw=tw, fl=np.nan_to_num(fl, nan=-1.0), fs=np.nan_to_num(fs, nan=-1.0),
                   width=lo + hi + 1, oi_share=params.oi_venue_share, usd_scale=params.usd_scale,
                   assumptions=assumptions)


def _new_state(params: SyntheticParams) -> lg.LedgerState:
    grid_bins = int(math.ceil(GRID_LOG_SPAN / params.bin_width))
    return lg.LedgerState.empty(grid_bins, params.oi_spread_max_bars, params.spike_lookback)


def _ls_fraction(ratio: np.ndarray) -> np.ndarray:
    return ratio / (1.0 + ratio)


def _run(bars: BarInputs, k: _Kernel, state: lg.LedgerState, emit: np.ndarray):
    rows = int(emit.sum())
    out_base = np.empty(rows, np.int64)
    out_l = np.empty((rows, k.width), np.float32)
    out_s = np.empty((rows, k.width), np.float32)
    ev = np.zeros((len(bars), 4))
    info = np.zeros((len(bars), 2))
    # one venue basis: the fed OI (e.g. all exchanges) converted to the candles' venue, whose volume churns it
    oi = bars.oi * k.oi_share if k.oi_share != 1.0 else bars.oi
    lg.run_bars(bars.ts_seconds, bars.open, bars.high, bars.low, bars.close, bars.volume, bars.taker_share,
                oi, _ls_fraction(bars.ls_ratio), bars.funding, emit, k.p, k.tw, k.fl, k.fs,
                state.grid, state.scal, state.ring, state.zring, out_base, out_l, out_s, 0, ev, info)
    if k.usd_scale != 1.0:
        # a calibration of the output only: the ledger's dynamics (churn against volume) are unchanged
        out_l *= k.usd_scale
        out_s *= k.usd_scale
        ev[:, 0] *= k.usd_scale
        ev[:, 2] *= k.usd_scale
    return out_base, out_l, out_s, ev, info


def build_from_bars(bars: BarInputs, params: SyntheticParams, emit: np.ndarray, symbol: str) -> HeatmapSeries:
    """Run the ledger over aligned bars, keeping the snapshots of the ``emit`` bars."""
    k = _kernel(params, symbol)
    out_base, out_l, out_s, ev, info = _run(bars, k, _new_state(params), emit)
    used = info[:, 0]
    assumptions = {**k.assumptions, "inputs": {
        "bars": len(bars), "bar_seconds": bars.bar_ns / NS, "oi": bool(np.isfinite(bars.oi).any()),
        "ls_ratio": bool(np.isfinite(bars.ls_ratio).any()), "funding": bool(np.any(bars.funding != 0)),
        "bars_oi_source": int((used == 1).sum()), "bars_volume_source": int((used == 2).sum())}}
    return HeatmapSeries(symbol=symbol, bin_width=params.bin_width, ts=bars.close_ns[emit],
                         bar_open=bars.open_ns[emit], price=bars.close[emit], base=out_base, long_usd=out_l,
                         short_usd=out_s, breaks=BreakEvents.from_bars(bars.close_ns, ev), assumptions=assumptions)


def emit_mask(bars: BarInputs, every: str | None) -> np.ndarray:
    """Bars whose close falls on a multiple of ``every`` (all bars when None)."""
    if every is None:
        return np.ones(len(bars), dtype=np.bool_)
    step = int(pd.Timedelta(every).value)
    if step <= 0:
        raise DataError(f"must be a positive duration, got {every!r}", field="every")
    return bars.close_ns % step == 0


def build_heatmaps(candles: pd.DataFrame, oi: pd.DataFrame | None, params: SyntheticParams, *,
                   ls_ratio: pd.DataFrame | pd.Series | None = None, funding: pd.DataFrame | pd.Series | None = None,
                   every: str | None = "5min", symbol: str = "BTC/USDT:USDT") -> HeatmapSeries:
    """Snapshots of the cohort ledger over the candles (one per bar whose close is a multiple of ``every``).

    ``candles``: index = bar open (UTC), columns open/high/low/close/volume (optional taker-buy
    volume). ``oi``/``ls_ratio``/``funding``: index = time the value became known; columns
    ``oi_usd``, ``long_short_ratio``, ``rate`` (or a Series).
    """
    bars = align(candles, oi, ls_ratio=ls_ratio, funding=funding)
    return build_from_bars(bars, params, emit_mask(bars, every), symbol)


class SyntheticModel:
    """The same ledger, one bar at a time (paper bot). Snapshots equal ``build_heatmaps``'s."""

    def __init__(self, params: SyntheticParams, symbol: str, *, bar: str = "5min",
                 _state: lg.LedgerState | None = None) -> None:
        self.params = params
        self.symbol = symbol
        self.bar_ns = int(pd.Timedelta(bar).value)
        self._k = _kernel(params, symbol)
        self._state = _state if _state is not None else _new_state(params)
        self.last_breaks: BreakEvents = BreakEvents.from_bars(np.zeros(0, np.int64), np.zeros((0, 4)))

    def on_bar(self, ts: pd.Timestamp | Any, o: float, h: float, l: float, c: float, v: float,  # noqa: E741
               oi_usd: float | None = None, *, funding_rate: float | None = None, ls_ratio: float | None = None,
               taker_buy_share: float | None = None) -> HeatmapSnapshot:
        """Advance one closed bar (``ts`` = its open) and return the snapshot known at its close.

        ``oi_usd``: open interest known at the bar's close (repeat or None between updates);
        ``funding_rate``: the rate settled during this bar; ``ls_ratio``: long/short ratio known.
        """
        stamp = pd.Timestamp(ts)
        open_ns = (stamp.tz_localize("UTC") if stamp.tz is None else stamp).value
        ohlcv = [_finite(x, name) for x, name in ((o, "open"), (h, "high"), (l, "low"), (c, "close"), (v, "volume"))]
        if min(ohlcv[:4]) <= 0 or ohlcv[4] < 0 or h < max(o, c, l) or l > min(o, c):
            raise DataError(f"bad bar o={o!r} h={h!r} l={l!r} c={c!r} v={v!r}", field="bar")
        one = lambda x: np.array([x], dtype=np.float64)  # noqa: E731
        bars = BarInputs(open_ns=np.array([open_ns]), close_ns=np.array([open_ns + self.bar_ns]), bar_ns=self.bar_ns,
                         open=one(o), high=one(h), low=one(l), close=one(c), volume=one(v),
                         taker_share=one(np.nan if taker_buy_share is None else taker_buy_share),
                         oi=_opt(oi_usd, "oi_usd"), ls_ratio=_opt(ls_ratio, "ls_ratio"),
                         funding=one(_finite(funding_rate or 0.0, "funding_rate")))
        out_base, out_l, out_s, ev, _ = _run(bars, self._k, self._state, np.ones(1, np.bool_))
        self.last_breaks = BreakEvents.from_bars(bars.close_ns, ev)
        return make_snapshot(self.symbol, int(bars.close_ns[0]), float(c), int(out_base[0]), out_l[0], out_s[0],
                             self.params.bin_width, self._k.assumptions)

    def state(self) -> dict[str, Any]:
        """Everything needed to resume (numpy arrays; ``np.savez`` or ``.tolist()`` persist it)."""
        s = self._state
        return {"version": 1, "symbol": self.symbol, "bar_ns": self.bar_ns, "params": self.params.to_dict(),
                "grid": s.grid.copy(), "scal": s.scal.copy(), "ring": s.ring.copy(), "zring": s.zring.copy()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], params: SyntheticParams | None = None) -> "SyntheticModel":
        """Resume from ``state()`` (params from the state unless given, e.g. with explicit brackets)."""
        if state.get("version") != 1:
            raise DataError(f"unsupported state version {state.get('version')!r}", field="version")
        params = params or SyntheticParams(**state["params"])
        ledger = lg.LedgerState(*(np.array(state[n], dtype=np.float64) for n in ("grid", "scal", "ring", "zring")))
        expected = _new_state(params)
        for name in ("grid", "scal", "ring", "zring"):
            if getattr(ledger, name).shape != getattr(expected, name).shape:
                raise DataError("shape does not match the parameters", field=name)
        return cls(params, state["symbol"], bar=f"{int(state['bar_ns'])}ns", _state=ledger)


def _finite(value: float, name: str) -> float:
    x = float(value)
    if not math.isfinite(x):
        raise DataError(f"must be finite, got {value!r}", field=name)
    return x


def _opt(value: float | None, name: str) -> np.ndarray:
    if value is None:
        return np.array([np.nan])
    x = float(value)
    if not (math.isfinite(x) and x > 0):
        raise DataError(f"must be finite and > 0, got {value!r}", field=name)
    return np.array([x])
