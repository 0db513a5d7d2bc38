"""``liqbot bench --only jit_cache``: what compiling costs, on an empty cache and after one-line edits.

On a copy of the sources (so the checkout's cache is untouched) with its own ``NUMBA_CACHE_DIR``,
``liqbot jit warm`` runs in a fresh process three times: on the empty cache, after a comment is
appended to a strategy file, and after a comment is appended to ``bot/cli/commands/status.py``.
Each figure is the child's wall time and the seconds numba spent compiling; with the per-module
stamps (``bot.jitcache``) the status edit compiles nothing and the strategy edit only the kernels
whose modules import it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.jitcache import ROOT, SOURCE_PACKAGES

STRATEGY_FILE = "strategies/breakout.py"
CLI_FILE = "bot/cli/commands/status.py"


def _warm(tree: Path, cache: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(cache), "LIQBOT_LOGGING__FILE": ""}
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot.cli.main", "jit", "warm", "--json"], capture_output=True,
                          text=True, check=True, cwd=tree, env=env)
    wall = time.perf_counter() - t
    report = json.loads(done.stdout)
    return {"wall_s": round(wall, 2), "compile_s": report["compile_s"], "kernels_compiled": len(report["compiles"]),
            "compiled": [c["kernel"] for c in report["compiles"] if not c["kernel"].startswith("vectorbt.")]}


def jit_cache() -> dict[str, Any]:
    """Warm-up wall and compile seconds: empty cache, then after a strategy edit, then after a CLI edit."""
    with tempfile.TemporaryDirectory(prefix="liqbot-jitbench-") as tmp:
        tree, cache = Path(tmp) / "tree", Path(tmp) / "cache"
        for pkg in SOURCE_PACKAGES:
            shutil.copytree(ROOT / pkg, tree / pkg, ignore=shutil.ignore_patterns("__pycache__"))
        empty = _warm(tree, cache)
        with open(tree / STRATEGY_FILE, "a", encoding="utf-8") as fh:
            fh.write("\n# a one-line edit\n")
        strategy = _warm(tree, cache)
        with open(tree / CLI_FILE, "a", encoding="utf-8") as fh:
            fh.write("\n# a one-line edit\n")
        cli = _warm(tree, cache)
    return {"empty_cache": empty, f"after_edit_of_{STRATEGY_FILE}": strategy, f"after_edit_of_{CLI_FILE}": cli}
