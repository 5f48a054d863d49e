"""The package's three parts depend one way (harness/*/__init__.py): ppo <- runs <- analysis."""

import ast
from pathlib import Path

import harness

ROOT = Path(harness.__file__).parent
ANALYSIS_MAY_IMPORT = {"harness.ppo.config", "harness.runs.spec", "harness.runs.schema",
                       "harness.runs.files", "harness.runs.expand",
                       "harness.runs.sequential_record"}
"""Data types and formats: the config, the experiment, the results schema and files, the run
ids, and the sequential record (``sequential.json``)."""


def imports() -> dict[str, set[str]]:
    """Module name -> the ``harness`` modules it imports (also lazily, inside functions)."""
    graph = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(("harness", *path.relative_to(ROOT).with_suffix("").parts))
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness"):
                found |= ({f"{node.module}.{a.name}" for a in node.names}
                          if node.module in ("harness", "harness.ppo", "harness.runs",
                                             "harness.analysis") else {node.module})
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("harness")}
        graph[name.removesuffix(".__init__")] = found
    return graph


def part(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


def test_ppo_imports_neither_runs_nor_analysis():
    for module, deps in imports().items():
        if part(module) == "ppo":
            assert {part(d) for d in deps} <= {"ppo"}, (module, deps)


def test_runs_never_imports_analysis():
    for module, deps in imports().items():
        if part(module) == "runs":
            assert "analysis" not in {part(d) for d in deps}, (module, deps)


def test_analysis_imports_only_data_types_of_the_other_parts():
    for module, deps in imports().items():
        if part(module) == "analysis":
            outside = {d for d in deps if part(d) in ("ppo", "runs")}
            assert outside <= ANALYSIS_MAY_IMPORT, (module, outside - ANALYSIS_MAY_IMPORT)


def test_no_import_cycles():
    graph = imports()
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dep in graph.get(module, ()):
            assert state.get(dep) != "open", f"import cycle: {' -> '.join([*path, dep])}"
            if dep in graph and dep not in state:
                visit(dep, [*path, dep])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [module])
