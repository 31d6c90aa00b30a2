"""The curves figure of ``simcse-report``: each run's dev line starts at its own untrained score; a loss panel left
empty by a short run says why; the alignment / uniformity view names each run in a legend (issue 24 item 3)."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from simcse_pl.cli.plots import _align_uniform, _curves  # noqa: E402

METRIC = "val/stsb_spearman"


def run(label: str, validations: list[tuple[int, float]]) -> dict:
    return {"label": label, "validations": [(s, {METRIC: v}) for s, v in validations], "loss": [(1, 0.5), (2, 0.4)]}


def dev_lines(runs: list[dict]) -> dict[str, list[tuple[float, float]]]:
    fig = _curves(runs, METRIC)
    lines = {line.get_label(): list(zip(line.get_xdata(), line.get_ydata())) for line in fig.axes[0].get_lines()}
    import matplotlib.pyplot as plt

    plt.close(fig)
    return lines


def test_a_run_validated_once_after_training_is_a_line_from_step_0():
    lines = dev_lines([run("quickstart", [(0, 79.73), (32, 83.17)])])
    assert lines["quickstart"] == [(0, 79.73), (32, 83.17)]
    assert [y for _, y in lines["untrained (79.73)"]] == [79.73, 79.73]  # the dashed baseline


def test_validations_are_drawn_in_step_order_and_a_run_without_step_0_starts_at_its_first():
    lines = dev_lines([run("a", [(20, 82.0), (0, 80.0), (10, 81.0)]), run("b", [(10, 70.0), (20, 71.0)])])
    assert lines["a"] == [(0, 80.0), (10, 81.0), (20, 82.0)]
    assert lines["b"] == [(10, 70.0), (20, 71.0)]
    assert "untrained (80.00)" in lines


def test_an_untrained_only_run_draws_no_curve():
    assert set(dev_lines([run("before", [(0, 79.0)])])) == {"untrained (79.00)"}


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_a_loss_panel_left_empty_by_a_short_run_says_why():
    import matplotlib.pyplot as plt

    short = {**run("loss.tau=0.03", [(0, 79.0), (4, 80.0)]), "loss": [], "log_every": 10, "steps": 4}
    fig = _curves([short], METRIC)
    [note] = texts(fig.axes[1])
    assert "logged every 10 steps and these runs trained 4" in note and "trainer.log_every_n_steps" in note
    plt.close(fig)
    fig = _curves([run("loss.tau=0.03", [(0, 79.0), (4, 80.0)])], METRIC)
    assert not texts(fig.axes[1])
    [loss] = fig.axes[1].get_lines()
    assert loss.get_label() == "loss.tau=0.03" and loss.get_marker() == "o"  # two logged steps: points, not a bare line
    plt.close(fig)


def test_the_alignment_uniformity_view_names_each_run():
    import matplotlib.pyplot as plt

    def au(label: str, shift: float) -> dict:
        return {"label": label, "loss": [], "validations": [
            (s, {"val/stsb_align": 0.2 + shift + s / 100, "val/stsb_uniform": -2.0 - s / 100}) for s in (0, 2, 4)]}

    fig = _align_uniform([au("loss.tau=0.03", 0.0), au("loss.tau=0.05", 0.1)], "stsb")
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["loss.tau=0.03", "loss.tau=0.05"]
    shapes = [c.get_paths()[0].vertices.shape for c in fig.axes[0].collections[:4:2]]
    assert len(set(map(str, shapes))) == 2  # one marker shape per run
    plt.close(fig)
