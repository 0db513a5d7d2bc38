"""numba's cache for liqbot's kernels: stamped with the whole source tree, not one file.

numba's ``cache=True`` stamps each cached function with *its own* source file. A kernel that
calls another (the backtester's fused loop calls the tracker kernel, which calls the grouping
kernel) keeps the callee's machine code inside its own cache entry, so after an edit or an
upgrade that touches only the callee, the caller would silently run the old callee. liqbot's
kernels are stamped instead with a hash of every module of its three packages: any change to
any of them recompiles every kernel once; nothing stale can run. Functions of other packages
(vectorbt's) keep numba's usual locators and stamps.

``configure`` must run before the first ``@njit(cache=True)`` of liqbot executes; each
package's ``__init__`` calls it. It does not import numba (half a second for commands that need
none): before numba is imported the environment variable is enough.
"""

from __future__ import annotations

import hashlib
import os
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "strategies", "backtest")
DEFAULT_LOCATORS = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator",
                    "IPythonCacheLocator", "ZipCacheLocator")
OURS = tuple(f"bot.jitlocators.{name}" for name in ("TreeUserDirLocator", "TreeInTreeLocator", "TreeUserWideLocator"))


@lru_cache(maxsize=1)
def source_hash() -> str:
    """A short hash of every ``.py`` file of the packages (paths and contents), once per process."""
    h = hashlib.blake2b(digest_size=8)
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def is_ours(py_file: str) -> bool:
    """Whether ``py_file`` is a module of liqbot's packages."""
    try:
        rel = Path(py_file).resolve().relative_to(ROOT)
    except ValueError:
        return False
    return rel.parts[0] in PACKAGES


def configure() -> None:
    """Put liqbot's locators (``bot.jitlocators``) in front of numba's, once per process."""
    classes = ",".join((*OURS, *DEFAULT_LOCATORS))
    os.environ.setdefault("NUMBA_CACHE_LOCATOR_CLASSES", classes)
    numba = sys.modules.get("numba")
    if numba is not None and not numba.config.CACHE_LOCATOR_CLASSES:
        numba.config.CACHE_LOCATOR_CLASSES = os.environ["NUMBA_CACHE_LOCATOR_CLASSES"]
