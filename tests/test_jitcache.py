"""numba's cache for liqbot's kernels is stamped with the whole source tree (bot.jitcache)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numba
import vectorbt.portfolio.nb as vbt_nb

import bot.clusters.kernel as ck
from bot.jitcache import OURS, ROOT, is_ours, source_hash


def test_liqbot_kernels_carry_the_tree_stamp_and_others_do_not() -> None:
    locator = ck.quantile_kernel._cache._impl.locator
    assert type(locator).__module__ == "bot.jitlocators"
    assert locator.get_source_stamp() == source_hash() and len(source_hash()) == 16
    assert is_ours(ck.__file__) and not is_ours(vbt_nb.__file__) and not is_ours(numba.__file__)
    assert numba.config.CACHE_LOCATOR_CLASSES.split(",")[: len(OURS)] == list(OURS)


def test_any_source_change_changes_the_stamp(tmp_path: Path) -> None:
    """A copy of the tree with one callee edited hashes differently (so every kernel recompiles)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from bot.jitcache import source_hash; "
            "print(source_hash())")
    for pkg in ("bot", "strategies", "backtest"):
        subprocess.run(["cp", "-r", str(ROOT / pkg), str(tmp_path / pkg)], check=True)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = lambda: subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,  # noqa: E731
                                 check=True, env=env, cwd=tmp_path).stdout.strip()
    before = run()
    assert before == source_hash()
    target = tmp_path / "bot" / "clusters" / "kernel_group.py"
    target.write_text(target.read_text() + "\n# edited\n")
    assert run() != before
