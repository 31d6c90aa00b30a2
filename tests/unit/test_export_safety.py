"""``simcse-export`` treats a run folder as data: a saved loss config names only registered objectives (no
function, no attribute reached through a module) and its arguments pass the config schema; every refusal is one
line, ``simcse-export: error: ...``, exit status 2, with nothing called and nothing written."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from simcse_pl.export_cli import main
from simcse_pl.losses import REGISTRY, InfoNCE, build_registered, registered_class
from simcse_pl.losses.base import Auxiliary, Objective
from simcse_pl.module import SimCSEModule
from tiny_model import TINY_MODEL

REPO = Path(__file__).resolve().parents[2]
MARKER = "simcse_export_payload_marker"  # in every argument of a hostile config: a recorded call carries it


def save_checkpoint(path: Path) -> Path:
    """A valid SimCSEModule checkpoint of the tiny random model (what train.py's last.ckpt holds, minus Lightning's
    extras), so an export of it gets past loading the weights."""
    torch.manual_seed(0)
    module = SimCSEModule(model=TINY_MODEL, loss=InfoNCE())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": module.state_dict(), "global_step": 2, "hyper_parameters": {"model": TINY_MODEL}}, path)
    return path


def make_run(folder: Path, loss: dict[str, Any] | None) -> Path:
    """A run folder as train.py leaves it, as far as simcse-export reads it: run_info.json and checkpoints/."""
    save_checkpoint(folder / "checkpoints" / "last.ckpt")
    config = {"model": TINY_MODEL, "data": {"eval_max_len": 32}, **({"loss": loss} if loss is not None else {})}
    (folder / "run_info.json").write_text(json.dumps({"config": config, "versions": {}}))
    return folder


def export(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(list(args))
    return code, capsys.readouterr().err.splitlines()


# --- a saved _target_ cannot choose the code that runs


def _owner(dotted: str) -> tuple[Any, str]:
    """The object holding the last attribute of ``dotted`` (the test walks the path the attack would)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:-1]:
            obj = getattr(obj, name)
        return obj, parts[-1]
    raise AssertionError(dotted)


HOSTILE = {
    "simcse_pl.losses.base.torch.load": {"f": f"{MARKER}.pt", "weights_only": False},
    "simcse_pl.losses.mlm.AutoModelForMaskedLM.from_pretrained": {
        "pretrained_model_name_or_path": f"/nonexistent/{MARKER}", "trust_remote_code": True},
    "simcse_pl.losses.cosent.torch.save": {"obj": MARKER, "f": f"/nonexistent/{MARKER}.pt"},
    "simcse_pl.losses.base.F.normalize": {"input": MARKER},
    "simcse_pl.losses.importlib.import_module": {"name": MARKER},
}


@pytest.mark.parametrize("target", sorted(HOSTILE))
@pytest.mark.parametrize("nested", [False, True], ids=["loss", "matryoshka-inner"])
def test_a_saved_target_outside_the_registry_is_never_called(
    target: str, nested: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    calls: list[tuple[Any, ...]] = []
    owner, attr = _owner(target)
    real: Callable[..., Any] = getattr(owner, attr)

    def spy(*args: Any, **kwargs: Any) -> Any:
        if MARKER in repr((args, kwargs)):
            calls.append((args, kwargs))
            return None  # as if it had run: the export would go on and succeed
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, attr, spy)
    hostile = {"_target_": target, **HOSTILE[target]}
    loss = {"_target_": "simcse_pl.losses.matryoshka.Matryoshka", "dims": [32, 16], "inner": hostile} if nested \
        else hostile
    run = make_run(tmp_path / "run", loss)
    code, err = export(str(run), capsys=capsys)
    assert calls == []
    key = "loss.inner" if nested else "loss"
    assert code == 2
    assert err == [f"simcse-export: error: {run / 'run_info.json'}: {key}: {target!r} is not one of simcse-pl's "
                   f"losses ({', '.join(sorted(REGISTRY))}); refused"]
    assert not (run / "model").exists()


def test_the_payload_file_is_never_unpickled(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The attack itself, unpatched: a pickle that creates a file when loaded with weights_only=False."""
    created = tmp_path / "pwned"
    payload = tmp_path / "payload.pt"

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return open, (str(created), "w")

    torch.save(Payload(), payload)
    run = make_run(tmp_path / "run", {"_target_": "simcse_pl.losses.base.torch.load", "f": str(payload),
                                      "weights_only": False})
    code, err = export(str(run), capsys=capsys)
    assert (code, len(err)) == (2, 1) and err[0].startswith("simcse-export: error: ")
    assert not created.exists()


@pytest.mark.parametrize("loss, message", [
    ({"_target_": "simcse_pl.losses.InfoNCE", "tau": 0.05, "temperature": 1.0},
     "loss.temperature: Key 'temperature' not in 'InfoNCEConfig'"),
    ({"_target_": "simcse_pl.losses.InfoNCE", "tau": "warm"},
     "loss.tau: Value 'warm' of type 'str' could not be converted to Float"),
    ({"_target_": "simcse_pl.losses.InfoNCE", "tau": -1.0}, "loss.tau=-1.0: must be > 0"),
    ({"_target_": "simcse_pl.losses.InfoNCE", "_args_": ["x"]}, "loss._args_: Key '_args_' not in 'InfoNCEConfig'"),
    ({"_target_": "simcse_pl.losses.matryoshka.Matryoshka", "dims": [16, 32], "inner": {
        "_target_": "simcse_pl.losses.InfoNCE"}},
     "loss.dims=[16, 32]: must be a non-empty, strictly descending list of positive integers"),
    ({"_target_": "simcse_pl.losses.matryoshka.Matryoshka", "dims": [32], "inner": {
        "_target_": "simcse_pl.losses.cosent.CoSENT", "scale": 0}}, "loss.inner.scale=0: must be > 0"),
    ({"_target_": "simcse_pl.losses.mlm.MaskedLM"},
     "loss: 'simcse_pl.losses.mlm.MaskedLM' is not an Objective (simcse_pl.losses.Objective)"),
    ({"_target_": "simcse_pl.losses.InfoNCE", "tau": "${oc.env:HOME}"},
     "loss.tau: an interpolation (${...}) in a saved config, which holds resolved values only; refused"),
    ("simcse_pl.losses.InfoNCE", "loss: 'simcse_pl.losses.InfoNCE' is not a config (a mapping with a _target_)"),
])
def test_saved_arguments_are_checked_against_the_schema(
    loss: Any, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    run = make_run(tmp_path / "run", loss)
    assert export(str(run), capsys=capsys) == (2, [f"simcse-export: error: {run / 'run_info.json'}: {message}"])
    assert not (run / "model").exists()


def test_a_registered_objective_is_rebuilt_and_its_sizes_exported(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    loss = {"_target_": "simcse_pl.losses.matryoshka.Matryoshka", "dims": [32, 16], "weights": [1.0, 0.5],
            "inner": {"_target_": "simcse_pl.losses.cosent.CoSENT", "scale": 20.0}}
    run = make_run(tmp_path / "run", loss)
    code, err = export(str(run), capsys=capsys)
    assert code == 0, err
    assert json.loads((run / "model" / "simcse_pl.json").read_text())["matryoshka_dims"] == [32, 16]


# --- the registry


def test_the_registry_is_exactly_the_packages_objectives_and_the_configs_names():
    """Every objective class of simcse_pl/losses/ and nothing else; every conf/ target is in it."""
    import simcse_pl.losses as losses

    defined = {f"{c.__module__}.{c.__qualname__}" for m in (importlib.import_module(f"simcse_pl.losses.{p.stem}")
               for p in (REPO / "simcse_pl" / "losses").glob("[!_]*.py"))
               for c in vars(m).values() if isinstance(c, type) and c.__module__ == m.__name__
               and issubclass(c, (Objective, Auxiliary)) and c not in (Objective, Auxiliary)}
    assert set(REGISTRY) == defined | {"simcse_pl.losses.InfoNCE"}
    assert REGISTRY["simcse_pl.losses.InfoNCE"] is losses.InfoNCE
    named = {m.group(1) for p in [*(REPO / "conf" / "loss").glob("*.yaml"), *(REPO / "conf" / "auxiliary").glob("*.yaml")]
             for m in re.finditer(r"_target_:\s*(\S+)", p.read_text())}
    assert named and named <= set(REGISTRY)


def test_a_subclass_defined_outside_the_package_is_not_registered():
    class Outside(Objective):
        pass

    assert Outside not in REGISTRY.values()
    with pytest.raises(ValueError, match="is not one of simcse-pl's losses"):
        registered_class(f"{Outside.__module__}.{Outside.__qualname__}", "loss")


def test_every_loss_preset_builds_from_the_registry():
    """What train.py composes from conf/loss/*.yaml, as run_info.json records it, rebuilds through the registry."""
    from omegaconf import OmegaConf

    from simcse_pl.config import compose_config

    for preset in sorted(p.stem for p in (REPO / "conf" / "loss").glob("*.yaml")):
        loss = OmegaConf.to_container(compose_config(f"loss={preset}").loss, resolve=True)
        assert isinstance(build_registered(loss, "loss"), Objective), preset


def _hydra_utils_users(path: Path) -> set[str]:
    """The names a module imports from hydra.utils (``from hydra.utils import X``; ``hydra.utils.X``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "hydra.utils"
             for a in n.names}
    return names | {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                    and ast.unparse(n.value) == "hydra.utils"}


def test_only_the_composed_config_reaches_hydras_instantiate():
    """hydra.utils.instantiate / get_object import and call any dotted name: only run.py (the composed config,
    conf/ plus the command line) and config.py (its check) may use them; a saved file goes through the registry."""
    users = {str(p.relative_to(REPO)): names for p in sorted((REPO / "simcse_pl").rglob("*.py"))
             if (names := _hydra_utils_users(p))}
    assert users == {"simcse_pl/config.py": {"get_object"}, "simcse_pl/run.py": {"instantiate"}}
