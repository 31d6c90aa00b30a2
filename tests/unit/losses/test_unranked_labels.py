"""CoSENT / AnglE with labels that are all equal: no ordered pair, so the ranking loss is 0 and nothing is learned.
A batch like that warns once, naming the loss and why; a training file whose every score is the same stops the run
before training with one line naming the file."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from simcse_pl.losses import InfoNCE
from simcse_pl.losses.angle import AnglE
from simcse_pl.losses.cosent import CoSENT, refuse_unranked_data
from simcse_pl.losses.matryoshka import Matryoshka
from simcse_pl.training.run import run
from simcse_pl.errors import DataError
from simcse_pl.data.sources.scored_pairs import ScoredPairs

REPO = Path(__file__).resolve().parents[3]


def pairs(seed: int = 0, n: int = 6) -> torch.Tensor:
    return torch.randn(n, 2, 8, generator=torch.Generator().manual_seed(seed))


def write_scored(path: Path, scores: list[float]) -> Path:
    rows = "".join(f"a man plays {i}\tsomeone plays {i}\t{s}\n" for i, s in enumerate(scores))
    path.write_text("sentence1\tsentence2\tscore\n" + rows, encoding="utf-8")
    return path


@pytest.mark.parametrize("objective", [CoSENT(), AnglE()], ids=["cosent", "angle"])
def test_a_batch_of_equal_labels_warns_once_why_nothing_is_learned(objective: torch.nn.Module):
    name = "cosent" if isinstance(objective, CoSENT) else "angle"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ordered labels: no warning
        objective(pairs(0), torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]))
    with pytest.warns(UserWarning) as caught:
        objective(pairs(1), torch.full((6,), 3.0))
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith(f"loss={name}: a batch of 6 labelled pairs whose labels are all 3: ")
    assert "ranking loss is 0 and nothing is learned from it" in message and "data.source" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: the next such batch is silent
        objective(pairs(2), torch.full((6,), 3.0))


def test_angle_without_ranking_terms_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AnglE(cosine_weight=0, angle_weight=0)(pairs(0), torch.ones(6))


def scored_source(tmp_path: Path, scores: list[float]) -> ScoredPairs:
    source = ScoredPairs(str(write_scored(tmp_path / "train.tsv", scores)))
    source.index()
    return source


@pytest.mark.parametrize("objectives", [[CoSENT()], [Matryoshka(CoSENT(), dims=[8, 4])], [InfoNCE(), CoSENT()],
                                        [AnglE(ibn_weight=0)], [AnglE(positive_threshold=4.0)]],
                         ids=["cosent", "inside_matryoshka", "auxiliary", "angle_without_ibn", "angle_no_positive"])
def test_training_data_with_one_score_is_refused_naming_the_file(objectives: list[torch.nn.Module], tmp_path: Path):
    source = scored_source(tmp_path, [2.0] * 10)
    with pytest.raises(DataError) as error:
        refuse_unranked_data(objectives, source)
    assert str(error.value).startswith(f"{tmp_path / 'train.tsv'}: every score is 2, so loss=")
    assert "no ordered pair to rank and would learn nothing" in str(error.value)


def test_data_the_objective_can_learn_from_is_accepted(tmp_path: Path):
    refuse_unranked_data([CoSENT()], scored_source(tmp_path, [2.0] * 9 + [3.0]))  # one ordered pair is enough
    refuse_unranked_data([AnglE()], scored_source(tmp_path, [1.0] * 10))  # all positives: the in-batch term learns
    refuse_unranked_data([InfoNCE()], scored_source(tmp_path, [1.0] * 10))  # no ranking objective


def test_train_py_refuses_before_loading_the_model(tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from simcse_pl.training import run as run_module

    monkeypatch.setattr(run_module, "load_tokenizer", lambda **_: pytest.fail("loaded a tokenizer before the check"))
    data = write_scored(tmp_path / "same.tsv", [1.0] * 20)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[
            "model=tiny", "data=pairs", "trainer=cpu", "loss=cosent", "logger=none", "validate_before=false",
            f"paths.data_dir={tiny_data}", f"paths.output_dir={tmp_path / 'run'}", f"data.source.path={data}",
        ])
    with pytest.raises(DataError, match=rf"^{data}: every score is 1, so loss=cosent has no ordered pair to rank"):
        run(cfg)
