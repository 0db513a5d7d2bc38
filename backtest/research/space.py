"""Which parameters a study searches, how Optuna suggests them, how a trial's values become settings.

Dimensions come from the ``searchable`` declarations on the settings and ``Params`` fields
(``bot.search_space.space_of``), by dotted settings key. A trial's values are applied to the
settings section by section through pydantic validation, so a value outside a field's own
constraints is rejected exactly as a TOML file carrying it would be; the best values are written
as a TOML file that ``--config`` accepts.
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from typing import Any, Mapping

import numpy as np
from pydantic import BaseModel, ValidationError

from bot.errors import ConfigError, DataError
from bot.search_space import Choice, Dimension, Range, space_of

COMBINED = "combined"


class SpaceKind(StrEnum):
    """The named groups of ``--space``."""

    STRATEGIES = "strategies"   # strategy thresholds and exits, filters, cooldown, sizing: reuse the heatmaps
    MODEL = "model"             # the synthetic model and the cluster tracker
    ALL = "all"


MODEL_PREFIXES = ("synthetic.", "clusters.")


def full_space() -> dict[str, Dimension]:
    """Every declared dimension of the settings tree."""
    from config.settings import Settings
    return space_of(Settings)


def select_space(spec: str, strategy: str, enabled: list[str]) -> dict[str, Dimension]:
    """The dimensions of ``--space`` for a study of ``strategy`` (a strategy name or ``combined``).

    ``strategies``/``model``/``all``, or comma-separated dotted keys (a key that names a section
    takes every dimension under it). Parameters of strategies the study does not run are left out.
    """
    space = full_space()
    runs = set(enabled) if strategy == COMBINED else {strategy, *({"oi_sizing"} & set(enabled))}
    from strategies.registry import ALL_NAMES

    def relevant(key: str) -> bool:
        parts = key.split(".")
        return not (parts[0] == "strategies" and len(parts) > 2 and parts[1] in ALL_NAMES and parts[1] not in runs)

    text = spec.strip()
    if text in tuple(SpaceKind):
        kind = SpaceKind(text)
        keys = [k for k in space if kind is SpaceKind.ALL or (kind is SpaceKind.MODEL) == k.startswith(MODEL_PREFIXES)]
    else:
        keys = []
        for name in (n.strip() for n in text.split(",") if n.strip()):
            hit = [k for k in space if k == name or k.startswith(name + ".")]
            if not hit:
                raise DataError(f"no searchable parameter '{name}'", field="--space")
            keys += [k for k in hit if k not in keys]
    out = {k: space[k] for k in keys if relevant(k)}
    if not out:
        raise DataError(f"nothing to search for {strategy} in '{spec}'", field="--space")
    return out


def suggest(trial: Any, space: Mapping[str, Dimension]) -> dict[str, Any]:
    """One value per dimension from an Optuna trial."""
    out: dict[str, Any] = {}
    for key, dim in space.items():
        if isinstance(dim, Choice):
            out[key] = trial.suggest_categorical(key, list(dim.options))
        elif dim.integer:
            out[key] = trial.suggest_int(key, int(dim.low), int(dim.high), log=dim.log,
                                         step=int(dim.step) if dim.step and not dim.log else 1)
        else:
            out[key] = trial.suggest_float(key, dim.low, dim.high, log=dim.log,
                                           step=None if dim.log else dim.step)
    return out


def grid(space: Mapping[str, Dimension], trials: int) -> dict[str, list[Any]]:
    """A grid with about ``trials`` points: the same number of evenly spaced values per numeric dimension
    (log-spaced on a log range, whole numbers on an integer range), every option of a choice."""
    numeric = [d for d in space.values() if isinstance(d, Range)]
    fixed = int(np.prod([len(d.options) for d in space.values() if isinstance(d, Choice)] or [1]))
    per = max(2, int(math.floor((max(trials, 1) / fixed) ** (1.0 / len(numeric)) + 1e-9))) if numeric else 0
    out: dict[str, list[Any]] = {}
    for key, dim in space.items():
        if isinstance(dim, Choice):
            out[key] = list(dim.options)
            continue
        pts = (np.geomspace(dim.low, dim.high, per) if dim.log else np.linspace(dim.low, dim.high, per))
        if dim.integer:
            out[key] = sorted({int(round(p)) for p in pts})
        else:
            out[key] = [float(round(p, 10)) for p in pts]
    return out


def apply_params(settings: Any, params: Mapping[str, Any]) -> Any:
    """``settings`` with the dotted-key ``params`` set, each touched section re-validated."""
    tree: dict[str, Any] = {}
    for key, value in params.items():
        node = tree
        *path, leaf = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        return _merge(settings, tree, "", root=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"optimize: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def _merge(model: BaseModel, tree: Mapping[str, Any], prefix: str, root: bool = False) -> BaseModel:
    updates: dict[str, Any] = {}
    for name, sub in tree.items():
        if name not in type(model).model_fields:
            raise ConfigError(f"optimize: unknown setting '{prefix}{name}'")
        current = getattr(model, name)
        updates[name] = _merge(current, sub, f"{prefix}{name}.") if isinstance(sub, Mapping) else sub
    if root:  # the root is a BaseSettings (its constructor reads the sources again): its sections are validated
        return model.model_copy(update=updates)
    data = {n: getattr(model, n) for n in type(model).model_fields}
    data.update(updates)
    return type(model).model_validate(data)


def to_toml(params: Mapping[str, Any], header: list[str]) -> str:
    """The dotted-key ``params`` as TOML tables (``[strategies.liquidation_hunt]``), ``header`` as comments."""
    tables: dict[str, dict[str, Any]] = {}
    for key in sorted(params):
        table, _, leaf = key.rpartition(".")
        tables.setdefault(table, {})[leaf] = params[key]
    lines = [f"# {h}" for h in header]
    for table, values in sorted(tables.items()):
        lines += ["", f"[{table}]"] if table else [""]
        lines += [f"{leaf} = {_toml_value(v)}" for leaf, v in values.items()]
    return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            raise ValueError(f"TOML cannot hold {v}")
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v)
    raise ValueError(f"no TOML form for {v!r}")
