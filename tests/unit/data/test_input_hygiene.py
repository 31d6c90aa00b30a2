"""Input hygiene: non-finite and off-scale gold scores, byte-order marks, NUL bytes, paths that are not files,
duplicate CSV columns, a SICK file without its header, and huge lines clipped before tokenizing. Each test
asserts the text the user sees."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
import torch
from sts_fixtures import write_senteval_root, write_sts_subset

from simcse_pl.data import files
from simcse_pl.cli.evaluate import read_sentences
from simcse_pl.data.collate import Collator
from simcse_pl.training.datamodule import EvalCollator
from simcse_pl.encoders.backbone import load_tokenizer
from simcse_pl.data.collate import MIN_CLIP_CHARS
from simcse_pl.evaluation import encode, load_stsb, load_task
from simcse_pl.data.collate import TRUNCATED_KEY
from simcse_pl.errors import DataError
from simcse_pl.data.sources.nli import NLITriplets
from simcse_pl.data.sources.text_lines import TextLines
from tiny_model import mean_pooled_tiny_bert

BOM = "\ufeff"


def indexed(path: Path) -> TextLines:
    source = TextLines(str(path))
    source.index()
    return source


def stsb_file(root: Path, rows: list[tuple[str, str, str]], split: str = "dev") -> Path:
    """``rows`` of (score, sentence 1, sentence 2) as SentEval's ``stsb/sts-{split}.csv``."""
    path = root / "stsb" / f"sts-{split}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"g\tc\t2012\t{i:04d}\t{s}\t{a}\t{b}\n" for i, (s, a, b) in enumerate(rows)), "utf-8")
    return path


def sick_file(root: Path, lines: list[str]) -> Path:
    path = root / "sick" / "SICK_test_annotated.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SICK_HEADER = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"


# --- A: NaN / inf gold scores ----------------------------------------------------------------------------------


@pytest.mark.parametrize("score", ["nan", "inf", "-Infinity"])
def test_non_finite_stsb_score_names_file_and_line(tmp_path: Path, score: str):
    path = stsb_file(tmp_path, [("4.2", "a man", "a woman"), (score, "a dog", "the dog")])
    with pytest.raises(DataError) as exc:
        load_stsb(str(tmp_path), "dev")
    assert str(exc.value) == f"{path}:2: score {score!r} is not a finite number"


def test_non_finite_senteval_gold_score_names_the_gold_file_and_line(tmp_path: Path):
    write_senteval_root(tmp_path)
    folder = tmp_path / "STS14-en-test"
    write_sts_subset(folder, "images", [("a", "b", "1"), ("c", "d", ""), ("e", "f", "NaN")])
    with pytest.raises(DataError) as exc:
        load_task("sts14", str(tmp_path), "test")
    assert str(exc.value) == f"{folder}/STS.gs.images.txt:3: score 'NaN' is not a finite number"


def test_non_finite_sick_score_names_file_and_line(tmp_path: Path):
    path = sick_file(tmp_path, [SICK_HEADER, "1\ta\tb\t4.5\tNEUTRAL", "2\tc\td\tnan\tNEUTRAL"])
    with pytest.raises(DataError) as exc:
        load_task("sickr", str(tmp_path), "test")
    assert str(exc.value) == f"{path}:3: score 'nan' is not a finite number"


def test_non_finite_score_of_a_datasets_task_names_its_row(monkeypatch: pytest.MonkeyPatch):
    import datasets

    rows = datasets.Dataset.from_dict(
        {"sentence1": ["a", "b", "c"], "sentence2": ["x", "y", "z"], "score": [1.0, 2.0, float("inf")]}
    )
    monkeypatch.setattr(datasets, "load_dataset", lambda path, split: rows)
    with pytest.raises(DataError) as exc:
        load_task("mteb/sts12-sts", "unused", "test")
    assert str(exc.value) == "mteb/sts12-sts (split 'test') row 2: score inf is not a finite number"


# --- C1: UTF-8 byte-order mark ---------------------------------------------------------------------------------


def test_bom_before_the_first_line_of_a_text_file_is_dropped(tmp_path: Path):
    path = tmp_path / "corpus.txt"
    path.write_text(f"{BOM}first line\nsecond\n", encoding="utf-8")
    source = indexed(path)
    assert [source[i] for i in range(len(source))] == [("first line",), ("second",)]
    assert read_sentences(str(path)) == ["first line", "second"]  # simcse-encode's reader


def test_bom_alone_on_the_first_line_makes_it_blank(tmp_path: Path):
    path = tmp_path / "corpus.txt"
    path.write_text(f"{BOM}\nonly sentence\n", encoding="utf-8")
    source = indexed(path)
    assert [source[i] for i in range(len(source))] == [("only sentence",)]
    assert source.blank_lines == 1


def test_bom_in_sts_files_is_dropped(tmp_path: Path):
    folder = tmp_path / "STS13-en-test"
    write_senteval_root(tmp_path)
    write_sts_subset(folder, "FNWN", [("a man", "a dog", "4.5"), ("c", "d", "1")])
    for name in ("STS.input.FNWN.txt", "STS.gs.FNWN.txt"):
        (folder / name).write_text(BOM + (folder / name).read_text("utf-8"), encoding="utf-8")
    task = load_task("sts13", str(tmp_path), "test")
    assert task.pairs[:2] == [("a man", "a dog"), ("c", "d")] and task.scores[:2].tolist() == [4.5, 1.0]
    sick_file(tmp_path, [BOM + SICK_HEADER, "1\ta\tb\t4.5\tNEUTRAL"])
    assert load_task("sickr", str(tmp_path), "test").pairs == [("a", "b")]


def test_bom_before_a_quoted_nli_header(tmp_path: Path):
    path = tmp_path / "nli.csv"
    path.write_text(f'{BOM}"sent0","sent1"\na,b\n', encoding="utf-8")
    source = NLITriplets(str(path))
    source.index()
    assert source.columns == ("sent0", "sent1") and source[0] == ("a", "b")


# --- C2: NUL bytes -----------------------------------------------------------------------------------------------


def test_nul_byte_in_a_text_file(tmp_path: Path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"fine\nab\x00cd\n")
    with pytest.raises(DataError) as exc:
        indexed(path)
    assert str(exc.value) == f"{path}:2: contains a NUL byte (column 3); is this a binary file?"


def test_nul_byte_in_an_nli_csv(tmp_path: Path):
    path = tmp_path / "nli.csv"
    path.write_bytes(b"sent0,sent1\na,b\nc,\x00d\n")
    with pytest.raises(DataError) as exc:
        NLITriplets(str(path)).index()
    assert str(exc.value) == f"{path}:3: contains a NUL byte (column 3); is this a binary file?"


def test_nul_byte_in_sts_files(tmp_path: Path):
    path = stsb_file(tmp_path, [("4.2", "a man", "a woman")])
    path.write_bytes(path.read_bytes() + b"g\tc\t2012\t0002\t1.0\ta\x00\tb\n")
    with pytest.raises(DataError) as exc:
        load_stsb(str(tmp_path), "dev")
    assert str(exc.value) == f"{path}:2: contains a NUL byte (column 20); is this a binary file?"
    folder = tmp_path / "STS13-en-test"
    write_sts_subset(folder, "FNWN", [("a", "b", "1")])
    (folder / "STS.gs.FNWN.txt").write_bytes(b"\x001\n")
    with pytest.raises(DataError) as exc:
        load_task("sts13", str(tmp_path), "test")
    assert str(exc.value) == f"{folder}/STS.gs.FNWN.txt:1: contains a NUL byte (column 1); is this a binary file?"


# --- C3: paths that are not readable regular files ---------------------------------------------------------------


def test_directory_is_named_as_such(tmp_path: Path):
    with pytest.raises(DataError) as exc:
        indexed(tmp_path)
    assert str(exc.value) == f"{tmp_path}: is a directory, not a file (data.source.path)"


def test_fifo_is_named_as_such(tmp_path: Path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(DataError) as exc:
        NLITriplets(str(fifo)).index()
    assert str(exc.value) == f"{fifo}: is a FIFO/named pipe, not a file (data.source.path)"


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_character_device_is_named_as_such():
    with pytest.raises(DataError) as exc:
        indexed(Path("/dev/null"))
    assert str(exc.value) == "/dev/null: is a device, not a file (data.source.path)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_permission_denied(tmp_path: Path):
    path = tmp_path / "secret.txt"
    path.write_text("a sentence\n", encoding="utf-8")
    path.chmod(0)
    try:
        with pytest.raises(DataError) as exc:
            indexed(path)
    finally:
        path.chmod(0o600)
    assert str(exc.value) == f"{path}: permission denied (data.source.path)"


def test_permission_denied_on_open_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The same branch whoever runs the tests (root's open succeeds whatever the mode): ``open`` refuses."""
    path = tmp_path / "secret.txt"
    path.write_text("a sentence\n", encoding="utf-8")

    def refuse(file, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(files, "open", refuse, raising=False)
    with pytest.raises(DataError) as exc:
        indexed(path)
    assert str(exc.value) == f"{path}: permission denied (data.source.path)"


def test_unsearchable_folder_is_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A folder on the path without search (x) permission: ``stat`` itself is refused."""
    path = tmp_path / "locked" / "corpus.txt"
    real_stat = os.stat

    def refuse(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_stat(file, *args, **kwargs)

    monkeypatch.setattr(os, "stat", refuse)
    with pytest.raises(DataError) as exc:
        indexed(path)
    assert str(exc.value) == f"{path}: permission denied (data.source.path)"


def test_sts_task_file_that_is_a_directory(tmp_path: Path):
    (tmp_path / "stsb" / "sts-test.csv").mkdir(parents=True)
    with pytest.raises(DataError) as exc:
        load_stsb(str(tmp_path), "test")
    assert str(exc.value) == f"{tmp_path}/stsb/sts-test.csv: is a directory, not a file (paths.data_dir)"


# --- C4: duplicate NLI header names -------------------------------------------------------------------------------


def test_duplicate_nli_column_name(tmp_path: Path):
    path = tmp_path / "nli.csv"
    path.write_text("sent0,sent1,sent0\na,b,c\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        NLITriplets(str(path)).index()
    assert str(exc.value) == (
        f"{path}:1: duplicate column name 'sent0' in the header 'sent0,sent1,sent0' "
        "(which of them to read would be a guess; rename one)"
    )


# --- C5: scores off the task's scale: one warning per file, with a count --------------------------------------


def test_stsb_scores_outside_0_5_warn_once_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    rows = [("4.2", "a", "b"), ("5.5", "c", "d"), ("-1", "e", "f"), ("2", "g", "h"), ("7", "i", "j"), ("5", "k", "l")]
    path = stsb_file(tmp_path, rows)
    with caplog.at_level(logging.WARNING, logger="simcse_pl.evaluation"):
        task = load_stsb(str(tmp_path), "dev")
    assert caplog.messages == [f"{path}: 3 scores outside the range 0-5 of stsb (first at line 2)"]
    assert len(task.pairs) == 6  # kept: they still rank pairs


def test_sick_scores_below_1_and_senteval_gold_above_5_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    write_senteval_root(tmp_path)
    sick = sick_file(tmp_path, [SICK_HEADER, "1\ta\tb\t4.5\tNEUTRAL", "2\tc\td\t0.5\tNEUTRAL"])
    folder = tmp_path / "STS16-en-test"
    write_sts_subset(folder, "headlines", [("a", "b", "1"), ("c", "d", "5.01")])
    with caplog.at_level(logging.WARNING, logger="simcse_pl.evaluation"):
        load_task("sickr", str(tmp_path), "test")
        load_task("sts16", str(tmp_path), "test")
    assert caplog.messages == [
        f"{sick}: 1 score outside the range 1-5 of sickr (first at line 3)",
        f"{folder}/STS.gs.headlines.txt: 1 score outside the range 0-5 of sts16 (first at line 2)",
    ]


def test_datasets_task_scores_off_scale_warn_with_the_row(monkeypatch, caplog: pytest.LogCaptureFixture):
    import datasets

    rows = datasets.Dataset.from_dict({"sentence1": ["a", "b"], "sentence2": ["x", "y"], "score": [0.5, 1.2]})
    monkeypatch.setattr(datasets, "load_dataset", lambda path, split: rows)
    with caplog.at_level(logging.WARNING, logger="simcse_pl.evaluation"):
        load_task("sentence-transformers/stsb", "unused", "test")  # 0-1 scores, times 5
    assert caplog.messages == [
        "sentence-transformers/stsb (split 'test'): 1 score outside the range 0-5 of stsb (first at row 1)"
    ]


# --- C6: SICK without its header row -----------------------------------------------------------------------------


def test_sick_file_without_its_header_row(tmp_path: Path):
    path = sick_file(tmp_path, ["1\ta man\ta dog\t4.5\tNEUTRAL", "2\tc\td\t3\tNEUTRAL"])
    with pytest.raises(DataError) as exc:
        load_task("sickr", str(tmp_path), "test")
    assert str(exc.value) == (
        f"{path}:1: expected the header row (starting with 'pair_ID') first, found '1\\ta man\\ta dog\\t4.5\\tNEUTRAL'"
    )


# --- C7: huge lines are clipped before tokenizing ----------------------------------------------------------------


class RecordingTokenizer:
    """The tiny tokenizer, noting the longest text it was handed."""

    def __init__(self, max_len: int) -> None:
        self.tokenizer = load_tokenizer(None, {"max_position_embeddings": max_len})
        self.model_max_length = self.tokenizer.model_max_length
        self.longest = 0

    def __call__(self, texts: list[str], **kwargs):
        self.longest = max(self.longest, *map(len, texts))
        return self.tokenizer(texts, **kwargs)

    def pad(self, *args, **kwargs):
        return self.tokenizer.pad(*args, **kwargs)


def test_two_million_character_line_collates_fast_and_counts_as_truncated():
    tokenizer = RecordingTokenizer(128)
    huge = "word " * 400_000  # 2,000,000 characters; unclipped, the tokenizer alone takes about 5 s on it
    start = time.perf_counter()
    batch = Collator(tokenizer, max_len=8)([("a b",), (huge,), ("c",)])  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    assert seconds < 2.0, f"collating took {seconds:.1f} s"
    assert tokenizer.longest == MIN_CLIP_CHARS  # max(1000, 100 * 8)
    assert batch["input_ids"].shape == (3, 1, 8)
    assert batch["input_ids"][1, 0, -1] == tokenizer.tokenizer.sep_token_id
    assert batch[TRUNCATED_KEY] == 1


def test_clipped_sentence_counts_as_truncated_even_when_its_tokens_fit():
    tokenizer = load_tokenizer(None, {"max_position_embeddings": 128})
    one_word = "a" * 5000  # a single "word" longer than wordpiece's limit: one [UNK], clipped all the same
    batch = Collator(tokenizer, max_len=16)([(one_word,), ("b",)])
    assert batch["attention_mask"][0, 0].sum() == 3  # [CLS] [UNK] [SEP]
    assert batch[TRUNCATED_KEY] == 1


def test_eval_collator_clips_to_the_tokenizer_limit_when_no_max_len():
    tokenizer = RecordingTokenizer(20)
    EvalCollator(tokenizer, None)([(0, "word " * 10_000), (1, "a b")])  # type: ignore[arg-type]
    assert tokenizer.longest == 2000  # 100 * model_max_length 20


def test_encode_clips_a_huge_sentence_and_keeps_its_first_tokens():
    embed = mean_pooled_tiny_bert()
    tokenizer = RecordingTokenizer(128)
    huge, short = "a man plays the guitar " * 100_000, "a man plays the guitar " * 20  # both > 16 tokens
    start = time.perf_counter()
    vectors = encode(embed, tokenizer, [huge, short], max_length=16)  # type: ignore[arg-type]
    assert time.perf_counter() - start < 2.0
    assert tokenizer.longest == 1600  # max(1000, 100 * 16)
    torch.testing.assert_close(vectors[0], vectors[1])  # cut at the same 16 tokens either way
