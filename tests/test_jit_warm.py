"""``liqbot jit warm`` and the compile notice of a first run (bot.cli.jitwarm, bot.jitprogress)."""

from __future__ import annotations

import io
import json
from typing import Any

import numba

from bot.jitprogress import HEADER, compile_notice


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def fresh_kernels() -> tuple[Any, Any]:
    """Two new (uncached) njit functions, the outer calling the inner."""
    @numba.njit
    def inner(x: float) -> float:
        return x * 2.0

    @numba.njit
    def outer(x: float) -> float:
        return inner(x) + 1.0

    return inner, outer


def test_a_compile_is_announced_once_with_one_line_per_outermost_kernel() -> None:
    _, outer = fresh_kernels()
    out = io.StringIO()
    with compile_notice(out) as log:
        assert outer(1.0) == 3.0
        assert outer(2.0) == 5.0  # compiled already: nothing more to say
    lines = out.getvalue().splitlines()
    assert lines[0] == HEADER
    assert len(lines) == 3 and "fresh_kernels.<locals>.outer" in lines[1] and "(+1 callees)" in lines[1]
    assert lines[2].startswith("liqbot: compiled 1 kernels in ") and len(log.kernels) == 1


def test_on_a_terminal_the_name_shows_while_it_compiles() -> None:
    _, outer = fresh_kernels()
    out = Tty()
    with compile_notice(out):
        outer(1.0)
    text = out.getvalue()
    assert "  [1] " in text and "outer ..." in text and " s (+1 callees)" in text


def test_nothing_is_said_when_nothing_compiles() -> None:
    _, outer = fresh_kernels()
    outer(1.0)
    out = io.StringIO()
    with compile_notice(out) as log:
        outer(3.0)
    assert out.getvalue() == "" and log.kernels == []


def test_jit_warm_readies_the_kernels_the_commands_use(run_cli: Any) -> None:
    code, out, err = run_cli("jit", "warm", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ready"] + len(report["unused"]) == report["kernels"] and report["ready"] > len(report["unused"])
    assert set(report["steps"]) == {"paper_sim_s", "backtest_s"}
    assert not any(name.startswith("backtest.fused") for name in report["unused"])
    assert report["compiled"] + report["loaded_from_cache"] > 0  # outermost kernels only: callees ride inside
