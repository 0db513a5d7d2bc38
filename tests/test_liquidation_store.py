"""Realized liquidation events beside the snapshots (bot.heatmap.liquidations)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from bot.errors import DataError
from bot.heatmap import liquidations as L
from bot.heatmap.liquidations import LiquidationStore
from bot.heatmap.store import SnapshotStore

SYM = "BTC/USDT:USDT"


def _events(ts: list[str], side: str = "long", price: float = 100_000.0) -> pd.DataFrame:
    return pd.DataFrame({"ts": pd.to_datetime(ts, utc=True), "side": side, "price": price, "qty": 0.5,
                         "usd": price * 0.5, "source": "test"})


def test_write_read_dedup_and_range(tmp_path: Path) -> None:
    store = LiquidationStore(tmp_path)
    assert store.write(SYM, _events(["2025-01-01T23:59:59Z", "2025-01-02T00:00:01Z"])) == 2
    store.write(SYM, _events(["2025-01-02T00:00:01Z"]))  # the same event seen again
    store.write(SYM, _events(["2025-01-02T00:00:01Z"], side="short"))
    got = store.read(SYM)
    assert len(got) == 3 and list(got.columns) == list(L.COLUMNS)
    assert got["ts"].is_monotonic_increasing
    day2 = store.read(SYM, datetime(2025, 1, 2, tzinfo=timezone.utc))
    assert len(day2) == 2 and set(day2["side"]) == {"long", "short"}
    assert store.symbols() == [SYM]
    assert SnapshotStore.is_store(tmp_path) and SnapshotStore(tmp_path).symbols() == [SYM]
    assert not list(tmp_path.rglob(".tmp-*"))


def test_compaction_keeps_every_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "MAX_PARTS", 3)
    store = LiquidationStore(tmp_path)
    for k in range(7):
        store.write(SYM, _events([f"2025-01-01T00:00:{k:02d}Z"]))
    day = next((tmp_path / "BTC_USDT_USDT" / "liquidations").iterdir())
    assert len(list(day.glob("part-*.parquet"))) <= 3
    assert len(store.read(SYM)) == 7


@pytest.mark.parametrize("frame, field", [
    (_events(["2025-01-01T00:00:00Z"], price=float("nan")), "price"),
    (_events(["2025-01-01T00:00:00Z"], side="up"), "side"),
    (_events(["2025-01-01T00:00:00Z"]).drop(columns="usd"), "events"),
])
def test_bad_rows_write_nothing(tmp_path: Path, frame: pd.DataFrame, field: str) -> None:
    with pytest.raises(DataError) as err:
        LiquidationStore(tmp_path).write(SYM, frame)
    assert err.value.field == field
    assert not (tmp_path / "BTC_USDT_USDT" / "liquidations").exists()
