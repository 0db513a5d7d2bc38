"""The optimisation report: one self-contained HTML file (plotly.js inlined once, no network needed).

Sections: the run and its verdict (with the number of trials behind it); the per-window table;
the stitched out-of-sample equity; parameter importance (fANOVA, averaged over the windows);
in-sample vs out-of-sample objective per window (points below the diagonal lost their edge out of
sample); and the overfitting figures (DSR and PBO per window).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

PLOT_CONFIG = {"displaylogo": False}


def write_report(doc: dict[str, Any], path: Path) -> Path:
    """Write the report of a ``research.walkforward.run`` document to ``path`` atomically."""
    from bot.heatmap.partition import atomic_write_bytes
    first = [True]

    def plot(fig: Any) -> str:
        fig.update_layout(template="plotly_dark", margin={"l": 60, "r": 20, "t": 40, "b": 40})
        out = fig.to_html(full_html=False, include_plotlyjs=first[0], config=PLOT_CONFIG)
        first[0] = False
        return out

    parts = [_head(doc), _section("Walk-forward windows", _table(doc))]
    if doc["stitched"] is not None:
        parts.append(_section("Stitched out-of-sample equity (test windows end to end, after costs)",
                              plot(_equity(doc))))
    imp = _importance(doc)
    if imp is not None:
        parts.append(_section("Parameter importance (fANOVA over each window's trials, mean of windows)", plot(imp)))
    sc = _scatter(doc)
    if sc is not None:
        parts.append(_section(f"In-sample vs out-of-sample {doc['run']['objective']} of each window's choice",
                              plot(sc)))
    ov = _overfitting(doc)
    if ov is not None:
        parts.append(_section("Overfitting: deflated Sharpe ratio and PBO per window", plot(ov)))
    page = _PAGE.format(title=html.escape(f"liqbot optimize {doc['run']['symbol']} {doc['run']['column']}"),
                        body="\n".join(parts))
    atomic_write_bytes(Path(path), page.encode("utf-8"))
    return Path(path)


def _head(doc: dict[str, Any]) -> str:
    r, s, o = doc["run"], doc["speed"], doc["overfitting"]
    wf = r["walk_forward"]
    spec = "none (in-sample only)" if wf is None else (
        f"train {wf['train_days']:g} d, test {wf['test_days']:g} d, step {wf['step_days']:g} d"
        + (", anchored" if wf["anchored"] else ""))
    facts = [("history", f"{r['symbol']} {r['from']} to {r['to']}"), ("book", r["column"]),
             ("objective", f"{r['objective']} (pruned below {r['min_trades']} train trades)"),
             ("search", f"{r['sampler']}, {r['trials_per_window']} trials per window, seed {r['seed']}, "
                        f"{len(r['space'])} parameters ({r['heatmaps']} heatmaps)"),
             ("walk-forward", f"{spec}; {r['windows']} windows"),
             ("trials in all", f"{s['trials']} in {s['study_s']:.0f} s = {s['trials_per_s']} trials/s "
                               f"with {r['jobs']} process(es)"),
             ("median DSR / PBO", f"{_fmt(o['dsr_median'])} / {_fmt(o['pbo_median'])}")]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts)
    return (f"<h1>liqbot optimize: {html.escape(r['column'])} on {html.escape(r['symbol'])}</h1>"
            f"<p class=verdict>{html.escape(doc['verdict'])}</p><table class=facts>{rows}</table>")


def _table(doc: dict[str, Any]) -> str:
    obj = doc["run"]["objective"]
    head = ["window", "train", "test", "trials (complete)", f"IS {obj}", "IS trades", f"OOS {obj}", "OOS trades",
            "OOS PF", "OOS exp. R", "OOS return %", "OOS max DD %", "DSR", "PBO"]
    body = []
    for w in doc["windows"]:
        oos = (w["oos"] or {}).get("figures") or {}
        cells = [w["index"], f"{w['train'][0][:10]} .. {w['train'][1][:10]}",
                 f"{w['test'][0][:10]} .. {w['test'][1][:10]}", f"{w['trials']} ({w['complete_trials']})",
                 w["is_value"], (w["is"] or {}).get("trades"), oos.get(obj), oos.get("trades"),
                 oos.get("profit_factor"), oos.get("expectancy_r"), oos.get("return_pct"),
                 oos.get("max_drawdown_pct"), (w["dsr"] or {}).get("dsr"), (w["pbo"] or {}).get("pbo")]
        tds = "".join(f"<td class={'neg' if isinstance(c, float) and c < 0 else 'n'}>{html.escape(_fmt(c))}</td>"
                      for c in cells)
        body.append(f"<tr>{tds}</tr>")
    st = doc["stitched"]
    if st is not None:
        f = st["figures"]
        cells = ["all", "", f"{st['windows_traded']} of {st['windows']} traded", doc["speed"]["trials"], "", "",
                 f.get(obj), f["trades"], f["profit_factor"], f["expectancy_r"], f["return_pct"],
                 f["max_drawdown_pct"], "", ""]
        tds = "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in cells)
        body.append(f"<tr class=combined>{tds}</tr>")
    ths = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f"<table><tr>{ths}</tr>{''.join(body)}</table>"


def _equity(doc: dict[str, Any]) -> Any:
    import plotly.graph_objects as go
    st = doc["stitched"]
    eq = st["equity"]
    # the curve starts flat at the first test start; each point is the close of a UTC day
    start = st.get("start") or (doc["windows"][0]["test"][0] if doc["windows"] else None)
    fig = go.Figure(go.Scatter(x=[start, *eq["day"]], y=[0.0, *(100 * (v - 1) for v in eq["value"])],
                               mode="lines",
                               name="stitched OOS", line={"color": "#4cc9f0"}))
    for w in doc["windows"]:
        fig.add_vline(x=w["test"][0], line={"color": "#555", "dash": "dot", "width": 1})
    fig.update_layout(height=380, yaxis_title="return since the first test day, %", showlegend=False)
    return fig


def _importance(doc: dict[str, Any]) -> Any:
    import plotly.graph_objects as go
    sums: dict[str, float] = {}
    n = 0
    for w in doc["windows"]:
        imp = w.get("importance") or {}
        if imp:
            n += 1
            for k, v in imp.items():
                sums[k] = sums.get(k, 0.0) + v
    if not n:
        return None
    items = sorted(((v / n, k) for k, v in sums.items()))[-20:]
    fig = go.Figure(go.Bar(x=[v for v, _ in items], y=[k for _, k in items], orientation="h",
                           marker={"color": "#ffd166"}))
    fig.update_layout(height=max(300, 28 * len(items) + 80), xaxis_title="importance (share of variance)")
    return fig


def _scatter(doc: dict[str, Any]) -> Any:
    import plotly.graph_objects as go
    pts = [(w["degradation"]["is"], w["degradation"]["oos"], w["index"]) for w in doc["windows"]
           if w["degradation"] and isinstance(w["degradation"]["is"], float)
           and isinstance(w["degradation"]["oos"], float)]
    if not pts:
        return None
    xs, ys, ks = zip(*pts)
    lo, hi = min(min(xs), min(ys)), max(max(xs), max(ys))
    fig = go.Figure([go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"color": "#666", "dash": "dash"},
                                name="OOS = IS"),
                     go.Scatter(x=xs, y=ys, mode="markers+text", text=[f"w{k}" for k in ks], textposition="top center",
                                marker={"size": 10, "color": "#f72585"}, name="windows")])
    fig.add_hline(y=0, line={"color": "#888", "width": 1})
    fig.update_layout(height=420, xaxis_title="in-sample (train) best", yaxis_title="out-of-sample (test)")
    return fig


def _overfitting(doc: dict[str, Any]) -> Any:
    import plotly.graph_objects as go
    ws = doc["windows"]
    dsr = [(w["index"], w["dsr"]["dsr"]) for w in ws if w["dsr"] and isinstance(w["dsr"]["dsr"], float)]
    pbo = [(w["index"], w["pbo"]["pbo"]) for w in ws if w["pbo"]]
    if not dsr and not pbo:
        return None
    fig = go.Figure()
    if dsr:
        fig.add_bar(x=[f"w{k}" for k, _ in dsr], y=[v for _, v in dsr], name="DSR (P[true SR > E[max SR of N]])",
                    marker={"color": "#06d6a0"})
    if pbo:
        fig.add_bar(x=[f"w{k}" for k, _ in pbo], y=[v for _, v in pbo], name="PBO (CSCV)",
                    marker={"color": "#ff6b6b"})
    fig.add_hline(y=0.95, line={"color": "#06d6a0", "dash": "dot"}, annotation_text="DSR 0.95")
    fig.add_hline(y=0.5, line={"color": "#ff6b6b", "dash": "dot"}, annotation_text="PBO 0.5")
    fig.update_layout(height=380, barmode="group", yaxis={"range": [0, 1]})
    return fig


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{body}"


def _fmt(v: Any) -> str:
    if v is None or v == "":
        return "-" if v is None else ""
    if isinstance(v, float):
        return f"{v:,.3f}"
    return str(v)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ background:#111; color:#ddd; font:14px/1.4 system-ui, sans-serif; margin:20px 28px; }}
h1 {{ font-size:22px; margin:0 0 10px; }} h2 {{ font-size:17px; margin:26px 0 8px; color:#fff; }}
p.verdict {{ font-size:15px; color:#fff; max-width:1100px; }}
table {{ border-collapse:collapse; }} th, td {{ padding:3px 9px; border-bottom:1px solid #333; text-align:right; }}
table.facts th, table.facts td {{ text-align:left; }} tr.combined {{ background:#1d2a33; font-weight:600; }}
td.neg {{ color:#ff6b6b; }}
</style></head><body>
{body}
</body></html>
"""
