"""Report pages of 10,000 rollouts: generation time and open time in headless Chromium, against a static baseline.

Corpus: one synthetic training run (``--rollouts`` rows of samples.jsonl shaped like MetricsCallback's: prompt,
~1 kB completion, three reward components, advantage, four per-annotation verdicts, every tenth judgment failed)
and a metrics.jsonl row per step.

Baseline: the same rollouts pre-rendered server-side as static HTML (what a template renderer produces: every
rollout in the DOM, no script), in the same run. Open time = navigation start -> ``load`` event plus a forced
layout (``document.body.offsetHeight``), read in the page by an appended probe; the browser's wall time (start-up
included) and that of an empty page are printed too.

Run: ``.venv/bin/python benchmarks/bench_report.py [--rollouts 10000] [--repeats 3]``
Target: the report opens in < 2 s with 10,000 rollouts.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

WORDS = (
    "the triangle ABC has side AB equal to five and angle ABC is forty degrees so by the law of cosines the "
    "remaining side follows and the answer is seven"
).split()
PROBE = (
    "<script>window.addEventListener('load',function(){var h=document.body.offsetHeight;"
    "document.documentElement.setAttribute('data-open-ms',String(Math.round(performance.now())));"
    "document.documentElement.setAttribute('data-height',String(h));});</script>"
)


def make_run(folder: Path, rollouts: int, group: int = 8, prompts_per_step: int = 5) -> None:
    """A training folder with ``rollouts`` samples and a metrics row per step."""
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    per_step = group * prompts_per_step
    steps = -(-rollouts // per_step)
    with open(folder / "samples.jsonl", "w", encoding="utf-8") as handle:
        for i in range(rollouts):
            step, problem = i // per_step + 1, (i // group) % 500
            row = {
                "step": step,
                "prompt": f"<image>Problem {problem}: in the figure, find x. " + " ".join(WORDS),
                "completion": "<think>"
                + " ".join(rng.choice(WORDS) for _ in range(170))
                + "</think><answer>7</answer>",
                "rewards": {"format": 1.0, "accuracy": float(rng.random() < 0.5), "perception": rng.random()},
                "advantage": round(rng.gauss(0, 1), 4),
                "perception_verdicts": "HTTP 503 after 3 retries"
                if i % 10 == 0
                else [rng.randint(0, 1) for _ in "abcd"],
                "visual_annotations": ["AB = 5", "angle ABC = 40", "BC = 3", "AC = 4"],
            }
            handle.write(json.dumps(row) + "\n")
    with open(folder / "metrics.jsonl", "w", encoding="utf-8") as handle:
        for step in range(1, steps + 1):
            row = {
                "step": step,
                "reward": rng.random(),
                "rewards/format/mean": 1.0,
                "rewards/accuracy/mean": rng.random(),
                "rewards/perception/mean": rng.random(),
                "frac_reward_zero_std": rng.random() / 4,
                "perception/judge_failure_rate": 0.1,
                "completions/mean_length": 200 + rng.random() * 50,
            }
            handle.write(json.dumps(row) + "\n")


def static_baseline(folder: Path, out: Path) -> None:
    """Every rollout pre-rendered as HTML, no script: the template-renderer way."""
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>static</title></head><body>"]
    with open(folder / "samples.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            scores = " ".join(f"{k} {v:.3g}" for k, v in row["rewards"].items())
            verdicts = row["perception_verdicts"]
            facts = (
                "".join(
                    f"<li>{html.escape(a)}: {v}</li>"
                    for a, v in zip(row["visual_annotations"], verdicts, strict=False)
                )
                if isinstance(verdicts, list)
                else f"<li>judge failed: {html.escape(verdicts)}</li>"
            )
            parts.append(
                f"<article><h3>step {row['step']}</h3><details><summary>prompt</summary><pre>"
                f"{html.escape(row['prompt'])}</pre></details><p>{scores} advantage {row['advantage']}</p>"
                f"<ul>{facts}</ul><pre>{html.escape(row['completion'])}</pre></article>"
            )
    parts.append("</body></html>")
    out.write_text("".join(parts), encoding="utf-8")


def open_ms(page: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Open times (ms, in the page) and browser wall times (s) over ``repeats`` loads of ``page`` with the probe."""
    from perception_r1.report.browser import load_page

    probed = page.with_name("probed-" + page.name)
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    inner, wall = [], []
    for _ in range(repeats):
        result = load_page(probed, budget_ms=100, timeout_s=300)
        if result.console:
            raise SystemExit(f"console messages on {page.name}: {result.console[:3]}")
        match = re.search(r'data-open-ms="(\d+)"', result.dom)
        if not match:
            raise SystemExit(f"{page.name}: the probe did not report (page did not load?)")
        inner.append(float(match.group(1)))
        wall.append(result.wall_s)
    return inner, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from perception_r1.report import write_report
    from perception_r1.report.browser import find_chromium

    if find_chromium() is None:
        raise SystemExit("no Chromium: run scripts/setup.sh as root (installs Debian's chromium) or set $CHROMIUM")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        root = Path(tmp)
        make_run(root / "run", args.rollouts)
        gen_ours, gen_base = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            write_report([root / "run"], root / "report.html")
            gen_ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            static_baseline(root / "run", root / "static.html")
            gen_base.append(time.perf_counter() - started)
        empty = root / "empty.html"
        empty.write_text("<!DOCTYPE html><html><body><p>empty</p></body></html>")
        ours_ms, ours_wall = open_ms(root / "report.html", args.repeats)
        base_ms, base_wall = open_ms(root / "static.html", args.repeats)
        _, empty_wall = open_ms(empty, args.repeats)
        size = {p: (root / p).stat().st_size / 1e6 for p in ("report.html", "static.html")}

    med = statistics.median
    print(f"rollouts: {args.rollouts}; repeats: {args.repeats} (medians)")
    print(f"{'':34}{'report':>12}{'static baseline':>18}")
    print(f"{'page size (MB)':34}{size['report.html']:>12.1f}{size['static.html']:>18.1f}")
    print(f"{'generation (s)':34}{med(gen_ours):>12.2f}{med(gen_base):>18.2f}")
    print(f"{'open: navigation -> laid out (ms)':34}{med(ours_ms):>12.0f}{med(base_ms):>18.0f}")
    print(f"{'browser wall incl. start-up (s)':34}{med(ours_wall):>12.2f}{med(base_wall):>18.2f}"
          f"   (empty page: {med(empty_wall):.2f} s)")  # fmt: skip
    verdict = "PASS" if med(ours_ms) < 2000 else "FAIL"
    print(f"target: report opens in < 2000 ms -> {verdict} ({med(ours_ms):.0f} ms; "
          f"{med(base_ms) / max(med(ours_ms), 1):.1f}x faster than the static baseline)")  # fmt: skip


if __name__ == "__main__":
    main()
