"""The report card as one self-contained HTML page (plotly): the figures behind the numbers.

Panels (test part): the reliability diagram of the direction test (tilted probability vs the
observed up-first rate, the diagonal is perfect calibration), the touch rate within 24 h (and 4 h)
against distance for strong clusters, weak clusters and empty levels, and the scale ratio
(predicted / realized liquidated USD) per month and side on a log axis. The headline table sits
above the figures.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots


def report_figure(card: dict[str, Any]) -> go.Figure:
    """The three panels of the card."""
    fig = make_subplots(rows=3, cols=1, vertical_spacing=0.08, subplot_titles=(
        "direction (test): reliability of p = sigmoid(logit p0 + b ln(U/D))",
        "touch rate vs distance (test): strong / weak clusters, empty levels",
        "scale per month: predicted / realized liquidated USD (log)"))
    rel = card["magnets"]["direction"]["test"]["reliability"]
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot", "color": "grey"}),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=[r["p"] for r in rel], y=[r["observed"] for r in rel], mode="lines+markers+text",
                             text=[str(r["n"]) for r in rel], textposition="top center", name="model (n per bin)"),
                  row=1, col=1)
    colors = {"strong": "#d62728", "weak": "#1f77b4", "empty": "#7f7f7f"}
    for h, dash in (("24h", "solid"), ("4h", "dash")):
        curve = card["magnets"]["touch"][h]["test"]["curve"]
        for kind, color in colors.items():
            fig.add_trace(go.Scatter(x=[c["distance_pct"] for c in curve], y=[c[kind] for c in curve],
                                     mode="lines+markers", name=f"{kind} {h}", line={"color": color, "dash": dash}),
                          row=2, col=1)
    months = card["scale"]["per_month"]
    for side, color in (("long", "#2ca02c"), ("short", "#9467bd")):
        fig.add_trace(go.Bar(x=[m["month"] for m in months], y=[m[f"ratio_{side}"] for m in months],
                             name=f"scale {side}", marker_color=color), row=3, col=1)
    fig.update_xaxes(title_text="predicted P(up first)", range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="observed up-first rate", range=[0, 1], row=1, col=1)
    fig.update_xaxes(title_text="distance from price, %", row=2, col=1)
    fig.update_yaxes(title_text="touched", range=[0, 1], row=2, col=1)
    fig.update_yaxes(title_text="ratio", type="log", row=3, col=1)
    fig.update_layout(height=1900, width=1300, barmode="group", title=f"report card: {card['source']}, "
                                                                        f"split {card['split']}")
    return fig


def write_report(card: dict[str, Any], path: Path) -> Path:
    """Write the page atomically (plotly.js inlined: works offline)."""
    from backtest.plots import write_html
    from bot.validation.summary import card_rows

    fig = report_figure(card)
    rows = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td>"
                   f"<td>{html.escape(d)}</td></tr>" for a, b, c, d in card_rows(card))
    table = ("<table border=1 cellpadding=3 style='border-collapse:collapse;font:13px sans-serif'>"
             f"<tr><th>section</th><th>n</th><th>value</th><th>95 % CI</th></tr>{rows}</table>")
    fig.update_layout(meta={"card": "liqbot validate"})
    path = Path(path)
    write_html(fig, path)
    text = path.read_text(encoding="utf-8").replace("<body>", f"<body>{table}", 1)
    tmp = path.with_name(f".{path.name}.table.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
