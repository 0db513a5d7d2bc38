"""numba's cache for liqbot's kernels: each kernel is stamped with its module and what that module imports.

numba's ``cache=True`` stamps each cached function with *its own* source file (mtime and size).
A kernel that calls another (the backtester's fused loop calls the tracker kernel, which calls
the grouping kernel) keeps the callee's machine code, and the values of the constants it read,
inside its own cache entry; after an edit that touches only the callee, numba's stamp would let
the caller run the old callee. liqbot's kernels are stamped instead with a hash of their own
module plus every liqbot module it imports, transitively (``import_closure``): a kernel can only
call code and read constants reachable through its module's imports, so an edit recompiles the
kernels whose closure holds the edited file and nothing else, and stale code can never run.

The closure is read statically from the sources (every import statement anywhere in a module,
including the lazy ones inside functions, so it over-approximates; ``if TYPE_CHECKING:`` blocks
never run and are skipped): numba asks for the stamp at decoration time, while the module is
still executing, before the globals a kernel reads exist. A module that imports by name at run
time (``importlib.import_module``) cannot be followed, so its closure is the whole tree: sound,
merely coarse. Third-party packages imported by the closure enter the stamp with the size and
mtime of their installed entry file, so an upgrade recompiles (numba checks its own version).
Functions of other packages (vectorbt's) keep numba's usual locators and stamps.

``configure`` must run before the first ``@njit(cache=True)`` of liqbot executes; each
package's ``__init__`` calls it. It does not import numba (half a second for commands that need
none): before numba is imported the environment variable is enough.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# packages whose njit functions get liqbot's stamp
PACKAGES = ("bot", "strategies", "backtest")
# packages an import closure follows (config holds no kernels, but kernels' modules may read it)
SOURCE_PACKAGES = (*PACKAGES, "config")
DEFAULT_LOCATORS = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator",
                    "IPythonCacheLocator", "ZipCacheLocator")
OURS = tuple(f"bot.jitlocators.{name}" for name in ("TreeUserDirLocator", "TreeInTreeLocator", "TreeUserWideLocator"))


def is_ours(py_file: str) -> bool:
    """Whether ``py_file`` is a module of liqbot's kernel packages."""
    try:
        rel = Path(py_file).resolve().relative_to(ROOT)
    except ValueError:
        return False
    return rel.parts[0] in PACKAGES


@lru_cache(maxsize=None)
def module_file(name: str) -> Path | None:
    """The source file of liqbot module ``name`` (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``), if any."""
    parts = name.split(".")
    if not parts or parts[0] not in SOURCE_PACKAGES:
        return None
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    """The dotted name of a source file under ``ROOT``."""
    rel = path.resolve().relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w., \t]+)", re.M)
_DYNAMIC = ("import_module(", "__import__(")
_TYPE_CHECKING = re.compile(r"^([ \t]*)if[ \t]+(?:typing\.)?TYPE_CHECKING[ \t]*:", re.M)


def runtime_text(text: str) -> str:
    """``text`` without its ``if TYPE_CHECKING:`` blocks (imports for annotations only: they never run)."""
    lines = text.splitlines()
    out: list[str] = []
    skip_indent: int | None = None
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not stripped or indent > skip_indent:
                continue
            skip_indent = None
        match = _TYPE_CHECKING.match(line)
        if match and stripped.endswith(":"):
            skip_indent = len(match.group(1))
            continue
        out.append(line)
    return "\n".join(out)


@lru_cache(maxsize=None)
def direct_imports(path: Path) -> tuple[frozenset[str], frozenset[str], bool]:
    """``(liqbot modules, third-party top-level packages, imports dynamically)`` named by ``path``'s imports.

    A line scan, not a parse (parsing the closures cost a third of a second a process): every
    ``import``/``from`` statement at the start of a line, inside functions too, except under
    ``if TYPE_CHECKING:`` (never executed); one that only looks like a statement (in a docstring)
    adds a file, which is safe. Importing ``a.b.c`` runs ``a`` and
    ``a.b`` first, so their ``__init__`` files are included; ``from a import b`` includes ``a.b``
    when it is a module.
    """
    text = runtime_text(path.read_text(encoding="utf-8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    ours: set[str] = set()
    external: set[str] = set()

    def add(name: str) -> None:
        top = name.split(".")[0]
        if top in SOURCE_PACKAGES:
            parts = name.split(".")
            ours.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        elif top and top not in sys.stdlib_module_names and top != "__future__":
            external.add(top)

    for match in _IMPORT.finditer(text):
        for item in match.group(1).split(","):
            if item.split():
                add(item.split()[0])
    for dots, module, names in _FROM.findall(text):
        if dots:
            anchor = package.split(".")[: len(package.split(".")) - (len(dots) - 1)]
            base = ".".join([*anchor, module] if module else anchor)
        else:
            base = module
        add(base)
        for item in names.strip("()").replace("\\", " ").split(","):
            words = item.split()
            if words and module_file(f"{base}.{words[0]}") is not None:
                add(f"{base}.{words[0]}")
    dynamic = any(word in text for word in _DYNAMIC) and path.resolve() != Path(__file__).resolve()
    return frozenset(n for n in ours if module_file(n) is not None), frozenset(external), dynamic


def all_sources() -> list[Path]:
    """Every ``.py`` file of the source packages, sorted."""
    return sorted(p for pkg in SOURCE_PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@lru_cache(maxsize=None)
def import_closure(path: Path) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """``(liqbot source files, third-party packages)`` that ``path`` reaches through its imports, itself included."""
    seen: set[Path] = set()
    external: set[str] = set()
    todo = [path.resolve()]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        ours, ext, dynamic = direct_imports(current)
        external |= ext
        if dynamic:  # cannot be followed: the whole tree, conservatively
            seen.update(all_sources())
            break
        todo.extend(p for name in ours if (p := module_file(name)) is not None and p not in seen)
    return tuple(sorted(seen)), tuple(sorted(external))


@lru_cache(maxsize=None)
def stamp_of(py_file: str) -> str:
    """A short hash of ``py_file``'s import closure (paths and contents) and the third-party versions it imports."""
    files, external = import_closure(Path(py_file).resolve())
    h = hashlib.blake2b(digest_size=8)
    for path in files:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    for top in external:
        h.update(f"{top}={_installed(top)}".encode())
    return h.hexdigest()


def _installed(top: str) -> str:
    """Which install of third-party package ``top`` is on the path (its entry file's size and mtime), or ''.

    Found without importing it, so the stamp does not depend on what the process imported first.
    """
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return ""
    st = os.stat(spec.origin)
    return f"{st.st_size}:{st.st_mtime_ns}"


def configure() -> None:
    """Put liqbot's locators (``bot.jitlocators``) in front of numba's, once per process."""
    classes = ",".join((*OURS, *DEFAULT_LOCATORS))
    os.environ.setdefault("NUMBA_CACHE_LOCATOR_CLASSES", classes)
    numba = sys.modules.get("numba")
    if numba is not None and not numba.config.CACHE_LOCATOR_CLASSES:
        numba.config.CACHE_LOCATOR_CLASSES = os.environ["NUMBA_CACHE_LOCATOR_CLASSES"]
