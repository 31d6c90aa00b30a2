"""The reference pages, generated while MkDocs builds (``hooks:`` in mkdocs.yml), so they cannot drift from the code.

A page holds a marker where the generated part goes: ``<!-- generated: config -->`` becomes the config groups of
``conf/`` and every key of the typed schema (``simcse_pl.config.TrainConfig``: type, default, allowed values and the
comment written above the field); ``<!-- generated: cli -->`` becomes each console script of pyproject.toml's
``[project.scripts]`` with its ``--help``. The tests call the same functions (tests/unit/test_docs_reference.py).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import io
import os
import subprocess
import sys
import tokenize
import tomllib
import typing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # document this checkout's package, not another install

from hydra.utils import get_object
from omegaconf import MISSING

from simcse_pl import config as schema
from simcse_pl.checks import declared_check

REPO = Path(__file__).resolve().parents[2]
MARKERS = {"config": "<!-- generated: config -->", "cli": "<!-- generated: cli -->"}
# group -> the key of an option's file that holds the part it builds (None: the whole file; {} is the option's name)
PLUGGABLE = {"loss": None, "auxiliary": "{}", "data": "source", "data/views": None, "data/sampler": None}


@dataclasses.dataclass(frozen=True)
class Key:
    """One key of the typed schema, as the reference shows it."""

    key: str
    type: str
    default: str
    allowed: str
    doc: str


def field_comments(source: str) -> dict[tuple[str, str], str]:
    """``(class, field) -> comment`` for the dataclass fields of ``source``: the ``#`` lines right above a field
    and its trailing ``#`` comment, joined (a comment is how config.py documents a key)."""
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    lines = source.splitlines()
    found: dict[tuple[str, str], str] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            above: list[str] = []
            line = stmt.lineno - 1
            while line >= 1 and lines[line - 1].lstrip().startswith("#"):
                above.insert(0, comments[line])
                line -= 1
            trailing = [comments[n] for n in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1) if n in comments
                        and not lines[n - 1].lstrip().startswith("#")]
            found[(node.name, stmt.target.id)] = " ".join(above + trailing)
    return found


def type_name(hint: Any) -> str:
    """A type hint in the words a YAML writer uses: ``float``, ``int or null``, ``list[str]``, ``config node``."""
    if typing.get_origin(hint) is typing.Annotated:
        return type_name(typing.get_args(hint)[0])
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        named = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin in (list, typing.List):
        return f"list[{type_name(args[0])}]" if args else "list"
    if origin in (dict, typing.Dict):
        return "dict"
    if hint is typing.Any:
        return "config node"
    return getattr(hint, "__name__", str(hint))


def shown(value: Any) -> str:
    """A default as it would be written in YAML."""
    if value is MISSING:
        return "(set by a config file)"
    if dataclasses.is_dataclass(value):
        return "(the keys below)"
    return f"`{yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix('...').strip()}`"


def default_of(item: dataclasses.Field) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return MISSING


@functools.cache
def schema_comments() -> dict[tuple[str, str], str]:
    return field_comments(Path(schema.__file__).read_text(encoding="utf-8"))


def schema_keys(node: type = schema.TrainConfig, prefix: str = "") -> Iterator[Key]:
    """Every key of ``node`` and of the dataclasses it nests, depth first, with what the reference says of it."""
    comments = schema_comments()
    hints = typing.get_type_hints(node, include_extras=True)
    nested = []
    for item in dataclasses.fields(node):
        hint = hints[item.name]
        check = declared_check(hint)
        group = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, schema.Group)), None)
        allowed = check.allowed if check else ""
        if group is not None:
            allowed = f"an option of `{group.path}` ({', '.join(schema.group_options(group.path))})"
        yield Key(f"{prefix}{item.name}", "section" if dataclasses.is_dataclass(hint) else type_name(hint),
                  shown(default_of(item)), allowed, comments.get((node.__name__, item.name), ""))
        if dataclasses.is_dataclass(hint):
            nested.append((hint, f"{prefix}{item.name}."))
    for child, child_prefix in nested:
        yield from schema_keys(child, child_prefix)


def first_comment(path: Path) -> str:
    """The opening ``#`` lines of a config file, without Hydra's ``@package`` line, as one paragraph."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if text.startswith("@package"):
            continue
        if text.startswith(("python ", "loss=", "data=", "data.")) and words:
            break  # an example command line ends the description
        words.append(text)
    return " ".join(words).removesuffix(", e.g.").removesuffix(" e.g.")


def group_defaults() -> dict[str, str]:
    """``group -> default option`` from conf/train.yaml's defaults list (and conf/data/wiki.yaml's own)."""
    found: dict[str, str] = {}
    for entry in yaml.safe_load((schema.CONF_DIR / "train.yaml").read_text())["defaults"]:
        if isinstance(entry, dict):
            (key, value), = entry.items()
            if not key.startswith("override"):
                found[key] = "[]" if value == [] else "null" if value is None else str(value)
    for entry in yaml.safe_load((schema.CONF_DIR / "data" / "wiki.yaml").read_text())["defaults"]:
        if isinstance(entry, dict):
            (key, value), = entry.items()
            found[f"data/{key}"] = str(value)
    return found


def config_groups() -> list[str]:
    """The folders of conf/ that are config groups (``hydra/`` is Hydra's own)."""
    return sorted(str(p.parent.relative_to(schema.CONF_DIR)) for p in schema.CONF_DIR.rglob("*.yaml")
                  if p.parent != schema.CONF_DIR and not p.parent.relative_to(schema.CONF_DIR).parts[0] == "hydra")


def cell(text: str) -> str:
    """``text`` inside a Markdown table cell: one line, its pipes escaped, ``<x>`` shown rather than read as HTML."""
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def groups_markdown() -> list[str]:
    defaults = group_defaults()
    out = ["## Config groups", "",
           "Pick an option with `GROUP=OPTION` (`auxiliary=[mlm]` for the list group); the files are in `conf/GROUP/`.",
           "", "| group | default | options |", "|---|---|---|"]
    groups = sorted(set(config_groups()))
    for group in groups:
        out.append(f"| `{group}` | `{defaults.get(group, 'null')}` | "
                   + ", ".join(f"`{o}`" for o in schema.group_options(group)) + " |")
    for group in groups:
        out += ["", f"### `{group}`", "", "| option | what it is |", "|---|---|"]
        for option in schema.group_options(group):
            out.append(f"| `{option}` | {cell(first_comment(schema.CONF_DIR / group / f'{option}.yaml')) or '—'} |")
    return out


def keys_markdown() -> list[str]:
    out = ["## Keys of the typed schema", "",
           "`simcse_pl/config.py` declares each key once, with its type, default and allowed values; Hydra checks "
           "the types while it composes, `check_config` the allowed values before anything loads. A group file "
           "changes some of these defaults (`conf/model/bert-base.yaml` sets `model.name_or_path`).", ""]
    sections: dict[str, list[Key]] = {}
    for key in schema_keys():
        sections.setdefault(key.key.rpartition(".")[0], []).append(key)
    classes = {"": schema.TrainConfig}
    for key in schema_keys():
        if key.type == "section":
            parent = classes[key.key.rpartition(".")[0]]
            classes[key.key] = typing.get_type_hints(parent)[key.key.rpartition(".")[2]]
    for section, keys in sections.items():
        node = classes[section]
        out += [f"### `{section or '(top level)'}`", "", cell(" ".join((node.__doc__ or "").split())), "",
                "| key | type | default | allowed | what it does |", "|---|---|---|---|---|"]
        for key in keys:
            out.append(f"| `{key.key}` | {cell(key.type)} | {cell(key.default)} | {cell(key.allowed) or '—'} | "
                       f"{cell(key.doc)} |")
        out.append("")
    return out


def option_node(group: str, option: str) -> dict[str, Any]:
    """``conf/<group>/<option>.yaml`` merged over the files of its group it builds on (``defaults: [nli]``), as
    Hydra composes it; entries that compose other groups (``/loss@inner``) are left to their own sections."""
    node = yaml.safe_load((schema.CONF_DIR / group / f"{option}.yaml").read_text()) or {}
    merged: dict[str, Any] = {}
    for entry in node.pop("defaults", []):
        if isinstance(entry, str) and entry != "_self_":
            merged = merge(merged, option_node(group, entry))
    return merge(merged, node)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def pluggable_markdown() -> list[str]:
    out = ["## Arguments of the pluggable parts", "",
           "`loss`, `auxiliary.*`, `data.source`, `data.views` and `data.sampler` are typed by the constructor their "
           "`_target_` names (`signature_schema`): each option's arguments, as `check_config` checks them. The "
           "`trainer` group is `lightning.Trainer`'s own arguments, checked against the installed Lightning.", ""]
    for group, key in PLUGGABLE.items():
        for option in schema.group_options(group):
            node = option_node(group, option)
            part = node if key is None else node.get(key.format(option))
            if isinstance(part, dict) and "_target_" in part:
                out += part_markdown(group, option, part)
    return out


def part_markdown(group: str, option: str, node: dict[str, Any]) -> list[str]:
    constructor = get_object(node["_target_"])
    part = schema.signature_schema(constructor)
    hints = typing.get_type_hints(constructor.__init__, include_extras=True)
    summary = " ".join((constructor.__doc__ or "").split("\n\n")[0].split())
    out = [f"### `{group}={option}`", "", f"`{node['_target_']}`: {cell(summary)}", "",
           "| argument | type | default | allowed | this option sets |", "|---|---|---|---|---|"]
    for item in dataclasses.fields(part):
        if item.name == "_target_":
            continue
        check = declared_check(hints.get(item.name, Any))
        given = node.get(item.name, "")
        out.append(f"| `{item.name}` | {cell(type_name(hints.get(item.name, Any)))} | {cell(shown(default_of(item)))} "
                   f"| {cell(check.allowed) if check else '—'} | {cell(shown(given)) if item.name in node else ''} |")
    return out + [""]


def config_reference() -> str:
    return "\n".join(groups_markdown() + [""] + keys_markdown() + pluggable_markdown())


def console_scripts() -> dict[str, str]:
    """``name -> module:function`` of pyproject.toml's ``[project.scripts]``."""
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def help_text(name: str, target: str) -> str:
    """``name --help`` as a user sees it, from this checkout (100 columns, so the page does not depend on the
    terminal that built it)."""
    module, function = target.split(":")
    code = f"import sys; sys.argv = [{name!r}, '--help']; from {module} import {function}; {function}()"
    env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{name} --help failed (status {done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout.rstrip()


def cli_reference() -> str:
    scripts = console_scripts()
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = dict(zip(scripts, pool.map(lambda item: help_text(*item), scripts.items())))
    out = []
    for name, target in scripts.items():
        out += [f"## `{name}`", "", f"`{target}`", "", "```text", texts[name], "```", ""]
    return "\n".join(out)


GENERATORS = {"config": config_reference, "cli": cli_reference}


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """MkDocs' hook: put each generated part in place of its marker."""
    for name, marker in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, GENERATORS[name]())
    return markdown
