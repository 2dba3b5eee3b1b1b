"""The house is one-way: t3qkfp's modules import each other without a cycle.

Why a test: DESIGN.md promises that data moves one way (Elyra JSON → model → plan → kfp dsl →
Argo) and that each module has one owner. A cycle is the first sign that an owner leaked: the
reader validating through the uploader, the display compiling by itself. The graph is read from
the source with `ast` (every `import`, at module level or inside a function), so a new cycle fails
here before anyone notices it in review.

Two kinds of import are judged separately:
- Jupyter repr hooks (`_repr_html_`, `_repr_pretty_`, `_repr_svg_`, `__str__`, `__repr__`) may
  reach up to the display modules; that is how a notebook shows a model or a plan. They reach
  nothing else.
- Every other import counts, at module level or inside a function: a function-level import may
  keep kfp, minio or the compiler's 150 ms of imports out of `import t3qkfp` and `--help`, but
  one that exists to dodge a cycle is a cycle all the same, and fails here.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "t3qkfp"
REPR_HOOKS = frozenset({"_repr_html_", "_repr_pretty_", "_repr_svg_", "_repr_markdown_",
                        "__str__", "__repr__"})
DISPLAY_MODULES = frozenset({"t3qkfp.display", "t3qkfp.dag_picture", "t3qkfp.dag_layout",
                             "t3qkfp.display_style"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    """One import of a t3qkfp module by another, where it sits and on which line."""

    source: str
    target: str
    line: int
    function: str | None   # enclosing function, None at module level

    @property
    def repr_hook(self) -> bool:
        return self.function in REPR_HOOKS

    def __str__(self) -> str:
        where = f" in {self.function}()" if self.function else ""
        return f"{self.source} -> {self.target} (line {self.line}{where})"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def edges() -> list[Edge]:
    """Every import of one package module by another, read from the source."""
    known = modules()
    result: list[Edge] = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]

        def targets(node: ast.AST) -> list[str]:
            if isinstance(node, ast.Import):
                return [alias.name for alias in node.names]
            assert isinstance(node, ast.ImportFrom)
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from . import quiet` imports the submodule, `from .errors import X` the module
            return [f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module
                    for alias in node.names]

        def visit(node: ast.AST, function: str | None) -> None:
            for child in ast.iter_child_nodes(node):
                inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    else function
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    for target in targets(child):
                        if target in known and target != name:
                            result.append(Edge(source=name, target=target, line=child.lineno,
                                               function=function))
                visit(child, inner)

        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), None)
    return result


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that returns to its start, or None."""
    state: dict[str, int] = {}     # 1 = on the current path, 2 = finished
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = walk(start)
            if found:
                return found
    return None


def layered_graph() -> dict[str, set[str]]:
    """The import graph without the repr hooks' upward references."""
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for edge in edges():
        if not edge.repr_hook:
            graph[edge.source].add(edge.target)
    return graph


def test_finder_sees_a_cycle_and_its_absence() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_edges_read_module_and_function_level_imports() -> None:
    found = {(e.source, e.target, e.function is None) for e in edges()}
    # the facade imports errors at module level and the CLI entry point imports cli
    assert ("t3qkfp", "t3qkfp.errors", True) in found
    assert ("t3qkfp.__main__", "t3qkfp.cli", True) in found
    assert any(not top for _, _, top in found), "no function-level import seen at all"


def test_no_import_cycle_outside_the_repr_hooks() -> None:
    cycle = find_cycle(layered_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_repr_hooks_reach_only_display() -> None:
    wrong = [str(e) for e in edges() if e.repr_hook and e.target not in DISPLAY_MODULES
             and e.target != "t3qkfp.errors"]
    assert not wrong, "repr hooks reaching beyond display: " + "; ".join(wrong)


def test_display_neither_loads_nor_plans_nor_compiles() -> None:
    allowed = DISPLAY_MODULES | {"t3qkfp.model", "t3qkfp.params", "t3qkfp.errors"}
    wrong = [str(e) for e in edges() if e.source in DISPLAY_MODULES and e.target not in allowed]
    assert not wrong, "display imports beyond model, plan and errors: " + "; ".join(wrong)


def _design_modules() -> set[str]:
    """The module files DESIGN.md's module table names (a `runtime/` row covers the package)."""
    design = (PACKAGE.parent / "DESIGN.md").read_text(encoding="utf-8")
    table = design.split("## Modules", 1)[1].split("\n## ", 1)[0]
    named: set[str] = set()
    for row in table.splitlines():
        if row.startswith("| `"):
            first_cell = row.split("|")[1]
            named.update(part.strip("`") for part in first_cell.split() if part.strip("`,").endswith((".py", "/")))
    return {name.rstrip(",").rstrip("`") for name in named}


def test_design_module_table_names_exactly_the_modules_there_are() -> None:
    files = {str(p.relative_to(PACKAGE)) for p in PACKAGE.glob("*.py")}
    packages = {p.name + "/" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    named = _design_modules()
    assert named == files | packages, (f"in DESIGN.md but not in t3qkfp/: {sorted(named - files - packages)}; "
                                      f"in t3qkfp/ but not in DESIGN.md: {sorted((files | packages) - named)}")
