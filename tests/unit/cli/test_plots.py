"""The curves figure of ``simcse-report``: each run's dev line starts at its own untrained score."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from simcse_pl.cli.plots import _curves  # noqa: E402

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
