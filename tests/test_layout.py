"""The package's three parts depend one way (harness/*/__init__.py): ppo <- runs <- analysis,
with the commands on top; one home per idea (no two modules share a name)."""

import ast
from pathlib import Path

import harness

ROOT = Path(harness.__file__).parent
ANALYSIS_MAY_IMPORT = {"harness.ppo.config", "harness.ppo.numerics", "harness.runs.spec",
                       "harness.runs.schema", "harness.runs.files", "harness.runs.expand",
                       "harness.runs.sequential_record", "harness.runs.references",
                       "harness.runs.plan_history", "harness.runs.provenance"}
"""Data types and formats: the config, the trainer's numerics version, the experiment, the
results schema and files, the run ids, the sequential record (``sequential.json``), the
committed reference scores, the experiment file's registration commit (its git history) and
the software recorded per manifest session."""


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


def test_only_the_command_line_imports_the_commands():
    for module, deps in imports().items():
        if part(module) in ("ppo", "runs", "analysis"):
            assert "commands" not in {part(d) for d in deps}, (module, deps)


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


def test_no_two_modules_share_a_name():
    """One home per idea: a module's file name says which it is, wherever it sits."""
    names: dict[str, list[str]] = {}
    for path in ROOT.rglob("*.py"):
        if path.name != "__init__.py":
            names.setdefault(path.stem, []).append(str(path.relative_to(ROOT)))
    assert {n: p for n, p in names.items() if len(p) > 1} == {}


def test_the_command_line_only_parses_and_dispatches():
    """``cli.py`` stays a screen or two; each command lives in ``harness.commands``."""
    assert len((ROOT / "cli.py").read_text().splitlines()) <= 150
    commands = {p.stem for p in (ROOT / "commands").glob("*.py")}
    assert {"run", "status", "plan", "report", "export", "rollout", "bench"} <= commands


def test_only_the_report_command_imports_the_report_writer():
    users = {m for m, deps in imports().items() if "harness.analysis.report_writer" in deps}
    assert users == {"harness.commands.report"}


def test_the_sequential_record_is_read_and_written_in_one_module():
    """Every other module asks ``runs.sequential_record``: the file's name is in no other
    module's code (docstrings aside)."""
    home = ROOT / "runs" / "sequential_record.py"
    for path in ROOT.rglob("*.py"):
        code = ast.parse(path.read_text())
        docs = {id(n.value) for n in ast.walk(code) if isinstance(n, ast.Expr)}
        strings = [n.value for n in ast.walk(code) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str) and id(n) not in docs]
        named = any("sequential.json" in s for s in strings)
        assert named == (path == home), path
