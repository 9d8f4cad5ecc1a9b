"""The import graph, read from the source: core imports neither views nor training (nor
streamlit), training imports no views (nor streamlit), views never reach into training's
internals through a back door, no two modules import each other (directly or round a longer
loop), and no function grows past 60 lines. Imports inside functions count: a lazy import
hides a dependency from start-up time, not from whoever changes the code."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "training", "views")
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {_module_name(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}
    found["app"] = ROOT / "app.py"
    return found


SOURCES = _sources()


def _resolve(name: str) -> str | None:
    """The project module an imported name lives in (core.store.stories, or the package
    core.store), or None for a third-party or standard module."""
    while name:
        if name in SOURCES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> set[str]:
    """Project modules `module` imports anywhere in its file (top level or inside functions)."""
    tree = ast.parse(SOURCES[module].read_text(encoding="utf-8"))
    package = module if SOURCES[module].name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from core import store` imports the module core.store; `from core.x import f` core.x
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        out |= {m for m in map(_resolve, names) if m and m != module}
    return out


def _third_party(module: str) -> set[str]:
    tree = ast.parse(SOURCES[module].read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


GRAPH = {m: _imports(m) for m in SOURCES}


def _layer(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("layer, forbidden", [("core", {"views", "training", "app"}),
                                              ("training", {"views", "app"}),
                                              ("views", {"app"})])
def test_no_layer_imports_a_layer_above_it(layer, forbidden):
    upward = sorted(f"{m} imports {dep}" for m, deps in GRAPH.items() if _layer(m) == layer
                    for dep in deps if _layer(dep) in forbidden)
    assert upward == []


@pytest.mark.parametrize("layer", ["core", "training"])
def test_core_and_training_never_import_streamlit(layer):
    assert sorted(m for m in GRAPH if _layer(m) == layer and "streamlit" in _third_party(m)) == []


def _cycle_from(start: str, graph: dict[str, set[str]] = GRAPH) -> list[str] | None:
    """A shortest import loop through `start`, or None."""
    paths = {dep: [start, dep] for dep in graph[start]}
    frontier = list(paths)
    while frontier:
        nxt = []
        for m in frontier:
            if m == start:
                return paths[m]
            for dep in graph.get(m, ()):
                if dep not in paths:
                    paths[dep] = [*paths[m], dep]
                    nxt.append(dep)
        frontier = nxt
    return None


def test_no_import_cycles():
    # A package importing its own submodules (core.store re-exports core.store.stories) is how a
    # package is made, not a loop; a submodule importing its package back is.
    def inside(a: str, b: str) -> bool:
        return b.startswith(a + ".")

    cycles = set()
    for module in GRAPH:
        loop = _cycle_from(module)
        if loop and not all(inside(a, b) for a, b in zip(loop, loop[1:]) if _layer(a) == _layer(b)):
            cycles.add(" -> ".join(loop))
    assert sorted(cycles) == []


def test_a_loop_is_found_when_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle_from("a", graph) == ["a", "b", "c", "a"]
    assert _cycle_from("d", graph) is None


def test_the_graph_is_read_at_all():
    # A positive control: if the reader stopped seeing imports, every test above would pass.
    assert "core.analysis" in GRAPH["views.common"]
    assert "core.store" in GRAPH["views.pages.review"]
    assert any(_layer(d) == "core" for d in GRAPH["training.train"])


def test_no_function_is_longer_than_60_lines():
    long = []
    for module, path in SOURCES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {lines} lines")
    assert long == []
