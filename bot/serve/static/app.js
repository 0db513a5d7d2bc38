// liqbot dashboard: reads the read-only API of `liqbot serve`, draws with Plotly, follows /api/stream.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");
const MIN_PEAK_STRENGTH = 0.15;   // clusters weaker than this over their whole life are not drawn (clutter)
const RECENT_REALIZED_H = 24;     // Hybrid: realized events of the last this many hours
const COLORS = { long: "#2fbf71", short: "#e5534b", broken: "#9aa5b1", faded: "#5c6673", accent: "#f0b429" };
const ui = { symbol: null, view: localStorage.getItem("liqbot.view") || "heatmap", days: 7, data: null,
             drawn: { heatmapCells: 0, clusterLines: 0, entries: 0, exits: 0, signals: 0, realized: 0 },
             source: null, refreshTimer: null, candleTrace: -1 };
window.liqbot = ui;  // what was drawn, for tests and the curious

function url(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) q.set(k, v);
  if (TOKEN) q.set("token", TOKEN);
  const s = q.toString();
  return path + (s ? "?" + s : "");
}

async function get(path, params) {
  const r = await fetch(url(path, params), { headers: { accept: "application/json" } });
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail; } catch (e) { /* not JSON */ }
    throw new Error(`${path}: ${r.status} ${detail}`);
  }
  return r.json();
}

const sym = () => encodeURIComponent(ui.symbol);
const iso = (ms) => new Date(ms).toISOString();
const fmt = (x, d = 2) => (x === null || x === undefined) ? "-" : Number(x).toLocaleString(undefined, { maximumFractionDigits: d });
const usd = (x) => x >= 1e9 ? `$${(x / 1e9).toFixed(2)}B` : x >= 1e6 ? `$${(x / 1e6).toFixed(1)}M` : `$${fmt(x, 0)}`;
function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.textContent = text;
  return e;
}

// ---- data -------------------------------------------------------------------------------------

async function load() {
  const status = await get("api/bot/status");
  const span = ui.days * 86400e3;
  // the run's cursor is the close of its newest step: the span ends there (one round of requests)
  const end = status.cursor ? Date.parse(status.cursor) : Date.now(), start = end - span;
  const range = { start: iso(start), end: iso(end) };
  const [chartR, grid, realized, trades, positions, orders, signals, equity] = await Promise.all([
    get(`api/bot/chart/${sym()}`, { ...range, max_frames: 800 }),
    get(`api/bot/heatmap/${sym()}`, { ...range, rows: 160 }),
    get(`api/bot/liquidations/${sym()}`, range),
    get("api/bot/trades", { symbol: ui.symbol, limit: 2000 }),
    get("api/bot/positions"),
    get("api/bot/orders"),
    get("api/bot/signals", { symbol: ui.symbol, limit: 200 }),
    get("api/bot/equity", range),
  ]);
  const firstBar = chartR.bars.ts.length ? Date.parse(chartR.bars.ts[0]) : start;
  ui.data = { status, chart: chartR, grid, realized, trades: trades.items, positions, orders, signals: signals.items,
              equity, start: Math.max(start, firstBar), end };
}

// ---- chart pieces -------------------------------------------------------------------------------

function gridTrace(grid, opacity) {
  if (!grid.snapshots || !grid.rows) return null;
  const raw = atob(grid.q), rows = grid.rows, n = grid.snapshots;
  const z = Array.from({ length: rows }, () => new Array(n));
  let cells = 0;
  for (let t = 0; t < n; t++) {
    for (let r = 0; r < rows; r++) {
      const q = raw.charCodeAt(t * rows + r);
      z[r][t] = q ? Math.expm1(q / grid.quant_levels * Math.log1p(grid.max_usd)) : null;
      if (q) cells++;
    }
  }
  ui.drawn.heatmapCells = cells;
  const y = Array.from({ length: rows }, (_, r) => grid.low + (r + 0.5) * grid.bin);
  return { type: "heatmap", uid: "heatmap", name: "heatmap (USD)", x: grid.ts.map(iso), y, z, opacity,
           colorscale: [[0, "#0d1b3e"], [0.35, "#1f5f8b"], [0.6, "#2fbf9f"], [0.8, "#f0e442"], [1, "#ffffff"]],
           zsmooth: false, showscale: false, hoverongaps: false,
           hovertemplate: "%{x}<br>%{y:,.0f}<br>%{z:$,.3s}<extra>heatmap</extra>" };
}

function candleTrace(bars) {
  return { type: "candlestick", uid: "candles", name: "price", x: bars.ts, open: bars.open, high: bars.high,
           low: bars.low, close: bars.close, increasing: { line: { color: "#d7dde6", width: 1 }, fillcolor: "#d7dde6" },
           decreasing: { line: { color: "#6b7888", width: 1 }, fillcolor: "#6b7888" }, whiskerwidth: 0, showlegend: false };
}

// Each cluster id's level over the frames it appears in, classified by how it ended:
// active (still in the newest frame, intact), broken (price traded through it), faded (it vanished intact).
function clusterTraces(frames) {
  const lives = new Map();
  frames.forEach((f, k) => {
    const c = f.clusters;
    for (let i = 0; i < c.cluster_id.length; i++) {
      const id = c.cluster_id[i];
      let life = lives.get(id);
      if (!life) { life = { side: c.side[i] === "L" ? "long" : "short", x: [], y: [], peak: 0, broken: null, last: -1 }; lives.set(id, life); }
      life.x.push(f.ts); life.y.push(c.price_level[i]);
      life.peak = Math.max(life.peak, c.peak_strength[i] ?? 0, c.strength[i] ?? 0);
      if (!c.active[i] && life.broken === null) life.broken = c.broken_at[i];
      life.last = k;
    }
  });
  const groups = { "active-long": [], "active-short": [], broken: [], faded: [] };
  for (const life of lives.values()) {
    if (life.peak < MIN_PEAK_STRENGTH) continue;
    const kind = life.broken !== null ? "broken" : life.last < frames.length - 1 ? "faded" : `active-${life.side}`;
    groups[kind].push(life);
  }
  const style = { "active-long": { color: COLORS.long, width: 2, dash: "solid" },
                  "active-short": { color: COLORS.short, width: 2, dash: "solid" },
                  broken: { color: COLORS.broken, width: 1.5, dash: "dash" }, faded: { color: COLORS.faded, width: 1, dash: "dot" } };
  const names = { "active-long": "active long clusters", "active-short": "active short clusters",
                  broken: "broken clusters", faded: "faded clusters" };
  let lines = 0;
  const traces = Object.entries(groups).map(([kind, list]) => {
    const x = [], y = [];
    for (const life of list) { x.push(...life.x, null); y.push(...life.y, null); lines++; }
    return { type: "scatter", mode: "lines", uid: `clusters-${kind}`, name: `${names[kind]} (${list.length})`,
             x, y, line: style[kind], connectgaps: false, hovertemplate: `%{y:,.1f}<extra>${names[kind]}</extra>` };
  });
  ui.drawn.clusterLines = lines;
  return traces;
}

function tradeTraces(trades, positions, signals) {
  const bySignal = new Map(signals.map((s) => [s.signal_id, s.signal]));
  const entries = { x: [], y: [], symbol: [], color: [], text: [] };
  const exits = { x: [], y: [], color: [], text: [] };
  const stops = { x: [], y: [] }, targets = { x: [], y: [] };
  const lastTs = ui.data.chart.bars.ts.at(-1);
  const addEntry = (t, isLong, label) => {
    entries.x.push(t.opened_at); entries.y.push(t.entry_price);
    entries.symbol.push(isLong ? "triangle-up" : "triangle-down"); entries.color.push(isLong ? COLORS.long : COLORS.short);
    entries.text.push(label);
  };
  const addLegs = (t, until, sl, tp) => {
    if (sl) { stops.x.push(t.opened_at, until, null); stops.y.push(sl, sl, null); }
    if (tp) { targets.x.push(t.opened_at, until, null); targets.y.push(tp, tp, null); }
  };
  for (const t of trades) {
    if (t.symbol !== ui.symbol) continue;
    const isLong = t.side === "long", sig = t.signal || bySignal.get(t.signal_id) || {};
    addEntry(t, isLong, `entry ${t.side} ${fmt(t.entry_price, 1)}`);
    exits.x.push(t.closed_at); exits.y.push(t.exit_price); exits.color.push(t.net_pnl >= 0 ? COLORS.long : COLORS.short);
    exits.text.push(`exit ${t.exit_reason} ${fmt(t.net_pnl)} USD`);
    addLegs(t, t.closed_at, sig.stop_loss, sig.take_profit);
  }
  for (const p of positions) {
    if (p.symbol !== ui.symbol) continue;
    addEntry(p, p.side === "long", `open ${p.side} ${fmt(p.entry_price, 1)}`);
    addLegs(p, lastTs, p.stop_loss, p.take_profit);
  }
  ui.drawn.entries = entries.x.length; ui.drawn.exits = exits.x.length;
  return [
    { type: "scatter", mode: "lines", uid: "stops", name: "stops", x: stops.x, y: stops.y, line: { color: COLORS.short, width: 1, dash: "dot" }, hoverinfo: "skip" },
    { type: "scatter", mode: "lines", uid: "targets", name: "targets", x: targets.x, y: targets.y, line: { color: COLORS.long, width: 1, dash: "dot" }, hoverinfo: "skip" },
    { type: "scatter", mode: "markers", uid: "entries", name: "entries", x: entries.x, y: entries.y, text: entries.text,
      marker: { symbol: entries.symbol, color: entries.color, size: 11, line: { color: "#000", width: 1 } }, hovertemplate: "%{text}<extra></extra>" },
    { type: "scatter", mode: "markers", uid: "exits", name: "exits", x: exits.x, y: exits.y, text: exits.text,
      marker: { symbol: "x", color: exits.color, size: 9, line: { color: "#000", width: 1 } }, hovertemplate: "%{text}<extra></extra>" },
  ];
}

function realizedTraces(realized, sinceMs) {
  const keep = realized.ts.map((t, i) => i).filter((i) => realized.ts[i] >= sinceMs);
  const side = (s) => keep.filter((i) => realized.side[i] === s);
  ui.drawn.realized = keep.length;
  return ["long", "short"].map((s) => {
    const idx = side(s);
    return { type: "scatter", mode: "markers", uid: `realized-${s}`, name: `realized ${s} liquidations`,
             x: idx.map((i) => iso(realized.ts[i])), y: idx.map((i) => realized.price[i]),
             marker: { color: s === "long" ? COLORS.short : COLORS.long, opacity: 0.75,
                       size: idx.map((i) => Math.min(26, 6 + Math.sqrt(realized.usd[i] / 1e3))),
                       line: { color: "#000", width: 0.5 } },
             text: idx.map((i) => usd(realized.usd[i])), hovertemplate: "%{y:,.1f} %{text}<extra>realized</extra>" };
  });
}

// A price profile on the right-hand axis: the newest snapshot's levels (forward estimate) or realized USD by price.
function profileTrace(kind, grid, realized) {
  const rows = grid.rows || 0;
  if (!rows) return null;
  const y = Array.from({ length: rows }, (_, r) => grid.low + (r + 0.5) * grid.bin), x = new Array(rows).fill(0);
  if (kind === "forward") {
    const raw = atob(grid.q), t = grid.snapshots - 1;
    for (let r = 0; r < rows; r++) { const q = raw.charCodeAt(t * rows + r); x[r] = q ? Math.expm1(q / grid.quant_levels * Math.log1p(grid.max_usd)) : 0; }
  } else {
    for (let i = 0; i < realized.price.length; i++) {
      const r = Math.floor((realized.price[i] - grid.low) / grid.bin);
      if (r >= 0 && r < rows) x[r] += realized.usd[i];
    }
  }
  return { type: "bar", orientation: "h", uid: `profile-${kind}`, name: kind === "forward" ? "levels now (estimate)" : "realized by price",
           x, y, xaxis: "x2", yaxis: "y", marker: { color: kind === "forward" ? "#2f7fbf" : COLORS.accent }, showlegend: true,
           hovertemplate: "%{y:,.0f}: %{x:$,.3s}<extra></extra>" };
}

function magnetShapes(m) {
  const shapes = [], notes = [];
  if (!m) return { shapes, notes };
  for (const [where, c] of [["above", m.above], ["below", m.below]]) {
    if (!c) continue;
    shapes.push({ type: "line", xref: "paper", x0: 0, x1: 0.86, y0: c.price_level, y1: c.price_level,
                  line: { color: COLORS.accent, width: 1.5, dash: "longdash" } });
    notes.push({ xref: "paper", x: 0.86, y: c.price_level, xanchor: "right", yanchor: where === "above" ? "bottom" : "top",
                 text: `magnet ${where === "above" ? "▲" : "▼"} ${usd(c.open_interest)}`, showarrow: false,
                 font: { color: COLORS.accent, size: 11 } });
  }
  return { shapes, notes };
}

function draw() {
  const d = ui.data, view = ui.view, grid = d.grid;
  const traces = [];
  const heat = (view === "heatmap" || view === "hybrid") ? gridTrace(grid, view === "hybrid" ? 0.55 : 1) : null;
  if (heat) traces.push(heat); else ui.drawn.heatmapCells = 0;
  traces.push(candleTrace(d.chart.bars));
  ui.candleTrace = traces.length - 1;
  if (view !== "raw") traces.push(...clusterTraces(d.chart.frames)); else ui.drawn.clusterLines = 0;
  if (view === "raw" || view === "hybrid") {
    const since = view === "hybrid" ? d.end - RECENT_REALIZED_H * 3600e3 : d.start;
    traces.push(...realizedTraces(d.realized, since));
  } else ui.drawn.realized = 0;
  traces.push(...tradeTraces(d.trades, d.positions, d.signals));
  const profile = profileTrace(view === "raw" ? "realized" : "forward", grid, d.realized);
  if (profile && view !== "heatmap") traces.push(profile);
  const { shapes, notes } = view === "raw" ? { shapes: [], notes: [] } : magnetShapes(d.chart.magnets);
  const withProfile = profile && view !== "heatmap";
  const layout = {
    paper_bgcolor: "#161d27", plot_bgcolor: "#0f141b", font: { color: "#d7dde6", size: 11 },
    margin: { l: 60, r: 10, t: 44, b: 30 }, hovermode: "closest", dragmode: "pan", uirevision: `${ui.symbol}-${view}`,
    legend: { orientation: "h", y: 1.01, yanchor: "bottom", x: 0, xanchor: "left", font: { size: 10 },
              bgcolor: "rgba(0,0,0,0)", entrywidth: 150 },
    xaxis: { type: "date", domain: [0, withProfile ? 0.86 : 1], rangeslider: { visible: false }, gridcolor: "#1e2733",
             range: [iso(d.start), iso(d.end)] },
    xaxis2: { domain: [0.87, 1], showgrid: false, zeroline: false, showticklabels: false },
    yaxis: { gridcolor: "#1e2733", tickformat: ",.0f", fixedrange: false, range: priceRange(d) },
    shapes, annotations: notes, showlegend: true,
  };
  // the notice first: showing it shrinks the chart's box, which Plotly sizes itself to
  const notice = document.getElementById("notice");
  const missing = [];
  if ((view === "raw" || view === "hybrid") && !d.realized.count) missing.push("no realized liquidations are stored for this symbol");
  if ((view === "heatmap" || view === "hybrid") && !grid.snapshots) missing.push("no heatmap snapshots in the store");
  notice.hidden = !missing.length; notice.textContent = missing.join("; ");
  Plotly.react("chart", traces, layout, { responsive: true, displaylogo: false, scrollZoom: true });
  Plotly.Plots.resize("chart");
  drawMagnetChips(d.chart.magnets);
}

function priceRange(d) {
  const lows = d.chart.bars.low, highs = d.chart.bars.high;
  if (!lows.length) return undefined;
  const lo = Math.min(...lows), hi = Math.max(...highs), pad = (hi - lo) * 0.6 + hi * 0.002;
  return [lo - pad, hi + pad];
}

function drawMagnetChips(m) {
  const bias = document.getElementById("bias"), cascade = document.getElementById("cascade");
  bias.textContent = m ? `bias ${m.bias}${m.asymmetry !== null ? ` (${fmt(m.asymmetry)}x)` : ""}` : "bias -";
  const read = m && m.cascade;  // present when the magnet read carries a cascade estimate
  cascade.hidden = !read;
  if (read) cascade.textContent = "cascade " + (typeof read === "object"
    ? Object.entries(read).filter(([, v]) => typeof v !== "object").map(([k, v]) => `${k} ${typeof v === "number" ? fmt(v) : v}`).join(", ")
    : String(read));
}

// ---- side panels --------------------------------------------------------------------------------

function fillTable(id, rows, cells) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows.map((r) => {
    const tr = el("tr");
    for (const [text, cls] of cells(r)) tr.appendChild(el("td", cls ? { class: cls } : {}, text));
    return tr;
  }));
  if (!rows.length) body.appendChild(el("tr", {}, "")).appendChild(el("td", { colspan: 6, class: "denied" }, "none"));
}

function drawPanels() {
  const d = ui.data;
  fillTable("positions", d.positions, (p) => [[p.symbol.split("/")[0]], [p.side, p.side], [fmt(p.qty, 5)],
    [fmt(p.entry_price, 1)], [fmt(p.stop_loss, 1)], [fmt(p.take_profit, 1)]]);
  fillTable("orders", d.orders, (o) => [[o.intent.leg], [o.intent.side, o.intent.side], [o.intent.type],
    [fmt(o.intent.qty, 5)], [fmt(o.intent.price ?? o.intent.stop_price, 1)], [o.state]]);
  const body = document.querySelector("#signals tbody");
  body.replaceChildren();
  for (const s of d.signals) body.appendChild(signalRow(s));
  ui.drawn.signals = body.children.length;
  const risk = d.status.risk;
  setRisk(risk.state, risk.reason);
  document.getElementById("equity-now").textContent = `equity ${fmt(d.status.equity)}`;
  Plotly.react("equity", [{ type: "scatter", mode: "lines", uid: "equity", name: "equity", x: d.equity.ts, y: d.equity.equity,
                            line: { color: COLORS.accent, width: 1.5 } }],
               { paper_bgcolor: "#161d27", plot_bgcolor: "#0f141b", font: { color: "#d7dde6", size: 10 },
                 margin: { l: 60, r: 10, t: 18, b: 24 }, title: { text: "equity", x: 0.01, font: { size: 11 } },
                 xaxis: { type: "date", gridcolor: "#1e2733" }, yaxis: { gridcolor: "#1e2733", tickformat: ",.0f" } },
               { responsive: true, displaylogo: false, displayModeBar: false });
}

function signalRow(s) {
  const tr = el("tr", { "data-id": s.signal_id });
  const sig = s.signal || {};
  tr.appendChild(el("td", {}, s.ts.slice(5, 16).replace("T", " ")));
  tr.appendChild(el("td", {}, s.strategy.replace("_", " ")));
  tr.appendChild(el("td", { class: s.direction }, s.direction));
  tr.appendChild(el("td", { class: s.decision }, s.decision));
  const why = [sig.reason, s.decision_reason].filter(Boolean).join(" — ");
  tr.appendChild(el("td", { class: "reason", title: why }, why || "-"));
  return tr;
}

function setRisk(state, reason) {
  const chip = document.getElementById("risk");
  chip.textContent = `risk ${state}`;
  chip.title = reason || "";
  chip.className = "chip " + String(state).toLowerCase();
}

// ---- live -------------------------------------------------------------------------------------

function scheduleRefresh(ms) {
  if (ui.refreshTimer) return;
  ui.refreshTimer = setTimeout(async () => {
    ui.refreshTimer = null;
    try { await load(); draw(); drawPanels(); } catch (e) { console.error(e); }
  }, ms);
}

function connect() {
  if (ui.source) ui.source.close();
  const live = document.getElementById("live");
  const src = new EventSource(url("api/stream", { symbol: ui.symbol }));
  ui.source = src;
  src.onopen = () => { live.textContent = "live"; live.className = "chip live"; };
  src.onerror = () => { live.textContent = "reconnecting"; live.className = "chip paused"; };
  src.addEventListener("bar", (ev) => {
    const b = JSON.parse(ev.data);
    if (b.symbol !== ui.symbol || ui.candleTrace < 0) return;
    Plotly.extendTraces("chart", { x: [[b.ts]], open: [[b.open]], high: [[b.high]], low: [[b.low]], close: [[b.close]] }, [ui.candleTrace]);
  });
  src.addEventListener("signal", (ev) => {
    const s = JSON.parse(ev.data);
    if (s.symbol !== ui.symbol) return;
    const body = document.querySelector("#signals tbody");
    if (body.querySelector(`tr[data-id="${CSS.escape(s.signal_id)}"]`)) return;
    const row = signalRow(s);
    row.classList.add("fresh");
    body.prepend(row);
    ui.drawn.signals = body.children.length;
  });
  src.addEventListener("fill", () => scheduleRefresh(500));
  src.addEventListener("frame", () => scheduleRefresh(5000));
  src.addEventListener("risk", (ev) => { const r = JSON.parse(ev.data); setRisk(r.state, r.reason); });
}

// ---- start --------------------------------------------------------------------------------------

async function show() {
  document.body.dataset.ready = "0";
  await load();
  draw();
  drawPanels();
  connect();
  document.body.dataset.ready = "1";
}

async function main() {
  const symbols = await get("api/bot/symbols");
  const pick = document.getElementById("symbol");
  for (const s of symbols) pick.appendChild(el("option", { value: s }, s));
  ui.symbol = new URLSearchParams(location.search).get("symbol") || symbols[0];
  pick.value = ui.symbol;
  pick.onchange = () => { ui.symbol = pick.value; show(); };
  const span = document.getElementById("span");
  span.onchange = () => { ui.days = Number(span.value); show(); };
  const VIEWS = ["raw", "synthetic", "heatmap", "hybrid"];
  const setView = (view, redraw) => {
    if (!VIEWS.includes(view)) return;
    ui.view = view; localStorage.setItem("liqbot.view", view);
    for (const o of document.querySelectorAll("#views button")) o.classList.toggle("on", o.dataset.view === view);
    if (redraw && ui.data) draw();
  };
  setView(location.hash.slice(1) || ui.view, false);
  for (const b of document.querySelectorAll("#views button")) b.onclick = () => { location.hash = b.dataset.view; };
  window.addEventListener("hashchange", () => setView(location.hash.slice(1), true));
  if (!ui.symbol) { document.getElementById("notice").hidden = false; document.getElementById("notice").textContent = "this state holds no symbol yet"; return; }
  await show();
}

main().catch((e) => { const n = document.getElementById("notice"); n.hidden = false; n.textContent = String(e); document.body.dataset.ready = "error"; });
