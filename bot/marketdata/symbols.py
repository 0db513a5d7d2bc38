"""Which market a data file holds, read from its name (and a ``symbol`` column when it has one).

Backtests and replays used to run ETH or XRP candles as the configured BTC symbol, with BTC's
settings. Every file a command reads is asked for its symbol; the answers must agree with each
other and with ``--symbol`` (``ETHUSDT``, ``ETH-USDT``, ``ETH_USDT_USDT-5m`` and ``ETH/USDT:USDT``
are one symbol), and the command then runs as that symbol, so per-symbol settings apply.

Names understood: freqtrade (``ETH_USDT_USDT-5m-futures.feather``, ``ETH_USDT-5m.feather``),
Binance and liqbot downloads (``ETHUSDT-5m-2025-01.csv``, ``ETHUSDT-candles-5m.csv``), hyphenated
pairs (``ETH-USDT-5m.csv``, ``ETH-USDT-SWAP``) and CoinGlass dumps, which name the coin only
(``..._history_BTC.parquet``: compared by base asset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from bot.errors import DataError
from bot.heatmap.parsers.checks import unified_symbol

_QUOTES = "USDT|USDC|BUSD|USD"
_PATTERNS = (
    re.compile(rf"^([A-Z0-9]{{2,15}})_({_QUOTES})(?:_({_QUOTES}))?(?=[-_.]|$)"),       # freqtrade
    re.compile(rf"^([A-Z0-9]{{2,15}})-({_QUOTES})(?:-(?:SWAP|PERP))?(?=[-_.]|$)"),    # ETH-USDT
    re.compile(rf"^([A-Z0-9]{{2,15}}?)({_QUOTES})(?=[-_.]|$)"),                       # ETHUSDT-5m
)
# the coin follows the endpoint's last word; an exchange may follow it (``..._history_BTC_BINANCE``),
# and files of the whole market (``..._ratio_history``) name no coin
_COINGLASS = re.compile(r"^API_.*_(?:HISTORY|CHART|STABLECOIN|MARGIN)_([A-Z0-9]{2,10})(?:_[A-Z]+)?$")


@dataclass(frozen=True, slots=True)
class SymbolHint:
    """What one file says about its market: a unified symbol, or only the base asset."""

    flag: str          # the option that named the file, e.g. --candles
    path: Path
    symbol: str        # unified, e.g. ETH/USDT:USDT
    base_only: bool = False

    @property
    def base(self) -> str:
        """The base asset (``ETH``)."""
        return self.symbol.split("/")[0]

    def agrees(self, symbol: str) -> bool:
        """Whether ``symbol`` (unified) is this file's market."""
        return symbol.split("/")[0] == self.base if self.base_only else symbol == self.symbol

    def __str__(self) -> str:
        return f"{self.flag} {self.path.name} ({self.base if self.base_only else self.symbol})"


def normalize(raw: str, field: str = "--symbol") -> str:
    """``raw`` as a ccxt unified perpetual symbol; one-line ``DataError`` when it is none."""
    try:
        return unified_symbol(raw)
    except ValueError as exc:
        raise DataError(str(exc), field=field) from None


def hint_of(path: Path, flag: str) -> SymbolHint | None:
    """The symbol ``path``'s name spells, or ``None``."""
    stem = path.name.upper()
    for suffix in (".GZ", ".ZIP", ".FEATHER", ".PARQUET", ".CSV", ".JSON", ".JSONL"):
        stem = stem.removesuffix(suffix)
    for pattern in _PATTERNS:
        m = pattern.match(stem)
        if m:
            base, quote, *rest = m.groups()
            settle = rest[0] if rest and rest[0] else quote
            return SymbolHint(flag, path, f"{base}/{quote}:{settle}")
    m = _COINGLASS.match(stem)
    if m:
        return SymbolHint(flag, path, f"{m.group(1)}/USDT:USDT", base_only=True)
    return None


def resolve(explicit: str | None, files: Iterable[tuple[str, Path | None]], configured: Sequence[str]) -> str:
    """The symbol a command runs as: ``--symbol`` or the files' own, checked against each other.

    Files that disagree with each other or with ``--symbol`` are a ``DataError`` naming both; with
    no ``--symbol`` and no file that names its market, the first configured symbol is used.
    """
    hints = [h for flag, path in files if path is not None and (h := hint_of(Path(path), flag)) is not None]
    full = [h for h in hints if not h.base_only]
    for h in full[1:]:
        if h.symbol != full[0].symbol:
            raise DataError(f"the files disagree on the symbol: {full[0]} vs {h}", field=h.flag)
    chosen = normalize(explicit) if explicit else (full[0].symbol if full else None)
    if chosen is None and hints:
        chosen = hints[0].symbol
    if chosen is None:
        return normalize(configured[0], "symbols")
    for h in hints:
        if not h.agrees(chosen):
            what = "--symbol" if explicit else str(full[0] if full else hints[0])
            raise DataError(f"{h} is not {chosen} ({what})", field=h.flag)
    return chosen
