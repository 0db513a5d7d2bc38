"""The explicit strategy registry: name -> (function, Params class).

Registration is written out here, not done by import side effects, so the set of strategies
is visible in one place and a typo in a name is an error with a did-you-mean hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from bot.domain import Cluster, HeatmapSnapshot, MagnetRead, MarketContext
from strategies.breakout import BreakoutParams, breakout
from strategies.candidate import Candidate
from strategies.hunt import HuntParams, liquidation_hunt
from strategies.params import Params, unknown_key_message
from strategies.signal import StrategyName
from strategies.sizing import OISizingParams, oi_sizing
from strategies.support_resistance import SupportResistanceParams, support_resistance

StrategyFn = Callable[[HeatmapSnapshot, Sequence[Cluster], MarketContext, MagnetRead, Any], list[Candidate]]
OI_SIZING = "oi_sizing"


@dataclass(frozen=True, slots=True)
class StrategyEntry:
    """A registered strategy: its function and its Params class."""

    name: str
    func: Callable[..., Any]
    params: type[Params]


STRATEGIES: Mapping[StrategyName, StrategyEntry] = MappingProxyType({
    StrategyName.LIQUIDATION_HUNT: StrategyEntry(StrategyName.LIQUIDATION_HUNT, liquidation_hunt, HuntParams),
    StrategyName.SUPPORT_RESISTANCE: StrategyEntry(StrategyName.SUPPORT_RESISTANCE, support_resistance,
                                                   SupportResistanceParams),
    StrategyName.BREAKOUT: StrategyEntry(StrategyName.BREAKOUT, breakout, BreakoutParams),
})
SIZING = StrategyEntry(OI_SIZING, oi_sizing, OISizingParams)
ALL_NAMES: tuple[str, ...] = (*(s.value for s in STRATEGIES), OI_SIZING)


def lookup(name: str) -> StrategyEntry:
    """The entry registered under ``name`` (one of ``ALL_NAMES``); unknown names raise with a hint."""
    if name == OI_SIZING:
        return SIZING
    if name in ALL_NAMES:
        return STRATEGIES[StrategyName(name)]
    raise ValueError(unknown_key_message("strategy", name, list(ALL_NAMES)))


def build_params(name: str, table: Mapping[str, Any] | None = None) -> Params:
    """Typed params of strategy ``name`` from a table; unknown keys raise with a did-you-mean hint."""
    return lookup(name).params.from_table(table)
