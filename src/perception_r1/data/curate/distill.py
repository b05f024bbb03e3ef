"""``data distill``: ask a teacher MLLM (images attached) for k solutions per problem in the paper's format.

Each problem becomes k requests (prompt version ``distill-v1/sample-j``, so the k samples are cached
separately). A reply without a final answer in ``\\boxed{}`` inside ``<answer>`` is re-asked
``invalid_retries`` times, then dropped. An item whose images cannot be read is rejected before any request;
an item with no usable reply is rejected with the teacher's failure reasons.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from perception_r1.config import option
from perception_r1.data.curate.common import StepResult, reject, run_requests
from perception_r1.data.schema import IMAGE_PLACEHOLDER, open_image
from perception_r1.final_answer import find_final_answer
from perception_r1.llm.client import ChatRequest, user_message
from perception_r1.llm.config import LLMConfig

PROMPT_VERSION = "distill-v1"
INSTRUCTION = (
    "Solve the problem about the figure. First reason step by step inside <think> </think>, stating the "
    "lengths, angles and relations you read from the figure. Then give the final answer inside "
    "<answer> </answer>, with the final answer in \\boxed{}."
)


@dataclass
class DistillOptions:
    """Options of the distillation step."""

    k: int = option(4, "solutions requested per problem")
    temperature: float = option(1.0, "teacher sampling temperature (k > 1 needs > 0 for diverse samples)")
    max_tokens: int = option(4096, "maximum tokens per solution")
    invalid_retries: int = option(1, "re-asks of a reply without a boxed final answer")
    batch_size: int = option(128, "requests per batch (progress granularity; each reply is cached as it arrives)")

    def __post_init__(self) -> None:
        for name, low in (("k", 1), ("max_tokens", 1), ("invalid_retries", 0), ("batch_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not (isinstance(self.temperature, (int, float)) and 0.0 <= self.temperature < float("inf")):
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature!r}")


def teacher_prompt(row: dict[str, Any]) -> str:
    """The text part of the teacher request: the problem (images are attached before it), options, format."""
    text = row["problem"].replace(IMAGE_PLACEHOLDER, "").strip()
    if row.get("choices"):
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        text += "\nChoices:\n" + "\n".join(f"{letters[i]}. {c}" for i, c in enumerate(row["choices"]))
    return f"{text}\n\n{INSTRUCTION}"


def check_solution(_request: ChatRequest, text: str) -> str | None:
    """Accept a teacher reply that has a final answer; otherwise return the reason."""
    answer, boxed = find_final_answer(text)
    if answer is None or not boxed or "<answer>" not in text:
        return "no final answer in \\boxed{} inside <answer>"
    return None


def distill(rows: list[dict[str, Any]], teacher: LLMConfig, opts: DistillOptions | None = None) -> StepResult:
    """Distil k teacher solutions per row.

    Args:
        rows: Validated schema rows.
        teacher: The teacher's LLM configuration (a multimodal model).
        opts: Step options.

    Returns:
        Rows with a ``trajectories`` column (list of accepted replies, in sample order), rejects and a summary.
    """
    opts = opts or DistillOptions()
    if opts.k < 1:
        raise ValueError(f"k must be >= 1, got {opts.k}")
    rejects, ready, requests = [], [], []
    for row in rows:
        try:
            images = [open_image(im) for im in row["images"]]
        except OSError as exc:
            rejects.append(reject(row, "distill", f"unreadable image: {exc}"))
            continue
        message = user_message(teacher_prompt(row), images)  # encode the images once for the k samples
        for j in range(opts.k):
            requests.append(
                ChatRequest(
                    messages=[message],
                    prompt_version=f"{PROMPT_VERSION}/sample-{j}",
                    temperature=opts.temperature,
                    max_tokens=opts.max_tokens,
                )
            )
        ready.append(row)
    results, stats = run_requests(
        teacher,
        requests,
        accept=check_solution,
        invalid_retries=opts.invalid_retries,
        batch_size=opts.batch_size,
        desc="distill",
    )
    out, failures = [], Counter[str | None]()
    for i, row in enumerate(ready):
        mine = results[i * opts.k : (i + 1) * opts.k]
        good = [r.text for r in mine if r.ok]
        failures.update(r.error for r in mine if not r.ok)
        if not good:
            reasons = sorted({r.error or "" for r in mine})
            rejects.append(reject(row, "distill", "teacher gave no usable solution: " + "; ".join(reasons)))
            continue
        out.append({**row, "trajectories": good})
    summary = {
        "input": len(rows),
        "output": len(out),
        "rejected": len(rejects),
        "k": opts.k,
        "solutions": sum(len(r["trajectories"]) for r in out),
        "failed_requests": dict(failures.most_common()),
        "llm": stats,
    }
    return StepResult(out, rejects, summary)
