"""The house rules of greenpylm's source, read from the source itself.

- every import (type-only ones under TYPE_CHECKING and those inside
  functions included) goes to the same layer or one below;
- the import graph of greenpylm's modules has no cycle;
- no module is over 400 lines.
"""
from __future__ import annotations

import ast
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "greenpylm"
MAX_LINES = 400

#: module prefix -> layer (the longest prefix that matches wins)
LAYERS = {
    "greenpylm.log": 0, "greenpylm.patching": 0, "greenpylm.cooperative": 0,
    "greenpylm.wire": 1,
    "greenpylm.shipping": 2,
    "greenpylm.parts": 3, "greenpylm.persistence": 3,
    "greenpylm.servers": 4, "greenpylm.methods": 4, "greenpylm.clients": 4,
    "greenpylm.calls": 4, "greenpylm.window": 4, "greenpylm.cache_client": 4, "greenpylm.chained": 4,
    "greenpylm.runner": 4, "greenpylm.offload": 4, "greenpylm.standalone": 4,
    "greenpylm.remote": 4, "greenpylm.progress": 4, "greenpylm.client_base": 4,
    "greenpylm.watch": 4, "greenpylm.metrics": 4, "greenpylm.dashboard": 4,
    "greenpylm.cli": 5, "greenpylm.__main__": 5, "greenpylm.chained.__main__": 5,
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def layer(module: str) -> int | None:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")),
               key=len, default=None)
    return None if best is None else LAYERS[best]


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The greenpylm modules `module` imports, wherever in the file."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module and name != "greenpylm":
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports(m, p, known) for m, p in known.items()}


def test_every_module_has_a_layer():
    assert [m for m in modules() if m != "greenpylm" and layer(m) is None] == []


def test_no_module_imports_a_higher_layer():
    upward = [(m, target) for m, targets in graph().items() if m != "greenpylm"
              for target in targets if layer(target) > layer(m)]
    assert upward == []


def test_the_import_graph_has_no_cycle():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target] if target in path
                              else [node, target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_module_is_over_400_lines():
    long = {m: n for m, p in modules().items()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
