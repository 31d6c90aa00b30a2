"""docs/hooks/reference.py, imported for the tests (MkDocs loads it by path; it is not a package module)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HOOK = Path(__file__).resolve().parents[3] / "docs" / "hooks" / "reference.py"


def load() -> object:
    if "docs_reference" not in sys.modules:
        spec = importlib.util.spec_from_file_location("docs_reference", HOOK)
        module = importlib.util.module_from_spec(spec)
        sys.modules["docs_reference"] = module  # dataclasses look their module up while the file runs
        spec.loader.exec_module(module)
    return sys.modules["docs_reference"]
