"""``simcse-export`` treats a run folder as data: a saved loss config names only registered objectives (no
function, no attribute reached through a module) and its arguments pass the config schema; every refusal is one
line, ``simcse-export: error: ...``, exit status 2, with nothing called and nothing written."""

from __future__ import annotations

import ast
import errno
import importlib
import json
import os
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from safetensors import SafetensorError

from simcse_pl.cli.export import main
from simcse_pl.losses import REGISTRY, InfoNCE, build_registered, registered_class
from simcse_pl.losses.base import Auxiliary, Objective
from simcse_pl.training.module import SimCSEModule
from tiny_model import TINY_MODEL

REPO = Path(__file__).resolve().parents[3]
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
    presets = [*(REPO / "conf" / "loss").glob("*.yaml"), *(REPO / "conf" / "auxiliary").glob("*.yaml")]
    named = {m.group(1) for p in presets for m in re.finditer(r"_target_:\s*(\S+)", p.read_text())}
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
    assert users == {"simcse_pl/config.py": {"get_object"}, "simcse_pl/training/run.py": {"instantiate"}}


# --- the output folder: a user's folder is refused, an earlier export replaced whole


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Stages or set-aside folders beside ``folder`` (there should be none once an export has ended)."""
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


INFONCE = {"_target_": "simcse_pl.losses.InfoNCE", "tau": 0.05}


@pytest.fixture(scope="module")
def exported_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with its export (``model/``), made once; tests copy it."""
    run = make_run(tmp_path_factory.mktemp("exported") / "run", INFONCE)
    assert main([str(run)]) == 0
    return run


@pytest.fixture
def run(exported_run: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(exported_run, tmp_path / "run"))


def test_a_users_folder_is_refused(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]):
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "README.md").write_text("my project\n")
    (mine / "config.json").write_text('{"mine": true}\n')
    before = snapshot(mine)
    monkeypatch.chdir(tmp_path)
    code, err = export(str(run / "checkpoints" / "last.ckpt"), "--output", "project", capsys=capsys)
    assert (code, err) == (2, [
        "simcse-export: error: project: a folder with other files, not an earlier export (no simcse_pl.json); the "
        "export replaces the whole folder: choose an empty or new one, or pass --overwrite to replace it"])
    assert snapshot(mine) == before and leftovers(mine) == []


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_the_current_folder_is_refused(overwrite: list[str], run: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The issue's case, ``--output .`` in a user's folder; even an earlier export there is not replaced (the
    shell would be left in a deleted folder)."""
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "README.md").write_text("my project\n")
    before = snapshot(mine)
    monkeypatch.chdir(mine)
    assert export(str(run / "checkpoints" / "last.ckpt"), "--output", ".", *overwrite, capsys=capsys) == (2, [
        "simcse-export: error: --output .: holds the current folder, which the export would replace (the shell "
        "would be left in a deleted folder); choose another folder"])
    assert snapshot(mine) == before
    monkeypatch.chdir(run / "model")
    assert export(str(run), "--output", ".", capsys=capsys)[0] == 2


def test_overwrite_replaces_a_users_folder_whole(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    code, err = export(str(run), "--output", str(mine), "--overwrite", capsys=capsys)
    assert code == 0, err
    assert not (mine / "notes.txt").exists()
    assert snapshot(mine) == snapshot(run / "model")  # the same export as train.py's folder, nothing else


@pytest.mark.parametrize("output", ["run", "run/checkpoints", "."])
def test_a_folder_holding_what_is_exported_is_refused_even_with_overwrite(
    output: str, run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(run.parent)
    before = snapshot(run)
    code, err = export("run", "--output", output, "--overwrite", capsys=capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"simcse-export: error: --output {output}: holds ")
    assert err[0].endswith(", which replacing the folder would delete; choose another folder")
    assert snapshot(run) == before


def test_a_file_as_output_is_refused(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "file").write_text("x")
    assert export(str(run), "--output", str(tmp_path / "file"), capsys=capsys) == (
        2, [f"simcse-export: error: {tmp_path / 'file'}: exists and is not a folder"])


def test_an_earlier_export_is_replaced_whole_stale_onnx_included(run: Path, capsys: pytest.CaptureFixture[str]):
    """An ONNX file of other weights beside a re-export would give ONNX vectors of the old model."""
    model = run / "model"
    (model / "onnx").mkdir()
    (model / "onnx" / "model.onnx").write_bytes(b"an earlier export's graph")
    (model / "stale.txt").write_text("from before")
    expected = snapshot(model)
    del expected["onnx/model.onnx"], expected["stale.txt"]
    code, err = export(str(run), capsys=capsys)
    assert code == 0, err
    assert snapshot(model) == expected and leftovers(model) == []


# --- written whole or not at all: a stop signal, a full or read-only disk


def save_pretrained_then(error: BaseException) -> Callable[..., None]:
    """A stand-in for the encoder's writer that writes part of its file, then fails (a signal, a full disk)."""
    def save(self: Any, folder: str, *args: Any, **kwargs: Any) -> None:
        (Path(folder) / "model.safetensors").write_bytes(b"half")
        raise error
    return save


@pytest.mark.parametrize("earlier", [True, False], ids=["over-an-export", "new-folder"])
def test_a_stop_signal_during_export_leaves_the_folder_as_it_was(
    earlier: bool, run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    from transformers import PreTrainedModel

    model = run / "model"
    if not earlier:
        import shutil

        shutil.rmtree(model)
    before = snapshot(model) if earlier else None
    monkeypatch.setattr(PreTrainedModel, "save_pretrained", save_pretrained_then(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        main([str(run)])
    assert (snapshot(model) if model.exists() else None) == before
    assert leftovers(model) == []


def test_train_pys_export_is_staged_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """export_model, which run.py calls at the end of training: interrupted, no half-written model/."""
    from transformers import PreTrainedModel

    from simcse_pl.export.writer import export_model

    module = SimCSEModule(model=TINY_MODEL, loss=InfoNCE())
    monkeypatch.setattr(PreTrainedModel, "save_pretrained", save_pretrained_then(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        export_model(module.sentence_encoder, str(tmp_path / "model"))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    assert export_model(module.sentence_encoder, str(tmp_path / "model")) == str(tmp_path / "model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_what_a_killed_export_left_is_cleared(run: Path, capsys: pytest.CaptureFixture[str]):
    """SIGKILL cannot be caught: its stage stays, and, killed between the two renames, the old export is aside."""
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    model = run / "model"
    before = snapshot(model)
    stage = model.with_name(f".model.partial-{socket.gethostname()}-{pid}-0123abcd")
    stage.mkdir()
    (stage / "config.json").write_text("{}")
    model.rename(model.with_name(f".model.old-{socket.gethostname()}-{pid}-0123abcd"))
    from simcse_pl.export.staging import staged_folder

    with pytest.raises(RuntimeError, match="the next export fails too"):
        with staged_folder(model):  # the next export of the folder: what it finds is cleared first
            raise RuntimeError("the next export fails too")
    assert snapshot(model) == before and leftovers(model) == []


def small_export(folder: Path, pooler: str) -> Path:
    folder.mkdir()
    (folder / "simcse_pl.json").write_text(json.dumps({"pooler": pooler}))
    return folder


def test_a_failed_swap_puts_the_earlier_export_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from simcse_pl.errors import ExportError
    from simcse_pl.export.staging import staged_folder

    out = small_export(tmp_path / "model", "cls")
    real = os.replace

    def replace(src: Any, dst: Any) -> None:
        if ".partial-" in str(src):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ExportError, match=rf"^{re.escape(str(out))}: cannot write the export \(Input/output error\)"):
        with staged_folder(out) as stage:
            (stage / "simcse_pl.json").write_text(json.dumps({"pooler": "avg"}))
    assert snapshot(out) == {"simcse_pl.json": b'{"pooler": "cls"}'} and leftovers(out) == []


def test_an_export_swapped_in_meanwhile_by_another_process_is_replaced_whole(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch):
    """DDP ranks each export the same folder at the end of training: whichever swaps last wins, whole."""
    from simcse_pl.export.staging import staged_folder

    out = small_export(tmp_path / "model", "cls")
    real = os.replace
    raced = []

    def replace(src: Any, dst: Any) -> None:
        if ".partial-" in str(src) and not raced:  # another rank's export lands between our two renames
            raced.append(small_export(Path(dst), "rank1"))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with staged_folder(out) as stage:
        (stage / "simcse_pl.json").write_text(json.dumps({"pooler": "avg"}))
    assert raced and snapshot(out) == {"simcse_pl.json": b'{"pooler": "avg"}'} and leftovers(out) == []


ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("error, reason", [
    (ENOSPC, "No space left on device"),
    (SafetensorError('Error while serializing: I/O error: No space left on device (os error 28)'),
     "Error while serializing: I/O error: No space left on device (os error 28)"),
])
@pytest.mark.parametrize("earlier", [True, False], ids=["over-an-export", "new-folder"])
def test_a_full_disk_is_one_line_and_nothing_half_written(
    error: BaseException, reason: str, earlier: bool, run: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
):
    from transformers import PreTrainedModel

    model = run / "model"
    if not earlier:
        import shutil

        shutil.rmtree(model)
    before = snapshot(model) if earlier else None
    monkeypatch.setattr(PreTrainedModel, "save_pretrained", save_pretrained_then(error))
    assert export(str(run), capsys=capsys) == (2, [
        f"simcse-export: error: {model}: cannot write the export ({reason}); nothing was written, {model} is as it "
        "was"])
    assert (snapshot(model) if model.exists() else None) == before and leftovers(model) == []


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_a_read_only_folder_is_one_line(code: int, run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]):
    """Tests run as root, whom chmod does not stop: the folder's refusal is simulated where the export creates."""
    real = Path.mkdir
    readonly = tmp_path / "readonly"
    readonly.mkdir()

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if readonly in self.parents:
            raise OSError(code, os.strerror(code), str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    out = readonly / "model"
    assert export(str(run), "--output", str(out), capsys=capsys) == (2, [
        f"simcse-export: error: {out}: cannot write the export ({os.strerror(code)}); nothing was written, {out} is "
        "as it was"])
    assert list(readonly.iterdir()) == []


def test_a_full_disk_while_writing_onnx_is_one_line(run: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]):
    pytest.importorskip("onnxruntime")
    from simcse_pl.export import onnx as onnx_export

    def export_backbone(backbone: Any, tokens: Any, path: str) -> None:
        Path(path).write_bytes(b"half a graph")
        raise ENOSPC

    monkeypatch.setattr(onnx_export, "_export_backbone", export_backbone)
    model = run / "model"
    before = snapshot(model)
    assert export(str(run), "--onnx", capsys=capsys) == (2, [
        f"simcse-export: error: {model}: cannot write the export (No space left on device); nothing was written, "
        f"{model} is as it was"])
    assert snapshot(model) == before and leftovers(model) == []


def test_onnx_export_alone_keeps_the_earlier_files_when_the_disk_is_full(run: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("onnxruntime")
    from simcse_pl.cli import onnx as onnx_cli
    from simcse_pl.export import onnx as onnx_export

    monkeypatch.setattr(onnx_export, "_export_backbone", lambda *a: (_ for _ in ()).throw(ENOSPC))
    onnx = run / "model" / "onnx"
    onnx.mkdir()
    (onnx / "model.onnx").write_bytes(b"the earlier graph")
    assert onnx_cli.main([str(run / "model")]) == 2
    assert snapshot(onnx) == {"model.onnx": b"the earlier graph"} and leftovers(onnx) == []


# --- a damaged ONNX file is one line naming it


def tiny_graph(inputs: tuple[str, ...] = ("x",), output: str = "y") -> bytes:
    """A valid ONNX model (Identity), whole or cut short: no export needed to damage one."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", [inputs[0]], [output])], "g",
        [helper.make_tensor_value_info(name, TensorProto.INT64, ["b", "s"]) for name in inputs],
        [helper.make_tensor_value_info(output, TensorProto.INT64, ["b", "s"])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize("damage, reason", [
    ("truncated", "not a readable ONNX model"),
    ("garbage", "not a readable ONNX model"),
    ("empty", "not a readable ONNX model"),
    ("another-graph", "not a token-embedding graph"),
])
def test_a_damaged_onnx_file_is_one_line_naming_it(
    damage: str, reason: str, exported_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    pytest.importorskip("onnxruntime")
    import shutil

    from simcse_pl.cli.evaluate import eval_main
    from simcse_pl.errors import ModelLoadError
    from simcse_pl.inference import SimCSE

    model = Path(shutil.copytree(exported_run / "model", tmp_path / "model"))
    graph = tiny_graph()
    content = {"truncated": graph[: len(graph) // 2], "garbage": b"\x08garbage" * 50, "empty": b"",
               "another-graph": graph}[damage]
    path = model / "onnx" / "model.onnx"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(ModelLoadError) as exc:
        SimCSE.from_pretrained(model, backend="onnx")
    assert str(exc.value).startswith(f"{path}: {reason}")
    assert "\n" not in str(exc.value)
    (tmp_path / "stsb").mkdir()
    (tmp_path / "stsb" / "sts-test.csv").write_text("g\tg\tg\t0\t1.0\ta b\tc d\n")
    assert eval_main([str(model), "--backend", "onnx", "--tasks", "stsb", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"simcse-eval: error: {path}: {reason}")
