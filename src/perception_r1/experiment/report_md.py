"""Human-readable experiment report: ``report.md`` and the self-contained ``report.html``, and
:func:`write_report`, which writes them with ``summary.json`` and the plots (the summary itself is built by
:mod:`perception_r1.experiment.report`, which imports nothing from here).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perception_r1.experiment.config import ARMS, ExperimentConfig
from perception_r1.experiment.report import (
    POLICIES,
    build_summary,
    differences_table,
    mcnemar_table,
    policy_items,
    results_table,
)
from perception_r1.io_utils import atomic_write_json, atomic_write_text


def _num(value: Any, digits: int = 4) -> str:
    """A float to ``digits`` significant digits for the report (anything else as it is)."""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _late(block: Mapping[str, Any] | None, seed: str) -> str:
    """One seed's mean difference over the second half of the steps ('n/a' where not logged)."""
    value = ((block or {}).get("per_seed", {}).get(seed) or {}).get("second_half")
    return "n/a" if value is None else f"{value:+.3f}"


def _across(block: Mapping[str, Any] | None) -> str:
    late = (block or {}).get("second_half")
    if not late:
        return "n/a"
    ci = late.get("ci95")
    interval = f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
    return f"{late['mean']:+.3f}{interval} (n={len(late['per_seed'])})"


TRAINING_NOTE = (
    "Training rewards of two runs with the same seed, which see the same prompts at the same step, subtracted step "
    "by step (the prompts' difficulty cancels); the frozen control is the warm-up policy at learning rate 0. Per "
    "seed: the mean difference over the second half of the steps; across seeds: mean [95% t-interval over seeds]. "
    "Steps are not independent, so no interval is drawn over them."
)


def training_table(summary: Mapping[str, Any]) -> str:
    """Per run pair (arm - frozen, perception_r1 - rlvr) and series: per-seed second-half means, and across seeds."""
    seeds = [str(s) for s in summary.get("seeds", [])]
    lines = [
        "| runs (A - B) | series | " + " | ".join(f"seed {s}" for s in seeds) + " | across seeds |",
        "|---|---|" + "---|" * len(seeds) + "---|",
    ]
    for pair, block in (summary.get("training_compared") or {}).items():
        for name, series in block.items():
            cells = " | ".join(_late(series, s) for s in seeds)
            lines.append(f"| {pair} | {name} | {cells} | {_across(series)} |")
    return "\n".join(lines)


def costs_table(summary: Mapping[str, Any]) -> str:
    """Per GRPO run: mean step time and its split (generation, loss, rewards), peak resident memory."""
    lines = [
        "| run | seed | steps | step s | generation s | loss s | rewards s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm, runs in summary["training"].items():
        for seed, fig in runs.items():
            if not fig:
                continue
            t = fig.get("mean_timing_s", {})
            rewards_s = sum(v for k, v in t.items() if k.startswith(("_calculate_rewards", "reward")))
            lines.append(
                f"| {arm} | {seed} | {len(fig.get('steps', []))} | {fig.get('mean_step_s') or 'n/a'} | "
                f"{t.get('transformers.generate', t.get('_generate', 'n/a'))} | {t.get('compute_loss', 'n/a')} | "
                f"{round(rewards_s, 3)} | {fig.get('peak_rss_mb') or 'n/a'} |"
            )
    return "\n".join(lines)


def first_lines(summary: Mapping[str, Any]) -> list[str]:
    """The findings (:mod:`perception_r1.experiment.findings`) the report opens with."""
    from perception_r1.experiment.findings import findings

    return list(summary.get("findings") or findings(summary))


def sample_rollouts(root: Path, seed: int, limit: int, test_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Test problems with each policy's response (of ``seed``) and per-fact verdicts.

    Problems where the policies disagree on perception come first: they are the informative ones.
    """
    names = {"warmup": "warmup", **{arm: f"{arm}-seed{seed}" for arm in ARMS}}
    by_policy = {p: {r["id"]: r for r in policy_items(root, name, test_ids)} for p, name in names.items()}
    ids = [i for i in test_ids if all(i in by_policy[p] for p in names)]
    ids.sort(key=lambda i: len({by_policy[p][i]["perception_correct"] for p in names}) == 1)
    return [{"id": i, **{p: by_policy[p][i] for p in names}} for i in ids[:limit]]


def _rollout_md(sample: Mapping[str, Any]) -> str:
    first = sample["warmup"]
    out = [f"#### {sample['id']} ({first.get('family')}), answer {first['answer']}", ""]
    for policy in POLICIES:
        item = sample[policy]
        marks = ", ".join(f"{'✓' if v else '✗'} {f}" for f, v in zip(item["facts"], item["verdicts"], strict=False))
        out.append(
            f"- **{policy}** (answer {'right' if item['answer_correct'] == 1.0 else 'wrong'}, facts: {marks}, "
            f"wrong facts {item['wrong_facts']}):"
        )
        out.append("  ```\n  " + item["response"].replace("\n", "\n  ") + "\n  ```")
    return "\n".join(out)


def reading_line(reading: Mapping[str, Any] | None) -> str:
    """The reading stage in one sentence (empty without one): what share of labelled cells the tower spells."""
    if not reading:
        return ""
    before, after = reading["val_read_before"]["cells"], reading["val_read_after"]["cells"]
    return (
        f" Reading stage before it: {reading['steps']} steps on {reading['figures']} train figures; the vision tower "
        f"spelled {before * 100:.1f}% -> {after * 100:.1f}% of the labelled cells of {reading['val_figures']} "
        f"validation figures ({reading['wall_s']} s)."
    )


def split_line(split: Mapping[str, Any] | None) -> str:
    """How the test split was held out, with its twin count (computed from the splits, never assumed)."""
    if not split:
        return "Test split: not recorded (a summary made before splits were reported)."
    test = split["test"]
    how = {
        "key": "held out by values (no problem key, i.e. family, question variant and values, in two splits)",
        "instance": "by rendered instance only (question and image), **not held out by values**",
    }.get(split["split_by"], split["split_by"])
    return (
        f"Test split: {how}; {test['twins']} of {test['problems']} test problems have a train twin (a train "
        f"problem of the same family, variant and values, hence the same answer); {test['keys']} distinct "
        "family-and-values keys among them."
    )


def render_markdown(
    cfg: ExperimentConfig, summary: Mapping[str, Any], plots: Mapping[str, Path], samples: Sequence[Mapping[str, Any]]
) -> str:
    """The whole ``report.md``; ``samples`` come from :func:`sample_rollouts`."""
    m = summary["machine"]
    w = summary["warmup"]
    parts = [
        "# Perception-R1 on the synthetic testbed: warm-up, RLVR and Perception-R1",
        "",
        *[f"- {line}" for line in first_lines(summary)],
        "",
        f"Command: `{summary['command']}`; seeds {summary['seeds']}; {summary['n_test']} test problems; "
        f"wall {summary['wall_s'] / 60:.1f} min on {m['cpus']} CPU(s) ({m['platform']}, torch {m['torch']}"
        f"{', GPU ' + m['gpu'] if m.get('gpu') else ''}).",
        "",
        split_line(summary.get("split")),
        "",
        "## Test results (greedy; mean over seeds [95% t-interval])",
        "",
        results_table(summary),
        "",
        "Perception accuracy: a problem counts when every needed fact is stated with the figure's value and no "
        "shown quantity is stated with a wrong value (exact, from the generator; no LLM). Fact recall: the mean "
        "fraction of needed facts stated right and with no other value (as the rule judge credits them). Wrong "
        "facts: stated values contradicting the figure; hallucinated: values of quantities neither shown, "
        "determined by the figure, nor named in the solution. The image-blind baseline is the chance level: for "
        "each test problem, the train split's most common solution to the same question, written without seeing "
        "the figure (`perception_r1.experiment.baseline`); a policy at or below it does not read the figure.",
        "",
        "## Differences between policies, seed by seed (A - B in points; mean [95% t-interval over seeds])",
        "",
        differences_table(summary),
        "",
        "## Exact McNemar tests (per seed; b = A right and B wrong)",
        "",
        mcnemar_table(summary),
        "",
        f"## Warm-up\n\n{w['examples']} examples, {w['steps']} SFT steps, final loss {_num(w['final_loss'])}, "
        f"{w['wall_s']} s.{reading_line(summary.get('reading'))}",
        "",
        "## Training rewards on the same prompts",
        "",
        TRAINING_NOTE,
        "",
        training_table(summary),
        "",
        "Run costs (means over the steps):",
        "",
        costs_table(summary),
        "",
        *[f"![{name}](plots/{path.name})" for name, path in plots.items()],
        "",
        *_mechanism_section(summary),
        "## The same test problems across policies (seed " + str(summary["seeds"][0]) + ")",
        "",
        *[_rollout_md(s) + "\n" for s in samples],
    ]
    return "\n".join(parts) + "\n"


def _mechanism_section(summary: Mapping[str, Any]) -> list[str]:
    """The multiple-choice mechanism section (:mod:`perception_r1.experiment.mechanism`), when the summary has it."""
    if not summary.get("mechanism"):
        return []
    from perception_r1.experiment.mechanism import mechanism_markdown

    return [mechanism_markdown(summary["mechanism"]), ""]


def _md_table_html(table: str) -> str:
    rows = [r.strip().strip("|").split("|") for r in table.splitlines() if r.strip() and not r.startswith("|---")]
    head, body = rows[0], rows[1:]
    out = ["<table><thead><tr>", *[f"<th>{html.escape(c.strip())}</th>" for c in head], "</tr></thead><tbody>"]
    for row in body:
        out.append("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in row) + "</tr>")
    return "".join(out) + "</tbody></table>"


def experiment_section_html(
    summary: Mapping[str, Any], plots: Mapping[str, Path], samples: Sequence[Mapping[str, Any]]
) -> str:
    """The experiment's results as an HTML fragment: findings, tables, inline plots, side-by-side rollouts."""
    imgs = "".join(
        f'<img alt="{html.escape(name)}" style="max-width:100%" src="data:image/png;base64,'
        f'{base64.b64encode(path.read_bytes()).decode()}">'
        for name, path in plots.items()
    )
    rollouts = []
    for s in samples:
        cells = []
        for policy in POLICIES:
            item = s[policy]
            facts = "".join(
                f'<li style="color:{"#1a7f37" if v else "#cf222e"}">{"✓" if v else "✗"} {html.escape(f)}</li>'
                for f, v in zip(item["facts"], item["verdicts"], strict=False)
            )
            cells.append(
                f"<td style='vertical-align:top'><b>{policy}</b><ul>{facts}</ul>"
                f"<pre style='white-space:pre-wrap'>{html.escape(item['response'])}</pre></td>"
            )
        rollouts.append(f"<h4>{html.escape(s['id'])} (answer {html.escape(str(s['warmup']['answer']))})</h4>"
                        f"<table><tr>{''.join(cells)}</tr></table>")  # fmt: skip
    return (
        f"<section id='experiment'><h2>Controlled experiment</h2>"
        f"<ul id='findings'>{''.join(f'<li>{html.escape(line)}</li>' for line in first_lines(summary))}</ul>"
        f"<p>{html.escape(split_line(summary.get('split')).replace('**', ''))}</p>"
        f"<h3>Test results</h3>{_md_table_html(results_table(summary))}"
        f"<h3>Differences, seed by seed</h3>{_md_table_html(differences_table(summary))}"
        f"<h3>Exact McNemar</h3>{_md_table_html(mcnemar_table(summary))}"
        f"<h3>Training rewards on the same prompts</h3><p>{html.escape(TRAINING_NOTE)}</p>"
        f"{_md_table_html(training_table(summary))}{_md_table_html(costs_table(summary))}{imgs}"
        f"<h3>The same problems across policies</h3>{''.join(rollouts)}</section>"
    )


def render_html(
    root: Path, summary: Mapping[str, Any], plots: Mapping[str, Path], samples: Sequence[Mapping[str, Any]]
) -> Path:
    """``report.html``: the project's run report (``perception-r1 report``) of the experiment folder - every GRPO
    run's curves and rollouts - with the experiment's results section on top. Self-contained, no network."""
    from perception_r1.report import write_report

    section = experiment_section_html(summary, plots, samples)
    return write_report([root], root / "report.html", title="Perception-R1 controlled experiment", extra_html=section)


def write_report(
    root: Path, cfg: ExperimentConfig, evals: Mapping[str, Mapping[str, Any]], timings: Mapping[str, float],
    wall_s: float, command: str | None = None, test_ids: Sequence[str] = (), split: Mapping[str, Any] | None = None,
    machine_info: Mapping[str, Any] | None = None, seeds: Sequence[int] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Write ``summary.json``, the plots, ``report.md`` and ``report.html`` into ``root``; return the summary.

    ``test_ids`` are the evaluated test problems (each distinct problem once); ``split`` what
    :func:`perception_r1.experiment.data.split_figures` says about the splits (the report states the twin count);
    ``machine_info`` and ``seeds`` as in :func:`build_summary`.
    """
    command = command or "perception-r1 experiment"
    summary = build_summary(root, cfg, evals, timings, wall_s, command, test_ids, split, machine_info, seeds)
    plots, samples = write_report_files(root, cfg, summary)
    render_html(root, summary, plots, samples)
    return summary


def write_report_files(
    root: Path, cfg: ExperimentConfig, summary: Mapping[str, Any]
) -> tuple[dict[str, Path], list[dict[str, Any]]]:
    """Write ``summary.json``, the plots and ``report.md`` of a summary into ``root`` (an experiment folder, or a
    published one rebuilt from its records).

    Returns:
        The plots and the sample rollouts, for :func:`render_html`.
    """
    from perception_r1.experiment.plots import write_plots

    plots = write_plots(root / "plots", summary)
    atomic_write_json(root / "summary.json", summary)
    samples = sample_rollouts(root, summary["seeds"][0], cfg.eval.samples, summary["test_ids"])
    atomic_write_text(root / "report.md", render_markdown(cfg, summary, plots, samples))
    return plots, samples
