"""Issue 16 "Build": a table-driven corpus of bad inputs, generated from the shared real data at test
time (never committed). Every case keeps the promise: exit 2, exactly one stderr line ``liqbot:
error: ...``, no traceback, nothing on stdout, and the outputs it names untouched (not created, or
byte-identical). The CLI runs in-process (``bot.cli.main.main``): hundreds of cases in seconds.

Cases = file mutations x the options that read that kind of file, heatmap payload mutations, bad
arguments per command, and bad settings x commands. ``test_corpus_size`` prints N by command group.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from tests.bad_inputs_kit import assert_refused, tree_digest
from tests.test_bad_inputs_settings import BAD_ENV

BTC5 = "binance-usdm/BTC_USDT_USDT-5m-futures.feather"
FUND = "binance-usdm/BTC_USDT_USDT-1h-funding_rate.feather"
OI = "coinglass-btc/api_futures_openInterest_ohlc_aggregated_history_BTC.parquet"
LIQ = "coinglass-btc/api_futures_liquidation_aggregated_coin_history_BTC.parquet"
EXAMPLES = Path(__file__).resolve().parents[1] / "bot" / "examples"

Frame = pd.DataFrame
Writer = Callable[[Path, dict[str, Frame]], Path]  # (folder, good frames) -> the bad file


def _feather(name: str, make: Callable[[dict[str, Frame]], Frame]) -> Writer:
    def write(folder: Path, good: dict[str, Frame]) -> Path:
        path = folder / f"{name}.feather"
        make(good).reset_index(drop=True).to_feather(path)
        return path
    return write


def _bytes(name: str, make: Callable[[dict[str, Frame]], bytes]) -> Writer:
    def write(folder: Path, good: dict[str, Frame]) -> Path:
        path = folder / name
        path.write_bytes(make(good))
        return path
    return write


def _edit(kind: str, fn: Callable[[Frame], None]) -> Callable[[dict[str, Frame]], Frame]:
    def make(good: dict[str, Frame]) -> Frame:
        frame = good[kind].copy()
        fn(frame)
        return frame
    return make


def _set(col: str, row: int, value: object) -> Callable[[Frame], None]:
    def fn(frame: Frame) -> None:
        frame[col] = frame[col].astype(object) if isinstance(value, str) else frame[col]
        frame.loc[row, col] = value
    return fn


def _bar(row: int, price: float) -> Callable[[Frame], None]:
    """One whole bar at ``price`` (a consistent OHLC, so only the price range can refuse it)."""
    def fn(frame: Frame) -> None:
        frame.loc[row, ["open", "high", "low", "close"]] = price
    return fn


def _csv(path: Path, frame: Frame, col: str, row: int, text: str) -> Path:
    """``frame`` as CSV with one cell replaced by ``text`` (feather cannot hold text in a float column)."""
    out = frame.astype({col: object})
    out.loc[row, col] = text
    out.to_csv(path, index=False)
    return path


def _feather_bytes(kind: str, cut: Callable[[bytes], bytes]) -> Callable[[dict[str, Frame]], bytes]:
    def make(good: dict[str, Frame]) -> bytes:
        import io
        buf = io.BytesIO()
        good[kind].reset_index(drop=True).to_feather(buf)
        return cut(buf.getvalue())
    return make


def _common_file_cases(kind: str) -> dict[str, Writer]:
    """Damage any market-data file can have, whatever it holds."""
    return {
        f"{kind}: 0 bytes": _bytes(f"{kind}_empty.feather", lambda g: b""),
        f"{kind}: truncated feather": _bytes(f"{kind}_cut.feather", _feather_bytes(kind, lambda b: b[: len(b) // 2])),
        f"{kind}: random bytes": _bytes(f"{kind}_random.feather", lambda g: random.Random(3).randbytes(5000)),
        f"{kind}: a text file as csv": _bytes(f"{kind}_text.csv", lambda g: b"just some words\nand more\n"),
        f"{kind}: csv header only": _bytes(f"{kind}_header.csv", lambda g: b"date,open,high,low,close,volume\n"),
        f"{kind}: binary as csv": _bytes(f"{kind}_bin.csv", lambda g: bytes(range(256)) * 10),
        f"{kind}: json not rows": _bytes(f"{kind}_obj.json", lambda g: b'{"hello": "world"}'),
        f"{kind}: json nested 100000 deep": _bytes(f"{kind}_deep.json", lambda g: b"[" * 100_000 + b"]" * 100_000),
        f"{kind}: json 5001-digit number": _bytes(f"{kind}_bigint.json", lambda g: b"[[" + b"9" * 5001 + b", 1]]"),
        f"{kind}: json provider error": _bytes(f"{kind}_err.json",
                                               lambda g: b'{"code": "40001", "msg": "bad key", "data": null}'),
        f"{kind}: unknown columns": _feather(f"{kind}_cols", lambda g: pd.DataFrame({"a": [1, 2], "b": [3, 4]})),
        f"{kind}: a directory": lambda folder, g: (folder / f"{kind}_dir.feather").mkdir(exist_ok=True) or
        folder / f"{kind}_dir.feather",
        f"{kind}: missing": lambda folder, g: folder / f"{kind}_does_not_exist.feather",
    }


CANDLE_CASES: dict[str, Writer] = {
    **_common_file_cases("candles"),
    "candles: NaN close": _feather("c_nan", _edit("candles", _set("close", 40, np.nan))),
    "candles: inf high": _feather("c_inf", _edit("candles", _set("high", 41, np.inf))),
    "candles: negative low": _feather("c_neg", _edit("candles", _set("low", 42, -5.0))),
    "candles: high below low": _feather("c_hl", _edit("candles", _set("high", 43, 1.0))),
    "candles: price 1e300": _feather("c_1e300", _edit("candles", _bar(44, 1e300))),
    "candles: text in close": lambda folder, g: _csv(folder / "c_text.csv", g["candles"], "close", 45, "n/a"),
    "candles: timestamps out of order": _feather("c_order", lambda g: pd.concat(
        [g["candles"].iloc[100:200], g["candles"].iloc[0:100]])),
    "candles: duplicate time with other values": _feather("c_dup", lambda g: pd.concat(
        [g["candles"], g["candles"].iloc[[10]].assign(close=lambda d: d["close"] * 1.01)])),
    "candles: 3 rows": _feather("c_3", lambda g: g["candles"].head(3)),
    "candles: negative volume": _feather("c_vol", _edit("candles", _set("volume", 46, -1.0))),
    "candles: bad dates": _feather("c_dates", lambda g: g["candles"].assign(date="yesterday")),
    "candles: open interest parquet": lambda folder, g: g["_paths"]["oi"],
    "candles: funding file": lambda folder, g: g["_paths"]["funding"],
    "candles: liquidations file": lambda folder, g: g["_paths"]["liq"],
}

OI_CASES: dict[str, Writer] = {
    **_common_file_cases("oi"),
    "oi: negative value": _feather("oi_neg", _edit("oi", _set("close", 7, -5.0))),
    "oi: NaN value": _feather("oi_nan", _edit("oi", _set("close", 8, np.nan))),
    "oi: candles file": lambda folder, g: g["_paths"]["candles"],
    "oi: funding file": lambda folder, g: g["_paths"]["funding"],
    "oi: another period": _feather("oi_later", lambda g: g["oi"].assign(time=g["oi"]["time"] + 400 * 86_400_000)),
}

FUNDING_CASES: dict[str, Writer] = {
    **_common_file_cases("funding"),
    "funding: in percent": _feather("f_pct", _edit("funding", lambda f: f.__setitem__("open", f["open"] * 100))),
    "funding: one row of 5.0": _feather("f_5", _edit("funding", _set("open", 10, 5.0))),
    "funding: one row of -0.2": _feather("f_m02", _edit("funding", _set("open", 11, -0.2))),
    "funding: NaN rate": _feather("f_nan", _edit("funding", _set("open", 12, np.nan))),
    "funding: candles file": lambda folder, g: g["_paths"]["candles"],
    "funding: another period": _feather("f_later", lambda g: g["funding"].assign(
        date=g["funding"]["date"] + pd.Timedelta(days=800))),
}


def _example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def _payload(name: str, make: Callable[[], object]) -> Writer:
    def write(folder: Path, good: dict[str, Frame]) -> Path:
        path = folder / f"hm_{name}.json"
        doc = make()
        path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
        return path
    return write


def _bastion(edit: Callable[[dict], None]) -> Callable[[], dict]:
    def make() -> dict:
        doc = _example("bastion_btc.json")
        edit(doc)
        return doc
    return make


def _level(i: int, key: str, value: object) -> Callable[[dict], None]:
    return lambda d: d["heatmap"]["levels"][i].__setitem__(key, value)


HEATMAP_CASES: dict[str, Writer] = {
    "heatmap: 0 bytes": _payload("empty", lambda: b""),
    "heatmap: not JSON": _payload("text", lambda: b"levels: many"),
    "heatmap: truncated": _payload("cut", lambda: json.dumps(_example("bastion_btc.json")).encode()[:300]),
    "heatmap: nested 100000 deep": _payload("deep", lambda: b"[" * 100_000 + b"]" * 100_000),
    "heatmap: 5001-digit integer": _payload("bigint", lambda: b'{"current_price": ' + b"9" * 5001 + b"}"),
    "heatmap: not UTF-8": _payload("latin", lambda: b"\xff\xfe\x00garbage"),
    "heatmap: empty object": _payload("obj", lambda: {}),
    "heatmap: a list of nothing": _payload("list", lambda: []),
    "heatmap: price 1e300": _payload("p1e300", _bastion(_level(0, "price", 1e300))),
    "heatmap: price NaN": _payload("pnan", _bastion(_level(0, "price", float("nan")))),
    "heatmap: price negative": _payload("pneg", _bastion(_level(0, "price", -109250))),
    "heatmap: price a string": _payload("pstr", _bastion(_level(0, "price", "109250"))),
    "heatmap: usd negative": _payload("uneg", _bastion(_level(1, "estimated_usd", -5))),
    "heatmap: usd infinite": _payload("uinf", _bastion(_level(1, "estimated_usd", float("inf")))),
    "heatmap: unknown level type": _payload("type", _bastion(_level(2, "type", "sideways_liquidations"))),
    "heatmap: levels not a list": _payload("lvl", _bastion(lambda d: d["heatmap"].__setitem__("levels", "many"))),
    "heatmap: current price zero": _payload("cp0", _bastion(lambda d: d.__setitem__("current_price", 0))),
    "heatmap: current price 1e300": _payload("cpbig", _bastion(lambda d: d.__setitem__("current_price", 1e300))),
    "heatmap: missing file": lambda folder, g: folder / "hm_missing.json",
}


def _cases() -> dict[str, tuple[str, Callable[[Path, dict[str, Frame], Path], list[str]]]]:
    """name -> (command group, argv builder (files folder, good frames, outputs folder))."""
    cases: dict[str, tuple[str, Callable[[Path, dict[str, Frame], Path], list[str]]]] = {}

    def p(g: dict[str, Frame], key: str) -> str:
        return str(g["_paths"][key])

    readers = {
        "backtest": lambda f, g, o: ["backtest", "--candles", f, "--warmup", "1h", "--signals", str(o / "s.jsonl"),
                                     "--json", str(o / "bt.json")],
        "paper": lambda f, g, o: ["paper", "--feed", "replay", "--candles", f, "--warmup", "1h",
                                  "--state", str(o / "state"), "--no-status"],
        "validate": lambda f, g, o: ["validate", "--candles", f, "--oi", p(g, "oi"), "--liquidations", p(g, "liq")],
        "heatmap build": lambda f, g, o: ["heatmap", "build", "--candles", f, "--oi", p(g, "oi"), "--symbol", "BTC",
                                          "--out", str(o / "store")],
        "heatmap plot": lambda f, g, o: ["heatmap", "plot", "--candles", f, "--oi", p(g, "oi"), "--symbol", "BTC",
                                         "--out", str(o / "plot.html")],
    }
    for name, writer in CANDLE_CASES.items():
        for group, build in readers.items():
            cases[f"{group} --candles {name}"] = (group, _with_file(writer, build))
    oi_readers = {
        "backtest": lambda f, g, o: ["backtest", "--candles", p(g, "candles"), "--oi", f, "--warmup", "1h",
                                     "--signals", str(o / "s.jsonl")],
        "paper": lambda f, g, o: ["paper", "--feed", "replay", "--candles", p(g, "candles"), "--oi", f,
                                  "--warmup", "1h", "--state", str(o / "state"), "--no-status"],
        "validate": lambda f, g, o: ["validate", "--candles", p(g, "candles"), "--oi", f,
                                     "--liquidations", p(g, "liq")],
        "heatmap build": lambda f, g, o: ["heatmap", "build", "--candles", p(g, "candles"), "--oi", f,
                                          "--symbol", "BTC", "--out", str(o / "store")],
    }
    for name, writer in OI_CASES.items():
        for group, build in oi_readers.items():
            cases[f"{group} --oi {name}"] = (group, _with_file(writer, build))
    f_readers = {
        "backtest": lambda f, g, o: ["backtest", "--candles", p(g, "candles"), "--funding", f, "--warmup", "1h",
                                     "--signals", str(o / "s.jsonl")],
        "paper": lambda f, g, o: ["paper", "--feed", "replay", "--candles", p(g, "candles"), "--funding", f,
                                  "--warmup", "1h", "--state", str(o / "state"), "--no-status"],
        "heatmap build": lambda f, g, o: ["heatmap", "build", "--candles", p(g, "candles"), "--oi", p(g, "oi"),
                                          "--funding", f, "--symbol", "BTC", "--out", str(o / "store")],
    }
    for name, writer in FUNDING_CASES.items():
        for group, build in f_readers.items():
            cases[f"{group} --funding {name}"] = (group, _with_file(writer, build))
    for name, writer in HEATMAP_CASES.items():
        cases[f"heatmap show {name}"] = ("heatmap show", _with_file(writer, lambda f, g, o: ["heatmap", "show", f]))
    for group, argv in ARGUMENT_CASES.items():
        for i, args in enumerate(argv):
            cases[f"{group} args {i}: {' '.join(args)}"] = (group, _fixed(args))
    for key, value, _needle in BAD_ENV:
        for group, args in (("config", ["config", "show"]), ("status", ["status"]), ("paper", ["paper"]),
                            ("backtest", ["backtest", "--candles", "c.feather"])):
            cases[f"{group} setting {key}={value!r}"] = (group, _env(key, value, args))
    return cases


def _with_file(writer: Writer, build: Callable[[str, dict[str, Frame], Path], list[str]]):
    def argv(folder: Path, good: dict[str, Frame], out: Path) -> list[str]:
        return build(str(writer(folder, good)), good, out)
    return argv


def _fixed(args: list[str]):
    def argv(folder: Path, good: dict[str, Frame], out: Path) -> list[str]:
        return [a.replace("{out}", str(out)).replace("{candles}", str(good["_paths"]["candles"])) for a in args]
    return argv


def _env(key: str, value: str, args: list[str]):
    def argv(folder: Path, good: dict[str, Frame], out: Path) -> list[str]:
        return [f"ENV:{key}={value}", *args, *(["--state", str(out / "state")] if args[0] in ("paper", "status")
                                              else [])]
    return argv


ARGUMENT_CASES: dict[str, list[list[str]]] = {
    "paper": [["paper", "--seed", "-1"], ["paper", "--seed", "99999999999"], ["paper", "--seed", "x"],
              ["paper", "--duration", "99999999w"], ["paper", "--duration", "0"], ["paper", "--duration", "-1h"],
              ["paper", "--duration", "soon"], ["paper", "--speed", "0"], ["paper", "--speed", "fast"],
              ["paper", "--speed", "inf"], ["paper", "--warmup", "99999999w"], ["paper", "--feed", "replay"],
              ["paper", "--feed", "moon"], ["paper", "--feed", "replay", "--candles", "{candles}", "--from",
                                             "2025-02-03", "--to", "2025-02-01"],
              ["paper", "--feed", "replay", "--candles", "{candles}", "--warmup", "30d"],
              ["paper", "--feed", "replay", "--candles", "{candles}", "--from", "1e30"],
              ["paper", "--feed", "replay", "--candles", "{candles}", "--symbols", "BTC/USDT:USDT", "ETH/USDT:USDT"],
              ["paper", "--state", "{out}/afile"], ["paper", "--conf"], ["--log-level", "LOUD", "paper"]],
    "status": [["status", "--trades", "-1"], ["status", "--trades", "many"], ["status", "--state", "{out}/none"],
               ["status", "--state", "{out}/afile"], ["status", "--json", "--trades", "-5"]],
    "risk": [["risk", "show", "--state", "{out}/none"], ["risk", "reset", "--state", "{out}/afile"], ["risk"]],
    "backtest": [["backtest"], ["backtest", "--candles", "{candles}", "--from", "2025-02-03", "--to", "2025-02-01"],
                 ["backtest", "--candles", "{candles}", "--warmup", "99999999w"],
                 ["backtest", "--candles", "{candles}", "--warmup", "banana"],
                 ["backtest", "--candles", "{candles}", "--strategies", "moon_shot"],
                 ["backtest", "--candles", "{candles}", "--from", "99999999999999999999"],
                 ["backtest", "--candles", "{candles}", "--json", "{out}/missing/bt.json"],
                 ["backtest", "--candles", "{candles}", "--report", "{out}"],
                 ["backtest", "--candles", "{candles}", "--signals", "{out}/missing/s.jsonl"],
                 ["backtest", "--candles", "{candles}", "--heatmaps", "{out}/nostore"],
                 ["backtest", "--candles", "{candles}", "--warmup", "30d"],
                 ["backtest", "--candles", "{candles}", "--fine-candles", "{candles}"], ["backtest", "--cand", "x"]],
    "validate": [["validate", "--candles", "{candles}"], ["validate", "--candles", "{candles}", "--oi", "{candles}",
                                                          "--liquidations", "{candles}", "--warmup-h", "inf"]],
    "signals": [["signals"], ["signals", "review", "{candles}", "--limit", "-5"], ["signals", "review",
                                                                                  "{out}/none.jsonl"],
                ["signals", "show"], ["signals", "review", "{candles}", "--since", "soonish"]],
    "heatmap build": [["heatmap", "build", "--candles", "{candles}", "--oi", "{candles}", "--out", "{out}/afile"],
                      ["heatmap", "build", "--candles", "{candles}", "--oi", "{candles}", "--every", "7m",
                       "--out", "{out}/s"], ["heatmap"]],
    "heatmap plot": [["heatmap", "plot", "--candles", "{candles}", "--oi", "{candles}", "--out", "{out}/p.txt"],
                     ["heatmap", "plot", "--candles", "{candles}", "--oi", "{candles}", "--out", "{out}"],
                     ["heatmap", "plot", "--candles", "{candles}", "--oi", "{candles}", "--out",
                      "{out}/missing/p.html"]],
    "heatmap show": [*(["heatmap", "show", str(EXAMPLES / "bastion_btc.json"), "--price", p] for p in
                       ("1e300", "nan", "-1", "0", "inf", "lots")),
                     ["heatmap", "show", str(EXAMPLES / "bastion_btc.json"), "--format", "moon"]],
    "live": [["live"], ["live", "--c"], ["live", "--conf"], ["live", "--confirm"], ["live", "--confirm-live"]],
    "config": [["config"], ["config", "show", "--jsn"], ["--config", "{out}/none.toml", "config", "show"]],
    "cli": [[], ["moon"], ["--log-level", "LOUD", "status"], ["--log-level", "", "status"], ["--versio"]],
}

CASES = _cases()


@pytest.fixture(scope="module")
def good(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Frame]]:
    """The real inputs every mutation starts from, and a folder for the mutated files."""
    folder = tmp_path_factory.mktemp("corpus")
    candles = pd.read_feather(shared_data / BTC5)
    week = (candles.date >= "2025-02-01") & (candles.date < "2025-02-04")
    frames = {"candles": candles[week].reset_index(drop=True),
              "oi": pd.read_parquet(shared_data / OI), "funding": pd.read_feather(shared_data / FUND)}
    paths = {"candles": folder / "good_candles.feather", "oi": shared_data / OI, "funding": shared_data / FUND,
             "liq": shared_data / LIQ}
    frames["candles"].to_feather(paths["candles"])
    frames["_paths"] = paths  # type: ignore[assignment]
    return folder, frames


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_keeps_the_promise(good: tuple[Path, dict[str, Frame]], run_cli, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    folder, frames = good
    out = tmp_path / "out"
    out.mkdir()
    (out / "afile").write_text("a file, not a folder")
    _group, build = CASES[name]
    argv = build(folder, frames, out)
    while argv and argv[0].startswith("ENV:"):
        key, _, value = argv.pop(0)[4:].partition("=")
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LIQBOT_EXCHANGE__API_KEY", "")
    before = tree_digest(out)
    assert_refused(run_cli(*argv))
    assert tree_digest(out) == before  # outputs untouched: nothing created, nothing changed


def test_corpus_size() -> None:
    """N cases by command group (printed with -s; the issue asks for hundreds)."""
    by_group = Counter(group for group, _ in CASES.values())
    print(f"\nbad-input corpus: {len(CASES)} cases: " + ", ".join(f"{g} {n}" for g, n in sorted(by_group.items())))
    assert len(CASES) >= 300
