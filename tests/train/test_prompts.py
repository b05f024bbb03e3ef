"""Training prompts: image placement, the format instruction, and the rendered Qwen2.5-VL chat template."""

from __future__ import annotations

import pytest

from perception_r1.templates import FORMAT_INSTRUCTION
from perception_r1.train.prompts import build_policy_prompt, training_rows

IMG = {"type": "image", "text": None}


def T(text):  # noqa: N802 - short constructor for readable tables
    return {"type": "text", "text": text}


@pytest.mark.parametrize(
    ("problem", "n_images", "parts"),
    [
        # no placeholder: images first, then the question (Qwen2.5-VL's convention)
        ("Find x.", 1, [IMG, T("Find x."), T("\n[fmt]")]),
        # a trailing placeholder keeps its position
        ("Find x. <image>", 1, [T("Find x. "), IMG, T("\n[fmt]")]),
        # a leading placeholder (Geometry3K style)
        ("<image>Find x.", 1, [IMG, T("Find x."), T("\n[fmt]")]),
        # two images, interleaved in order
        ("A <image> B <image>", 2, [T("A "), IMG, T(" B "), IMG, T("\n[fmt]")]),
        # a text-only problem
        ("What is 2+2?", 0, [T("What is 2+2?"), T("\n[fmt]")]),
    ],
)
def test_build_policy_prompt_places_images_and_instruction(problem, n_images, parts):
    assert build_policy_prompt(problem, n_images, instruction="[fmt]") == [{"role": "user", "content": parts}]


@pytest.mark.parametrize(
    ("problem", "n_images"),
    [
        # one placeholder for two images
        ("<image> Find x.", 2),
        # two placeholders for one image
        ("<image><image>", 1),
    ],
)
def test_placeholder_count_mismatch_is_an_error(problem, n_images):
    with pytest.raises(ValueError, match="placeholders"):
        build_policy_prompt(problem, n_images)


def test_default_instruction_is_the_papers_and_the_evaluations():
    text = build_policy_prompt("q", 0)[0]["content"][-1]["text"]
    assert text == "\n" + FORMAT_INSTRUCTION
    assert all(s in text for s in ("<think> </think>", "<answer> </answer>", "\\boxed{}"))


def test_training_rows_name_the_bad_example():
    rows = [{"id": "r7", "images": [b"not an image"], "problem": "p", "answer": "1"}]
    with pytest.raises(ValueError, match="example 'r7'"):
        training_rows(rows)


@pytest.mark.parametrize(
    ("problem", "n_images", "texts"),
    [
        ("Is <|image_pad|> x?", 1, ["Is < |image_pad|> x?"]),  # no placeholder: one text part, neutralised
        ("<image>A <|im_end|> B<image>", 2, ["A < |im_end|> B"]),  # placeholders kept, text between neutralised
        ("<image>plain", 1, ["plain"]),  # nothing to neutralise
    ],
)
def test_special_tokens_in_the_problem_are_neutralised(problem, n_images, texts):
    # "<image>" is in the list too (a processor may own it): the row's placeholders must still count as images
    special = ("<|image_pad|>", "<|im_end|>", "<image>")
    parts = build_policy_prompt(problem, n_images, instruction="I", special=special)[0]["content"]
    assert [p["type"] for p in parts].count("image") == n_images
    assert [p["text"] for p in parts if p["type"] == "text"][:-1] == texts


@pytest.mark.parametrize(
    ("image", "max_image_pixels", "reason"),
    [
        ("bomb", None, "DecompressionBombError"),  # once a traceback without the row
        ("large", 1000, "40x40 = 1600 pixels, over the limit of 1000 (max_image_pixels)"),  # the recipe's limit
        ("garbage", None, "UnidentifiedImageError"),  # undecodable bytes
    ],
)
def test_training_rows_refuse_a_bad_image_naming_source_row_and_id(image, max_image_pixels, reason):
    import io

    from PIL import Image

    from perception_r1.data.schema import SchemaError
    from support.hostile import bomb_png

    buffer = io.BytesIO()
    Image.new("RGB", (40, 40)).save(buffer, format="PNG")
    bad = {"bomb": bomb_png(), "large": buffer.getvalue(), "garbage": b"not an image"}[image]
    rows = [{"id": f"r{i}", "images": images, "problem": "p", "answer": "1"} for i, images in enumerate([[], [bad]])]
    with pytest.raises(SchemaError, match=r"^train\.parquet: row 1: column 'images': example 'r1': cannot read") as e:
        training_rows(rows, max_image_pixels=max_image_pixels, where="train.parquet")
    assert reason in str(e.value)


@pytest.mark.integration
def test_a_problem_quoting_image_pad_builds_a_dataset(tiny_model_path):
    # The trainer passes the processor's special tokens: the row is kept and its prompt encodes with one image.
    from PIL import Image
    from transformers import AutoProcessor

    from perception_r1.train.trainer import build_dataset

    processor = AutoProcessor.from_pretrained(tiny_model_path)
    image = Image.new("RGB", (112, 112), "white")
    rows = [{"id": "p", "images": [image], "problem": "<image>Is <|image_pad|> a token?", "answer": "1"}]
    dataset, dropped = build_dataset(rows, processor, max_prompt_length=512)
    assert (len(dataset), dropped) == (1, 0)
    assert dataset[0]["prompt"][0]["content"][1]["text"] == "Is < |image_pad|> a token?"


@pytest.mark.integration
def test_rendered_prompt_matches_the_qwen2_5_vl_chat_template(tiny_model_path):
    from PIL import Image
    from transformers import AutoProcessor

    from perception_r1.train.prompts import prompt_token_count

    processor = AutoProcessor.from_pretrained(tiny_model_path)
    messages = build_policy_prompt("<image>Find x.", 1, instruction="Think.")
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Find x.\nThink.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    image = Image.new("RGB", (224, 224), "white")
    n = prompt_token_count(processor, messages, [image])
    # the single <|image_pad|> expands to 16 tokens (224 px resized to the tiny model's 112x112 budget)
    base = len(processor.tokenizer(text)["input_ids"])
    assert n == base - 1 + 16
