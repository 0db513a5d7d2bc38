"""Search spaces declared beside the parameters they search (the optimiser reads them from here).

A settings or ``Params`` field that the research loop may tune says so where it is defined::

    min_strength: float = searchable(0.6, low=0.3, high=0.9, ge=0, le=1, description="...")
    atr_mult: float = searchable(1.5, low=0.5, high=4.0, log=True, gt=0, description="...")
    entry: str = searchable("typical", choices=("typical", "close", "vwap"), description="...")

``searchable`` is ``pydantic.Field`` plus the range, kept in the field's ``json_schema_extra``
under ``"search"`` (so the exported JSON schema shows it too). :func:`space_of` walks a model
class, nested models included, and returns every declared dimension by its dotted settings key
(``strategies.liquidation_hunt.min_strength``), which is also the key a TOML override uses.
One declaration, three readers: the settings (default and validation), the optimiser (range),
the docs (schema).
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, Field

SEARCH_KEY = "search"


@dataclass(frozen=True, slots=True)
class Range:
    """A numeric dimension: ``low..high`` (inclusive), on a log scale when ``log``, on ``step`` when set."""

    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"search range needs finite low < high, got {self.low}..{self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log search range needs low > 0, got {self.low}")
        if self.step is not None and not (math.isfinite(self.step) and self.step > 0):
            raise ValueError(f"search step must be finite and > 0, got {self.step}")

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the range."""
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class Choice:
    """A categorical dimension: one of ``options`` (numbers, strings or booleans)."""

    options: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.options) < 2 or len(set(map(repr, self.options))) != len(self.options):
            raise ValueError(f"a search choice needs two or more distinct options, got {self.options!r}")

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one of the options."""
        return value in self.options


Dimension = Range | Choice


def searchable(default: Any, *, low: float | None = None, high: float | None = None, log: bool = False,
               step: float | None = None, choices: tuple[Any, ...] | None = None, **field: Any) -> Any:
    """``pydantic.Field(default, **field)`` that also declares the field's search space.

    Give ``low`` and ``high`` (plus ``log``/``step``) for a number, or ``choices`` for a category.
    The default must lie inside the space (a search that cannot reach the default is a typo).
    """
    if choices is not None:
        if low is not None or high is not None:
            raise ValueError("searchable: give choices or low/high, not both")
        dim: Dimension = Choice(tuple(choices))
    elif low is not None and high is not None:
        dim = Range(float(low), float(high), log, step, integer=isinstance(default, int)
                    and not isinstance(default, bool))
    else:
        raise ValueError("searchable: needs low and high, or choices")
    if not dim.contains(default):
        raise ValueError(f"searchable: default {default!r} lies outside its search space {dim}")
    extra = dict(field.pop("json_schema_extra", None) or {})
    extra[SEARCH_KEY] = _to_json(dim)
    return Field(default, json_schema_extra=extra, **field)


def dimension_of(extra: Any) -> Dimension | None:
    """The dimension stored in a field's ``json_schema_extra`` (None when it declares none)."""
    if not isinstance(extra, dict) or SEARCH_KEY not in extra:
        return None
    raw = extra[SEARCH_KEY]
    if "choices" in raw:
        return Choice(tuple(raw["choices"]))
    return Range(raw["low"], raw["high"], raw.get("log", False), raw.get("step"), raw.get("integer", False))


def space_of(model: type[BaseModel], prefix: str = "") -> dict[str, Dimension]:
    """Every declared dimension of ``model`` and its nested models, by dotted key, in field order."""
    out: dict[str, Dimension] = {}
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        dim = dimension_of(info.json_schema_extra)
        if dim is not None:
            out[key] = dim
        nested = _model_type(info.annotation)
        if nested is not None:
            out.update(space_of(nested, f"{key}."))
    return out


def _model_type(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        models = [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if len(models) == 1 else None
    return None


def _to_json(dim: Dimension) -> dict[str, Any]:
    if isinstance(dim, Choice):
        return {"choices": list(dim.options)}
    out: dict[str, Any] = {"low": dim.low, "high": dim.high}
    if dim.log:
        out["log"] = True
    if dim.step is not None:
        out["step"] = dim.step
    if dim.integer:
        out["integer"] = True
    return out
