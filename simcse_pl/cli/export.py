"""``simcse-export``: (re)write a run's export and model card from its run folder or a checkpoint, and upload it
to the Hugging Face hub.

    simcse-export outputs/quickstart/<date>_<time>                         # RUN_DIR/model, as train.py exports it
    simcse-export outputs/quickstart/<date>_<time>/checkpoints/last.ckpt --output last_model
    simcse-export outputs/quickstart/<date>_<time> --push-to-hub ORG/NAME --private

A run folder exports the weights train.py exported: the best checkpoint its ``results.json`` names, else the
final weights (``last.ckpt``); the card (simcse_pl/model_card.py) then carries the run's evaluation. Another
checkpoint of the run gets the run's config on its card but not its scores, which are another weights'. A
checkpoint is read with ``weights_only`` and never switches remote code on (``SimCSE.from_pretrained``); the
objective, whose Matryoshka sizes the export records, is rebuilt from the run's ``run_info.json`` by
``simcse_pl.losses.build_registered``: every ``_target_`` must name one of simcse-pl's registered objectives
exactly and its arguments must pass the config schema, so a run folder cannot choose the code that runs.

The export (with ``--onnx`` its ONNX files, and the card) is written into a new sibling of the output folder,
which replaces the folder only once complete (simcse_pl/export.py, ``staged_folder``): a stop signal, a full or
read-only disk leaves the folder as it was, and a re-export holds no file of the one before (its ``onnx/``). The
output folder must be new, empty or an earlier export (it holds ``simcse_pl.json``); any other folder, which the
export would replace whole, takes ``--overwrite``, and a folder holding the checkpoint or run is always refused.

What can fail cheaply is checked before anything is written or loaded: the path, the output folder, the run's
loss config, and for ``--push-to-hub`` the repo id, a token and a hub that answers. Errors print one line,
``simcse-export: error: ...``, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

@dataclass(frozen=True)
class ExportInput:
    """The checkpoint to export, the run folder it belongs to (None for a lone checkpoint) and where it goes."""

    checkpoint: Path
    run_dir: Path | None
    out_dir: Path
    selected: bool  # the weights the run exported and tested: its results.json describes them


def export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simcse-export",
        description="(Re)write a run's export (Hugging Face + sentence-transformers) and its model card (README.md).",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a train.py run folder, or a .ckpt (of a run or alone)")
    parser.add_argument("--output", metavar="DIR", help="the folder to write (default: RUN_DIR/model); new, empty "
                        "or an earlier export, which it replaces")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --output DIR even when it is not an earlier export (all its files are deleted)")
    parser.add_argument("--push-to-hub", metavar="ORG/NAME", help="then upload the folder to this hub model repo")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")
    parser.add_argument(
        "--onnx", action="store_true",
        help="also write onnx/model.onnx and its int8 copy onnx/model_quint8_avx2.onnx (fast CPU inference: "
        "SimCSE.from_pretrained(dir, backend='onnx'), simcse-eval --backend onnx; needs simcse-pl[onnx])",
    )
    parser.add_argument(
        "--trust-remote-code", action="store_true",
        help="let transformers run the base model's own Python code (off: a checkpoint cannot turn it on)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console script ``simcse-export``."""
    args = export_parser().parse_args(argv)
    try:
        if args.private and not args.push_to_hub:
            raise ValueError("--private applies to --push-to-hub ORG/NAME: give the repo to create")
        source = resolve_input(Path(args.run_dir), args.output, args.overwrite)
        if args.push_to_hub:
            check_hub(args.push_to_hub)
        if args.onnx:
            from simcse_pl.export.onnx_runtime import import_onnxruntime

            import_onnxruntime()
        model_dir, onnx_files = export_checkpoint(source, args.push_to_hub, args.trust_remote_code, args.onnx)
        print(f"{model_dir}: exported from {source.checkpoint}, model card {model_dir / 'README.md'}")
        if onnx_files:
            print(f"ONNX: {', '.join(onnx_files)}")
        if args.push_to_hub:
            print(f"uploaded to {push(model_dir, args.push_to_hub, args.private)}")
    except ValueError as exc:  # ModelLoadError, CheckpointError and DataError are ValueErrors
        print(f"simcse-export: error: {exc}", file=sys.stderr)
        return 2
    return 0


def resolve_input(path: Path, output: str | None, overwrite: bool = False) -> ExportInput:
    """What ``RUN_DIR`` names: a run folder (its selected checkpoint) or a ``.ckpt`` (inside a run folder or not),
    and the folder to write, checked (``check_output_folder``)."""
    if path.is_file():
        if path.suffix != ".ckpt":
            raise ValueError(f"{path}: neither a run folder nor a .ckpt checkpoint")
        run_dir = path.parent.parent if _is_run_dir(path.parent.parent) else None
        selected = run_dir is not None and _same_file(path, selected_checkpoint(run_dir))
    elif path.is_dir():
        if not _is_run_dir(path):
            raise ValueError(f"{path}: not a run folder (no run_info.json or checkpoints/); give a run folder or a .ckpt")
        run_dir, selected = path, True
        path = selected_checkpoint(path)
        if not path.is_file():
            raise ValueError(f"{run_dir}: no checkpoint to export ({path} does not exist: the run saved none)")
    else:
        raise ValueError(f"{path}: no such run folder or checkpoint")
    out_dir = Path(output) if output else run_dir / "model" if run_dir else None
    if out_dir is None:
        raise ValueError(f"{path} is not inside a run folder: give the folder to write with --output DIR")
    check_output_folder(out_dir, overwrite, [p for p in (path, run_dir) if p is not None])
    return ExportInput(path, run_dir, out_dir, selected)


def check_output_folder(out_dir: Path, overwrite: bool, sources: list[Path]) -> None:
    """The export replaces ``out_dir`` whole: refused when it holds what is exported (the checkpoint, the run), and
    unless ``overwrite``, when it is a folder with files that is not an earlier export (``check_output``)."""
    from simcse_pl.errors import ExportError
    from simcse_pl.export.staging import check_output

    target = out_dir.resolve()
    for held in sources:
        if target == held.resolve() or target in held.resolve().parents:
            raise ExportError(f"--output {out_dir}: holds {held}, which replacing the folder would delete; "
                              "choose another folder")
    cwd = Path.cwd()
    if target == cwd or target in cwd.parents:
        raise ExportError(f"--output {out_dir}: holds the current folder, which the export would replace (the shell "
                          "would be left in a deleted folder); choose another folder")
    check_output(out_dir, overwrite)


def selected_checkpoint(run_dir: Path) -> Path:
    """The weights train.py exported: ``results.json``'s best checkpoint, else the final weights, ``last.ckpt``;
    the folder's own ``checkpoints/`` first (``results.json`` holds absolute paths: a copied or moved run folder
    must not export the original's)."""
    results = run_dir / "results.json"
    best = (json.loads(results.read_text()).get("best") or {}).get("checkpoint") if results.is_file() else None
    if not best:
        return run_dir / "checkpoints" / "last.ckpt"
    own = run_dir / "checkpoints" / Path(best).name
    return own if own.is_file() else Path(best)


def check_hub(repo_id: str) -> None:
    """The upload can happen: a valid repo id, a token, and a hub that answers (a short request: no network fails
    in seconds, before the export)."""
    from huggingface_hub import get_token
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from simcse_pl.hub import hub_unreachable

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise ValueError(f"--push-to-hub {repo_id}: not a hub repo id ({exc})") from None
    if "/" not in repo_id:
        raise ValueError(f"--push-to-hub {repo_id}: give the owner too, as ORG/NAME")
    if not get_token():
        raise ValueError(f"--push-to-hub {repo_id}: no Hugging Face token (set HF_TOKEN or run `hf auth login`); "
                         "nothing was written")
    unreachable = hub_unreachable(timeout=3.0)
    if unreachable:
        raise ValueError(f"--push-to-hub {repo_id}: the hub is unreachable ({unreachable}); nothing was written")


def export_checkpoint(
    source: ExportInput, model_id: str | None, trust_remote_code: bool = False, onnx: bool = False
) -> tuple[Path, list[str]]:
    """Export ``source.checkpoint`` to ``source.out_dir`` with its card (and, with ``onnx``, its ONNX files), all in
    one staged folder that replaces ``out_dir`` when complete; ``model_id``: the hub repo it goes to. Returns the
    folder and the ONNX files written."""
    from simcse_pl.console import quiet_libraries
    from simcse_pl.export.onnx import write_onnx
    from simcse_pl.export.staging import staged_folder
    from simcse_pl.export.writer import write_model
    from simcse_pl.inference import SimCSE
    from simcse_pl.export.model_card import write_card

    quiet_libraries()
    run = _run_facts(source)
    objective = objective_from_config(run.get("loss"), source.run_dir)  # refused before any weights are read
    model = SimCSE.from_pretrained(source.checkpoint, device="cpu", trust_remote_code=trust_remote_code)
    onnx_files: list[str] = []
    with staged_folder(source.out_dir) as stage:
        write_model(model.model, str(stage), run.get("data.eval_max_len"),
                    objective=objective, shown_as=str(source.out_dir))
        write_card(stage, run, model_id)
        if onnx:
            written = write_onnx(stage, quantize=True)
            onnx_files = [str(source.out_dir / Path(f).relative_to(stage)) for f in written]
    return source.out_dir, onnx_files


def objective_from_config(loss: dict[str, Any] | None, run_dir: Path | None = None) -> Any:
    """The run's objective, built as train.py built it but only out of simcse-pl's registered objectives (the
    file is data: it may not name a function or any other class); None without a loss config (a lone
    checkpoint). A refusal names ``run_dir``'s run_info.json and the key."""
    from simcse_pl.losses import build_registered

    if not loss:
        return None
    try:
        return build_registered(loss, "loss")
    except ValueError as exc:
        where = f"{run_dir / 'run_info.json'}: " if run_dir is not None else ""
        raise ValueError(f"{where}{exc}") from None


def push(model_dir: Path, repo_id: str, private: bool) -> str:
    """Upload the folder as a commit to ``repo_id`` (created when missing); the repo's address."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HTTPError

    api = HfApi()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(repo_id=repo_id, folder_path=model_dir, commit_message="Upload model exported by simcse-pl")
    except (OSError, HTTPError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"--push-to-hub {repo_id}: upload failed ({reason}); the export is in {model_dir}") from None
    return str(url)


def _run_facts(source: ExportInput) -> Any:
    """The run's facts for the card: all of them for the weights the run selected, its config alone for another
    checkpoint of it (the scores are not this one's), and for a lone checkpoint the model settings it holds."""
    from simcse_pl.export.model_card import RunFacts
    from simcse_pl.export.checkpoint import read_checkpoint

    if source.run_dir is None:
        hparams = read_checkpoint(str(source.checkpoint), mmap=True).get("hyper_parameters") or {}
        return RunFacts(config={k: hparams[k] for k in ("model", "optim", "step") if k in hparams})
    run = RunFacts.read(source.run_dir)
    if source.selected:
        return run
    examples = run.results.get("train_examples")
    return RunFacts(run.config, {"train_examples": examples} if examples is not None else {}, run.versions)


def _is_run_dir(path: Path) -> bool:
    return (path / "run_info.json").is_file() or (path / "checkpoints").is_dir()


def _same_file(a: Path, b: Path) -> bool:
    return b.is_file() and os.path.samefile(a, b)
