"""The import graph of liqbot's packages: no cycles, and no import upward across the layers.

Read from the sources with ``ast`` (nothing is imported): an edge ``a -> b`` for every import of
liqbot module ``b`` in module ``a``, either at module level (what runs at import time) or also
inside functions (``lazy``); ``if TYPE_CHECKING:`` blocks never run and are left out.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from bot.jitcache import SOURCE_PACKAGES, all_sources, module_file, module_name

# Cycles that exist through function-level imports only, each kept for a stated reason.
# strategies.*: each strategy module offers a one-strategy entry point (``liquidation_hunt``,
# ``breakout``, ...) that imports the engine's candidate builder inside the function, and the
# registry imports ``sizing`` lazily for oi_sizing's params; at import time the strategies import
# nothing of the engine (the test above). Folding the entry points into ``strategies.candidate``
# would remove it.
# bot.heatmap.providers.sources <-> its providers: the factory in sources imports each provider
# lazily and the providers import its helpers (coin_of, published); the helpers in a module of
# their own would remove it. Shrink, never grow.
KNOWN_LAZY_CYCLES = (
    frozenset({"strategies.breakout", "strategies.candidate", "strategies.cascade", "strategies.dispatch",
               "strategies.engine_params", "strategies.filters", "strategies.hunt", "strategies.kernel",
               "strategies.registry", "strategies.sizing", "strategies.support_resistance"}),
    frozenset({"bot.heatmap.providers.sources", "bot.heatmap.providers.bastion", "bot.heatmap.providers.coinglass",
               "bot.heatmap.providers.kiyotaka", "bot.heatmap.providers.perp_api",
               "bot.heatmap.providers.hyperliquid"}),
)

# (importer prefix, forbidden imported prefix, why)
UPWARD = (
    ("bot.execution", "bot.store", "the order manager persists through the OrderStore port"),
    ("bot.execution", "backtest", "benchmarks live beside backtest.bench"),
    ("bot.execution", "bot.cli", "the command line is the top layer"),
    ("backtest", "bot.cli", "the command line is the top layer"),
    ("strategies", "bot.cli", "the command line is the top layer"),
    ("strategies", "backtest", "the backtester drives the strategies, not the other way"),
    ("config", "bot.cli", "the command line is the top layer"),
)


def _imports(path: Path, lazy: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    anchor = parts[: len(parts) - (node.level - 1)]
                    base = ".".join([*anchor, node.module] if node.module else anchor)
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names if module_file(f"{base}.{a.name}") is not None)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if lazy:
                    visit(node.body)
            else:
                for name in ("body", "orelse", "finalbody", "handlers"):
                    visit(getattr(node, name, []))

    visit(tree.body)
    return {m for m in found if m.split(".")[0] in SOURCE_PACKAGES and module_file(m) is not None} - {here}


@lru_cache(maxsize=2)
def graph(lazy: bool) -> dict[str, frozenset[str]]:
    """``module -> modules it imports`` over every source file of the packages."""
    return {module_name(p): frozenset(_imports(p, lazy)) for p in all_sources()}


def cycles(g: dict[str, frozenset[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in g:
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in g), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.add(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    found.append(frozenset(comp))
    return found


def test_the_graph_is_read_from_every_module() -> None:
    g = graph(lazy=False)
    assert len(g) == len(all_sources()) > 100
    assert "bot.execution.orders" in g["bot.execution.manager"] and "strategies.engine" in g["bot.decide"]
    assert cycles({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}) == [
        frozenset({"a", "b", "c"})]


def test_no_import_cycle_at_import_time() -> None:
    assert cycles(graph(lazy=False)) == []


def test_no_import_cycle_through_lazy_imports_but_the_known_ones() -> None:
    found = cycles(graph(lazy=True))
    assert all(any(c <= known for known in KNOWN_LAZY_CYCLES) for c in found), found


def test_no_layer_imports_upward() -> None:
    bad = [f"{a} -> {b} ({why})" for a, targets in graph(lazy=True).items() for b in targets
           for low, high, why in UPWARD if (a == low or a.startswith(low + ".")) and (b == high or
                                                                                  b.startswith(high + "."))]
    assert bad == []

