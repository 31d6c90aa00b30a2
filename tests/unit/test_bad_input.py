"""Every bad input of issue 7 gives one clear line naming the file and line (or the config key), or is skipped
and counted where the config says so. Each test asserts the text the user sees."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from simcse_pl.training import run as run_module
from simcse_pl.data.collate import Collator
from simcse_pl.errors import ModelLoadError
from simcse_pl.encoders.backbone import load_encoder, load_tokenizer
from simcse_pl.cli.reporting import user_error, user_errors_reported
from simcse_pl.evaluation import load_stsb, load_task
from simcse_pl.data.collate import TRUNCATED_KEY
from simcse_pl.training.guards import TruncationCounter
from simcse_pl.errors import DataError
from simcse_pl.data.sources.nli import NLITriplets
from simcse_pl.data.sources.text_lines import TextLines
from simcse_pl.config import compose_config

REPO = Path(__file__).resolve().parents[2]
MISSING_HINT = "It is not a file this project downloads: check the path."  # a file of no download (data_files.py)


def message(exc_info: pytest.ExceptionInfo) -> str:
    return str(exc_info.value)


def indexed(path: Path) -> TextLines:
    source = TextLines(str(path))
    source.index()
    return source


# --- one sentence per line ------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path):
    with pytest.raises(DataError) as exc:
        indexed(tmp_path / "nope.txt")
    assert message(exc) == f"{tmp_path}/nope.txt: no such file (data.source.path). {MISSING_HINT}"


@pytest.mark.parametrize("content", [b"", b"\n  \n\t\n"], ids=["empty", "only-blank-lines"])
def test_empty_file(tmp_path: Path, content: bytes):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(DataError) as exc:
        indexed(path)
    assert message(exc) == f"{path}: no sentences (the file is empty or has only blank lines)"


def test_blank_and_whitespace_only_lines_are_skipped_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "corpus.txt"
    path.write_text("first\n\n   \n\t \nsecond\n \u3000\nthird\n", encoding="utf-8")  # \u3000: ideographic space
    with caplog.at_level(logging.WARNING, logger="simcse_pl.data.sources"):
        source = indexed(path)
    assert [source[i] for i in range(len(source))] == [("first",), ("second",), ("third",)]
    assert source.blank_lines == 4
    assert f"{path}: skipped 4 blank or whitespace-only lines" in caplog.messages


def test_non_utf8_byte_names_file_line_and_column(tmp_path: Path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("ok line\n".encode() + "café au lait\n".encode("latin-1"))
    with pytest.raises(DataError) as exc:
        indexed(path)
    assert message(exc) == f"{path}:2: not valid UTF-8 (byte 0xe9 at column 4)"


def test_line_longer_than_max_len_is_truncated_counted_and_reported(caplog: pytest.LogCaptureFixture):
    tokenizer = load_tokenizer(None, {"max_position_embeddings": 128})
    batch = Collator(tokenizer, max_len=8)([("a b",), ("a much longer sentence than eight tokens",), ("c",)])
    assert batch["input_ids"].shape == (3, 1, 8)  # cut at max_len, [SEP] kept
    assert batch["input_ids"][1, 0, -1] == tokenizer.sep_token_id
    assert batch[TRUNCATED_KEY] == 1

    counter, logged = TruncationCounter(), {}
    module = SimpleNamespace(log=lambda name, value, **_: logged.update({name: value}))
    counter.on_train_batch_start(None, module, batch, 0)  # type: ignore[arg-type]
    assert TRUNCATED_KEY not in batch  # consumed: the model never sees it
    assert logged == {"train/truncated_sentences": 1.0}
    with caplog.at_level(logging.WARNING, logger="simcse_pl.training.guards"):
        counter.on_train_end(None, module)  # type: ignore[arg-type]
    assert caplog.messages == [
        "1 of 3 training sentences (33.33%) were longer than data.max_len tokens and were truncated"
    ]


# --- NLI csv (the source of issue 3) --------------------------------------------------------------------------


def nli(tmp_path: Path, text: str) -> tuple[Path, NLITriplets]:
    path = tmp_path / "nli.csv"
    path.write_text(text, encoding="utf-8")
    return path, NLITriplets(str(path))


def test_nli_missing_column(tmp_path: Path):
    path, source = nli(tmp_path, "sent0,sent2,hard_neg\na,b,c\n")
    with pytest.raises(DataError) as exc:
        source.index()
    assert message(exc) == (
        f"{path}:1: the header 'sent0,sent2,hard_neg' has no column 'sent1' (a header row is required, "
        "e.g. sent0,sent1,hard_neg; or set data.source.columns)"
    )


def test_nli_empty_field(tmp_path: Path):
    path, source = nli(tmp_path, "sent0,sent1,hard_neg\na,b,c\nd,  ,f\n")
    with pytest.raises(DataError) as exc:
        source.index()
    assert message(exc) == (
        f"{path}:3: empty sent1 (header sent0,sent1,hard_neg); fix the row, or set "
        "data.source.on_bad_row=skip to drop such rows with a count"
    )


def test_nli_unbalanced_quote(tmp_path: Path):
    path, source = nli(tmp_path, 'sent0,sent1,hard_neg\na,b,c\n"an open quote,b,c\nd,e,f\n')
    with pytest.raises(DataError) as exc:
        source.index()
    assert message(exc) == f"{path}:3: bad CSV record (a quote opened here is never closed: the record runs on to the end of the file)"


# --- STS gold files ------------------------------------------------------------------------------------------


def test_sts_gold_file_with_fewer_lines_than_its_input(tmp_path: Path):
    folder = tmp_path / "STS13-en-test"
    folder.mkdir()
    (folder / "STS.input.FNWN.txt").write_text("a\tb\nc\td\ne\tf\n", encoding="utf-8")
    (folder / "STS.gs.FNWN.txt").write_text("1\n2\n", encoding="utf-8")
    for subset in ("headlines", "OnWN"):  # the other STS13 subsets, well-formed
        (folder / f"STS.input.{subset}.txt").write_text("a\tb\n", encoding="utf-8")
        (folder / f"STS.gs.{subset}.txt").write_text("1\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_task("sts13", str(tmp_path), "test")
    assert message(exc) == (
        f"{folder}/STS.gs.FNWN.txt:3: 2 gold lines for the 3 sentence pairs of {folder}/STS.input.FNWN.txt; "
        "the files must match line for line"
    )


def test_stsb_line_missing_its_sentences_or_score(tmp_path: Path):
    path = tmp_path / "stsb" / "sts-dev.csv"
    path.parent.mkdir()
    path.write_text("g\tc\t2012\t0001\t4.2\ta man\ta woman\ng\tc\t2012\t0002\t3.0\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_stsb(str(tmp_path), "dev")
    assert message(exc) == f"{path}:2: expected at least 7 tab-separated columns, found 5"
    path.write_text("g\tc\t2012\t0001\tfour\ta man\ta woman\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_stsb(str(tmp_path), "dev")
    assert message(exc) == f"{path}:1: score 'four' is not a number"


# --- model -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("load", [load_encoder, load_tokenizer])
def test_model_path_that_does_not_exist(load):
    with pytest.raises(ModelLoadError) as exc:
        load("/nonexistent/bert")
    assert message(exc) == "model.name_or_path='/nonexistent/bert': no such directory"


def test_an_unreachable_hub_fails_at_once_trying_only_the_cache(monkeypatch):
    from simcse_pl import hub
    from simcse_pl.encoders import backbone as encoder

    calls = []

    class Factory:
        @staticmethod
        def from_pretrained(source, **kwargs):
            calls.append(kwargs)
            raise OSError("not in the cache")

    hub.unreachable_once.cache_clear()
    monkeypatch.setattr(hub, "hub_unreachable", lambda timeout: "https://huggingface.co unreachable: no route")
    monkeypatch.setattr(encoder, "AutoModel", Factory)
    with pytest.raises(ModelLoadError) as exc:
        load_encoder("org/some-model")
    hub.unreachable_once.cache_clear()
    assert calls == [{"trust_remote_code": False, "local_files_only": True}]
    assert message(exc) == (
        "model.name_or_path='org/some-model': cannot load it (the hub is unreachable (https://huggingface.co "
        "unreachable: no route) and it is not in the local cache). Give a local folder, or a hub id on a machine "
        "that can reach the hub."
    )


# --- settings: checked before any model is loaded --------------------------------------------------------------


def composed(tmp_path: Path, *overrides: str):
    return compose_config("model=tiny", f"paths.output_dir={tmp_path}", *overrides)


@pytest.mark.parametrize(
    "override, expected",
    [
        ("loss.tau=0", "loss.tau=0: must be > 0"),
        ("loss.tau=abc", "loss.tau: Value 'abc' of type 'str' could not be converted to Float"),
        ("loss.negatives=both", "loss.negatives='both': must be one of cross_view, all_views"),
        ("loss.tau=-0.05", "loss.tau=-0.05: must be > 0"),
        ("data.batch_size=1", "data.batch_size=1: must be >= 2"),
        ("data.max_len=3", "data.max_len=3: must be >= 4"),
        ("optim.lr=-1", "optim.lr=-1.0: must be > 0"),
        ("data.num_workers=-1", "data.num_workers=-1: must be >= 0"),
        ("optim.warmup_ratio=2", "optim.warmup_ratio=2.0: must be in [0, 1]"),
        ("data.max_samples=0", "data.max_samples=0: must be null or >= 1"),
        ("model.pooler=max", "model.pooler='max': must be one of cls, cls_before_pooler, last_token, mask, avg, mean, "
                             "avg_first_last, avg_top2"),
        ("optim.betas=[0.9,1.5]", "optim.betas=[0.9, 1.5]: must be two numbers in [0, 1)"),
        ("step.mini_batch_size=0", "step.mini_batch_size=0: must be null or >= 1"),
        ("trainer.max_steps=abc", "trainer.max_steps: Value 'abc' of type 'str' could not be converted to Integer"),
        ("+trainer.max_step=5", "trainer.max_step: Key 'max_step' not in 'TrainerConfig'"),
        ("trainer.max_steps=-5", "trainer: `max_steps` must be a non-negative integer or -1 (infinite steps). You passed in -5."),
    ],
)
def test_bad_setting_fails_before_the_model_is_loaded(tmp_path: Path, monkeypatch, capsys, override, expected):
    def no_model(*args, **kwargs):
        raise AssertionError("a model or tokenizer was loaded before the settings were checked")

    monkeypatch.setattr(run_module, "load_tokenizer", no_model)
    monkeypatch.setattr(run_module, "SimCSEModule", no_model)
    cfg = composed(tmp_path, "model.name_or_path=/nonexistent", override)
    with pytest.raises(SystemExit) as exit_info, user_errors_reported():
        run_module.run(cfg)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {expected}"


def test_errors_from_outside_simcse_pl_keep_their_trace():
    with pytest.raises(ValueError, match="invalid literal"):
        with user_errors_reported():
            int("not a number")  # a ValueError raised by Python, not by our checks: a bug, not a user error
    assert user_error(KeyError("x")) is None


# --- through train.py: Hydra's messages, and the one-line report ------------------------------------------------


@pytest.fixture(scope="module")
def train_py(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    """train.py with three bad command lines, run side by side (each is mostly Python imports)."""
    base = tmp_path_factory.mktemp("train_py")
    commands = {
        # also why the non-finite switch is callbacks.nonfinite_guard.skip: the trainer group is Trainer's arguments
        "unknown_key": ["trainer.skip_nonfinite=true"],
        "unknown_option": ["model=no_such_model"],
        "not_a_float": ["optim.lr=abc"],
        "not_an_int": ["data.batch_size=8.5"],
        "missing_data": [f"paths.data_dir={tiny_data}", f"data.source.path={base}/missing.txt", "data.num_workers=0",
                         "validate_before=false"],
    }
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(REPO / "train.py"), "model=tiny", "trainer=cpu", *args, f"hydra.run.dir={base / name}"],
            cwd=REPO, env={**env, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name, args in commands.items()
    }
    done = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    done["missing_data"].missing = base / "missing.txt"  # type: ignore[attr-defined]
    return done


def test_unknown_config_key_is_named_by_hydra(train_py):
    done = train_py["unknown_key"]
    assert done.returncode == 1
    assert "Could not override 'trainer.skip_nonfinite'." in done.stderr
    assert "Key 'skip_nonfinite' is not in struct" in done.stderr


@pytest.mark.parametrize(
    "name, lines",
    [
        ("not_a_float", ["Value 'abc' of type 'str' could not be converted to Float", "    full_key: optim.lr"]),
        ("not_an_int", ["Value '8.5' of type 'float' could not be converted to Integer", "    full_key: data.batch_size"]),
    ],
)
def test_wrong_type_is_named_by_the_schema_before_anything_runs(train_py, name, lines):
    done = train_py[name]
    assert done.returncode == 1
    assert all(line in done.stderr.splitlines() for line in lines), done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_group_option_is_named_by_hydra(train_py):
    done = train_py["unknown_option"]
    assert done.returncode == 1
    assert "Could not find 'model/no_such_model'" in done.stderr
    assert "Available options in 'model':" in done.stderr and "\ttiny\n" in done.stderr


def test_train_py_reports_a_data_error_in_one_line_with_status_2(train_py):
    done = train_py["missing_data"]
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == f"error: {done.missing}: no such file (data.source.path). {MISSING_HINT}"
    assert "Traceback" not in done.stderr
