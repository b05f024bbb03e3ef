"""The experiment's plots: written from a summary's training block, skipped where their inputs are missing."""

from __future__ import annotations

import pytest

from perception_r1.experiment.plots import plot_vs_frozen


def _run(values: list[float | None]) -> dict:
    steps = list(range(1, len(values) + 1))
    return {"steps": steps, "components": {c: values for c in ("accuracy", "format", "perception", "repetition")}}


@pytest.mark.parametrize(
    ("training", "drawn"),
    [
        # both arms and the frozen control of seed 0: one panel per reward component
        ({"rlvr": {"0": _run([0.1, 0.2, 0.3])}, "perception_r1": {"0": _run([0.2, None, 0.4])},
          "frozen": {"0": _run([0.1, 0.1, 0.1])}}, True),
        # an arm whose seed has no control run (and no step in common): the panels stay empty, no error
        ({"rlvr": {"1": _run([0.1])}, "frozen": {"0": _run([0.1, 0.1])}}, True),
        # no frozen control (grpo.frozen: false): no plot
        ({"rlvr": {"0": _run([0.1, 0.2])}, "perception_r1": {"0": _run([0.2, 0.3])}}, False),
    ],
)  # fmt: skip
def test_arms_minus_frozen_plot(tmp_path, training, drawn):
    path = plot_vs_frozen({"training": training}, tmp_path / "vs_frozen.png")
    if drawn:
        assert path == tmp_path / "vs_frozen.png" and path.stat().st_size > 1000
    else:
        assert path is None and not (tmp_path / "vs_frozen.png").exists()
