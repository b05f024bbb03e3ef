"""Accuracy reward: does the response's final answer equal the ground truth (math-verify semantics)?

The final answer comes only from the ``<answer>`` block (see :mod:`perception_r1.rewards.answer`); the gold
answer is wrapped so that ``2\\sqrt{3}`` means 2*sqrt(3) and ``12\\pi`` means 12*pi; verification is thread-safe
and time-bounded (:mod:`perception_r1.rewards.mathcheck`). These fix three defects of the reference code:
docs/reference.md#defect-1-gold-answers-parsed-bare, docs/reference.md#defect-2-answer-regex-without-dotall and
docs/reference.md#defect-5-signal-timeout-off-the-main-thread.

Multiple choice: a ``choices`` column (list of option texts, letter -> text mapping, or ``"A: ..."`` lines)
lets a letter on either side stand for its option text; two letters are compared directly.

Returns per completion: 1.0 correct, 0.0 wrong or no final answer, ``None`` when there is no ground truth or
it cannot be checked (gold unparseable, verification timed out).

Example:
    >>> reward = AccuracyReward(isolation="inline")
    >>> reward(["<think>\\nr=2\\n</think>\\n<answer>\\n\\\\boxed{4\\\\pi}\\n</answer>", "\\\\boxed{12}"],
    ...        answer=["4\\\\pi", "12\\\\pi"])
    [1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from perception_r1.rewards.answer import as_choice_letter, choice_map, find_final_answer
from perception_r1.rewards.base import Completion, RewardList, completion_text, log_metric
from perception_r1.rewards.contract import ColumnSpec, reward_inputs
from perception_r1.rewards.mathcheck import MathChecker


class AccuracyReward:
    """Callable, picklable accuracy reward.

    Args:
        answer_column: Dataset column holding the ground truth.
        choices_column: Dataset column holding multiple-choice options (optional).
        timeout_s: Time bound for one math-verify check.
        isolation: ``"process"`` (time-bounded, any thread) or ``"inline"`` (see :class:`MathChecker`).

    Attributes:
        columns: The columns it reads: the answer (required) and the choices (optional).
    """

    def __init__(
        self,
        answer_column: str = "answer",
        choices_column: str = "choices",
        timeout_s: float = 5.0,
        isolation: Literal["process", "inline"] = "process",
    ) -> None:
        self.__name__ = "accuracy"
        self.answer_column = answer_column
        self.choices_column = choices_column
        self.columns = (ColumnSpec((answer_column,)), ColumnSpec((choices_column,), required=False))
        self.checker = MathChecker(timeout_s=timeout_s, isolation=isolation)

    def score_texts(
        self, responses: Sequence[str], golds: Sequence[Any], choices: Sequence[Any] | None = None
    ) -> RewardList:
        """Score response texts against gold answers (one ``choices`` entry per response, or ``None``)."""
        choices = choices if choices is not None else [None] * len(responses)
        scores: RewardList = [None] * len(responses)
        to_verify: list[tuple[int, str, str, bool]] = []
        for i, (text, gold, options) in enumerate(zip(responses, golds, choices, strict=True)):
            if gold is None or str(gold).strip() == "":
                continue  # no ground truth: not applicable
            pred, from_box = find_final_answer(text)
            if pred is None:
                scores[i] = 0.0  # the response gave no final answer: a real 0, not a failure
                continue
            letters = choice_map(options)
            gold_letter, pred_letter = as_choice_letter(str(gold), letters), as_choice_letter(pred, letters)
            if gold_letter and pred_letter:
                scores[i] = float(gold_letter == pred_letter)
                continue
            gold_text = letters[gold_letter] if gold_letter else str(gold)
            pred_text = letters[pred_letter] if pred_letter else pred
            to_verify.append((i, gold_text, pred_text, not from_box and not pred_letter))
        verdicts = self.checker.verify_many([(g, p) for _, g, p, _ in to_verify], [raw for *_, raw in to_verify])
        for (i, *_), verdict in zip(to_verify, verdicts, strict=True):
            scores[i] = None if verdict is None else float(verdict)
        return scores

    def __call__(self, completions: list[Completion], **kwargs: Any) -> RewardList:
        n = len(completions)
        inputs = reward_inputs(self, kwargs, n)
        texts = [completion_text(c) for c in completions]
        scores = self.score_texts(texts, inputs[self.answer_column], inputs[self.choices_column])
        if n:
            log_metric(kwargs)("accuracy/unscored_frac", sum(s is None for s in scores) / n)
        return scores

    def close(self) -> None:
        """Stop the math-verify worker process (restarted on demand)."""
        self.checker.close()
