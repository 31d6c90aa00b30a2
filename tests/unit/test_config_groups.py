"""A key whose value is a config node chosen from a group (data.sampler, data.views, loss, logger.*, ...) refuses a
plain value before anything loads, naming the key, the spelling that selects the option and the group's options:
``data.sampler=no_duplicates`` (a dot for ``data/sampler=``) used to compose as a string and crash inside the
datamodule (``'str' object has no attribute 'num_steps'``)."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from simcse_pl.config import TrainConfig, check_config, compose_config, group_keys
from simcse_pl.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"
# Dict[str, Any] fields whose entries are arguments, not config nodes
ARGUMENT_DICTS = {"trainer", "model.random_init"}


def options(group: str) -> list[str]:
    """The group's options, read from conf/ (so a new YAML needs no edit here)."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))


def untyped_fields(schema: type = TrainConfig, prefix: str = "") -> typing.Iterator[str]:
    """Keys of the schema that OmegaConf cannot type: ``Any``, or a dict of ``Any`` (optional or not)."""
    for name, hint in typing.get_type_hints(schema, include_extras=True).items():
        bare = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
        if typing.get_origin(bare) is typing.Union:
            bare = next(a for a in typing.get_args(bare) if a is not type(None))
        if dataclasses.is_dataclass(bare):
            yield from untyped_fields(bare, f"{prefix}{name}.")
        elif bare is Any or (typing.get_origin(bare) in (dict, typing.Dict) and typing.get_args(bare)[1] is Any):
            yield f"{prefix}{name}"


def test_every_untyped_node_of_the_schema_is_a_declared_group():
    assert set(untyped_fields()) - ARGUMENT_DICTS == {key for key, _ in group_keys()}


GROUP_KEYS = list(group_keys())


@pytest.mark.parametrize("key, group", GROUP_KEYS, ids=[k for k, _ in GROUP_KEYS])
def test_a_plain_string_for_a_group_valued_key_is_refused_naming_the_key_and_the_options(key, group):
    cfg = compose_config("paths.output_dir=out")
    choices = options(group.path)
    assert choices, f"conf/{group.path}/ has no options"
    name = choices[-1]
    full_key = f"{key}.{name}" if group.entries else key
    OmegaConf.update(cfg, full_key, name, force_add=True)  # what `key=name` (or an experiment's `key: name`) gives
    with pytest.raises(ConfigError) as exc:
        check_config(cfg)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{full_key} is ")
    assert f"use {group.path}=" in message and name in message.split("use ", 1)[1]
    assert message.endswith(f"(options: {', '.join(choices)})")


def test_the_command_line_dot_for_the_groups_slash_is_refused_with_the_right_spelling():
    for override, line in [
        ("data.sampler=no_duplicates", "data.sampler is a config group: use data/sampler=no_duplicates (options: "),
        ("data.views=word_repetition", "data.views is a config group: use data/views=word_repetition (options: "),
    ]:
        with pytest.raises(ConfigError, match=f"^{line.replace('(', '[(]')}"):
            check_config(compose_config(override, "paths.output_dir=out"))


def test_null_entries_and_the_shipped_options_pass():
    check_config(compose_config("callbacks.throughput=null", "logger=none", "data/sampler=no_duplicates",
                                "paths.output_dir=out"))
