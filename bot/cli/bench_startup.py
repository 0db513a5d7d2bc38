"""``liqbot bench --only new_process``: what a new ``liqbot`` process pays before it can answer.

Each figure is the median wall time of ``RUNS`` fresh processes (``python -m bot.cli.main ...``
from the checkout): ``--help``, ``--version``, a one-line usage error, ``config show`` (settings
loaded) and a one-line data error of ``backtest`` (settings and the command's module loaded).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RUNS = 3
ROOT = Path(__file__).resolve().parents[2]
CASES: dict[str, tuple[str, ...]] = {
    "help_s": ("--help",),
    "version_s": ("--version",),
    "usage_error_s": ("live", "--conf", "x.toml"),
    "config_show_s": ("config", "show"),
    "backtest_missing_file_s": ("backtest", "--candles", "/nonexistent/candles.feather"),
}


def new_process() -> dict[str, Any]:
    """Median seconds of a fresh process per case, and its exit code."""
    figures: dict[str, Any] = {"runs": RUNS}
    with tempfile.TemporaryDirectory(prefix="liqbot-startup-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LIQBOT_LOGGING__FILE": ""}
        for name, argv in CASES.items():
            walls, code = [], 0
            for _ in range(RUNS):
                t = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "bot.cli.main", *argv], capture_output=True,
                                      cwd=tmp, env=env)
                walls.append(time.perf_counter() - t)
                code = done.returncode
            figures[name] = round(statistics.median(walls), 3)
            figures[name.removesuffix("_s") + "_exit"] = code
    return figures
