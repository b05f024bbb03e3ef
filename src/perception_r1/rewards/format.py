"""Format reward: 1.0 iff the whole response has the paper's think/answer/boxed structure.

That structure is what :data:`FORMAT_INSTRUCTION` (defined in :mod:`perception_r1.templates`, re-exported here)
asks the policy for; training and evaluation append it to every problem.

The default template is the reference implementation's regex (docs/reference.md#format-reward), applied with DOTALL and
``re.fullmatch``, so its edge cases are kept on purpose: no leading/trailing whitespace is tolerated, the
newlines around the tags are mandatory, ``\\boxed{}`` must contain at least one character, and the lazy
``.*?`` may span extra tags (a response with two ``</think>`` still matches). ``think_answer_strict`` is the
same structure with each tag exactly once.

Example:
    >>> FormatReward()(["<think>\\nx\\n</think>\\n<answer>\\n\\\\boxed{2}\\n</answer>", "2"])
    [1.0, 0.0]
"""

from __future__ import annotations

import re
from typing import Any

from perception_r1.registry import Registry
from perception_r1.rewards.base import Completion, RewardList, completion_text, log_metric
from perception_r1.rewards.contract import ColumnSpec
from perception_r1.templates import FORMAT_INSTRUCTION

__all__ = ["FORMAT_INSTRUCTION", "FORMAT_TEMPLATES", "FormatReward", "repeats_a_tag"]

FORMAT_TEMPLATES: Registry[str] = Registry("format template", lazy_strings=False)
FORMAT_TEMPLATES.register("think_answer", r"^<think>\n.*?\n</think>\n<answer>\n.*?\\boxed{.+?}.*?\n</answer>$")
# The same structure with each tag exactly once: the reference regex's lazy ``.*?`` also accepts a response that
# repeats or nests the tags, and a GRPO policy that cannot yet solve the task learns to earn the format reward that
# way (the quick experiment's rlvr arm: 5% -> 56% of its format-rewarded rollouts, recipes/experiment/README.md).
_NO_TAG = r"(?:(?!</?(?:think|answer)>).)"
FORMAT_TEMPLATES.register(
    "think_answer_strict",
    rf"^<think>\n{_NO_TAG}*?\n</think>\n<answer>\n{_NO_TAG}*?\\boxed{{{_NO_TAG}+?}}{_NO_TAG}*?\n</answer>$",
)
# The reference code's variant that asks the policy to state its perception first.
FORMAT_TEMPLATES.register(
    "perception_think_answer",
    r"^<perception>\n.*?\n</perception>\n<think>\n.*?\n</think>\n<answer>\n.*?\\boxed{.+?}.*?\n</answer>$",
)


class FormatReward:
    """Callable reward: 1.0 when a completion fully matches the template, else 0.0.

    Args:
        template: Name of a registered template (``think_answer``, ``think_answer_strict`` or
            ``perception_think_answer``).
        pattern: A custom regex (full match, DOTALL); overrides ``template``.
    """

    columns: tuple[ColumnSpec, ...] = ()  # reads only the completions

    def __init__(self, template: str = "think_answer", pattern: str | None = None) -> None:
        self.__name__ = "format"
        self.template = template
        self.pattern = pattern if pattern is not None else FORMAT_TEMPLATES.get(template)
        self._regex = re.compile(self.pattern, re.DOTALL)

    def score(self, text: str) -> float:
        """Score one response text."""
        return 1.0 if self._regex.fullmatch(text) else 0.0

    def __call__(self, completions: list[Completion], **kwargs: Any) -> RewardList:
        texts = [completion_text(c) for c in completions]
        if texts:
            # Logged whatever the template: the share of responses that repeat a tag shows a policy learning to
            # earn the lenient reference regex's reward with malformed responses.
            log_metric(kwargs)("format/repeated_tags", sum(map(repeats_a_tag, texts)) / len(texts))
        return [self.score(t) for t in texts]


_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def repeats_a_tag(text: str) -> bool:
    """Whether ``<think>``, ``</think>``, ``<answer>`` or ``</answer>`` occurs more than once in ``text``."""
    return any(text.count(tag) > 1 for tag in _TAGS)
