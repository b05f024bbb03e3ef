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
