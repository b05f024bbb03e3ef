"""Human-readable experiment report: ``report.md`` and the self-contained ``report.html``."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perception_r1.experiment.config import ARMS, ExperimentConfig
from perception_r1.experiment.report import POLICIES, mcnemar_table, policy_items, results_table


def _num(value: Any, digits: int = 4) -> str:
    """A float to ``digits`` significant digits for the report (anything else as it is)."""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


WINDOW = 10  # steps averaged at each end: one step's few prompts make single-step rewards swing


def _window(values: list[float | None], k: int = WINDOW, last: bool = True) -> float | None:
    """Mean of the first or last ``k`` present values (None when there are none)."""
    present = [v for v in values if v is not None]
    part = present[-k:] if last else present[:k]
    return sum(part) / len(part) if part else None


def dynamics_table(summary: Mapping[str, Any]) -> str:
    """Per arm: first and last ``WINDOW``-step means of each reward component, of the rollouts that repeat a tag
    (``format/repeated_tags``; n/a in runs logged before it), zero-variance groups, step time."""
    lines = [
        f"| arm | seed | accuracy first→last {WINDOW} steps | perception first→last | format first→last | "
        "repeated tags first→last | zero-std groups first→last | step s | generation s | loss s | rewards s | "
        "peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm in ARMS:
        for seed, fig in summary["training"].get(arm, {}).items():
            if not fig:
                continue
            comp = fig["components"]

            def pair(values: list[float | None]) -> str:
                first, last = _window(values, last=False), _window(values)
                return "n/a" if first is None or last is None else f"{first:.2f} → {last:.2f}"

            t = fig.get("mean_timing_s", {})
            rewards_s = sum(v for k, v in t.items() if k.startswith(("_calculate_rewards", "reward")))
            lines.append(
                f"| {arm} | {seed} | {pair(comp['accuracy'])} | {pair(comp['perception'])} | {pair(comp['format'])} | "
                f"{pair(fig.get('format_repeated_tags', []))} | {pair(fig['frac_reward_zero_std'])} | "
                f"{fig.get('mean_step_s') or 'n/a'} | "
                f"{t.get('transformers.generate', t.get('_generate', 'n/a'))} | {t.get('compute_loss', 'n/a')} | "
                f"{round(rewards_s, 3)} | {fig.get('peak_rss_mb') or 'n/a'} |"
            )
    return "\n".join(lines)


PAIRED_NOTE = (
    "Logged training rewards, perception_r1 minus rlvr, step by step (both arms see the same prompts in the same "
    "order, so the prompts' difficulty cancels); mean over steps [95% t-interval over steps]:"
)


def _signed(mean: float | None, ci: Sequence[float] | None) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")


def paired_table(summary: Mapping[str, Any]) -> str:
    """perception_r1 minus rlvr per step (same prompts each step), per seed: all steps and the second half."""
    lines = [
        "| seed | steps | perception: all steps | perception: second half | accuracy: all | accuracy: second half |",
        "|---|---|---|---|---|---|",
    ]
    for seed, comps in (summary.get("training_paired") or {}).items():
        p, a = comps["perception"], comps["accuracy"]
        lines.append(
            f"| {seed} | {p['n_steps']} | {_signed(p['mean'], p['ci95'])} | "
            f"{_signed(p['second_half_mean'], p['second_half_ci95'])} | {_signed(a['mean'], a['ci95'])} | "
            f"{_signed(a['second_half_mean'], a['second_half_ci95'])} |"
        )
    return "\n".join(lines)


def _blind_line(summary: Mapping[str, Any]) -> str:
    """Whether the warm-up reads the figure better than the image-blind baseline ('' without a baseline)."""
    blind = summary.get("baselines", {}).get("blind")
    test = summary["mcnemar"].get("warmup_vs_blind", {}).get("perception")
    if not blind or not test:
        return ""
    wu = summary["arms"]["warmup"]["perception_accuracy"]["mean"]
    return (
        f" Against the image-blind baseline (chance, {100 * blind['perception_accuracy']:.1f}% perception), the "
        f"warm-up's {100 * wu:.1f}% gives McNemar b={test['b']}, c={test['c']}, p={test['p_value']:.3g}."
    )


def _verdict_line(summary: Mapping[str, Any]) -> str:
    arms = summary["arms"]
    pr, rl, wu = (arms[p]["perception_accuracy"]["mean"] for p in ("perception_r1", "rlvr", "warmup"))
    test = summary["mcnemar"]["perception_r1_vs_rlvr"]["perception"]
    sig = "significant" if test["p_value"] < 0.05 else "not significant"
    better = "higher than" if pr > rl else "lower than" if pr < rl else "equal to"
    return (
        f"Perception accuracy on the test split: warm-up {100 * wu:.1f}%, rlvr {100 * rl:.1f}%, perception_r1 "
        f"{100 * pr:.1f}%. perception_r1 is {better} rlvr; pooled exact McNemar b={test['b']}, c={test['c']}, "
        f"p={test['p_value']:.3g} ({sig} at 0.05)." + _blind_line(summary)
    )


def sample_rollouts(root: Path, cfg: ExperimentConfig, limit: int, test_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Test problems with each policy's response (first seed) and per-fact verdicts.

    Problems where the policies disagree on perception come first: they are the informative ones.
    """
    seed = cfg.seeds[0]
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
        f"Command: `{summary['command']}`; seeds {summary['seeds']}; {summary['n_test']} test problems; "
        f"wall {summary['wall_s'] / 60:.1f} min on {m['cpus']} CPU(s) ({m['platform']}, torch {m['torch']}"
        f"{', GPU ' + m['gpu'] if m.get('gpu') else ''}).",
        "",
        split_line(summary.get("split")),
        "",
        _verdict_line(summary),
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
        "## Exact McNemar tests (pooled over seeds; b = A right and B wrong)",
        "",
        mcnemar_table(summary),
        "",
        f"## Warm-up\n\n{w['examples']} examples, {w['steps']} SFT steps, final loss {_num(w['final_loss'])}, "
        f"{w['wall_s']} s.{reading_line(summary.get('reading'))}",
        "",
        "## Training dynamics",
        "",
        dynamics_table(summary),
        "",
        PAIRED_NOTE,
        "",
        paired_table(summary),
        "",
        *[f"![{name}](plots/{path.name})" for name, path in plots.items()],
        "",
        "## The same test problems across policies (seed " + str(cfg.seeds[0]) + ")",
        "",
        *[_rollout_md(s) + "\n" for s in samples],
    ]
    return "\n".join(parts) + "\n"


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
    """The experiment's results as an HTML fragment: verdict, tables, inline plots, side-by-side rollouts."""
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
        f"<p>{html.escape(split_line(summary.get('split')).replace('**', ''))}</p>"
        f"<p>{html.escape(_verdict_line(summary))}</p>"
        f"<h3>Test results</h3>{_md_table_html(results_table(summary))}"
        f"<h3>Exact McNemar</h3>{_md_table_html(mcnemar_table(summary))}"
        f"<h3>Training dynamics</h3>{_md_table_html(dynamics_table(summary))}"
        f"<p>{html.escape(PAIRED_NOTE)}</p>{_md_table_html(paired_table(summary))}{imgs}"
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
