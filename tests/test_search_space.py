"""Search spaces declared with the fields they search (bot.search_space)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from bot.search_space import Choice, Range, searchable, space_of


class Inner(BaseModel):
    k: float = searchable(1.5, low=0.5, high=4.0, log=True, gt=0, description="k")
    n: int = searchable(12, low=0, high=48, step=4, ge=0)
    plain: float = 3.0


class Outer(BaseModel):
    mode: str = searchable("a", choices=("a", "b"))
    inner: Inner = Inner()
    maybe: Inner | None = None


def test_space_walks_nested_models_by_dotted_key() -> None:
    space = space_of(Outer)
    assert list(space) == ["mode", "inner.k", "inner.n", "maybe.k", "maybe.n"]
    assert space["mode"] == Choice(("a", "b"))
    assert space["inner.k"] == Range(0.5, 4.0, log=True)
    assert space["inner.n"] == Range(0.0, 48.0, step=4, integer=True)
    assert space_of(Outer, "x.")["x.inner.k"].contains(2.0)


def test_searchable_keeps_the_field_a_normal_field() -> None:
    assert Inner().k == 1.5 and Inner(k=2.0).k == 2.0
    with pytest.raises(ValueError):
        Inner(k=-1.0)
    assert Inner.model_json_schema()["properties"]["k"]["search"] == {"low": 0.5, "high": 4.0, "log": True}


@pytest.mark.parametrize("kwargs", [{"low": 2.0, "high": 1.0}, {"low": 0.0, "high": 1.0, "log": True},
                                    {"low": 5.0, "high": 9.0}, {"choices": ("x",)}, {},
                                    {"low": 0.0, "high": 2.0, "choices": (1, 2)}])
def test_bad_declarations_fail_at_definition(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        searchable(1.0, **kwargs)
