"""numba cache locators for liqbot's kernels (see ``bot.jitcache``): stamped with the source tree's hash."""

from __future__ import annotations

from numba.core.caching import InTreeCacheLocator, UserProvidedCacheLocator, UserWideCacheLocator

from bot.jitcache import is_ours, source_hash


class _TreeStamp:
    """Stamp = the source tree's hash; only liqbot's own functions."""

    def get_source_stamp(self) -> str:
        return source_hash()

    @classmethod
    def from_function(cls, py_func, py_file):  # type: ignore[no-untyped-def]
        return super().from_function(py_func, py_file) if is_ours(py_file) else None  # type: ignore[misc]


class TreeUserDirLocator(_TreeStamp, UserProvidedCacheLocator):
    """Under ``NUMBA_CACHE_DIR`` when it is set."""


class TreeInTreeLocator(_TreeStamp, InTreeCacheLocator):
    """Beside the module (``__pycache__``) when writable."""


class TreeUserWideLocator(_TreeStamp, UserWideCacheLocator):
    """In the user-wide cache folder otherwise."""
