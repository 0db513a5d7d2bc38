"""Static image of the heatmap view (PNG/SVG/PDF) drawn with matplotlib: no browser needed.

Plotly's own image export needs kaleido and a Chrome binary, which a server or CI machine
rarely has; matplotlib draws the same ``HeatmapView`` (see ``backtest.plots``) anywhere.
The object-oriented API (``Figure`` + Agg canvas) is used so no global pyplot state is touched.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm, Normalize
from matplotlib.patches import Rectangle
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from backtest.plots import (BROKEN_OPACITY, CANDLE_DOWN, CANDLE_UP, SIDE_COLORS, HeatmapView,
                            heatmap_view, trade_groups, usd)
from bot.domain import Cluster
from bot.errors import DataError

IMAGE_SUFFIXES = (".png", ".svg", ".pdf")
_BACKGROUND = "#111111"


def heatmap_image(path: Path, series: Any, candles: Any, clusters: Iterable[Cluster] | None = None,
                  trades: Any = None, *, width_px: int = 1600, height_px: int = 900, dpi: int = 100,
                  **view_options: Any) -> Path:
    """Draw the heatmap view to ``path`` (format from its suffix), atomically; returns ``path``."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(f"image format must be one of {', '.join(IMAGE_SUFFIXES)}", field="--out",
                        position=str(path))
    view = heatmap_view(series, candles, clusters, trades, **view_options)
    fig = render(view, width_px=width_px, height_px=height_px, dpi=dpi)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{path.suffix}")
    try:
        fig.savefig(tmp, dpi=dpi, facecolor=_BACKGROUND)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def render(view: HeatmapView, *, width_px: int = 1600, height_px: int = 900, dpi: int = 100) -> Figure:
    """A matplotlib ``Figure`` of the view: heatmap, candles, clusters (broken faded), trades."""
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, facecolor=_BACKGROUND)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor(_BACKGROUND)
    g = view.grid
    x_edges = _column_edges(g.times)
    norm = LogNorm(vmin=view.zmin, vmax=view.zmax) if view.log else Normalize(vmin=0.0, vmax=view.zmax)
    z = np.maximum(g.total, view.zmin) if view.log else g.total  # empty cells: the darkest colour
    mesh = ax.pcolormesh(mdates.date2num(x_edges), g.edges, z, cmap="viridis", norm=norm, shading="flat",
                         rasterized=True)
    bar = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.04)
    bar.set_label("USD that would be liquidated", color="white")
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: usd(v)))
    bar.ax.tick_params(colors="white")
    _draw_candles(ax, view)
    _draw_clusters(ax, view)
    _draw_trades(ax, view)
    ax.set_xlim(mdates.date2num(x_edges[0]), mdates.date2num(x_edges[-1]))
    ax.set_ylim(g.edges[0], g.edges[-1])
    locator = mdates.AutoDateLocator()  # the axis holds plain date numbers: say they are dates
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}" if v >= 100 else f"{v:,.4g}"))
    ax.set_title(view.title, color="white", fontsize=13)
    ax.set_xlabel("time (UTC)", color="white")
    ax.set_ylabel("price", color="white")
    ax.tick_params(colors="white")
    for spine in ax.spines.values():
        spine.set_color("#555555")
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", fontsize=8, facecolor="#222222", edgecolor="#555555",
                  labelcolor="white", framealpha=0.8)
    fig.subplots_adjust(left=0.06, right=0.95, top=0.94, bottom=0.08)
    return fig


def _column_edges(times: np.ndarray) -> np.ndarray:
    """Each column spans [its snapshot time, the next one): a snapshot holds until replaced."""
    if times.size > 1:
        last = times[-1] + (times[-1] - times[-2])
    else:
        last = times[-1] + np.timedelta64(5, "m")
    return np.concatenate([times, [last]]).astype("datetime64[us]")


def _draw_candles(ax: Any, view: HeatmapView) -> None:
    if view.candles is None:
        ax.plot(mdates.date2num(view.grid.times), view.grid.price, color=CANDLE_UP, lw=1.0, label="price")
        return
    c = view.candles
    step_days = view.candle_step / np.timedelta64(1, "D")
    x = mdates.date2num(c.index.to_numpy()) + step_days / 2
    up = (c["close"] >= c["open"]).to_numpy()
    colors = np.where(up, CANDLE_UP, CANDLE_DOWN)
    ax.vlines(x, c["low"], c["high"], colors=colors, linewidth=0.8, zorder=3)
    body_lo = np.minimum(c["open"], c["close"]).to_numpy()
    body = np.maximum(np.abs(c["close"] - c["open"]).to_numpy(), (c["high"].max() - c["low"].min()) * 1e-4)
    ax.bar(x, body, bottom=body_lo, width=step_days * 0.7, color=colors, edgecolor=colors, linewidth=0.3,
           zorder=4)
    ax.add_patch(Rectangle((0, 0), 0, 0, facecolor=CANDLE_UP, edgecolor=CANDLE_DOWN, linewidth=1.5,
                           label=f"candles ({_step_name(view.candle_step)}, up white / down red)"))


def _step_name(step: Any) -> str:
    minutes = int(step / np.timedelta64(1, "m"))
    return f"{minutes // 1440}d" if minutes % 1440 == 0 else f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _draw_clusters(ax: Any, view: HeatmapView) -> None:
    seg = view.clusters
    if not len(seg):
        return
    x0, x1 = mdates.date2num(seg.x0), mdates.date2num(seg.x1)
    for side in ("long", "short"):
        for active in (True, False):
            sel = (seg.side == side) & (seg.active == active)
            if not sel.any():
                continue
            lines = np.stack([np.column_stack([x0[sel], seg.price[sel]]),
                              np.column_stack([x1[sel], seg.price[sel]])], axis=1)
            state = "active" if active else "broken"
            ax.add_collection(LineCollection(
                lines, colors=SIDE_COLORS[side], linewidths=2.0 if active else 1.4,
                linestyles="solid" if active else (0, (2, 2)), alpha=1.0 if active else BROKEN_OPACITY,
                zorder=5, label=f"{side} clusters ({state})"))
            if not active:
                ax.scatter(x1[sel], seg.price[sel], marker="x", s=45, linewidths=1.6, color=SIDE_COLORS[side],
                           alpha=min(1.0, BROKEN_OPACITY + 0.3), zorder=5)


def _draw_trades(ax: Any, view: HeatmapView) -> None:
    for side, color, t, done in trade_groups(view.trades):
        ax.scatter(mdates.date2num(t["entry_time"].to_numpy()), t["entry_price"], marker="^" if side == "LONG" else "v",
                   s=70, color=color, edgecolors="black", zorder=6, label=f"{side} entry")
        if not done.empty:
            ex = mdates.date2num(done["exit_time"].to_numpy())
            ax.scatter(ex, done["exit_price"], marker="s", s=36, color=color, edgecolors="black", zorder=6,
                       label=f"{side} exit")
            en = mdates.date2num(done["entry_time"].to_numpy())
            ax.add_collection(LineCollection(
                np.stack([np.column_stack([en, done["entry_price"]]), np.column_stack([ex, done["exit_price"]])],
                         axis=1), colors=color, linewidths=0.8, linestyles="dotted", zorder=6))
