"""Numpy record dtypes generated from pydantic parameter models, so numba kernels read named fields.

A kernel takes a record (``p.min_strength``) instead of a float array read at integer indices: the
layout is the model's own field list, so it can never drift from the settings. Numbers only:
``float`` fields become float64, ``int`` int64, ``bool`` bool, a nested model a nested record;
fields of any other type (a per-symbol table, a list of names) are not part of the record and
are resolved by the caller before the kernel runs. Records pass into ``@njit(cache=True)``
kernels (nested ones too) on the installed numba.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel

_SCALARS: dict[Any, Any] = {float: np.float64, int: np.int64, bool: np.bool_}


def field_dtype(annotation: Any) -> Any:
    """The numpy type of one field annotation, a nested dtype for a model, or None when not numeric."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return record_dtype(annotation)
    return _SCALARS.get(annotation)


@lru_cache(maxsize=None)
def record_dtype(model: type[BaseModel]) -> np.dtype:
    """The record dtype of ``model``'s numeric fields, in declaration order."""
    fields = [(name, dt) for name, info in model.model_fields.items()
              if (dt := field_dtype(info.annotation)) is not None]
    return np.dtype(fields)


def fill(rec: Any, values: BaseModel) -> None:
    """Write the numeric fields of ``values`` into record ``rec`` (its dtype from ``record_dtype``)."""
    for name in rec.dtype.names:
        v = getattr(values, name)
        if isinstance(v, BaseModel):
            fill(rec[name], v)
        else:
            rec[name] = v


def to_record(values: BaseModel) -> Any:
    """A fresh record (``np.void``) holding ``values``."""
    rec = np.zeros(1, record_dtype(type(values)))[0]
    fill(rec, values)
    return rec
