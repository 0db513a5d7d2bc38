"""The Hyperliquid map from public positions, against a fake info API on 127.0.0.1.

Hand check: three isolated positions whose liquidation prices are worked out by hand from
Hyperliquid's formula (maintenance leverage = 2 x max leverage 40, so l = 1/80):

- long 2 BTC @ 60,000, 10x: margin 12,000, available 12,000 - 2 x 60,000 / 80 = 10,500;
  liq = 60,000 - 10,500 / 2 / (1 - 1/80) = 54,683.544;
- short 1 BTC @ 61,000, 20x: margin 3,050, available 3,050 - 762.5 = 2,287.5;
  liq = 61,000 + 2,287.5 / (1 + 1/80) = 63,259.259;
- long 0.5 BTC @ 59,000, 5x: margin 5,900, available 5,900 - 368.75 = 5,531.25;
  liq = 59,000 - 5,531.25 / 0.5 / (1 - 1/80) = 47,797.468;
and one cross position without a liquidation price (not on the map). At a mark of 60,000 each
position's USD is |szi| x 60,000 in the 0.1 % bin holding its liquidation price, on its side.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from bot.feeds.base import Bar
from bot.feeds.provider_maps import ProviderHeatmaps
from bot.heatmap.providers.sources import make_source
from config.settings import load_settings
from tests.fakes.http_server import FakeHttpServer
from tests.fakes.hyperliquid_info import FakeHyperliquid, FakePosition, accounts, address, install_hyperliquid

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)
SYM = "BTC/USDT:USDT"
HAND = {address(9001): [FakePosition("BTC", 2.0, 60_000.0, 10)],
        address(9002): [FakePosition("BTC", -1.0, 61_000.0, 20)],
        address(9003): [FakePosition("BTC", 0.5, 59_000.0, 5), FakePosition("BTC", 0.3, 60_000.0, 10, cross=True)]}
BY_HAND = [(54_683.544, 120_000.0, "long"), (63_259.259, 60_000.0, "short"), (47_797.468, 30_000.0, "long")]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now.timestamp()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


def server_with(books: dict[str, list[FakePosition]], clock: Clock, traders: list[str] | None = None,
                ) -> Iterator[tuple[FakeHttpServer, FakeHyperliquid]]:
    with FakeHttpServer() as srv:
        fake = FakeHyperliquid(books, clock=clock, price=lambda ms: 60_000.0, traders=traders)
        install_hyperliquid(srv, fake)
        yield srv, fake


def maps_for(srv: FakeHttpServer, monkeypatch: pytest.MonkeyPatch, **env: str) -> ProviderHeatmaps:
    monkeypatch.setenv("LIQBOT_PROVIDERS__HYPERLIQUID_BASE_URL", srv.url)
    for k, v in env.items():
        monkeypatch.setenv(f"LIQBOT_PROVIDERS__{k.upper()}", v)
    settings = load_settings(env_file=None)
    return ProviderHeatmaps(make_source("hyperliquid", settings, live=True, sleep=lambda s: None), (SYM,), live=True)


def test_map_bins_match_liquidation_prices_worked_out_by_hand(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    for srv, fake in server_with(HAND, clock, traders=[]):
        maps = maps_for(srv, monkeypatch, hyperliquid_accounts='["' + '","'.join(HAND) + '"]',
                        hyperliquid_discover="false")
        maps.poll(T0)
        snap = maps.snapshot(Bar(SYM, T0 - timedelta(minutes=5), T0, 6e4, 6e4, 6e4, 6e4, 1.0))
        assert snap is not None and snap.price == 60_000.0 and len(snap) == 3
        for liq, usd, side in BY_HAND:
            i = int(abs(snap.prices - liq).argmin())
            assert abs(snap.prices[i] / liq - 1) < 0.001  # the level is the 0.1 % bin holding the hand price
            assert (snap.long_usd[i], snap.short_usd[i]) == ((usd, 0.0) if side == "long" else (0.0, usd))
        a = snap.assumptions
        assert a["accounts_tracked"] == 3 and a["positions"] == 4 and a["positions_mapped"] == 3
        assert a["covered_oi_usd"] == pytest.approx(3.8 * 60_000)
        assert a["oi_covered_pct"] == pytest.approx(25.0)  # the fake's venue OI is 4x the tracked accounts'
        assert fake.weights == {"metaAndAssetCtxs": 20, "clearinghouseState": 6}


def test_discovery_and_incremental_refresh_within_the_weight_budget(clock: Clock,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    books = accounts(120)
    for srv, fake in server_with(books, clock):
        maps = maps_for(srv, monkeypatch, hyperliquid_weight_per_min="100", hyperliquid_cadence_s="60")
        read = []
        for minute in range(6):
            clock.now = T0 + timedelta(minutes=minute, seconds=1)
            maps.poll(clock.now)
            assert maps.notice is None, maps.notice
            snap = maps.lines[SYM].snaps[-1]
            read.append(snap.assumptions["accounts_read"])
        # per minute: 20 (mark) + 20 (trades) + 30 x 2 (accounts) = 100 weight: 30 new accounts a minute
        assert read == [30, 60, 90, 120, 120, 120]
        assert snap.assumptions["accounts_tracked"] == 120 and fake.refused == 0
        assert snap.assumptions["oldest_read_s"] <= 4 * 60 + 1  # least recently read first
        print(f"accounts read per poll {read}; weights spent {fake.weights}; OI covered "
              f"{snap.assumptions['oi_covered_pct']:.1f} %; levels {len(snap)}")
