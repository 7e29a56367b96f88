"""The package's layers: imports run from the stages down to the shared helpers, never up,
never between peer stages, and never in a circle."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "berl"
# Lower layers first; a module may import its own package and any lower layer. Coverage
# and distillation are peers: neither imports the other.
LAYERS = [
    {"core"},
    {"datasets"},
    {"offline"},
    {"explore"},  # the explorers learn with the offline TD3
    {"coverage", "distill"},
    {"reports"},
    {"config"},
    {"cli"},  # reads a job's settings blocks as the configuration's dataclasses
    {"__main__"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_in(source: str, name: str, is_package: bool = False) -> set[str]:
    """Every berl module that module ``name`` imports, at the top or inside a function."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("berl")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("berl"):
                found.add(module)
                # `from berl.x import y` may name the module berl.x.y
                found |= {f"{module}.{alias.name}" for alias in node.names
                          if (PACKAGE.parent / f"{module}.{alias.name}".replace(".", "/")).with_suffix(".py").exists()}
    return found - {name}


def imports_of(path: Path) -> set[str]:
    return imports_in(path.read_text(), module_name(path), path.name == "__init__.py")


GRAPH = {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def part_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_layer():
    assert {part_of(m) for m in GRAPH} - {"__init__"} <= set(RANK)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_only_run_down_the_layers(module):
    if part_of(module) == "__init__":
        return
    own = part_of(module)
    for imported in GRAPH[module]:
        other = part_of(imported)
        if other in ("__init__", own):
            continue
        assert RANK[other] < RANK[own], f"{module} imports {imported}: {other} is not below {own}"


def test_no_import_cycle():
    done, on_path = set(), []

    def visit(module):
        if module in on_path:
            raise AssertionError("import cycle: " + " -> ".join(on_path[on_path.index(module):] + [module]))
        if module in done or module not in GRAPH:
            return
        on_path.append(module)
        for imported in GRAPH[module]:
            visit(imported)
        on_path.pop()
        done.add(module)

    for module in GRAPH:
        visit(module)


def test_the_checker_sees_relative_lazy_and_module_imports():
    source = ("import numpy\nfrom berl.core import io\n"
              "def f():\n    from ..reports.common import provenance\n")
    assert imports_in(source, "berl.coverage.probe") == {"berl.core", "berl.core.io", "berl.reports.common"}
    assert RANK["reports"] > RANK["coverage"]  # so that import is an upward one


def test_no_stage_imports_a_report_module():
    for module, imported in GRAPH.items():
        if RANK.get(part_of(module), len(LAYERS)) < RANK["reports"]:
            assert not any(part_of(i) == "reports" for i in imported), module


def test_each_rule_file_names_a_stage_package(repo):
    """workflow/rules/<stage>.smk for each stage package (and common.smk for shared parts)."""
    rule_files = {path.stem for path in (repo / "workflow/rules").glob("*.smk")}
    stages = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert rule_files == (stages - {"core"}) | {"common"}


def test_the_workflows_imports_load_no_heavy_library():
    """Every job on a cluster parses the Snakefile again: what its rule files import from
    berl must load none of torch, faiss, scipy, pandas or scikit-learn (the settings live in
    light modules; bench/bench_workflow_parse.py measures the time)."""
    workflow = PACKAGE.parents[1] / "workflow"
    sources = [PACKAGE.parents[1] / "Snakefile", *sorted(workflow.glob("rules/*.smk"))]
    statements = [line for path in sources for line in path.read_text().splitlines()
                  if re.match(r"(from|import) berl\b", line)]
    assert len(statements) >= 5, statements  # the check reads the rule files' imports
    heavy = ("torch", "faiss", "scipy", "pandas", "sklearn")
    probe = "\n".join(statements) + f"\nimport sys\nprint(sorted(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
