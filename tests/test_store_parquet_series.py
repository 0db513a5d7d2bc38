"""Columnar batches: the model's series goes in without snapshot objects and comes back equal."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bot.errors import DataError
from bot.heatmap.store import SnapshotStore
from bot.heatmap.stored_series import (StoredSeries, as_stored_series, batch_rows, ranges, snapshots_to_arrow,
                                       validate_batch)
from bot.synthetic.model import SyntheticParams, build_heatmaps
from tests.snapshot_store_fakes import SYMBOL, same, snapshots
from tests.synthetic_fakes import market


@pytest.fixture(scope="module")
def series():
    candles, oi, funding = market(n=1500, seed=3)
    return build_heatmaps(candles, oi, SyntheticParams(), funding=funding, every="15min", symbol=SYMBOL)


def test_model_series_roundtrips_to_the_models_own_snapshots(tmp_path, series):
    store = SnapshotStore(tmp_path)
    assert store.write_series(series, SYMBOL) == len(series)
    back = store.read_columns(SYMBOL)
    assert len(back) == len(series)
    for i in range(0, len(series), 7):
        assert same(series.snapshot(i), back.snapshot(i))


def test_write_series_replaces_like_write(tmp_path, series):
    store = SnapshotStore(tmp_path)
    store.write_series(series, SYMBOL)
    store.write_series(series, SYMBOL)
    assert len(store.read_columns(SYMBOL)) == len(series)


def test_stored_series_take_and_arrow_roundtrip():
    snaps = snapshots(0, 12)
    s = as_stored_series(snaps)
    sub = s.take(np.array([1, 4, 11]))
    assert [sub.snapshot(k).ts for k in range(3)] == [snaps[i].ts for i in (1, 4, 11)]
    assert all(same(snaps[i], sub.snapshot(k)) for k, i in enumerate((1, 4, 11)))
    again = StoredSeries.from_arrow(sub.to_arrow(), SYMBOL)
    assert all(same(sub.snapshot(k), again.snapshot(k)) for k in range(3))
    assert len(s.take(slice(2, 5))) == 3


def test_as_stored_series_sorts_and_picks_rows():
    snaps = snapshots(0, 6)
    s = as_stored_series(list(reversed(snaps)), rows=np.array([0, 5]))
    assert [s.snapshot(0).ts, s.snapshot(1).ts] == [snaps[0].ts, snaps[5].ts]
    with pytest.raises(DataError, match="several symbols"):
        as_stored_series(snaps + snapshots(0, 1, symbol="ETH/USDT:USDT"))


def test_rows_of_every_batch_kind_agree(series):
    rows = np.array([0, 3, 9])
    from_dense = batch_rows(series, rows)
    stored = as_stored_series(series)
    assert from_dense.equals(batch_rows(stored, rows))
    assert from_dense.equals(batch_rows(snapshots_to_arrow([series.snapshot(i) for i in range(len(series))]), rows))


def test_ranges_is_a_concatenation_of_aranges():
    got = ranges(np.array([5, 0, 9]), np.array([2, 0, 3]))
    assert got.tolist() == [5, 6, 9, 10, 11]


def test_a_nan_in_a_dense_series_is_refused_before_writing(tmp_path, series):
    bad = series.long_usd.copy()
    bad[4, 10] = np.nan
    broken = dataclasses.replace(series, long_usd=bad)
    with pytest.raises(DataError) as err:
        validate_batch(broken)
    assert (err.value.field, err.value.position) == ("long_usd", 4)
    store = SnapshotStore(tmp_path)
    with pytest.raises(DataError):
        store.write_series(broken, SYMBOL)
    assert store.symbols() == []
