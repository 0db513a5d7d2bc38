"""`liqbot serve`'s API through httpx against the real app over a real paper run's state."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from bot.heatmap.liquidations import LiquidationStore
from bot.heatmap.parsers import parse_heatmap, parse_perp_stats
from bot.heatmap.store import SnapshotStore
from bot.store import Store
from bot.store.summary import summarize
from tests.serve_kit import SYM, app_for


@pytest.fixture(scope="module")
def client(sim_state: Path) -> TestClient:
    return TestClient(app_for(sim_state))


def latest_clusters(state: Path) -> tuple[str, float, list[Any]]:
    from bot.serve.state import StateReader
    found = StateReader(state).latest_frame(SYM)
    assert found is not None
    ts, price, clusters = found
    return ts.isoformat(), price, clusters


def test_cluster_api_round_trips_through_the_perp_api_parser(client: TestClient, sim_state: Path) -> None:
    _, price, clusters = latest_clusters(sim_state)
    r = client.get("/api/heatmap/BTCUSDT")
    assert r.status_code == 200
    (snap,) = parse_heatmap(r.content, "perp-api")
    assert snap.symbol == SYM and snap.price == price
    by_id = {c.cluster_id: c for c in clusters}
    assert len(snap.provided_clusters) == r.json()["total_clusters"] > 0
    for got in snap.provided_clusters:
        want = by_id[got.cluster_id]
        assert (got.price_level, got.side, got.open_interest, got.strength, got.liquidation_count) == \
            (want.price_level, want.side, want.open_interest, want.strength, want.liquidation_count)
        assert got.leverage_tier == want.leverage_tier and got.last_updated == want.last_updated
    assert np.array_equal(snap.long_usd + snap.short_usd, [c.open_interest for c in snap.provided_clusters])


def test_symbol_as_exchange_id_or_url_encoded_ccxt_symbol(client: TestClient) -> None:
    a = client.get("/api/heatmap/BTCUSDT").json()
    b = client.get("/api/heatmap/BTC%2FUSDT%3AUSDT").json()
    assert a == b and a["symbol"] == "BTCUSDT"
    assert client.get("/api/heatmap/BTC%2FUSDT%3AUSDT/best").json() == client.get("/api/heatmap/BTCUSDT/best").json()


@pytest.mark.parametrize("query, keep", [
    ("min_strength=0.5", lambda c: c.strength >= 0.5),
    ("max_distance=2", lambda c: c.distance_from_price <= 2),
    ("side=short", lambda c: c.side.value == "short"),
    ("active=false", lambda c: not c.active),
    ("active=true&side=long&min_strength=0.2", lambda c: c.active and c.side.value == "long" and c.strength >= 0.2),
])
def test_filters(client: TestClient, sim_state: Path, query: str, keep: Any) -> None:
    _, _, clusters = latest_clusters(sim_state)
    got = client.get(f"/api/heatmap/BTCUSDT?{query}").json()
    want = {c.cluster_id for c in clusters if keep(c)}
    assert {c["cluster_id"] for c in got["clusters"]} == want
    assert got["total_clusters"] == len(want)


def test_filters_do_cut_something(sim_state: Path) -> None:
    _, _, clusters = latest_clusters(sim_state)  # the fixture must exercise the filters
    assert any(c.strength >= 0.5 for c in clusters) and any(c.strength < 0.5 for c in clusters)
    assert {c.side.value for c in clusters} == {"long", "short"}


def test_best_is_the_strongest_active_cluster_and_parses(client: TestClient, sim_state: Path) -> None:
    _, price, clusters = latest_clusters(sim_state)
    r = client.get("/api/heatmap/BTCUSDT/best?side=long")
    best = max((c for c in clusters if c.active and c.side.value == "long"),
               key=lambda c: (c.strength, c.open_interest, -c.distance_from_price))
    assert r.json()["cluster_id"] == best.cluster_id
    (snap,) = parse_heatmap(r.content, "perp-api", symbol="BTCUSDT", price=price)
    assert snap.provided_clusters[0].price_level == best.price_level


def test_stats_parse_and_carry_the_last_bar_positioning(client: TestClient, sim_state: Path) -> None:
    doc = client.get("/api/stats").json()
    summary = parse_perp_stats(doc)[SYM]
    with Store.open(sim_state, readonly=True) as store:
        oi, ratio = store.conn.execute("SELECT oi_usd, long_short_ratio FROM bars WHERE symbol = ? "
                                       "ORDER BY ts DESC LIMIT 1", (SYM,)).fetchone()
    assert (summary.total_oi_usd, summary.long_short_ratio) == (oi, ratio)
    entry = doc["stats"]["debug"]["open_interest_summary"]["BTCUSDT"]
    assert entry["long_oi_usd"] + entry["short_oi_usd"] == pytest.approx(oi)
    assert doc["stats"]["total_clusters"] == client.get("/api/heatmap/BTCUSDT").json()["total_clusters"]


def test_status_is_the_status_summary(client: TestClient, sim_state: Path) -> None:
    with Store.open(sim_state, readonly=True) as store:
        want = summarize(store)
    got = client.get("/api/bot/status").json()
    assert got["trades"] == want["trades"] > 0 and got["net_pnl"] == pytest.approx(want["net_pnl"])
    assert got["open_positions"] == want["open_positions"] and got["symbols"] == [SYM]
    assert got["running"] is False


def test_positions_orders_trades_equity_risk(client: TestClient, sim_state: Path) -> None:
    with Store.open(sim_state, readonly=True) as store:
        trades, curve, opened = store.trades(), store.equity_curve(), store.open_orders()
        positions = store.positions()
    assert len(client.get("/api/bot/positions").json()) == len(positions)
    assert {o["intent"]["client_id"] for o in client.get("/api/bot/orders").json()} == {o.client_id for o in opened}
    assert len(client.get("/api/bot/orders?state=all").json()) >= len(opened)
    page = client.get("/api/bot/trades?limit=2&offset=1").json()
    newest_first = sorted(trades, key=lambda t: (t.closed_at, t.position_id), reverse=True)
    assert [t["position_id"] for t in page["items"]] == [t.position_id for t in newest_first[1:3]]
    assert all(t["signal"]["stop_loss"] for t in page["items"])  # the stop each trade was opened with
    eq = client.get("/api/bot/equity").json()
    assert len(eq["ts"]) == len(curve) and eq["equity"][-1] == curve[-1][3]
    assert client.get("/api/bot/risk").json()["risk"]["state"] == "ACTIVE"


def test_signals_filters_and_paging(client: TestClient, sim_state: Path) -> None:
    with Store.open(sim_state, readonly=True) as store:
        decisions = store.decisions()
    assert len(decisions) >= 3
    every = client.get("/api/bot/signals?limit=1000").json()
    assert every["total"] == len(decisions)
    assert [s["ts"] for s in every["items"]] == sorted((s["ts"] for s in every["items"]), reverse=True)
    assert all(s["signal"]["reason"] for s in every["items"])  # joined with the signal log
    first, second = (client.get(f"/api/bot/signals?limit=2&offset={o}").json()["items"] for o in (0, 2))
    assert [s["signal_id"] for s in first + second] == [s["signal_id"] for s in every["items"][:4]]
    one = decisions[0]
    got = client.get(f"/api/bot/signals?strategy={one.strategy}&direction={one.direction}").json()
    assert got["total"] == sum(1 for d in decisions if (d.strategy, d.direction) == (one.strategy, one.direction))
    assert client.get("/api/bot/signals", params={"since": decisions[-1].ts.isoformat()}).json()["total"] == \
        sum(1 for d in decisions if d.ts >= decisions[-1].ts)


def test_chart_holds_candles_frames_and_the_magnet_read(client: TestClient, sim_state: Path) -> None:
    got = client.get("/api/bot/chart/BTCUSDT?max_frames=50").json()
    with Store.open(sim_state, readonly=True) as store:
        bars = store.conn.execute("SELECT COUNT(*) FROM bars").fetchone()[0]
    assert len(got["bars"]["ts"]) == bars and len(got["frames"]) == 50
    assert set(got["frames"][-1]["clusters"]) >= {"cluster_id", "price_level", "side", "active", "broken_at"}
    assert got["magnets"]["bias"] in ("BULLISH_BIAS", "BEARISH_BIAS", "NEUTRAL")


def test_heatmap_grid_decodes_to_the_stored_snapshots(client: TestClient, sim_state: Path) -> None:
    got = client.get("/api/bot/heatmap/BTCUSDT?rows=64&start=2000-01-01T00:00:00Z").json()
    series = SnapshotStore(sim_state / "snapshots").read_columns(SYM)
    assert got["snapshots"] == len(series) and got["rows"] == 64
    q = np.frombuffer(base64.b64decode(got["q"]), np.uint8).reshape(got["snapshots"], 64)
    assert q.max() == 255 and (q > 0).sum() > len(series)
    # the busiest cell of the last snapshot holds that snapshot's USD between its bin edges
    t = len(series) - 1
    a, b = series.offsets[t], series.offsets[t + 1]
    prices, usd = series.level_prices[a:b], (series.long_usd + series.short_usd)[a:b]
    r = int(np.argmax(q[t]))
    lo = got["low"] + r * got["bin"]
    inside = usd[(prices >= lo) & (prices < lo + got["bin"])].sum()
    back = np.expm1(q[t, r] / 255 * np.log1p(got["max_usd"]))
    assert back == pytest.approx(inside, rel=0.05)


def test_realized_liquidations(client: TestClient, sim_state: Path, state_copy: Path) -> None:
    assert client.get("/api/bot/liquidations/BTCUSDT").json()["count"] == 0
    ts = pd.to_datetime(["2025-01-06T10:00:00Z", "2025-01-06T11:00:00Z"], utc=True)
    events = pd.DataFrame({"ts": ts, "side": ["long", "short"], "price": [93_000.0, 95_000.0], "qty": [0.5, 1.0],
                           "usd": [46_500.0, 95_000.0], "source": ["file:test", "file:test"]})
    LiquidationStore(state_copy / "snapshots").write(SYM, events)
    got = TestClient(app_for(state_copy)).get("/api/bot/liquidations/BTCUSDT?start=2025-01-01T00:00:00Z").json()
    assert got["count"] == 2 and got["price"] == [93_000.0, 95_000.0] and got["side"] == ["long", "short"]
    assert got["ts"] == [int(t.timestamp() * 1000) for t in ts]


@pytest.mark.parametrize("url, words", [
    ("/api/heatmap/BTCUSDT?min_strength=5", ["min_strength", "less than or equal to 1", "'5'"]),
    ("/api/heatmap/BTCUSDT?side=up", ["side", "'long' or 'short'", "'up'"]),
    ("/api/heatmap/BTCUSDT?active=maybe", ["active", "'maybe'"]),
    ("/api/bot/heatmap/BTCUSDT?rows=1", ["rows", "greater than or equal to 8"]),
    ("/api/bot/signals?limit=0", ["limit"]),
    ("/api/bot/signals?decision=won", ["decision", "'won'"]),
    ("/api/bot/equity?start=yesterday", ["start", "'yesterday'"]),
    ("/api/bot/chart/BTCUSDT?start=2025-01-08T00:00:00Z&end=2025-01-07T00:00:00Z", ["start", "after end"]),
    ("/api/stream?since=1.2", ["since"]),
    ("/api/heatmap/BTC%20USDT", ["symbol", "not a symbol"]),
])
def test_bad_query_values_are_422_with_one_clear_line(client: TestClient, url: str, words: list[str]) -> None:
    r = client.get(url)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["success"] is False and "\n" not in body["detail"]
    for word in words:
        assert word in body["detail"], body["detail"]


def test_unknown_symbol_is_404_naming_the_known_ones(client: TestClient) -> None:
    r = client.get("/api/heatmap/ETHUSDT")
    assert r.status_code == 404 and "BTC/USDT:USDT" in r.json()["detail"]


def test_a_server_error_is_what_the_parser_reports(client: TestClient) -> None:
    from bot.errors import DataError
    with pytest.raises(DataError, match="less than or equal to 1"):
        parse_heatmap(client.get("/api/heatmap/BTCUSDT?min_strength=5").content, "perp-api")


def test_openapi_docs_list_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/api/heatmap/{symbol}", "/api/heatmap/{symbol}/best", "/api/stats", "/api/bot/status",
                  "/api/bot/positions", "/api/bot/orders", "/api/bot/trades", "/api/bot/equity", "/api/bot/signals",
                  "/api/bot/risk", "/api/bot/chart/{symbol}", "/api/bot/heatmap/{symbol}",
                  "/api/bot/liquidations/{symbol}", "/api/stream"):
        assert route in paths, route
    assert "swagger" in client.get("/docs").text.lower()


def test_dashboard_and_its_assets_come_from_the_package(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "static/app.js" in page.text and "static/plotly.min.js" in page.text
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and b"plotly.js" in plotly.content[:200]
    assert client.get("/static/../state.py").status_code == 404
    assert client.get("/static/nope.js").status_code == 404
