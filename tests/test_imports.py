"""lawline's modules import each other without cycles, and the routing core stays pure.

The graph is read from the source (ast), not by importing: every `import lawline...`
and `from ... import ...` (relative ones resolved) anywhere in a module, including
inside functions and `if TYPE_CHECKING:` blocks. A deferred import hides a cycle from
the interpreter, not from the reader, so it counts here too.

`from lawline.a import b` is an edge to `lawline.a.b` when that is a module, else to
`lawline.a`. Importing `lawline.a.b` also runs `lawline/a/__init__.py`, so it is an
edge to the package `lawline.a` as well, except from inside that package (its
`__init__` has already run, or is the one importing its own submodules).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

LAWLINE = Path(__file__).resolve().parent.parent / "lawline"

# Cycles being broken elsewhere, each as its sorted module names; empty when none.
KNOWN_CYCLES: set[tuple[str, ...]] = {
    # worker -> bridge_rpc (serve_requests) -> worker (TelephonyWorker, for typing only).
    ("lawline.telephony.bridge_rpc", "lawline.telephony.worker"),
}


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path) -> dict[str, Path]:
    return {_module_name(root, p): p for p in sorted(root.rglob("*.py"))}


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


def _with_packages(name: str, target: str) -> Iterator[str]:
    """`target` and the packages above it whose `__init__` importing it runs."""
    yield target
    parts = target.split(".")
    for n in range(1, len(parts)):
        package = ".".join(parts[:n])
        if name != package and not name.startswith(package + "."):
            yield package


def import_graph(root: Path = LAWLINE) -> dict[str, set[str]]:
    """Each module of the package at `root` and the modules of it that it imports."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {
            t
            for imported in _imported(name, path, modules)
            for t in _with_packages(name, imported)
            if t in modules and t != name
        }
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


def path_between(graph: dict[str, set[str]], start: str, end: str) -> list[str] | None:
    """The shortest import chain from `start` to `end`; None when it does not reach it."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    following.append(w)
        frontier = following
    return paths.get(end)


def test_no_import_cycle_among_lawline_modules() -> None:
    found = cycles(import_graph())
    unexpected = [c for c in found if tuple(sorted(set(c))) not in KNOWN_CYCLES]
    assert not unexpected, "import cycles:\n" + "\n".join(" -> ".join(c) for c in unexpected)


def test_the_routing_core_does_not_reach_the_settings_loader() -> None:
    graph = import_graph()
    for core in ("routing", "model", "skills", "estimate"):
        chain = path_between(graph, f"lawline.queue.{core}", "lawline.config")
        assert chain is None, " -> ".join(chain)


def test_blocks_are_imported_from_their_packages() -> None:
    # lawline.config still holds every block (it assembles them), so an old
    # `from lawline.config import RoutingSettings` would work and hide where it lives.
    repo = LAWLINE.parent
    old_paths = []
    for path in sorted(
        [*LAWLINE.rglob("*.py"), *(repo / "tests").glob("*.py"), *(repo / "bench").glob("*.py")]
    ):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "lawline.config":
                blocks = [a.name for a in node.names if a.name != "Settings"]
                if blocks:
                    old_paths.append(f"{path.relative_to(repo)}:{node.lineno} {blocks}")
    assert not old_paths, "import these from their package's settings.py:\n" + "\n".join(old_paths)


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    # The checker itself: a cycle it cannot see is a cycle it cannot report.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "top.py": "def f() -> None:\n    from pkg.sub import deep\n",
        "typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.top\n",
        "sub/__init__.py": "from . import deep\n",
        "sub/deep.py": "from ..typed import x\nfrom . import sibling\n",
        "sub/sibling.py": "",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    assert import_graph(pkg) == {
        "pkg": set(),
        "pkg.top": {"pkg.sub", "pkg.sub.deep"},  # inside a function; runs sub/__init__
        "pkg.typed": {"pkg.top"},  # for type checkers only
        "pkg.sub": {"pkg.sub.deep"},  # its own submodule: no edge back to itself
        "pkg.sub.deep": {"pkg.typed", "pkg.sub.sibling"},  # relative, up and beside
        "pkg.sub.sibling": set(),
    }
