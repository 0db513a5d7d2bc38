"""liqbot package backtest (numba kernels cache per source version: see bot.jitcache)."""

from bot.jitcache import configure as _configure_jit_cache

_configure_jit_cache()
