"""Format reward: 1.0 iff the whole response has the paper's think/answer/boxed structure.

The default template is the reference implementation's regex (reference section 3), applied with DOTALL and
``re.fullmatch``, so its edge cases are kept on purpose: no leading/trailing whitespace is tolerated, the
newlines around the tags are mandatory, ``\\boxed{}`` must contain at least one character, and the lazy
``.*?`` may span extra tags (a response with two ``</think>`` still matches).

Example:
    >>> FormatReward()(["<think>\\nx\\n</think>\\n<answer>\\n\\\\boxed{2}\\n</answer>", "2"])
    [1.0, 0.0]
"""

from __future__ import annotations

import re
from typing import Any

from perception_r1.registry import Registry
from perception_r1.rewards.base import Completion, RewardList, completion_text

FORMAT_TEMPLATES: Registry[str] = Registry("format template", lazy_strings=False)
FORMAT_TEMPLATES.register("think_answer", r"^<think>\n.*?\n</think>\n<answer>\n.*?\\boxed{.+?}.*?\n</answer>$")
# The reference code's variant that asks the policy to state its perception first.
FORMAT_TEMPLATES.register(
    "perception_think_answer",
    r"^<perception>\n.*?\n</perception>\n<think>\n.*?\n</think>\n<answer>\n.*?\\boxed{.+?}.*?\n</answer>$",
)


class FormatReward:
    """Callable reward: 1.0 when a completion fully matches the template, else 0.0.

    Args:
        template: Name of a registered template (``think_answer`` or ``perception_think_answer``).
        pattern: A custom regex (full match, DOTALL); overrides ``template``.
    """

    def __init__(self, template: str = "think_answer", pattern: str | None = None) -> None:
        self.__name__ = "format"
        self.template = template
        self.pattern = pattern if pattern is not None else FORMAT_TEMPLATES.get(template)
        self._regex = re.compile(self.pattern, re.DOTALL)

    def score(self, text: str) -> float:
        """Score one response text."""
        return 1.0 if self._regex.fullmatch(text) else 0.0

    def __call__(self, completions: list[Completion], **kwargs: Any) -> RewardList:
        return [self.score(completion_text(c)) for c in completions]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_regex")  # compiled patterns pickle fine, but rebuilding keeps the state minimal
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._regex = re.compile(self.pattern, re.DOTALL)
