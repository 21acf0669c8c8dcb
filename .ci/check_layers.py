"""Check that vartools' imports run only downward through its layers and form no cycle.

Every ``import`` and ``from ... import`` of a vartools module is counted, wherever it
stands: at module level, inside a function, or under ``if TYPE_CHECKING``. A module
may import from its own layer or a lower one (the order is ``LAYERS``, lowest first);
the module graph must be acyclic. Run: ``python .ci/check_layers.py`` (exit 1 on a
violation, with one line per violation).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

#: The sub-packages of vartools, lowest layer first (DESIGN.md, "Package layout").
LAYERS = [
    "_version",
    "core",
    "distributions",
    "samplers",
    "control_variates",
    "estimators",
    "jax",
    "oracles",
    "measure",
    "catalogue",
    "harness",
    "plots",
    "cli",
    "__init__",
]

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "vartools"


def module_name(path: Path) -> str:
    """Dotted module name of a file under vartools/ (a package is named by its folder)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The sub-package (layer) a module belongs to; ``__init__`` for the top level."""
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The vartools modules that ``path`` imports (a package import counts as its __init__)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "vartools" and name in modules:
                out.add(name)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    """Print every violation and a count; return 1 when there is any."""
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    errors: list[str] = []
    for mod, path in sorted(files.items()):
        deps = imports_of(path, modules) - {mod}
        graph[mod] = deps
        layer = layer_of(mod)
        if layer not in LAYERS:
            errors.append(f"{mod}: sub-package {layer!r} is not in LAYERS of {__file__}")
            continue
        for dep in sorted(deps):
            dep_layer = layer_of(dep)
            if LAYERS.index(dep_layer) > LAYERS.index(layer):
                errors.append(f"{mod} imports {dep}: layer {layer!r} is below {dep_layer!r}")
    for comp in cycles(graph):
        errors.append("import cycle among: " + ", ".join(comp))
    for e in errors:
        print(e)
    n_edges = sum(map(len, graph.values()))
    print(f"{len(files)} modules, {n_edges} imports, {len(errors)} violations")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
