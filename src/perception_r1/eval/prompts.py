"""Evaluation prompts as the paper built them: the question, its options (when the benchmark has them and the
question does not already list them), then the format instruction (docs/reference.md#training-recipe and
docs/reference.md#reference-evaluation).

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
from perception_r1.templates import FORMAT_INSTRUCTION, FormatTemplate

# When the question itself is in the image (MathVerse Vision Only, MMMU-Pro vision) the item has no text.
IMAGE_QUESTION = "Answer the question shown in the image."


def build_prompt(item: EvalItem, instruction: str = FORMAT_INSTRUCTION, template: FormatTemplate | None = None) -> str:
    """The user text of ``item``'s prompt (images are passed beside it, before the text).

    Args:
        item: The item; its benchmark decides whether options are appended.
        instruction: Format instruction appended last (ignored when ``template`` is given).
        template: A recipe's format template; ``{question}`` becomes the question with its options.

    Returns:
        ``question [+ "Choices:" lines] + instruction``, separated by newlines (or the rendered template).
    """
    parts = [item.question.strip() or IMAGE_QUESTION]
    bench = BENCHMARKS.get(item.benchmark) if item.benchmark in BENCHMARKS else None
    # The question already lists the options: always (MathVerse, MMStar), or when it is MathVista's `query`.
    in_question = bench is not None and (
        bench.choices_in_question or item.metadata.get("question_column") in bench.question_has_choices
    )
    # Options whose text is their own letter stand for options printed in the image; listing them adds nothing.
    real = {k: v for k, v in item.choices.items() if v != k}
    if real and not in_question:
        parts.append("Choices:\n" + "\n".join(f"({k}) {v}" for k, v in real.items()))
    if template is not None:
        return template.render("\n".join(parts))
    parts.append(instruction)
    return "\n".join(parts)
