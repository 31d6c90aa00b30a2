"""The generated reference (docs/hooks/reference.py): every key of the typed schema is on the config page with
what it does (a new key without a comment above it in simcse_pl/config.py fails here), every config group and
option of conf/ is listed, and every console script of pyproject.toml gets its own section."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from pathlib import Path

from simcse_pl import config
from simcse_pl.config import CONF_DIR, TrainConfig

from reference_hook import load

REPO = Path(__file__).resolve().parents[3]
hook = load()


def schema_keys(node: type = TrainConfig, prefix: str = "") -> set[str]:
    """Every key of the schema, walked here independently of the generator."""
    keys = set()
    for name, hint in typing.get_type_hints(node).items():
        keys.add(prefix + name)
        if dataclasses.is_dataclass(hint):
            keys |= schema_keys(hint, f"{prefix}{name}.")
    return keys


def test_every_schema_key_is_documented():
    documented = {key.key: key for key in hook.schema_keys()}
    assert set(documented) == schema_keys()
    missing = sorted(k for k, key in documented.items() if len(key.doc) < 10)
    assert not missing, f"keys with no comment above them in simcse_pl/config.py: {missing}"


def test_the_config_page_lists_every_key_group_and_option():
    page = "\n".join(hook.groups_markdown() + hook.keys_markdown())  # the arguments' part imports torch: site test
    for key in schema_keys():
        assert f"| `{key}` |" in page, key
    for folder in (p for p in CONF_DIR.rglob("*") if p.is_dir() and p.name != "hydra" and p.parent.name != "hydra"):
        group = str(folder.relative_to(CONF_DIR))
        for option in config.group_options(group):
            assert f"| `{option}` |" in page.split(f"### `{group}`", 1)[1], f"{group}={option}"


def test_a_key_gets_its_type_default_and_range():
    [lr] = [key for key in hook.schema_keys() if key.key == "optim.lr"]
    assert (lr.type, lr.default, lr.allowed) == ("float", "`3.0e-05`", "> 0")
    [pooler] = [key for key in hook.schema_keys() if key.key == "model.pooler"]
    assert pooler.allowed.startswith("one of cls")


def test_comments_above_and_beside_a_field_are_its_documentation():
    source = "class A:\n    # what x is\n    x: int = 1\n    y: str = 'a'  # what y is\n    z: int = 2\n"
    assert hook.field_comments(source) == {("A", "x"): "what x is", ("A", "y"): "what y is", ("A", "z"): ""}


def test_every_console_script_has_a_section():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(hook.console_scripts()) == set(scripts) and "simcse-validate" in scripts
