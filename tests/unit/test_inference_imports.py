"""Issue 24, friction 5: the inference side (``SimCSE``, simcse-eval / -encode / -export / -mine / -serve, the ONNX
writer) can reach no module that imports Lightning, read from the source with ``ast`` (imports inside functions
count): a second, so it runs in the default suite; tests/integration/test_inference_without_lightning.py is the
slow proof in a real process."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PACKAGE = REPO / "simcse_pl"
ENTRY_MODULES = ["simcse_pl.inference", "simcse_pl.cli.evaluate", "simcse_pl.cli.export", "simcse_pl.cli.mine",
                 "simcse_pl.cli.serve", "simcse_pl.cli.onnx"]


def _source(module: str) -> Path | None:
    path = PACKAGE.parent / Path(*module.split("."))
    return next((p for p in (path.with_suffix(".py"), path / "__init__.py") if p.is_file()), None)


def _imported(module: str) -> set[str]:
    """Every module name ``module`` imports, wherever the import sits (module level or inside a function)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(_source(module).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def test_no_module_the_inference_side_can_reach_imports_lightning():
    """The same property read from the source, in a second: the closure of simcse_pl modules the entry points
    import (also inside functions) holds no ``import lightning``; the process test is the slow proof."""
    seen: set[str] = set()
    todo = list(ENTRY_MODULES)
    offenders = []
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in _imported(module):
            if name.split(".")[0] in ("lightning", "pytorch_lightning"):
                offenders.append(f"{module} imports {name}")
            elif name.startswith("simcse_pl") and _source(name) is not None:
                todo.append(name)
    assert "simcse_pl.cli.evaluate" in seen and "simcse_pl.export.onnx" in seen
    assert not offenders, offenders
