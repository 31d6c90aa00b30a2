"""The package's floor plan (docs/contributing.md): each wing imports only wings on lower floors, and nothing
imports in a circle. Read from the source with ``ast``, counting every import: at module level, inside functions,
under ``TYPE_CHECKING``, and ``importlib.import_module`` of a literal name. A change that quietly undoes the
layout fails here, naming the import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "simcse_pl"

# bottom up; a module may import modules on lower floors, and modules of its own wing (without a circle)
FLOORS: dict[str, int] = {
    "simcse_pl.errors": 0,
    "simcse_pl.checks": 0,
    "simcse_pl.hub": 0,
    "simcse_pl.console": 0,
    "simcse_pl.config": 1,
    "simcse_pl.data": 2,
    "simcse_pl.encoders": 2,
    "simcse_pl.losses": 3,
    "simcse_pl.evaluation": 3,
    "simcse_pl.export": 4,
    "simcse_pl.training": 5,
    "simcse_pl.inference": 5,
    "simcse_pl.serving": 6,
    "simcse_pl.cli": 7,
    "simcse_pl": 8,  # the package's own __init__: the public names, imported lazily from the wings
}
MAX_TOP_LEVEL_MODULES = 8


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def wing(module: str) -> str:
    """The floor-plan entry a module belongs to: its top-level file, or its first-level folder."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def imports(module: str) -> list[tuple[int, str]]:
    """``(line, imported simcse_pl module)`` for every import in ``module``, wherever it sits."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name.startswith("simcse_pl") and name != module:
                found.append((node.lineno, name))
    return found


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_has_a_floor():
    assert not [m for m in MODULES if wing(m) not in FLOORS], "add the new wing to FLOORS (and to docs/contributing.md)"


def test_wings_import_only_lower_floors():
    upward = [
        f"{MODULES[m].relative_to(PACKAGE.parent)}:{line} imports {target} ({wing(m)} is on floor "
        f"{FLOORS[wing(m)]}, {wing(target)} on floor {FLOORS[wing(target)]})"
        for m, targets in GRAPH.items() for line, target in targets
        if wing(target) != wing(m) and FLOORS[wing(target)] >= FLOORS[wing(m)]
    ]
    assert not upward, "\n".join(upward)


def test_no_import_circles():
    """Tarjan's strongly connected components of the import graph: every one is a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for _, w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    assert not circles, f"import circles: {circles}"


def test_few_modules_at_the_package_root():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, f"{len(top)} modules directly under simcse_pl/: {top}"


@pytest.mark.parametrize("code", [
    "from simcse_pl.training.run import run\n",
    "def f():\n    from simcse_pl.cli import train\n",
    "import importlib\nimportlib.import_module('simcse_pl.training.module')\n",
])
def test_the_check_sees_an_upward_import_wherever_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str):
    """The reader itself: an import from a data module up to training or the console scripts is found at module
    level, inside a function and through importlib."""
    probe = PACKAGE / "data" / "_architecture_probe.py"
    monkeypatch.setitem(MODULES, "simcse_pl.data._architecture_probe", probe)
    original = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: code if self == probe else original(self, *a, **k))
    found = [target for _, target in imports("simcse_pl.data._architecture_probe")]
    assert found and all(FLOORS[wing(t)] > FLOORS["simcse_pl.data"] for t in found)
