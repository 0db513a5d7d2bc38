"""The backtest report: one self-contained HTML file (no network needed to open it).

- the heatmap as images (matplotlib, embedded as PNG): the last ``report_days`` days in detail
  with candles, clusters (broken ones faded), and the combined book's entries and exits; and the
  whole span as an overview;
- equity and drawdown per strategy and for the combined book (plotly, interactive, downsampled
  to a few thousand points; plotly.js is inlined once);
- the stats table, the signal counts and the trade list.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import uuid
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from backtest.run import BacktestResult, summary
from backtest.stats import drawdown

MAX_POINTS = 4000
COLUMN_COLORS = ("#4cc9f0", "#f72585", "#ffd166", "#06d6a0", "#b8b8ff", "#ff9f1c")
STAT_COLUMNS = (("trades", "trades", "{:d}"), ("win_rate_pct", "win rate %", "{:.1f}"),
                ("profit_factor", "profit factor", "{:.2f}"), ("expectancy_r", "expectancy R", "{:+.3f}"),
                ("return_pct", "return %", "{:+.2f}"), ("max_drawdown_pct", "max DD %", "{:.2f}"),
                ("sharpe", "Sharpe", "{:.2f}"), ("total_pnl_usd", "P&L $", "{:+,.2f}"),
                ("fees_usd", "fees $", "{:,.2f}"), ("funding_usd", "funding $", "{:+,.2f}"),
                ("exposure_pct", "exposure %", "{:.1f}"), ("stops", "stops", "{:d}"),
                ("targets", "targets", "{:d}"), ("closed_at_end", "open at end", "{:d}"))


def write_report(result: BacktestResult, path: Path, settings: Any, *, days: float = 3.0,
                 lookahead: dict[str, Any] | None = None) -> Path:
    """Write the report to ``path`` atomically; returns ``path``."""
    info = summary(result)
    parts = [_head(info, settings), _stats_table(result), _analysis_block(info["analysis"]),
             _signals_block(info, lookahead)]
    parts.append(_section("Heatmap, last %s days: clusters, entries and exits (combined book)" % f"{days:g}",
                          _img(_detail_png(result, days))))
    parts.append(_section("Equity and drawdown", _equity_html(result)))
    parts.append(_section("Heatmap, whole span, with the combined book's entries and exits",
                          _img(_overview_png(result))))
    parts.append(_section(f"Trades ({len(result.portfolio.trades)}: the combined book and each strategy alone)",
                          _trades_table(result)))
    parts.append(_section("Parameters used", _parameters_block(info["parameters"])))
    page = _PAGE.format(title=html.escape(f"liqbot backtest {info['run']['symbol']}"), body="\n".join(parts))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def window_snapshots(result: BacktestResult, start_ns: int) -> list[Any]:
    """Snapshots of the valid bars closing at or after ``start_ns`` (consecutive repeats once)."""
    rows = result.heatmaps
    first = int(np.searchsorted(result.data.close_ns, start_ns))
    out: list[Any] = []
    for j in range(first, len(result.data)):
        snap = rows.snapshot(j)
        if snap is not None and (not out or out[-1] is not snap):
            out.append(snap)
    return out


def _detail_png(result: BacktestResult, days: float) -> bytes | None:
    from backtest.plots_png import render
    from backtest.plots import heatmap_view
    d = result.data
    if not len(d):
        return None
    start = int(d.close_ns[-1] - days * 86400e9)
    snaps = window_snapshots(result, start)
    if not snaps:
        return None
    t = result.portfolio.trades
    combined = t[(t["strategy"] == "combined") & (t["entry_time"] >= pd.Timestamp(start, tz="UTC"))]
    view = heatmap_view(snaps, d.candles(), result.replay.clusters, combined if len(combined) else None,
                        max_candles=400, title=f"{d.symbol} liquidation heatmap, last {days:g} days, "
                                               f"{len(combined)} trades of the combined book")
    return _png(render(view, width_px=1600, height_px=900))


def _overview_png(result: BacktestResult) -> bytes | None:
    from backtest.plots_png import render
    from backtest.plots import heatmap_view
    rows = result.heatmaps
    series = getattr(rows, "series", None)
    if series is None or not len(series):
        return None
    t = result.portfolio.trades
    combined = t[t["strategy"] == "combined"]
    # log colours: USD at risk differs by orders of magnitude between open-interest and volume spans
    view = heatmap_view(series, result.data.candles(), None, combined if len(combined) else None, max_columns=1500,
                        max_candles=400, log_scale=True,
                        title=f"{result.data.symbol} liquidation heatmap, whole span (log colour), "
                              f"{len(combined)} trades of the combined book")
    return _png(render(view, width_px=1600, height_px=700))


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="#111111")
    return buf.getvalue()


def _img(data: bytes | None) -> str:
    if data is None:
        return "<p>no heatmap snapshots in this span</p>"
    return f'<img alt="heatmap" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _equity_html(result: BacktestResult) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    p = result.portfolio
    times = pd.to_datetime(p.bar_close_ns, utc=True).tz_localize(None)
    step = max(1, math.ceil(len(times) / MAX_POINTS))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.04,
                        subplot_titles=("equity (USD)", "drawdown (%)"))
    for k, name in enumerate(p.columns):
        color = COLUMN_COLORS[k % len(COLUMN_COLORS)]
        value = p.value[:, k]
        dd = drawdown(value, p.initial_cash)
        width = 2.2 if name == "combined" else 1.3
        # the drawdown keeps each bucket's deepest point, the equity its last value
        fig.add_trace(go.Scatter(x=times[step - 1::step], y=value[step - 1::step], name=name, legendgroup=name,
                                 line={"color": color, "width": width}), row=1, col=1)
        deep = _bucket_min(dd, step)
        fig.add_trace(go.Scatter(x=times[step - 1::step][: deep.size], y=deep, name=name, legendgroup=name,
                                 showlegend=False, line={"color": color, "width": width}), row=2, col=1)
    fig.update_layout(template="plotly_dark", height=620, margin={"l": 60, "r": 20, "t": 40, "b": 40},
                      legend={"orientation": "h", "y": 1.08})
    return fig.to_html(full_html=False, include_plotlyjs=True, config={"displaylogo": False})


def _bucket_min(values: np.ndarray, step: int) -> np.ndarray:
    n = values.size // step * step
    return values[:n].reshape(-1, step).min(axis=1) if n else values[:0]


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "inf" if isinstance(value, float) and value > 0 else "-"
    return spec.format(value)


def _stats_table(result: BacktestResult) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in STAT_COLUMNS)
    rows = []
    for s in result.stats:
        cells = "".join(f"<td>{_fmt(getattr(s, key), spec)}</td>" for key, _, spec in STAT_COLUMNS)
        cls = ' class="combined"' if s.column == "combined" else ""
        rows.append(f"<tr{cls}><th>{html.escape(s.column)}</th>{cells}</tr>")
    return _section("Stats per strategy", f"<table><tr><th>column</th>{head}</tr>{''.join(rows)}</table>")


def _trades_table(result: BacktestResult) -> str:
    """The trades, one column (book) shown at a time, each table column filterable by text (inline script)."""
    t = result.portfolio.trades.sort_values(["entry_time", "column"])
    books = ["combined", *[c for c in result.portfolio.columns if c != "combined"]]
    options = "".join(f'<option value="{html.escape(b)}">{html.escape(b)} '
                      f'({int((t["strategy"] == b).sum())})</option>' for b in books)
    cols: Sequence[tuple[str, str]] = (("strategy", "strategy"), ("side", "side"), ("entry_time", "entry (UTC)"),
                                       ("entry_price", "entry"), ("stop_loss", "stop"), ("take_profit", "target"),
                                       ("exit_time", "exit (UTC)"), ("exit_price", "exit"), ("reason", "exit by"),
                                       ("pnl", "P&L $"), ("r_multiple", "R"), ("signal_id", "signal"))
    head = "".join(f"<th>{label}</th>" for _, label in cols)
    filters = "".join(f'<th><input class="flt" data-col="{i}" placeholder="filter" size="8"></th>'
                      for i in range(len(cols)))
    body = []
    for r in t.itertuples(index=False):
        cells = []
        for key, _ in cols:
            v = getattr(r, key)
            if isinstance(v, pd.Timestamp):
                text = v.strftime("%Y-%m-%d %H:%M")
            elif isinstance(v, float):
                text = f"{v:+.2f}" if key in ("pnl", "r_multiple") else f"{v:,.2f}"
            else:
                text = html.escape(str(v))
            cls = ' class="neg"' if key in ("pnl", "r_multiple") and v < 0 else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append(f'<tr data-book="{html.escape(str(r.strategy))}">{"".join(cells)}</tr>')
    return (f'<p>book <select id="book">{options}</select> (one book at a time; the filters match any part of a '
            f'cell, e.g. LONG, stop, 2025-03)</p><div class="scroll"><table class="trades" id="trades">'
            f'<tr>{head}</tr><tr>{filters}</tr>{"".join(body)}</table></div>{_FILTER_JS}')


_FILTER_JS = """<script>
(function () {
  var table = document.getElementById('trades'), book = document.getElementById('book');
  var inputs = table.querySelectorAll('input.flt');
  function apply() {
    var want = [];
    inputs.forEach(function (i) { want[+i.dataset.col] = i.value.toLowerCase(); });
    table.querySelectorAll('tr[data-book]').forEach(function (row) {
      var ok = row.dataset.book === book.value;
      for (var c = 0; ok && c < want.length; c++) {
        if (want[c] && row.cells[c].textContent.toLowerCase().indexOf(want[c]) < 0) { ok = false; }
      }
      row.style.display = ok ? '' : 'none';
    });
  }
  book.addEventListener('change', apply);
  inputs.forEach(function (i) { i.addEventListener('input', apply); });
  apply();
})();
</script>"""


def _analysis_block(a: dict[str, Any]) -> str:
    """Sortino, Calmar, drawdown duration, long/short, holding time, best/worst per book; buy and hold; months."""
    bh = a["buy_and_hold"]
    rows = []
    for c in a["columns"]:
        dd, h = c["drawdown_duration"], c["holding_hours"]
        best, worst = c["best_trade"], c["worst_trade"]
        cells = [_fmt(c["sortino"], "{:.2f}"), _fmt(c["calmar"], "{:.2f}"), _fmt(dd["days"], "{:.1f}"),
                 f"{c['long']['trades']} / {_fmt(c['long']['pnl_usd'], '{:+,.2f}')}",
                 f"{c['short']['trades']} / {_fmt(c['short']['pnl_usd'], '{:+,.2f}')}",
                 _fmt(h["median"], "{:.1f}"), _fmt(h["max"], "{:.1f}"),
                 "-" if best is None else f"{best['pnl_usd']:+,.2f} ({best['entry_time'][:10]})",
                 "-" if worst is None else f"{worst['pnl_usd']:+,.2f} ({worst['entry_time'][:10]})"]
        cls = ' class="combined"' if c["column"] == "combined" else ""
        rows.append(f"<tr{cls}><th>{html.escape(c['column'])}</th>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("book", "Sortino", "Calmar", "longest DD (days)", "long: trades / $",
                                               "short: trades / $", "median hold (h)", "max hold (h)", "best trade $",
                                               "worst trade $"))
    text = (f"<p>Buy and hold over the same bars: {_fmt(bh['return_pct'], '{:+.2f}')} % (max drawdown "
            f"{_fmt(bh['max_drawdown_pct'], '{:.2f}')} %, no costs).</p><table><tr>{head}</tr>{''.join(rows)}</table>")
    combined = a["columns"][-1]["months"]
    mrows = "".join(f"<tr><th>{m['month']}</th><td>{m['trades']}</td><td>{_fmt(m['pnl_usd'], '{:+,.2f}')}</td>"
                    f"<td>{_fmt(m['return_pct'], '{:+.2f}')}</td></tr>" for m in combined)
    text += ("<h3>Per month, combined book</h3><table><tr><th>month</th><th>trades closed</th><th>P&amp;L $</th>"
             f"<th>return %</th></tr>{mrows}</table>")
    return _section("Analysis", text)


def _parameters_block(p: dict[str, Any]) -> str:
    import json
    return f"<pre>{html.escape(json.dumps(p, indent=1, default=str))}</pre>"


def _head(info: dict[str, Any], settings: Any) -> str:
    run, b, v = info["run"], settings.backtest, settings.paper
    facts = [("symbol", run["symbol"]), ("span", f"{run['from']} to {run['to']}"),
             ("bars", f"{run['bars']:,} ({run['warmup_bars']:,} warmup, {run['trading_bars']:,} trading)"),
             ("heatmaps", "synthetic model" if run["heatmaps"] == "SyntheticRows" else "snapshot store"),
             ("bars with open interest", f"{run['oi_bars']:,} (volume mode elsewhere)"),
             ("strategies", ", ".join(run["strategies"])),
             ("costs", f"taker {v.taker_fee:.4%}, maker {v.maker_fee:.4%}, slippage {v.slippage_bps:g} bps, "
                       f"funding {'on' if b.funding else 'off'}"),
             ("capital", f"{b.initial_cash:,.0f} USD per column; cooldown {settings.strategies.cooldown_bars} bars"),
             ("run time", f"{info['timings'].get('total_s', 0):.1f} s")]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts)
    return f"<h1>liqbot backtest</h1><table class=facts>{rows}</table>"


def _signals_block(info: dict[str, Any], lookahead: dict[str, Any] | None) -> str:
    s = info["signals"]
    per = ", ".join(f"{k} {v}" for k, v in sorted(s["per_strategy"].items())) or "none"
    text = (f"<p>{s['emitted']:,} signals emitted ({per}); {s['suppressed_by_cooldown']:,} repeats suppressed by "
            f"the cooldown; {s['rejected_candidates']:,} candidates rejected by the filters; the engine ran on "
            f"{s['engine_bars']:,} bars.</p>")
    if lookahead is not None:
        verdict = "passed" if lookahead["ok"] else "FAILED"
        cuts = "".join(f"<li>{html.escape(c['cut'])}: {c['signals_compared']:,} signals and {c['trades_compared']:,} "
                       f"trades compared, {len(c['problems'])} differences</li>" for c in lookahead["cuts"])
        text += (f"<p>Lookahead check {verdict} at {len(lookahead['cuts'])} cut times: the backtest was repeated on "
                 "the data cut at each time; the signals up to the cut and the trades closed before it must equal "
                 f"the full run's.</p><ul>{cuts}</ul>")
    return _section("Signals", text)


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ background:#111; color:#ddd; font:14px/1.4 system-ui, sans-serif; margin:20px 28px; }}
h1 {{ font-size:22px; margin:0 0 10px; }} h2 {{ font-size:17px; margin:26px 0 8px; color:#fff; }}
table {{ border-collapse:collapse; }} th, td {{ padding:3px 9px; border-bottom:1px solid #333; text-align:right; }}
table.facts th, table.facts td {{ text-align:left; }} tr.combined {{ background:#1d2a33; font-weight:600; }}
td.neg {{ color:#ff6b6b; }} img {{ max-width:100%; border:1px solid #333; }}
.scroll {{ max-height:600px; overflow:auto; border:1px solid #333; }} table.trades td {{ font-size:12px; }}
</style></head><body>
{body}
</body></html>
"""
