"""Label-reading pretraining of the vision tower: its per-cell targets, model, and the resumable stage."""

from __future__ import annotations

import json

import pytest

from perception_r1.experiment.reading import BLANK, CHARSET, MAX_CHARS, cell_targets


def spelled(text: str) -> list[int]:
    return [CHARSET.index(ch) for ch in text] + [BLANK] * (MAX_CHARS - len(text))


def lab(text: str, x: float, y: float, role: str = "value") -> dict:
    return {"text": text, "role": role, "xy": [x, y], "target": "t"}


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # no label: every cell blank
        ([], {}),
        # a label inside one cell spells itself there only (56 px figure: 2 x 2 cells, row-major)
        ([lab("7", 10, 10)], {0: "7"}),
        # centred on the vertical cell border: both cells it is drawn over spell the whole label
        ([lab("42°", 28, 10)], {0: "42°", 1: "42°"}),
        # centred on the horizontal border, right half: the two cells below each other
        ([lab("9", 42, 28)], {1: "9", 3: "9"}),
        # a point letter and a value over the same cell: the value wins the cell
        ([lab("A", 8, 40, "point"), lab("5", 14, 42)], {2: "5"}),
        # ... in either order
        ([lab("5", 14, 42), lab("A", 8, 40, "point")], {2: "5"}),
        # the query mark is a character too
        ([lab("?", 42, 42, "query")], {3: "?"}),
    ],
)
def test_cell_targets(labels: list[dict], expected: dict[int, str]) -> None:
    got = cell_targets(labels, image_size=56, font_px=10)
    assert got == [spelled(expected.get(cell, "")) for cell in range(4)]


@pytest.mark.parametrize(
    "text",
    [
        "x",  # a character no label is drawn with
        "1234°",  # longer than the head spells
    ],
)
def test_cell_targets_reject_unreadable_labels(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text)):
        cell_targets([lab(text, 10, 10)], image_size=56, font_px=10)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A toy experiment's data and policy (the runner's own stages), shared by the model and stage tests."""
    from perception_r1.config import from_dict
    from perception_r1.experiment.config import ExperimentConfig
    from perception_r1.experiment.runner import Stages
    from support.toy_experiment import TOY

    out = tmp_path_factory.mktemp("reading") / "toy"
    stages = Stages(from_dict(ExperimentConfig, {**TOY, "output_dir": str(out)}), lambda _msg: None)
    stages.data()
    return {"policy": stages.policy(), "train": stages.splits["train"], "val": stages.splits["val"], "root": out}


@pytest.mark.integration
def test_reading_model_loss_and_shapes(tiny_run: dict) -> None:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from perception_r1.experiment.reading import FigureSet, ReadingModel, collate, read_accuracy

    processor = AutoProcessor.from_pretrained(str(tiny_run["policy"]))
    policy = AutoModelForImageTextToText.from_pretrained(str(tiny_run["policy"]))
    figures = FigureSet(tiny_run["train"][:3], processor.image_processor, 112)
    model = ReadingModel(policy.model.visual, policy.config.text_config.hidden_size)
    batch = collate([figures[i] for i in range(3)])
    out = model(**batch)
    assert out["logits"].shape == (3, 16, MAX_CHARS, BLANK + 1)  # 112 px: 4 x 4 cells
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    # the targets spell the generator's labels: every figure has at least its point letters
    assert (figures.targets[..., 0] != BLANK).any(dim=1).all()
    accuracy = read_accuracy(model, figures)
    assert 0.0 <= accuracy["cells"] <= 1.0 and 0.0 <= accuracy["blank"] <= 1.0


def test_figures_without_generator_labels_are_a_clear_error() -> None:
    from perception_r1.experiment.reading import FigureSet

    row = {"id": "r7", "images": [b""], "meta": json.dumps({"family": "circle"})}
    with pytest.raises(ValueError, match="'r7'.*labels"):
        FigureSet([row], image_processor=None, image_size=112)


@pytest.mark.integration
def test_run_reading_trains_the_tower_and_resumes_without_training(tiny_run: dict) -> None:
    import torch
    from transformers import AutoModelForImageTextToText

    from perception_r1.experiment.config import ReadingSection
    from perception_r1.experiment.reading import run_reading

    out = tiny_run["root"] / "reading"
    section = ReadingSection(steps=3, batch_size=4)
    args = (tiny_run["policy"], tiny_run["train"], tiny_run["val"], section, 112, out)
    summary = run_reading(*args)
    assert summary["steps"] == 3 and summary["figures"] == len(tiny_run["train"])
    assert set(summary["val_read_after"]) == {"cells", "blank"}
    before = AutoModelForImageTextToText.from_pretrained(str(tiny_run["policy"]))
    after = AutoModelForImageTextToText.from_pretrained(summary["final_model"])
    tower_b, tower_a = before.model.visual.state_dict(), after.model.visual.state_dict()
    # the vision tower trained; the language model is the built one, untouched
    assert any(not torch.equal(tower_b[k], tower_a[k]) for k in tower_b)
    text_b, text_a = before.model.language_model.state_dict(), after.model.language_model.state_dict()
    assert all(torch.equal(text_b[k], text_a[k]) for k in text_b)
    # killed after its last checkpoint (summary not written): the rerun trains nothing and keeps the weights
    (out / "summary.json").unlink()
    again = run_reading(*args)
    assert again["steps"] == 3 and again["val_read_after"] == summary["val_read_after"]
    redone = AutoModelForImageTextToText.from_pretrained(again["final_model"]).model.visual.state_dict()
    assert all(torch.equal(redone[k], tower_a[k]) for k in tower_a)


@pytest.mark.integration
@pytest.mark.parametrize("freeze", [True, False])  # frozen: the tower stays as reading left it; else it trains too
def test_warmup_freeze_vision_keeps_the_tower(tiny_run: dict, tmp_path, freeze: bool) -> None:
    import torch
    from transformers import AutoModelForImageTextToText

    from perception_r1.experiment.config import WarmupSection
    from perception_r1.experiment.warmup import run_warmup

    section = WarmupSection(n_examples=8, epochs=1.0, batch_size=4, freeze_vision=freeze)
    summary = run_warmup(tiny_run["policy"], tiny_run["train"][:8], section, tmp_path / "warmup")
    before = AutoModelForImageTextToText.from_pretrained(str(tiny_run["policy"]))
    after = AutoModelForImageTextToText.from_pretrained(summary["final_model"])
    tower_b, tower_a = before.model.visual.state_dict(), after.model.visual.state_dict()
    assert all(torch.equal(tower_b[k], tower_a[k]) for k in tower_b) == freeze
    text_b, text_a = before.model.language_model.state_dict(), after.model.language_model.state_dict()
    assert any(not torch.equal(text_b[k], text_a[k]) for k in text_b)
