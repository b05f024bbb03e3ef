"""Score a JSONL file of responses with every reward component (engine of ``perception-r1 rewards score``).

Input line: ``{"response": str, "answer": str | number | null, optional "id", "choices", "visual_annotations"}``.
Output line: the input plus ``accuracy``, ``format``, ``repetition``, ``overall`` (and ``perception`` when a judge
is configured), each a number or ``null``. A component is ``null`` when it does not apply (no ground truth, no
annotations) or failed; ``overall`` is the total training would use for the response
(:func:`perception_r1.rewards.combined.combine`: a ``null`` component adds nothing, exactly as in TRL and verl
training), ``null`` only when no component has a value. Each line reaches the rewards through the reward contract
(:func:`perception_r1.rewards.contract.score_components`); keys a line leaves out read as ``null``. Malformed lines
stop the run with ``FILE:LINE: reason``, or with ``skip_invalid`` are skipped and counted. The output is written
atomically; a summary JSON lands beside it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perception_r1.io_utils import (
    JsonlError,
    atomic_open,
    atomic_write_json,
    count_jsonl_lines,
    iter_jsonl,
    line_limit,
)
from perception_r1.judge.judges import failure_reason
from perception_r1.rewards.combined import PAPER_WEIGHTS, combine
from perception_r1.rewards.contract import score_components


@dataclass
class ScoreOptions:
    """Options of :func:`score_file`.

    Attributes:
        skip_invalid: Skip malformed lines (recorded in the summary) instead of raising.
        format_template: Name of the format template.
        weights: Component weights for ``overall`` (default: the paper's); a computed component without a weight
            counts 0; a name that is not a reward is an error.
        batch_size: Lines scored together (dedupes math-verify work across a batch; progress granularity).
        timeout_s: Time bound of one math-verify check.
        judge: Judge configuration (a ``JudgeConfig`` or mapping) enabling the ``perception`` component.
        progress: Show a progress bar.
        max_line_bytes: Longest input line accepted (None: ``$PERCEPTION_R1_MAX_LINE_MB`` or 64 MiB, see
            :func:`perception_r1.io_utils.line_limit`); a longer line is a malformed line, read in bounded memory.
            A batch also stops growing once its responses and annotations hold this many characters.
    """

    skip_invalid: bool = False
    format_template: str = "think_answer"
    weights: dict[str, float] | None = None
    batch_size: int = 256
    timeout_s: float = 5.0
    judge: Any = None
    progress: bool = True
    max_line_bytes: int | None = None


@dataclass
class ScoreSummary:
    """Counts and means of one scoring run."""

    input: str
    output: str
    lines: int = 0
    scored: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)
    judge_failures: int = 0
    judge_failure_reasons: dict[str, int] = field(default_factory=dict)
    judged: int = 0  # responses the judge scored (status ok)

    @property
    def nothing_judged(self) -> bool:
        """The judge was needed and failed on every response it was asked about."""
        return self.judge_failures > 0 and self.judged == 0

    def failure_text(self) -> str:
        """``"3 (connection: 2, HTTP 401: 1)"``: judge failures with their reasons."""
        reasons = ", ".join(f"{k}: {v}" for k, v in self.judge_failure_reasons.items())
        return f"{self.judge_failures}" + (f" ({reasons})" if reasons else "")

    def add(self, row: dict[str, Any], components: tuple[str, ...]) -> None:
        self.scored += 1
        for name in (*components, "overall"):
            value = row.get(name)
            if value is None:
                self.nulls[name] = self.nulls.get(name, 0) + 1
            else:
                self.sums[name] = self.sums.get(name, 0.0) + value
                self.counts[name] = self.counts.get(name, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        means = {k: self.sums[k] / self.counts[k] for k in self.sums if self.counts.get(k)}
        return {
            "input": self.input,
            "output": self.output,
            "lines": self.lines,
            "scored": self.scored,
            "skipped": len(self.skipped),
            "skipped_lines": self.skipped,
            "mean": means,
            "null_counts": self.nulls,
            "judge_failures": self.judge_failures,
            "judge_failure_reasons": self.judge_failure_reasons,
            "judged": self.judged,
        }

    def print(self) -> None:
        """Print a human-readable summary table to stderr."""
        from rich.console import Console
        from rich.table import Table

        data = self.to_dict()
        table = Table(title=f"Scored {self.scored} of {self.lines} lines -> {self.output}")
        table.add_column("component")
        table.add_column("mean", justify="right")
        table.add_column("null", justify="right")
        for name in sorted(set(data["mean"]) | set(self.nulls)):
            mean = data["mean"].get(name)
            table.add_row(name, "-" if mean is None else f"{mean:.4f}", str(self.nulls.get(name, 0)))
        console = Console(stderr=True)
        console.print(table)
        console.print(f"skipped lines: {len(self.skipped)}; judge failures: {self.failure_text()}")
        for item in self.skipped[:10]:
            console.print(f"  line {item['line']}: {item['reason']}")


def _validate(row: dict[str, Any], path: Path, line_no: int) -> dict[str, Any]:
    """Check one input row's fields and types; raise :class:`JsonlError` naming the line."""
    if not isinstance(row.get("response"), str):
        raise JsonlError(path, line_no, "'response' must be a string")
    if "answer" not in row:
        raise JsonlError(path, line_no, "missing key 'answer' (use null when there is no ground truth)")
    answer = row["answer"]
    if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (str, int, float))):
        raise JsonlError(path, line_no, f"'answer' must be a string, a number or null, got {answer!r}")
    if isinstance(answer, float) and not math.isfinite(answer):
        raise JsonlError(path, line_no, "'answer' must be finite")
    choices = row.get("choices")
    if choices is not None and not isinstance(choices, (list, dict, str)):
        raise JsonlError(path, line_no, "'choices' must be a list, an object or a string")
    annotations = row.get("visual_annotations")
    if annotations is not None and not (
        isinstance(annotations, list) and all(isinstance(a, str) for a in annotations)
    ):
        raise JsonlError(path, line_no, "'visual_annotations' must be a list of strings")
    return row


def _rows(path: Path, options: ScoreOptions, summary: ScoreSummary) -> Iterator[dict[str, Any]]:
    for line_no, item in iter_jsonl(path, options.max_line_bytes):
        summary.lines += 1
        try:
            if isinstance(item, JsonlError):
                raise item
            yield _validate(item, path, line_no)
        except JsonlError as exc:
            if not options.skip_invalid:
                raise
            summary.skipped.append({"line": line_no, "reason": exc.reason})


def _batches(rows: Iterator[dict[str, Any]], size: int, budget: int) -> Iterator[list[dict[str, Any]]]:
    """Batches of at most ``size`` rows, cut early once the rows' text reaches ``budget`` characters (so that
    memory stays bounded when many lines are near the line size limit)."""
    batch: list[dict[str, Any]] = []
    chars = 0
    for row in rows:
        batch.append(row)
        chars += len(row["response"]) + sum(len(a) for a in row.get("visual_annotations") or [])
        if len(batch) >= size or chars >= budget:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


class _Scorer:
    """Holds the reward callables for one run and scores batches of rows."""

    def __init__(self, options: ScoreOptions) -> None:
        from perception_r1.rewards import REWARDS, get_reward

        self.rewards = {
            "accuracy": get_reward("accuracy", timeout_s=options.timeout_s),
            "format": get_reward("format", template=options.format_template),
            "repetition": get_reward("repetition"),
        }
        if options.judge is not None:
            self.rewards["perception"] = get_reward("perception", judge=options.judge)
        self.components = tuple(self.rewards)
        weights = dict(PAPER_WEIGHTS if options.weights is None else options.weights)
        for name in weights:
            REWARDS.get(name)  # the registry's check: an unknown name raises UnknownNameError with suggestions
        self.weights = {name: float(weights.get(name, 0.0)) for name in self.components}

    def score(self, batch: list[dict[str, Any]], summary: ScoreSummary) -> list[dict[str, Any]]:
        values = score_components(self.rewards, [row["response"] for row in batch], batch)
        judgments = self.rewards["perception"].last_judgments if "perception" in self.rewards else []
        out = []
        for i, row in enumerate(batch):
            scores = {name: values[name][i] for name in self.components}
            if judgments:
                summary.judge_failures += judgments[i].status == "failed"
                summary.judged += judgments[i].status == "ok"
                if judgments[i].status == "failed":
                    reason = failure_reason(judgments[i].error)
                    summary.judge_failure_reasons[reason] = summary.judge_failure_reasons.get(reason, 0) + 1
            scored = {**row, **scores, "overall": combine(scores, self.weights)}
            summary.add(scored, self.components)
            out.append(scored)
        return out

    def close(self) -> None:
        """Release the judge client and the math-verify worker."""
        for reward in self.rewards.values():
            if hasattr(reward, "close"):
                reward.close()


def score_file(input_path: str | Path, output_path: str | Path, options: ScoreOptions | None = None) -> ScoreSummary:
    """Score every line of ``input_path`` and write ``output_path`` (+ ``<output>.summary.json``).

    Raises:
        FileNotFoundError: the input does not exist.
        perception_r1.io_utils.JsonlError: a malformed line (without ``skip_invalid``); nothing is written.
        perception_r1.registry.UnknownNameError: a weight for a name that is not a reward.
    """
    options = options or ScoreOptions()
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise FileNotFoundError(f"{input_path}: no such input file")
    summary = ScoreSummary(input=str(input_path), output=str(output_path))
    scorer = _Scorer(options)
    if output_path.is_dir():
        raise ValueError(f"{output_path}: is a folder; -o needs a file path (e.g. {output_path / 'scored.jsonl'})")
    total_lines = count_jsonl_lines(input_path)  # in chunks: a huge line is never held whole
    budget = line_limit(options.max_line_bytes)
    try:
        with atomic_open(output_path) as handle, _Progress(options.progress, total_lines) as advance:
            for batch in _batches(_rows(input_path, options, summary), options.batch_size, budget):
                for row in scorer.score(batch, summary):
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                advance(summary.lines)
    finally:
        scorer.close()
    atomic_write_json(output_path.with_name(output_path.name + ".summary.json"), summary.to_dict())
    return summary


class _Progress:
    """A rich progress bar over input lines (a no-op when disabled)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total

    def __enter__(self):
        if not self.enabled:
            return lambda done: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self._bar.__enter__()
        task = self._bar.add_task("scoring", total=self.total)
        return lambda done: self._bar.update(task, completed=done)

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._bar.__exit__(*exc)


__all__ = ["ScoreOptions", "ScoreSummary", "score_file"]
