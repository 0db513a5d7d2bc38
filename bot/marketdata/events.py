"""Binance ``forceOrder`` liquidation records: events, and their aggregation into bars.

A record is the liquidation ORDER the exchange sent: ``SELL`` closes a long (a long was
liquidated), ``BUY`` closes a short. The USD size is recomputed as ``price * filled qty``
because the recorded ``usd_size`` is sometimes mis-scaled; the first line of a dump may start
with stray text before the symbol, which is stripped and recorded in ``attrs["repairs"]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.domain import Side
from bot.errors import DataError
from bot.marketdata import validate as v
from bot.marketdata.formats import RawTable, parse_time

_SYMBOL = r"[A-Z0-9]+(?:_[A-Z0-9]+)?"  # base asset, or a delivery contract like BTC_250627
_USD_TOLERANCE = 1e-6  # relative; the recorded usd_size is a float product, so allow rounding only


def forceorder_events(raw: RawTable) -> pd.DataFrame:
    """One row per liquidation: side, price, qty, usd, symbol; index ts = trade time (UTC)."""
    frame, source = raw.frame, raw.source
    ts = parse_time(frame["trade_time_ms"], column="trade_time_ms", source=source)
    repairs = list(raw.repairs)
    symbol = _symbols(frame["symbol"].astype("string").str.strip(), source, repairs)
    side_text = frame["side"].astype("string").str.strip().str.upper()
    bad = ~side_text.isin(["BUY", "SELL"]).fillna(False).to_numpy(dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"side must be BUY or SELL, got {frame['side'].iloc[row]!r}", field="side",
                        position=f"row {row}", source=source)
    codes, names = pd.factorize(symbol)
    # Side and symbol travel as numbers so that the vectorized duplicate check sees whole rows.
    values = {"price": v.numeric(frame, "price", source),
              "qty": v.numeric(frame, "filled_accumulated_qty", source),
              "side": np.where(side_text.to_numpy() == "SELL", 1.0, -1.0),
              "symbol": codes.astype(np.float64),
              "usd_size": v.numeric(frame, "usd_size", source)}
    batch = v.Batch(ts, values, np.arange(len(ts)), source, "trade_time_ms", repairs)
    v.drop_duplicates(batch, unique_ts=False)  # several liquidations can share a millisecond
    v.check_order(batch, strict=False)
    v.check_finite(batch, ("price", "qty"))
    v.check_min(batch, "price", 0.0, inclusive=False)
    v.check_min(batch, "qty", 0.0, inclusive=False)
    usd = batch.values["price"] * batch.values["qty"]
    recorded = batch.values["usd_size"]
    off = ~(np.abs(recorded - usd) <= _USD_TOLERANCE * usd)
    if off.any():
        i = int(np.flatnonzero(off)[0])
        batch.repairs.append(f"usd recomputed as price*qty; usd_size disagreed on {int(off.sum())} row(s), "
                             f"e.g. row {int(batch.rows[i])}: {recorded[i]} vs {usd[i]}")
    out = pd.DataFrame({"side": np.where(batch.values["side"] > 0, Side.LONG.value, Side.SHORT.value),
                        "price": batch.values["price"], "qty": batch.values["qty"], "usd": usd,
                        "symbol": np.asarray(names, dtype=object)[batch.values["symbol"].astype(np.int64)]},
                       index=pd.DatetimeIndex(batch.ts, name="ts"))
    out.attrs.update(kind="liquidations", source=source, timeframe=None, index="event_time",
                     repairs=batch.repairs, gaps=0, missing_bars=0)
    return out


def _symbols(symbol: pd.Series, source: str, repairs: list[str]) -> pd.Series:
    """Symbols must be upper-case base assets; stray text glued before one is cut off."""
    ok = symbol.str.fullmatch(_SYMBOL).fillna(False).to_numpy(dtype=bool)
    if ok.all():
        return symbol
    bad = np.flatnonzero(~ok)
    tail = symbol.iloc[bad].str.extract(f"({_SYMBOL})$", expand=False)
    if tail.isna().any():
        row = int(bad[int(np.flatnonzero(tail.isna().to_numpy())[0])])
        raise DataError(f"not a symbol: {symbol.iloc[row]!r}", field="symbol", position=f"row {row}", source=source)
    first, fixed = int(bad[0]), tail.iloc[0]
    stray = str(symbol.iloc[first])[: -len(fixed)]
    repairs.append(f"stripped stray text before the symbol on {bad.size} row(s), "
                   f"e.g. row {first}: {stray!r} before {fixed!r}")
    out = symbol.copy()
    out.iloc[bad] = tail.to_numpy()
    return out


def liquidations_to_bars(df: pd.DataFrame, timeframe: str, *, symbol: str | None = None) -> pd.DataFrame:
    """Sum liquidation events into ``long_usd``/``short_usd`` bars indexed by bar open (epoch-
    anchored, like exchange candles), every bar from the first to the last event present (0.0
    when none happened). ``symbol`` keeps one symbol (as in the records, e.g. "BTC")."""
    for col in ("side", "usd"):
        if col not in df.columns:
            raise DataError("missing required column", field=col, source=df.attrs.get("source"))
    delta = v.timedelta(timeframe)
    events = df if symbol is None else df[df["symbol"] == symbol]
    is_long = (events["side"] == Side.LONG.value).to_numpy(dtype=bool)
    usd = events["usd"].to_numpy(dtype=np.float64)
    bars = pd.DataFrame({"long_usd": np.where(is_long, usd, 0.0), "short_usd": np.where(is_long, 0.0, usd)},
                        index=pd.DatetimeIndex(events.index).as_unit("ns").floor(delta))
    summed = bars.groupby(level=0).sum()
    if len(summed):
        full = pd.date_range(summed.index[0], summed.index[-1], freq=delta, name="ts")
        summed = summed.reindex(full, fill_value=0.0)
    summed.index.name = "ts"
    summed.attrs.update(kind="liquidations", source=df.attrs.get("source"), timeframe=timeframe, index="bar_open",
                        source_format=f"{df.attrs.get('source_format', 'events')}->bars",
                        repairs=list(df.attrs.get("repairs", [])), gaps=0, missing_bars=0, symbol=symbol)
    return summed
