"""Re-writes replace their time span (no duplicates), appends compact, crashes leave no trace."""

from __future__ import annotations

import shutil
from datetime import timedelta

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.heatmap.partition as partition_mod
from bot.heatmap.store import MAX_PARTS, SnapshotStore
from tests.snapshot_store_fakes import STEP, SYMBOL, T0, same, snapshot, snapshots

DAY1 = "BTC_USDT_USDT/date=2025-03-01"


def values(store: SnapshotStore) -> dict[int, float]:
    """{minutes since T0: first USD value} of everything the store shows."""
    s = store.read_columns(SYMBOL)
    first = s.long_usd[s.offsets[:-1]] + s.short_usd[s.offsets[:-1]]
    minutes = ((s.ts - np.datetime64(T0.replace(tzinfo=None), "us")) // np.timedelta64(1, "m")).astype(int)
    return dict(zip(minutes.tolist(), first.tolist()))


@pytest.fixture()
def store(tmp_path):
    return SnapshotStore(tmp_path / "store")


def test_rewriting_the_same_batch_is_idempotent(store):
    batch = snapshots(0, 50)
    store.write(batch)
    before = sorted(p.name for p in store.root.rglob("part-*.parquet"))
    store.write(batch)
    got = list(store.read(SYMBOL))
    assert len(got) == 50 and all(same(a, b) for a, b in zip(batch, got))
    # the older parts were fully masked, so they are gone: no garbage left behind
    assert len(list(store.root.rglob("part-*.parquet"))) == len(before)


def test_a_rewrite_replaces_its_span_and_keeps_the_rest(store):
    store.write(snapshots(0, 24))
    store.write(snapshots(5, 10, value=3.0))
    got = list(store.read(SYMBOL))
    assert len(got) == 24
    assert all(same(got[i], snapshot(i, value=3.0 if 5 <= i < 10 else 1.0)) for i in range(24))


def test_a_coarser_rewrite_removes_the_finer_snapshots_inside_its_span(store):
    store.write(snapshots(0, 24))                                  # every 5 minutes
    hourly = [snapshot(i, value=2.0, step=timedelta(hours=1)) for i in range(2)]  # T0, T0 + 1h
    store.write(hourly)
    minutes = sorted(values(store))
    assert minutes == [0, *range(60, 24 * 5, 5)]
    assert values(store)[0] > 0 and len(minutes) == 1 + 12


def test_a_span_over_an_empty_day_clears_that_day(store):
    # day 1 and day 3 hold data; a later batch from day 1 to day 3 with nothing on day 2
    far = T0 + timedelta(days=1)
    store.write(snapshots(0, 3) + snapshots(0, 3, t0=far) + snapshots(0, 3, t0=far + timedelta(days=1)))
    assert len(store.read_columns(SYMBOL)) == 9
    store.write([snapshot(0, value=5.0), snapshot(2, value=5.0, t0=far + timedelta(days=1))])
    got = store.read_columns(SYMBOL)
    assert len(got) == 2  # day 2 was inside the span and is now empty


def test_appends_are_compacted(store):
    for i in range(3 * MAX_PARTS):
        store.write([snapshot(i)])
    parts = list(store.root.glob(f"{DAY1}/part-*.parquet"))
    assert len(parts) <= MAX_PARTS
    got = list(store.read(SYMBOL))
    assert len(got) == 3 * MAX_PARTS and all(same(snapshot(i), g) for i, g in enumerate(got))


def test_half_written_temp_files_are_never_read(store):
    store.write(snapshots(0, 5))
    (store.root / DAY1 / ".tmp-deadbeef.parquet").write_bytes(b"PAR1 half written")
    (store.root / DAY1 / "part-00000009-00000000000-00000000001.parquet.tmp").write_bytes(b"junk")
    assert len(list(store.read(SYMBOL))) == 5


def test_a_crash_while_writing_leaves_the_store_as_it_was(store, monkeypatch):
    store.write(snapshots(0, 10))
    real = pq.write_table

    def dies_halfway(table, where, **kwargs):
        where.write(b"PAR1 partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(partition_mod.pq, "write_table", dies_halfway)
    with pytest.raises(OSError):
        store.write(snapshots(3, 6, value=9.0))
    monkeypatch.setattr(partition_mod.pq, "write_table", real)
    assert all(same(snapshot(i), g) for i, g in enumerate(store.read(SYMBOL)))
    assert not list(store.root.rglob(".tmp-*"))


def test_an_interrupted_cleanup_shows_no_duplicates(store):
    store.write(snapshots(0, 10))
    (old,) = store.root.glob(f"{DAY1}/part-*.parquet")
    keep = old.with_name("saved")
    shutil.copy(old, keep)
    store.write(snapshots(0, 10, value=4.0))
    keep.rename(old)  # as if the writer died after the rename, before deleting the masked part
    got = list(store.read(SYMBOL))
    assert len(got) == 10 and all(same(snapshot(i, value=4.0), g) for i, g in enumerate(got))


def test_a_corrupt_part_is_a_data_error_naming_the_file(store):
    from bot.errors import DataError
    store.write(snapshots(0, 3))
    (part,) = store.root.glob(f"{DAY1}/part-*.parquet")
    part.write_bytes(b"not parquet at all")
    with pytest.raises(DataError) as err:
        store.read_columns(SYMBOL)
    assert part.name in str(err.value)


writes = st.lists(st.tuples(st.integers(0, 400), st.integers(1, 60), st.sampled_from([1, 2, 3]),
                            st.floats(0.5, 5.0)), min_size=1, max_size=6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=writes)
def test_store_equals_a_model_where_each_write_replaces_its_span(tmp_path_factory, plan):
    """Reference model: a dict of minute -> value; a write deletes [first, last] then inserts."""
    store = SnapshotStore(tmp_path_factory.mktemp("prop"))
    model: dict[int, float] = {}
    for start, count, stride, value in plan:
        idx = list(range(start, start + count * stride, stride))
        batch = [snapshot(i, value=value, levels=3) for i in idx]
        store.write(batch)
        lo, hi = idx[0] * 5, idx[-1] * 5
        model = {m: v for m, v in model.items() if not lo <= m <= hi}
        model.update({i * 5: float(b.long_usd[0] + b.short_usd[0]) for i, b in zip(idx, batch)})
    assert values(store) == pytest.approx(model)
    assert store.time_range(SYMBOL) == (T0 + min(model) // 5 * STEP, T0 + max(model) // 5 * STEP)
