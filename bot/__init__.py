"""liqbot's bot package. Importing it sets two process-wide runtime choices before numba/numpy load.

- numba's cache for liqbot's kernels is stamped per module with what it imports (``bot.jitcache``).
- numpy's transparent-huge-page advice for large arrays is off unless the user set
  ``NUMPY_MADVISE_HUGEPAGE``: the backtester allocates a few hundred MB of heatmap windows per
  run, and on kernels that compact memory on a huge-page fault (defrag=madvise, a common default)
  that advice made the same allocation take 0.27 s or 0.8 s at random; 4 KB pages take 0.35 s
  every time.
"""

import os

from bot.jitcache import configure as _configure_jit_cache

os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
_configure_jit_cache()
