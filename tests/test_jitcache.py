"""numba's cache for liqbot's kernels is stamped per module with its import closure (bot.jitcache)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import vectorbt.portfolio.nb as vbt_nb

import bot.clusters.kernel as ck
from bot.jitcache import OURS, ROOT, SOURCE_PACKAGES, import_closure, is_ours, stamp_of

KERNEL_FILES = ("backtest/fused.py", "bot/clusters/kernel_track.py", "bot/clusters/kernel_group.py",
                "bot/clusters/kernel_select.py", "strategies/kernel.py", "strategies/kernel_round.py")


def copy_tree(dest: Path) -> Path:
    """A copy of the source packages (no caches) to edit without touching the checkout."""
    for pkg in SOURCE_PACKAGES:
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def stamps(tree: Path) -> dict[str, str]:
    """Each kernel module's stamp, computed in a fresh process on ``tree``."""
    code = ("import json, sys; from bot.jitcache import stamp_of, ROOT; "
            "print(json.dumps({f: stamp_of(str(ROOT / f)) for f in sys.argv[1:]}))")
    out = subprocess.run([sys.executable, "-c", code, *KERNEL_FILES], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(tree)}, cwd=tree).stdout
    return json.loads(out)


def append_comment(path: Path) -> None:
    path.write_text(path.read_text() + "\n# edited\n")


def test_liqbot_kernels_carry_the_closure_stamp_and_others_do_not() -> None:
    locator = ck.quantile_kernel._cache._impl.locator  # defined in kernel_select, re-exported by kernel
    assert type(locator).__module__ == "bot.jitlocators"
    own = ck.quantile_kernel.py_func.__code__.co_filename
    assert locator.get_source_stamp() == stamp_of(own) != stamp_of(ck.__file__) and len(stamp_of(own)) == 16
    assert is_ours(ck.__file__) and not is_ours(vbt_nb.__file__) and not is_ours(numba.__file__)
    assert numba.config.CACHE_LOCATOR_CLASSES.split(",")[: len(OURS)] == list(OURS)


def test_the_closure_follows_imports_transitively_and_stops_at_the_cli() -> None:
    files = {str(p.relative_to(ROOT)) for p in import_closure((ROOT / "backtest" / "fused.py").resolve())[0]}
    # fused -> kernel_track -> kernel_group -> kernel_select: the callee's callee is covered
    assert {"backtest/fused.py", "bot/clusters/kernel_track.py", "bot/clusters/kernel_group.py",
            "bot/clusters/kernel_select.py", "strategies/kernel.py", "strategies/kernel_round.py"} <= files
    assert not any(f.startswith("bot/cli/") for f in files)
    own = {str(p.relative_to(ROOT)) for p in import_closure((ROOT / "bot/clusters/kernel_select.py").resolve())[0]}
    assert own == {"bot/clusters/kernel_select.py"}


def test_an_edit_changes_exactly_the_stamps_of_its_dependents(tmp_path: Path) -> None:
    """Stale code can never run: editing a callee changes every caller's stamp; an unrelated edit changes none."""
    tree = copy_tree(tmp_path)
    before = stamps(tree)
    assert before == {f: stamp_of(str(ROOT / f)) for f in KERNEL_FILES}
    append_comment(tree / "bot" / "cli" / "commands" / "status.py")
    assert stamps(tree) == before
    append_comment(tree / "bot" / "clusters" / "kernel_select.py")  # the innermost callee
    after = stamps(tree)
    assert all(after[f] != before[f] for f in KERNEL_FILES if f.startswith(("backtest", "bot")))
    assert after["strategies/kernel.py"] == before["strategies/kernel.py"]
    assert after["strategies/kernel_round.py"] == before["strategies/kernel_round.py"]
    before = after
    append_comment(tree / "strategies" / "kernel_round.py")  # a strategies kernel file
    after = stamps(tree)
    assert after["bot/clusters/kernel_select.py"] == before["bot/clusters/kernel_select.py"]
    assert after["bot/clusters/kernel_group.py"] == before["bot/clusters/kernel_group.py"]
    assert all(after[f] != before[f] for f in ("strategies/kernel_round.py", "strategies/kernel.py",
                                               "backtest/fused.py"))


CALL_TWO = """
import json, numpy as np
from bot.clusters.kernel_select import select_kth
from strategies.kernel_round import round_price_nb
select_kth(np.arange(9.0), 4); round_price_nb(1.23456, 2, 0)
print(json.dumps({f.__name__: [sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values())]
                  for f in (select_kth, round_price_nb)}))
"""


def test_an_edit_recompiles_only_its_dependents_in_numbas_cache(tmp_path: Path) -> None:
    """Real compiles in a fresh cache: after a strategies edit the clusters kernel still loads from disk."""
    tree = copy_tree(tmp_path / "tree")
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run() -> dict[str, list[int]]:
        done = subprocess.run([sys.executable, "-c", CALL_TWO], capture_output=True, text=True, check=True,
                              env=env, cwd=tree)
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert run() == {"select_kth": [0, 1], "round_price_nb": [0, 1]}  # empty cache: both compile
    assert run() == {"select_kth": [1, 0], "round_price_nb": [1, 0]}  # both load
    append_comment(tree / "bot" / "cli" / "commands" / "status.py")
    assert run() == {"select_kth": [1, 0], "round_price_nb": [1, 0]}  # a CLI comment recompiles nothing
    append_comment(tree / "strategies" / "kernel_round.py")
    assert run() == {"select_kth": [1, 0], "round_price_nb": [0, 1]}  # only the edited module's kernel
