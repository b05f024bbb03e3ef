"""PNG plots of the experiment (matplotlib, Agg backend): rewards over steps (each run, and each arm minus the frozen
control on the same prompts), test figures, zero-variance groups."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perception_r1.experiment.config import ARMS, CONTROL
from perception_r1.experiment.stats import matched_differences

COLORS = {"warmup": "#7f7f7f", "rlvr": "#1f77b4", "perception_r1": "#d62728", CONTROL: "#555555"}
RUNS = (*ARMS, CONTROL)  # the frozen control's lines are drawn where it ran
# Each plot's name in the report and its file in ``plots/`` (without ``.png``), in report order.
PLOT_FILES = {"rewards": "reward_components", "vs_frozen": "rewards_minus_frozen", "test": "test_figures",
              "zero_std": "zero_variance_groups"}  # fmt: skip


def _mean_series(runs: Mapping[str, Mapping[str, Any]], get: Any) -> tuple[list[int], list[float]]:
    """Steps and the across-seed mean of one per-step series (missing values skipped)."""
    by_step: dict[int, list[float]] = {}
    for fig in runs.values():
        for step, value in zip(fig.get("steps", []), get(fig), strict=False):
            if value is not None:
                by_step.setdefault(step, []).append(float(value))
    steps = sorted(by_step)
    return steps, [sum(by_step[s]) / len(by_step[s]) for s in steps]


def rolling_mean(values: list[float], window: int) -> list[float]:
    """Trailing mean over the last ``window`` values (fewer at the start).

    A step's batch holds a few prompts, so per-step rewards swing with how hard those prompts are; the trailing
    mean shows the trend under that noise.

    Example:
        >>> rolling_mean([0.0, 1.0, 2.0, 3.0], 2)
        [0.0, 0.5, 1.5, 2.5]
    """
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_rewards(summary: Mapping[str, Any], path: Path) -> Path:
    """One panel per reward component (and the total): mean over seeds per step, one line per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["accuracy", "format", "perception", "repetition", "total"]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2))
    for ax, name in zip(axes, names, strict=True):
        for arm in RUNS:
            runs = summary["training"].get(arm, {})

            def get(f: Mapping[str, Any], n: str = name) -> list[Any]:
                return f.get("reward", []) if n == "total" else f.get("components", {}).get(n, [])

            steps, values = _mean_series(runs, get)
            if steps:
                window = max(3, len(steps) // 6)
                ax.plot(steps, values, color=COLORS[arm], alpha=0.25, linewidth=0.8)
                ax.plot(steps, rolling_mean(values, window), label=f"{arm} ({window}-step mean)", color=COLORS[arm])
        ax.set_title(name if name != "perception" else "perception (logged in both arms)", fontsize=9)
        ax.set_xlabel("GRPO step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(
        "Training reward components per run (mean over seeds; rlvr and the frozen control weigh perception 0, so"
        " their totals exclude it)",
        y=1.06,
    )
    return _save(fig, path)


def plot_vs_frozen(summary: Mapping[str, Any], path: Path) -> Path | None:
    """One panel per reward component: each arm minus the frozen control, step by step on the same prompts (mean
    over seeds, with its trailing mean); None without frozen control runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    control = summary["training"].get(CONTROL) or {}
    if not control:
        return None
    names = ["accuracy", "format", "perception", "repetition"]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2))
    for ax, name in zip(axes, names, strict=True):
        for arm in ARMS:
            diffs: dict[int, list[float]] = {}
            for seed, run in summary["training"].get(arm, {}).items():
                base = control.get(seed) or {}
                series = (run.get("steps", []), run.get("components", {}).get(name, []))
                of_base = (base.get("steps", []), base.get("components", {}).get(name, []))
                for step, diff in matched_differences(*series, *of_base):
                    diffs.setdefault(step, []).append(diff)
            steps = sorted(diffs)
            if steps:
                values = [sum(diffs[s]) / len(diffs[s]) for s in steps]
                window = max(3, len(steps) // 6)
                ax.plot(steps, values, color=COLORS[arm], alpha=0.25, linewidth=0.8)
                ax.plot(steps, rolling_mean(values, window), label=f"{arm} ({window}-step mean)", color=COLORS[arm])
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_title(f"{name}: arm minus frozen", fontsize=9)
        ax.set_xlabel("GRPO step")
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:  # no arm shares a step with its control: nothing to label
        axes[0].legend(fontsize=8)
    fig.suptitle("Training rewards against the frozen control on the same prompts (mean over seeds)", y=1.06)
    return _save(fig, path)


def plot_test(summary: Mapping[str, Any], path: Path) -> Path:
    """Bars: test answer accuracy and perception accuracy per policy (mean over seeds, dots = seeds).

    A dashed line marks the image-blind baseline (the chance level) where the summary has one.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = [("answer_accuracy", "answer accuracy"), ("perception_accuracy", "perception accuracy (per problem)"),
            ("perception_recall", "fact recall (per response)")]  # fmt: skip
    fig, axes = plt.subplots(1, len(figs), figsize=(4.2 * len(figs), 3.4))
    policies = list(summary["arms"])
    for ax, (key, title) in zip(axes, figs, strict=True):
        for x, policy in enumerate(policies):
            block = summary["arms"][policy][key]
            ax.bar(x, 100 * block["mean"], color=COLORS.get(policy, "#999"), alpha=0.8)
            ax.scatter(
                [x] * len(block["per_seed"]), [100 * v for v in block["per_seed"]], color="black", s=12, zorder=3
            )
            if block.get("ci95"):
                lo, hi = block["ci95"]
                ax.errorbar(x, 100 * block["mean"], yerr=[[100 * (block["mean"] - lo)], [100 * (hi - block["mean"])]],
                            color="black", capsize=4)  # fmt: skip
        blind = summary.get("baselines", {}).get("blind")
        if blind:  # the chance level: a policy that never looks at the figure
            ax.axhline(100 * blind[key], color="black", linestyle="--", linewidth=1, label="image-blind baseline")
            ax.legend(fontsize=7, loc="upper right")
        ax.set_xticks(range(len(policies)), policies)
        ax.set_ylabel("% of test problems")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Held-out test split (n = {summary['n_test']}, greedy)")
    return _save(fig, path)


def plot_zero_std(summary: Mapping[str, Any], path: Path) -> Path:
    """Fraction of prompt groups whose completions all got the same total reward (no GRPO signal)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for arm in RUNS:
        steps, values = _mean_series(summary["training"].get(arm, {}), lambda f: f.get("frac_reward_zero_std", []))
        if steps:
            ax.plot(steps, values, label=arm, color=COLORS[arm])
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("fraction of groups")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Zero-variance reward groups (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def write_plots(folder: Path, summary: Mapping[str, Any]) -> dict[str, Path]:
    """All plots into ``folder``; returns ``{name: path}`` (no ``vs_frozen`` without frozen control runs)."""
    draw = {"rewards": plot_rewards, "vs_frozen": plot_vs_frozen, "test": plot_test, "zero_std": plot_zero_std}
    plots = {name: draw[name](summary, folder / f"{file}.png") for name, file in PLOT_FILES.items()}
    stale = folder / f"{PLOT_FILES['vs_frozen']}.png"
    if plots["vs_frozen"] is None and stale.is_file():  # no control runs now: no plot left from an earlier report
        stale.unlink()
    return {name: p for name, p in plots.items() if p is not None}
