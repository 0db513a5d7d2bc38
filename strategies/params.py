"""Typed strategy parameters: the base class every strategy's ``Params`` derives from.

An unknown parameter is an error that names it and suggests the closest known one, so a
typo in a TOML table (``min_strenght``) is caught at load time instead of silently ignored.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from bot.search_space import searchable
from pydantic import BaseModel, ConfigDict, model_validator


def unknown_key_message(kind: str, key: str, known: list[str]) -> str:
    """``unknown <kind> 'key' (did you mean 'x'?)`` or the list of known keys when nothing is close."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(known))}"
    return f"unknown {kind} '{key}' ({hint})"


class Params(BaseModel):
    """Base of strategy parameters: frozen, finite numbers, unknown keys rejected with a hint."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    raise ValueError(unknown_key_message("parameter", str(key), known))
        return data

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None = None) -> "Params":
        """Build from a settings table; unknown keys raise ``ValueError`` with a did-you-mean hint."""
        return cls.model_validate(dict(table or {}))


class ExitParams(Params):
    """Where exits sit relative to cluster zones (shared by the directional strategies)."""

    sl_buffer_pct: float = searchable(0.05, low=0.0, high=0.5, ge=0,
                                      description="Stops sit this far beyond a level or zone, percent.")
    tp_buffer_pct: float = searchable(0.05, low=0.0, high=0.5, ge=0,
                                      description="Take-profit this far before the target zone, percent.")


class TargetParams(ExitParams):
    """Exits of strategies whose target is the next cluster in the trade's direction."""

    target_min_strength: float = searchable(0.3, low=0.0, high=0.9, ge=0, le=1,
                                            description="Weakest cluster used as a target.")
