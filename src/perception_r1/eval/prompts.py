"""Evaluation prompts as the paper built them: the question, its options (when the benchmark has them and the
question does not already list them), then the format instruction (reference sections 6 and 8).

Example:
    >>> from perception_r1.eval.data import EvalItem
    >>> print(build_prompt(EvalItem("1", "x", "What is x?", {"A": "1", "B": "2"}, "A"), instruction="[fmt]"))
    What is x?
    Choices:
    (A) 1
    (B) 2
    [fmt]
"""

from __future__ import annotations

from perception_r1.eval.benchmarks import BENCHMARKS
from perception_r1.eval.data import EvalItem

FORMAT_INSTRUCTION = (
    "First think through the problem step by step inside <think> </think> tags, then give your answer inside "
    "<answer> </answer> tags, with the final answer in \\boxed{}."
)
# When the question itself is in the image (MathVerse Vision Only, MMMU-Pro vision) the item has no text.
IMAGE_QUESTION = "Answer the question shown in the image."


def build_prompt(item: EvalItem, instruction: str = FORMAT_INSTRUCTION) -> str:
    """The user text of ``item``'s prompt (images are passed beside it, before the text).

    Args:
        item: The item; its benchmark decides whether options are appended.
        instruction: Format instruction appended last.

    Returns:
        ``question [+ "Choices:" lines] + instruction``, separated by newlines.
    """
    parts = [item.question.strip() or IMAGE_QUESTION]
    in_question = item.benchmark in BENCHMARKS and BENCHMARKS.get(item.benchmark).choices_in_question
    # Options whose text is their own letter stand for options printed in the image; listing them adds nothing.
    real = {k: v for k, v in item.choices.items() if v != k}
    if real and not in_question:
        parts.append("Choices:\n" + "\n".join(f"({k}) {v}" for k, v in real.items()))
    parts.append(instruction)
    return "\n".join(parts)
