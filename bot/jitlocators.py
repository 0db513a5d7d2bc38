"""numba cache locators for liqbot's kernels (see ``bot.jitcache``): stamped with the module's import closure."""

from __future__ import annotations

from numba.core.caching import InTreeCacheLocator, UserProvidedCacheLocator, UserWideCacheLocator

from bot.jitcache import is_ours, stamp_of


class _ClosureStamp:
    """Stamp = the hash of the function's module and everything of liqbot it imports; only liqbot's own functions."""

    _py_file: str

    def get_source_stamp(self) -> str:
        return stamp_of(self._py_file)

    @classmethod
    def from_function(cls, py_func, py_file):  # type: ignore[no-untyped-def]
        return super().from_function(py_func, py_file) if is_ours(py_file) else None  # type: ignore[misc]


class TreeUserDirLocator(_ClosureStamp, UserProvidedCacheLocator):
    """Under ``NUMBA_CACHE_DIR`` when it is set."""


class TreeInTreeLocator(_ClosureStamp, InTreeCacheLocator):
    """Beside the module (``__pycache__``) when writable."""


class TreeUserWideLocator(_ClosureStamp, UserWideCacheLocator):
    """In the user-wide cache folder otherwise."""
