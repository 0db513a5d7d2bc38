"""The walk-forward's honesty rules on real BTC data: the optimiser only ever backtests train spans, and
every window's out-of-sample figures equal a plain ``liqbot backtest`` with the chosen parameters."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest

from backtest.research.space import to_toml

pytestmark = pytest.mark.shared_data


def inputs(data: Path) -> list[str]:
    return ["--candles", str(data / "binance-usdm" / "BTC_USDT_USDT-5m-futures.feather"),
            "--funding", str(data / "binance-usdm" / "BTC_USDT_USDT-1h-funding_rate.feather")]


def cli(argv: list[str], capsys: Any) -> tuple[int, str, str]:
    from bot.cli.main import main
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# the combined book over the whole strategies space; one strategy over two of its parameters
HUNT_SPACE = "strategies.cooldown_bars,strategies.liquidation_hunt.atr_mult"


@pytest.fixture(scope="module", params=[("combined", "strategies"), ("liquidation_hunt", HUNT_SPACE)],
                ids=["combined", "liquidation_hunt"])
def optimized(request: Any, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One small walk-forward (2 windows x 3 random trials) with every backtest span recorded."""

    strategy, space = request.param
    tmp = tmp_path_factory.mktemp(f"wf-{strategy}")
    calls: list[tuple[str, datetime, datetime]] = []
    from backtest.research import study, walkforward

    def spy(kind: str, real: Any) -> Any:
        def wrapped(settings: Any, base: Any, start: datetime, end: datetime, column: str, cache: Any) -> Any:
            calls.append((kind, start, end))
            return real(settings, base, start, end, column, cache)
        return wrapped

    cwd = os.getcwd()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIQBOT_LOGGING__FILE", str(tmp / "liqbot.log"))
        mp.setattr(study, "evaluate", spy("study", study.evaluate))
        mp.setattr(walkforward, "evaluate", spy("test", walkforward.evaluate))
        os.chdir(tmp)
        try:
            from bot.cli.main import main
            code = main(["optimize", *inputs(shared_data), "--from", "2025-03-01", "--to", "2025-03-15",
                         "--walk-forward", "train=5d,test=3d", "--sampler", "random", "--trials", "3",
                         "--min-trades", "1", "--strategy", strategy, "--space", space, "--storage", f"sqlite:///{tmp}/s.db",
                         "--json", str(tmp / "out.json"), "--best", str(tmp / "best.toml")])
        finally:
            os.chdir(cwd)
    assert code == 0
    yield {"doc": json.loads((tmp / "out.json").read_text()), "calls": calls, "tmp": tmp, "strategy": strategy,
           "storage": f"sqlite:///{tmp}/s.db"}


def _span(w: dict[str, Any], key: str) -> tuple[datetime, datetime]:
    a, b = (datetime.fromisoformat(x.replace("Z", "+00:00")) for x in w[key])
    return a, b


def test_the_objective_only_ever_backtests_train_spans(optimized: dict[str, Any]) -> None:
    doc, calls = optimized["doc"], optimized["calls"]
    wins = doc["windows"]
    assert len(wins) == 2
    # calls come in order: window 0's trials on its train span, its one test, window 1's trials, its test
    expected: list[tuple[str, tuple[datetime, datetime]]] = []
    for w in wins:
        expected += [("study", _span(w, "train"))] * w["trials"] + [("test", _span(w, "test"))]
    assert [(k, (a, b)) for k, a, b in calls] == expected
    for w in wins:
        tr, te = _span(w, "train"), _span(w, "test")
        assert tr[1] <= te[0]  # a train span ends before its test span starts
    # the storage agrees: every stored trial scored its own window's train span
    import optuna
    for w in wins:
        study = optuna.load_study(study_name=w["study"], storage=optimized["storage"])
        assert len(study.trials) == 3
        assert {tuple(t.user_attrs["span"]) for t in study.trials} == {
            tuple(x.isoformat() for x in _span(w, "train"))}


def test_out_of_sample_figures_equal_a_plain_backtest(optimized: dict[str, Any], shared_data: Path,
                                                      capsys: Any) -> None:
    doc, tmp = optimized["doc"], optimized["tmp"]
    traded = [w for w in doc["windows"] if w["oos"] is not None]
    assert traded
    for w in traded:
        cfg = tmp / f"w{w['index']}.toml"
        cfg.write_text(to_toml(w["params"], []), encoding="utf-8")
        code, out, err = cli(["--config", str(cfg), "backtest", *inputs(shared_data),
                              *w["oos"]["same_as"].split(), "--json"], capsys)
        assert code == 0, err
        plain = {s["column"]: s for s in json.loads(out)["stats"]}
        assert plain[optimized["strategy"]] == w["oos"]["backtest"]
        assert plain[optimized["strategy"]]["trades"] == w["oos"]["figures"]["trades"]
    # --best holds the last traded window's parameters and is what --config accepts
    from config.settings import load_settings
    from backtest.research.space import apply_params
    best = load_settings(tmp / "best.toml", env_file=None)
    assert doc["best"]["params"] == traded[-1]["params"]
    assert apply_params(load_settings(None, env_file=None), doc["best"]["params"]).model_dump() == best.model_dump()
    assert f"from {doc['best']['trials']} trials" in (tmp / "best.toml").read_text()


def test_the_report_states_trials_and_overfitting_figures(optimized: dict[str, Any]) -> None:
    doc = optimized["doc"]
    assert doc["speed"]["trials"] == 6
    assert doc["speed"]["cache_hits"] >= 4  # strategy-only trials reuse their window's heatmap rows
    assert f"from {doc['speed']['trials']} trials" in doc["verdict"]
    st = doc["stitched"]
    assert st["windows"] == 2 and len(st["equity"]["day"]) == len(st["equity"]["value"]) == 6
    for w in doc["windows"]:
        if w["dsr"] is not None:
            assert 0.0 <= w["dsr"]["dsr"] <= 1.0 and w["dsr"]["n_trials"] == w["complete_trials"]


def test_the_html_report_holds_every_section(optimized: dict[str, Any], tmp_path: Path) -> None:
    from backtest.research.report import write_report
    page = write_report(optimized["doc"], tmp_path / "r.html").read_text(encoding="utf-8")
    for title in ("Walk-forward windows", "Stitched out-of-sample equity", "In-sample vs out-of-sample",
                  "Overfitting: deflated Sharpe ratio and PBO"):
        assert title in page
    assert page.count("plotly.js v") == 1 and page.count("Plotly.newPlot") >= 3  # the library inlined once, 3+ plots
    assert optimized["doc"]["verdict"].split(":")[0] in page
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize("extra, words", [
    (["--walk-forward", "train=5d"], "--walk-forward"),
    (["--strategy", "nope"], "--strategy"),
    (["--strategy", "oi_sizing"], "--strategy"),
    (["--space", "strategies.nope"], "--space"),
    (["--trials", "0"], "--trials"),
    (["--pbo-blocks", "3"], "--pbo-blocks"),
])
def test_bad_input_is_one_line_and_exit_2(extra: list[str], words: str, shared_data: Path, tmp_path: Path,
                                          run_cli: Any) -> None:
    code, out, err = run_cli("optimize", *inputs(shared_data), "--storage", f"sqlite:///{tmp_path}/x.db",
                             "--best", str(tmp_path / "b.toml"), *extra)
    assert code == 2
    assert err.startswith("liqbot: error:") and words in err and err.count("\n") == 1
    assert not (tmp_path / "b.toml").exists() and not (tmp_path / "x.db").exists()


def test_an_unreachable_storage_is_one_line_without_its_password(shared_data: Path, tmp_path: Path,
                                                                 run_cli: Any) -> None:
    code, out, err = run_cli("optimize", *inputs(shared_data), "--from", "2025-03-01", "--to", "2025-03-05",
                             "--storage", "postgresql://bot:s3cret-pw@127.0.0.1:1/liqbot")
    assert code == 2 and err.startswith("liqbot: error: --storage") and err.count("\n") == 1
    assert "s3cret-pw" not in err + out and "bot:***@127.0.0.1" in err


def test_a_recorded_store_walk_forward_equals_plain_backtests(shared_data: Path, tmp_path: Path,
                                                              run_cli: Any) -> None:
    usdm, cg = shared_data / "binance-usdm", shared_data / "coinglass-btc"
    code, _, err = run_cli("heatmap", "build", "--candles", str(usdm / "BTC_USDT_USDT-5m-futures.feather"),
                           "--oi", str(cg / "api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"),
                           "--every", "1h", "--from", "2025-03-01", "--to", "2025-03-07", "--out", str(tmp_path / "s"))
    assert code == 0, err
    code, out, err = run_cli("optimize", *inputs(shared_data), "--heatmaps", str(tmp_path / "s"), "--from",
                             "2025-03-01", "--to", "2025-03-07", "--walk-forward", "train=3d,test=2d", "--sampler",
                             "random", "--trials", "2", "--min-trades", "1", "--space", HUNT_SPACE,
                             "--storage", f"sqlite:///{tmp_path}/s.db", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["run"]["heatmaps"] == "store" and len(doc["windows"]) == 1
    w = doc["windows"][0]
    assert w["oos"] is not None and w["oos"]["backtest"]["trades"] > 0
    (tmp_path / "w.toml").write_text(to_toml(w["params"], []), encoding="utf-8")
    code, out, err = run_cli("--config", str(tmp_path / "w.toml"), "backtest", *inputs(shared_data), "--heatmaps",
                             str(tmp_path / "s"), *w["oos"]["same_as"].split(), "--json")
    assert code == 0, err
    plain = {s["column"]: s for s in json.loads(out)["stats"]}
    assert plain["combined"] == w["oos"]["backtest"]
