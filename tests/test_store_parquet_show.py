"""``liqbot heatmap show DIR`` reads a snapshot store: the latest snapshot of each symbol."""

from __future__ import annotations

import json

import pytest

from bot.errors import DataError
from bot.heatmap.store import SnapshotStore, load_store_snapshots
from tests.snapshot_store_fakes import SYMBOL, same, snapshot, snapshots


@pytest.fixture()
def store_dir(tmp_path):
    SnapshotStore(tmp_path / "s").write(snapshots(0, 40) + snapshots(0, 10, symbol="ETH/USDT:USDT"))
    return tmp_path / "s"


def test_show_a_store_prints_the_latest_snapshot_per_symbol(run_cli, store_dir):
    code, out, _ = run_cli("heatmap", "show", str(store_dir), "--json")
    assert code == 0
    got = json.loads(out)["snapshots"]
    assert [(s["symbol"], s["ts"]) for s in got] == [("BTC/USDT:USDT", "2025-03-02T01:15:00Z"),
                                                      ("ETH/USDT:USDT", "2025-03-01T22:45:00Z")]
    assert len(got[0]["levels"]) == len(snapshot(39)) and "magnets" in got[0]


def test_show_a_store_for_one_symbol_as_tables(run_cli, store_dir):
    code, out, _ = run_cli("heatmap", "show", str(store_dir), "--symbol", "ETH")
    assert code == 0 and "ETH/USDT:USDT" in out and "BTC/USDT:USDT" not in out


def test_a_folder_that_is_no_store_is_exit_2(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli("heatmap", "show", str(tmp_path / "empty"))
    assert code == 2 and "not a snapshot store" in err


def test_load_store_snapshots_by_range_and_count(store_dir):
    from tests.snapshot_store_fakes import STEP, T0
    got = load_store_snapshots(store_dir, SYMBOL, start=T0 + 5 * STEP, end=T0 + 7 * STEP)
    assert [s.ts for s in got] == [T0 + i * STEP for i in (5, 6, 7)]
    last = load_store_snapshots(store_dir, "BTCUSDT", last=30)  # more than the latest day holds
    assert len(last) == 30 and all(same(snapshot(10 + i), s) for i, s in enumerate(last))
    with pytest.raises(DataError, match="not in the store"):
        load_store_snapshots(store_dir, "SOL")
