"""The liquidation heatmap as people know it: time across, price up, colour = USD.

``heatmap_view`` turns snapshots (a ``StoredSeries``, the model's columnar series, or a list of
``HeatmapSnapshot``), candles, clusters and trades into plain arrays: a time x log-price grid of
USD, candles resampled to a readable count, one segment per cluster (from first seen to broken or
last seen) and trade markers. ``heatmap_figure`` draws that view with plotly (interactive HTML);
``backtest.plots_png.heatmap_png`` draws the same view with matplotlib (PNG without a browser).
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from bot.domain import Cluster
from bot.errors import DataError
from bot.heatmap.stored_series import Heatmaps, StoredSeries, as_stored_series

CANDLE_STEPS = ("5min", "15min", "30min", "1h", "2h", "4h", "6h", "12h", "1D", "3D", "7D")
USD_COLORSCALE = "Viridis"
LONG_COLORSCALE = [[0.0, "rgba(0,80,80,0.0)"], [0.15, "#007c7c"], [1.0, "#7fffd4"]]
SHORT_COLORSCALE = [[0.0, "rgba(90,0,60,0.0)"], [0.15, "#8b1a5a"], [1.0, "#ffb347"]]
SIDE_COLORS = {"long": "#00e5ff", "short": "#ff4fd8"}     # cluster lines: below / above price
CANDLE_UP, CANDLE_DOWN = "#f5f5f5", "#ff5a5a"
TRADE_COLORS = {"LONG": "#00ff85", "SHORT": "#ff3b3b"}
BROKEN_OPACITY = 0.45  # faded, yet visible over the brightest cells


@dataclass(frozen=True)
class HeatmapGrid:
    """USD per (price bin, snapshot): ``long_usd``/``short_usd`` have shape (bins, columns)."""

    times: np.ndarray      # datetime64[us] (UTC), snapshot time of each column
    edges: np.ndarray      # price bin edges, log-spaced, len bins + 1
    long_usd: np.ndarray
    short_usd: np.ndarray
    price: np.ndarray      # reference price of each column

    @property
    def centers(self) -> np.ndarray:
        """Geometric centre of each price bin."""
        return np.sqrt(self.edges[:-1] * self.edges[1:])

    @property
    def total(self) -> np.ndarray:
        """USD over both sides."""
        return self.long_usd + self.short_usd


@dataclass(frozen=True)
class ClusterSegments:
    """One horizontal segment per cluster id, in its latest known state."""

    x0: np.ndarray         # datetime64[us] first seen
    x1: np.ndarray         # datetime64[us] broken at, else last seen
    price: np.ndarray
    side: np.ndarray       # "long" | "short"
    active: np.ndarray     # bool
    usd: np.ndarray
    strength: np.ndarray   # peak strength

    def __len__(self) -> int:
        return int(self.price.size)


@dataclass(frozen=True)
class HeatmapView:
    """Everything a renderer draws; plain arrays and frames, no plotting objects."""

    title: str
    grid: HeatmapGrid
    zmin: float                       # colour scale bounds in USD (zmin > 0 on a log scale)
    zmax: float
    log: bool
    candles: pd.DataFrame | None      # naive-UTC index, open/high/low/close
    candle_step: pd.Timedelta | None
    clusters: ClusterSegments
    trades: pd.DataFrame | None       # entry_time, entry_price, exit_time, exit_price, side


def heatmap_grid(heatmaps: Heatmaps, *, price_range: tuple[float, float] | None = None, bins: int = 300,
                 max_columns: int = 2000, pad_pct: float = 5.0) -> HeatmapGrid:
    """Sum level USD into a time x log-price grid (vectorised; no loop over levels).

    With more snapshots than ``max_columns`` an evenly spaced subset is drawn (a heatmap column
    is a state, so columns are sampled, not summed). The bin width never goes below the median
    level spacing, so a coarse heatmap does not turn into stripes.
    """
    s = as_stored_series(heatmaps, rows=sample_rows(len(heatmaps), max_columns))
    if len(s) == 0:
        raise DataError("no snapshots to draw", field="heatmaps")
    if price_range is None:
        pad = 1.0 + pad_pct / 100.0
        price_range = (float(s.price.min()) / pad, float(s.price.max()) * pad)
    lo, hi = price_range
    if not (0 < lo < hi and np.isfinite(hi)):
        raise DataError(f"bad price range {price_range}", field="price_range")
    bins = max(10, min(int(bins), _max_bins(s, lo, hi)))
    edges = np.geomspace(lo, hi, bins + 1)
    m = len(s)
    col = np.repeat(np.arange(m), np.diff(s.offsets))
    b = np.searchsorted(edges, s.level_prices, side="right") - 1
    ok = (b >= 0) & (b < bins)
    key = b[ok] * m + col[ok]

    def grid(values: np.ndarray) -> np.ndarray:
        return np.bincount(key, weights=values[ok], minlength=bins * m).reshape(bins, m)

    return HeatmapGrid(times=s.ts, edges=edges, long_usd=grid(s.long_usd), short_usd=grid(s.short_usd),
                       price=s.price)


def sample_rows(n: int, max_rows: int) -> np.ndarray:
    """At most ``max_rows`` evenly spaced row indices of ``n`` (first and last included)."""
    return np.unique(np.round(np.linspace(0, n - 1, min(n, max(1, max_rows)))).astype(np.int64)) if n else \
        np.zeros(0, np.int64)


def _max_bins(s: StoredSeries, lo: float, hi: float) -> int:
    sample = np.unique(np.linspace(0, len(s) - 1, min(len(s), 50)).astype(np.int64))
    steps = [np.diff(np.log(s.level_prices[s.offsets[i]:s.offsets[i + 1]])) for i in sample]
    steps = np.concatenate(steps) if steps else np.empty(0)
    step = float(np.median(steps)) if steps.size else 0.0
    return int(np.ceil(np.log(hi / lo) / step)) if step > 0 else 10_000


def cluster_segments(clusters: Iterable[Cluster] | None, *, min_strength: float = 0.0) -> ClusterSegments:
    """One segment per cluster id from a history of cluster states (in time order).

    The last state given for an id sets the segment (first seen to broken-at or last seen, active
    or broken); the id is drawn when its *peak* strength reached ``min_strength``, so a strong
    cluster that weakened as price ate into it before breaking is still drawn, faded.
    """
    latest: dict[str, Cluster] = {}
    peak: dict[str, float] = {}
    for c in clusters or ():
        latest[c.cluster_id] = c
        peak[c.cluster_id] = max(peak.get(c.cluster_id, 0.0), c.strength)
    keep = [c for c in latest.values() if peak[c.cluster_id] >= min_strength]
    return ClusterSegments(
        x0=_times([c.first_seen for c in keep]),
        x1=_times([c.broken_at if (c.broken_at and not c.active) else c.last_seen for c in keep]),
        price=np.array([c.price_level for c in keep], dtype=float),
        side=np.array([c.side.value for c in keep], dtype=object),
        active=np.array([c.active for c in keep], dtype=bool),
        usd=np.array([c.open_interest for c in keep], dtype=float),
        strength=np.array([peak[c.cluster_id] for c in keep], dtype=float))


def resample_candles(candles: pd.DataFrame, *, max_bars: int = 300) -> tuple[pd.DataFrame, pd.Timedelta]:
    """OHLC at the finest step of ``CANDLE_STEPS`` that gives at most ``max_bars`` candles."""
    frame = _naive_utc(candles)
    span = frame.index[-1] - frame.index[0] if len(frame) > 1 else pd.Timedelta(0)
    native = frame.index.to_series().diff().median() if len(frame) > 1 else pd.Timedelta("5min")
    # buckets are aligned to the step, so a span of k steps can touch k + 2 of them
    step = next((pd.Timedelta(x) for x in CANDLE_STEPS
                 if pd.Timedelta(x) >= native and span / pd.Timedelta(x) + 2 <= max_bars),
                pd.Timedelta(CANDLE_STEPS[-1]))
    if step <= native:
        return frame, native
    agg = frame.resample(step, label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last"}).dropna()
    return agg, step


def trades_frame(trades: Any) -> pd.DataFrame | None:
    """Trades as entry_time, entry_price, exit_time, exit_price, side (LONG/SHORT).

    Accepts a DataFrame (also vectorbt's trade records: 'Entry Timestamp', 'Avg Entry Price',
    'Direction', ...) or an iterable of mappings.
    """
    if trades is None:
        return None
    frame = trades if isinstance(trades, pd.DataFrame) else pd.DataFrame(list(trades))
    if frame.empty:
        return None
    frame = frame.rename(columns=lambda c: re.sub(r"[^a-z0-9]+", "_", str(c).strip().lower()))
    aliases = {"entry_timestamp": "entry_time", "entry_ts": "entry_time", "avg_entry_price": "entry_price",
               "exit_timestamp": "exit_time", "exit_ts": "exit_time", "avg_exit_price": "exit_price",
               "direction": "side"}
    frame = frame.rename(columns={k: v for k, v in aliases.items() if v not in frame.columns})
    missing = [c for c in ("entry_time", "entry_price", "side") if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", field="trades")
    out = pd.DataFrame({
        "entry_time": _naive_times(frame["entry_time"]),
        "entry_price": frame["entry_price"].astype(float),
        "exit_time": _naive_times(frame["exit_time"]) if "exit_time" in frame else pd.NaT,
        "exit_price": frame["exit_price"].astype(float) if "exit_price" in frame else np.nan,
        "side": frame["side"].astype(str).str.upper()})
    return out


def heatmap_view(heatmaps: Heatmaps, candles: pd.DataFrame | None, clusters: Iterable[Cluster] | None = None,
                 trades: Any = None, *, bins: int = 300, max_columns: int = 2000, max_candles: int = 300,
                 pad_pct: float = 5.0, min_strength: float = 0.5, zmax_quantile: float = 0.99,
                 log_scale: bool = False, title: str | None = None) -> HeatmapView:
    """Prepare everything a renderer draws (see the module doc).

    The colour scale ends at the ``zmax_quantile`` of the non-empty cells (a few huge cells
    would otherwise wash out the rest); ``log_scale`` starts it at their 5th percentile, for
    spans where the USD at risk changes by orders of magnitude.
    """
    if not len(heatmaps):
        raise DataError("no snapshots to draw", field="heatmaps")
    series = as_stored_series(heatmaps, rows=sample_rows(len(heatmaps), max_columns))
    bars, step = None, None
    if candles is not None and len(candles):
        frame = _naive_utc(candles)
        native = frame.index.to_series().diff().median() if len(frame) > 1 else pd.Timedelta("5min")
        # candles under the drawn span only: the bar that a snapshot closes opens one bar earlier
        window = frame[(frame.index >= series.ts[0] - native) & (frame.index <= series.ts[-1])]
        if len(window):
            bars, step = resample_candles(window, max_bars=max_candles)
    pad = 1.0 + pad_pct / 100.0
    if bars is not None:
        price_range = (float(bars["low"].min()) / pad, float(bars["high"].max()) * pad)
    else:
        price_range = (float(series.price.min()) / pad, float(series.price.max()) * pad)
    grid = heatmap_grid(series, price_range=price_range, bins=bins, max_columns=max_columns)
    total = grid.total
    nonzero = total[total > 0]
    zmax = max(float(np.quantile(nonzero, zmax_quantile)) if nonzero.size else 1.0, 1e-9)
    zmin = min(float(np.quantile(nonzero, 0.05)) if nonzero.size else zmax / 1e3, zmax / 10) if log_scale else 0.0
    if title is None:
        sources = sorted({str(x) for x in series.source})
        title = (f"{series.symbol} liquidation heatmap ({', '.join(sources)}) "
                 f"{_day(series.ts[0])} to {_day(series.ts[-1])}")
    return HeatmapView(title=title, grid=grid, zmin=zmin, zmax=zmax, log=log_scale, candles=bars, candle_step=step,
                       clusters=cluster_segments(clusters, min_strength=min_strength), trades=trades_frame(trades))


def heatmap_figure(series: Heatmaps, candles: pd.DataFrame | None, clusters: Iterable[Cluster] | None = None,
                   trades: Any = None, *, sides: bool = False, **view_options: Any) -> go.Figure:
    """Plotly figure: USD heatmap, candles on top, clusters (broken ones faded), trades.

    ``sides=True`` draws long liquidations and short liquidations with two colour scales
    instead of one scale of their sum. ``view_options`` go to ``heatmap_view``.
    """
    view = heatmap_view(series, candles, clusters, trades, **view_options)
    g = view.grid
    fig = go.Figure()
    zrange, colorbar = colour_range(view)
    what = "log10 USD %{z:.2f}" if view.log else "$%{z:,.4s}"
    hover = "%{x|%Y-%m-%d %H:%M}<br>%{y:,.2f}<br>" + what + "<extra>%{fullData.name}</extra>"
    if sides:
        for name, z, scale, x in (("long liquidations", g.long_usd, LONG_COLORSCALE, 1.0),
                                  ("short liquidations", g.short_usd, SHORT_COLORSCALE, 1.08)):
            fig.add_trace(go.Heatmap(
                x=g.times, y=g.centers, z=np.where(z > 0, colour_values(view, z), np.nan), name=name,
                zmin=zrange[0], zmax=zrange[1], colorscale=scale, hovertemplate=hover,
                colorbar={**colorbar, "title": {"text": name.split()[0] + " USD"}, "x": x}))
    else:
        fig.add_trace(go.Heatmap(
            x=g.times, y=g.centers, z=colour_values(view, g.total), name="liquidations", zmin=zrange[0],
            zmax=zrange[1], colorscale=USD_COLORSCALE, hovertemplate=hover,
            colorbar={**colorbar, "title": {"text": "USD"}}))
    _add_candles(fig, view)
    _add_clusters(fig, view.clusters)
    _add_trades(fig, view.trades)
    fig.update_layout(
        title=view.title, template="plotly_dark", height=900,
        xaxis={"title": "time (UTC)", "rangeslider": {"visible": False}},
        yaxis={"title": "price", "range": [float(g.edges[0]), float(g.edges[-1])]},
        legend={"orientation": "h", "y": -0.08}, margin={"l": 70, "r": 90, "t": 60, "b": 60})
    return fig


def colour_values(view: HeatmapView, usd_grid: np.ndarray) -> np.ndarray:
    """What the plotly colour scale maps: USD, or log10 USD (empty cells at the bottom)."""
    if not view.log:
        return usd_grid.astype(np.float32)
    return np.log10(np.maximum(usd_grid, view.zmin)).astype(np.float32)


def colour_range(view: HeatmapView) -> tuple[tuple[float, float], dict[str, Any]]:
    """(zmin, zmax) in the units of ``colour_values`` and the colorbar's tick settings."""
    if not view.log:
        return (0.0, view.zmax), {"tickformat": "$.2s"}
    lo, hi = np.log10(view.zmin), np.log10(view.zmax)
    ticks = [m * 10.0 ** k for k in range(int(np.floor(lo)), int(np.ceil(hi)) + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if view.zmin <= t <= view.zmax]
    return (float(lo), float(hi)), {"tickvals": [float(np.log10(t)) for t in ticks],
                                    "ticktext": [usd(t) for t in ticks]}


def usd(value: float) -> str:
    """Short USD label: $950, $12.5K, $3.1M, $2.0B."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= div:
            return f"${value / div:.1f}{unit}"
    return f"${value:.0f}"


def _add_candles(fig: go.Figure, view: HeatmapView) -> None:
    if view.candles is None:
        fig.add_trace(go.Scatter(x=view.grid.times, y=view.grid.price, name="price", mode="lines",
                                 line={"color": CANDLE_UP, "width": 1.2}))
        return
    c = view.candles
    fig.add_trace(go.Candlestick(
        x=c.index, open=c["open"], high=c["high"], low=c["low"], close=c["close"], name="candles",
        increasing={"line": {"color": CANDLE_UP, "width": 1}, "fillcolor": CANDLE_UP},
        decreasing={"line": {"color": CANDLE_DOWN, "width": 1}, "fillcolor": CANDLE_DOWN}))


def _add_clusters(fig: go.Figure, seg: ClusterSegments) -> None:
    for side in ("long", "short"):
        for active in (True, False):
            sel = (seg.side == side) & (seg.active == active) if len(seg) else np.zeros(0, bool)
            if not sel.any():
                continue
            xs, ys = _polyline(seg.x0[sel], seg.x1[sel], seg.price[sel])
            state = "active" if active else "broken"
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines", name=f"{side} clusters ({state})",
                opacity=1.0 if active else BROKEN_OPACITY, hoverinfo="y+name",
                line={"color": SIDE_COLORS[side], "width": 2 if active else 1.5,
                      "dash": "solid" if active else "dot"}))
            if not active:
                fig.add_trace(go.Scatter(
                    x=seg.x1[sel], y=seg.price[sel], mode="markers", showlegend=False,
                    name=f"{side} cluster broken", opacity=BROKEN_OPACITY + 0.2,
                    marker={"symbol": "x", "size": 7, "color": SIDE_COLORS[side]}))


def trade_groups(trades: pd.DataFrame | None) -> Iterator[tuple[str, str, pd.DataFrame, pd.DataFrame]]:
    """(side, colour, entries, closed trades) per side that has trades: what both renderers draw."""
    if trades is None:
        return
    for side, color in TRADE_COLORS.items():
        entries = trades[trades["side"] == side]
        if not entries.empty:
            yield side, color, entries, entries.dropna(subset=["exit_time", "exit_price"])


def _add_trades(fig: go.Figure, trades: pd.DataFrame | None) -> None:
    for side, color, t, done in trade_groups(trades):
        symbol = "triangle-up" if side == "LONG" else "triangle-down"
        fig.add_trace(go.Scatter(x=t["entry_time"], y=t["entry_price"], mode="markers", name=f"{side} entry",
                                 marker={"symbol": symbol, "size": 11, "color": color,
                                         "line": {"color": "black", "width": 1}}))
        if not done.empty:
            xs, ys = _polyline(done["entry_time"].to_numpy(), done["exit_time"].to_numpy(),
                               done["entry_price"].to_numpy(), done["exit_price"].to_numpy())
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", showlegend=False, hoverinfo="skip",
                                     line={"color": color, "width": 1, "dash": "dot"}))
            fig.add_trace(go.Scatter(x=done["exit_time"], y=done["exit_price"], mode="markers",
                                     name=f"{side} exit", marker={"symbol": "square", "size": 8, "color": color,
                                                                  "line": {"color": "black", "width": 1}}))


def write_html(fig: go.Figure, path: Path) -> Path:
    """Self-contained HTML (plotly.js inlined, works offline), written atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fig.write_html(tmp, include_plotlyjs=True, full_html=True, config={"displaylogo": False})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _polyline(x0: np.ndarray, x1: np.ndarray, y0: np.ndarray,
              y1: np.ndarray | None = None) -> tuple[list[Any], list[Any]]:
    """Many segments as one trace: x0,x1,None,... (plotly breaks lines at None)."""
    y1 = y0 if y1 is None else y1
    n = len(x0)
    xs = np.empty(3 * n, dtype=object)
    ys = np.empty(3 * n, dtype=object)
    xs[0::3], xs[1::3], xs[2::3] = list(pd.to_datetime(x0)), list(pd.to_datetime(x1)), None
    ys[0::3], ys[1::3], ys[2::3] = y0, y1, None
    return xs.tolist(), ys.tolist()


def _naive_utc(candles: pd.DataFrame) -> pd.DataFrame:
    frame = candles
    if not isinstance(frame.index, pd.DatetimeIndex):
        col = next((c for c in ("date", "ts", "timestamp", "time") if c in frame.columns), None)
        if col is None:
            raise DataError("candles need a DatetimeIndex or a date/ts column", field="candles")
        frame = frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame[col], utc=True)))
    missing = [c for c in ("open", "high", "low", "close") if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", field="candles")
    index = frame.index.tz_convert("UTC").tz_localize(None) if frame.index.tz else frame.index
    out = frame[["open", "high", "low", "close"]].astype(float).set_axis(index.astype("datetime64[us]"))
    return out.sort_index()


def _naive_times(values: Sequence[Any] | pd.Series) -> pd.Series:
    t = pd.to_datetime(pd.Series(values), utc=True)
    return t.dt.tz_localize(None).astype("datetime64[us]")


def _times(values: Sequence[Any]) -> np.ndarray:
    if not values:
        return np.empty(0, dtype="datetime64[us]")
    return _naive_times(values).to_numpy()


def _day(ts: np.datetime64) -> str:
    return str(np.datetime_as_string(ts, unit="m")).replace("T", " ")

