"""The Parquet snapshot store: what is written is read back, exactly, by symbol and time range."""

from __future__ import annotations

from datetime import timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest

from bot.domain import HeatmapSource, Side
from bot.errors import DataError
from bot.heatmap.store import SnapshotStore, symbol_dirname
from tests.snapshot_store_fakes import STEP, SYMBOL, T0, cluster, same, snapshot, snapshots


@pytest.fixture()
def store(tmp_path):
    return SnapshotStore(tmp_path / "store")


def test_roundtrip_is_exact_across_days(store):
    # 22:00 + 60 x 5 min crosses midnight: two day partitions
    snaps = snapshots(0, 60)
    assert store.write(snaps) == 60
    got = list(store.read(SYMBOL))
    assert len(got) == 60
    assert all(same(a, b) for a, b in zip(snaps, got))
    assert got[0].ts.tzinfo == timezone.utc
    days = sorted(p.name for p in (store.root / symbol_dirname(SYMBOL)).iterdir() if p.is_dir())
    assert days == ["date=2025-03-01", "date=2025-03-02"]


def test_layout_names_symbol_and_day(store):
    store.write(snapshots(0, 3))
    parts = list(store.root.glob("BTC_USDT_USDT/date=2025-03-01/part-*.parquet"))
    assert len(parts) == 1
    assert store.symbols() == [SYMBOL]
    assert SnapshotStore.is_store(store.root)
    assert not SnapshotStore.is_store(store.root / "BTC_USDT_USDT")


def test_time_range_and_inclusive_bounds(store):
    store.write(snapshots(0, 40))
    first, last = store.time_range(SYMBOL)
    assert (first, last) == (T0, T0 + 39 * STEP)
    got = store.read_columns(SYMBOL, T0 + 10 * STEP, T0 + 20 * STEP)
    assert len(got) == 11
    assert got.snapshot(0).ts == T0 + 10 * STEP and got.snapshot(10).ts == T0 + 20 * STEP
    assert len(store.read_columns(SYMBOL, start=T0 + 39 * STEP)) == 1
    assert len(store.read_columns(SYMBOL, end=T0 - STEP)) == 0
    assert store.time_range("ETH/USDT:USDT") is None


def test_naive_bounds_are_utc(store):
    store.write(snapshots(0, 10))
    naive = (T0 + 2 * STEP).replace(tzinfo=None)
    assert len(store.read_columns(SYMBOL, start=naive)) == 8


def test_start_after_end_is_an_error(store):
    store.write(snapshots(0, 3))
    with pytest.raises(DataError, match="after end"):
        store.read_columns(SYMBOL, T0 + STEP, T0)


def test_symbols_are_kept_apart(store):
    store.write(snapshots(0, 5) + snapshots(0, 3, symbol="ETH/USDT:USDT"))
    assert store.symbols() == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert len(store.read_columns("ETH/USDT:USDT")) == 3
    assert len(store.read_columns(SYMBOL)) == 5


def test_colliding_folder_names_are_refused(store):
    store.write(snapshots(0, 2))
    with pytest.raises(DataError, match="holds"):
        store.write(snapshots(0, 2, symbol="BTC_USDT_USDT"))


def test_provider_clusters_sources_and_assumptions_survive(store):
    c = (cluster("c1", 51_000.0, Side.SHORT), cluster("c2", 49_000.0, Side.LONG, active=False,
                                                       broken=T0 + timedelta(minutes=30)))
    snap = snapshot(3, source=HeatmapSource.PERP_API, clusters=c)
    store.write([snap])
    (back,) = list(store.read(SYMBOL))
    assert same(snap, back)
    assert back.provided_clusters[1].broken_at == T0 + timedelta(minutes=30)


def test_read_columns_is_flat_and_matches_snapshots(store):
    snaps = snapshots(0, 30)
    store.write(snaps)
    s = store.read_columns(SYMBOL)
    assert s.offsets[-1] == s.level_prices.size == sum(len(x) for x in snaps)
    assert np.array_equal(s.counts, [len(x) for x in snaps])
    assert np.array_equal(s.price, [x.price for x in snaps])
    assert s.ts.dtype == np.dtype("datetime64[us]")
    assert all(same(a, s.snapshot(i)) for i, a in enumerate(snaps))


def test_empty_snapshot_roundtrips(store):
    snap = snapshot(1, levels=0)
    store.write([snap])
    (back,) = list(store.read(SYMBOL))
    assert len(back) == 0 and back.price == snap.price


def test_size_bytes_counts_visible_parts(store):
    assert store.size_bytes() == 0
    store.write(snapshots(0, 5))
    assert store.size_bytes(SYMBOL) == store.size_bytes() > 0


def test_write_table_with_bad_levels_names_the_row(store):
    from bot.heatmap.stored_series import snapshots_to_arrow
    good = snapshots_to_arrow(snapshots(0, 3))
    prices = good.column("prices").combine_chunks()
    values = prices.flatten().to_numpy().copy()
    values[len(snapshot(0)) + 4] = values[len(snapshot(0)) + 3]  # duplicated level in row 1
    bad = good.set_column(good.schema.get_field_index("prices"), "prices",
                          pa.ListArray.from_arrays(prices.offsets, pa.array(values)))
    with pytest.raises(DataError) as err:
        store.write_series(bad, SYMBOL)
    assert err.value.field == "prices" and err.value.position == 1
    assert store.symbols() == [] and not any(store.root.rglob("*.parquet"))  # nothing written


def test_write_table_missing_column_is_an_error(store):
    from bot.heatmap.stored_series import snapshots_to_arrow
    table = snapshots_to_arrow(snapshots(0, 2)).drop_columns(["source"])
    with pytest.raises(DataError, match="missing column"):
        store.write_series(table, SYMBOL)


def test_two_snapshots_at_one_time_are_refused(store):
    with pytest.raises(DataError) as err:
        store.write([snapshot(1), snapshot(1, value=2.0)])
    assert err.value.field == "ts"


def test_max_snapshots_reads_an_even_sample(store):
    store.write(snapshots(0, 41))
    s = store.read_columns(SYMBOL, max_snapshots=5)
    assert [s.snapshot(k).ts for k in range(len(s))] == [T0 + i * STEP for i in (0, 10, 20, 30, 40)]
    assert all(same(snapshot(i), s.snapshot(k)) for k, i in enumerate((0, 10, 20, 30, 40)))
    assert len(store.read_columns(SYMBOL, max_snapshots=100)) == 41
