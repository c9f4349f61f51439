"""lawline's modules import each other without cycles, and the routing core stays pure.

The graph is read from the source (ast), not by importing: every `import lawline...`
and `from ... import ...` (relative ones resolved) anywhere in a module, including
inside functions and `if TYPE_CHECKING:` blocks. A deferred import hides a cycle from
the interpreter, not from the reader, so it counts here too.

`from lawline.a import b` is an edge to `lawline.a.b` when that is a module, else to
`lawline.a`. Parent packages' `__init__` files are not added as edges: lawline's are
docstrings only (checked below), so importing a submodule runs nothing of them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "lawline"

# Cycles being broken elsewhere, each as its sorted module names; empty when none.
KNOWN_CYCLES: set[tuple[str, ...]] = {
    # worker -> bridge_rpc (serve_requests) -> worker (TelephonyWorker, for typing only).
    ("lawline.telephony.bridge_rpc", "lawline.telephony.worker"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imported(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                yield submodule if submodule in modules else source


def import_graph() -> dict[str, set[str]]:
    """Each lawline module and the lawline modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t for t in _imported(name, path, modules) if t in modules and t != name}
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each
    given as one cycle through its modules, so a failure shows the path to cut."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_through(graph, c) for c in components]


def _cycle_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    # Shortest path from the component's first module back to itself.
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    following.append(w)
        frontier = following
    raise AssertionError("a strongly connected component without a cycle")


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for w in graph[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_no_import_cycle_among_lawline_modules() -> None:
    found = cycles(import_graph())
    unexpected = [c for c in found if tuple(sorted(set(c))) not in KNOWN_CYCLES]
    assert not unexpected, "import cycles:\n" + "\n".join(" -> ".join(c) for c in unexpected)


def test_the_routing_core_does_not_reach_the_settings_loader() -> None:
    graph = import_graph()
    for core in ("routing", "model", "skills", "estimate"):
        reached = reaches(graph, f"lawline.queue.{core}")
        assert "lawline.config" not in reached, core


def test_the_graph_sees_relative_and_deferred_imports() -> None:
    # The checker itself: a cycle it cannot see is a cycle it cannot report.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    graph = import_graph()
    assert "lawline.config" in graph["lawline.cli"]  # imported inside functions only


def test_package_inits_run_nothing_of_lawline() -> None:
    # What lets the graph leave out the parent-package edges.
    graph = import_graph()
    for name, path in _modules().items():
        if path.name == "__init__.py":
            assert not graph[name], name
