"""Throughput of the accuracy + format rewards vs a plain per-item math-verify loop, with verdict agreement.

Corpus: 128 prompts x 8 responses (integer, decimal, fraction, radical, pi, degree, multiple-choice answers;
right, equivalent, wrong, unit-suffixed, think-only and missing answers), see
``tests/support/answer_corpus.py``. The baseline parses the gold answer (wrapped in ``$...$`` so that it
parses correctly) and the extracted prediction and calls ``verify`` for every item, as a plain reward loop does.

Run: ``.venv/bin/python benchmarks/bench_rewards.py [--prompts 128] [--group 8] [--repeats 3]``
Target: >= 10x the baseline's responses/s on one core, 100% agreement with math-verify's verdicts.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path


def baseline(items, extract):
    """Per item: parse(gold), parse(answer), verify -> score (the reference-style loop, made correct)."""
    from math_verify import parse, verify

    from perception_r1.rewards.mathcheck import wrap_latex

    scores = []
    for gold_text, pred_text, raw in extract:
        if pred_text is None:
            scores.append(0.0)
            continue
        gold = parse(wrap_latex(gold_text))
        pred = parse(pred_text if raw else wrap_latex(pred_text))
        scores.append(float(verify(gold, pred)) if gold else None)
    return scores


def prepared(items):
    """Apply the reward's own extraction and choice mapping so both sides grade the same (gold, pred) pairs."""
    from perception_r1.rewards.answer import as_choice_letter, choice_map, find_final_answer

    out = []
    for item in items:
        pred, from_box = find_final_answer(item.response)
        letters = choice_map(item.choices)
        gold_letter = as_choice_letter(item.gold, letters)
        pred_letter = as_choice_letter(pred, letters) if pred else None
        if pred is not None and gold_letter and pred_letter:
            # both letters: compared directly by the reward; give the baseline the same decision via texts
            out.append((letters[gold_letter], letters[pred_letter], False))
            continue
        gold_text = letters[gold_letter] if gold_letter else item.gold
        pred_text = letters[pred_letter] if pred_letter else pred
        out.append((gold_text, pred_text, pred is not None and not from_box and not pred_letter))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the fast path (best is reported)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from perception_r1.rewards import get_reward

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the corpus lives in tests/support
    from support.answer_corpus import make_corpus

    items = make_corpus(args.prompts, args.group)
    completions = [i.response for i in items]
    columns = {"answer": [i.gold for i in items], "choices": [i.choices for i in items]}
    pairs = prepared(items)

    start = time.perf_counter()
    base_scores = baseline(items, pairs)
    base_s = time.perf_counter() - start

    fmt = get_reward("format")
    best, ours = float("inf"), None
    for _ in range(args.repeats):
        acc = get_reward("accuracy")  # fresh instance: empty verdict cache
        acc.checker.verify("x", "y")  # start the worker process outside the timed region
        start = time.perf_counter()
        ours = acc(completions, **columns)
        fmt(completions)
        best = min(best, time.perf_counter() - start)
        stats = dict(acc.checker.stats)
        acc.close()

    agree = sum(a == b for a, b in zip(ours, base_scores, strict=True))
    n = len(items)
    print(
        f"corpus: {n} responses ({args.prompts} prompts x {args.group}); kinds: integer, decimal, fraction, "
        f"radical, pi, degree, choice"
    )
    print(f"baseline parse/parse/verify : {base_s:8.3f} s  {n / base_s:9.1f} responses/s")
    print(f"accuracy+format rewards     : {best:8.3f} s  {n / best:9.1f} responses/s  (best of {args.repeats})")
    print(f"speed-up                    : {base_s / best:8.1f} x   (target >= 10x)")
    print(f"agreement with math-verify  : {agree}/{n} = {100 * agree / n:.1f}%   (target 100%)")
    print(f"work split (last run)       : {stats}")
    disagreements = [(i.gold, i.stated, a, b) for i, a, b in zip(items, ours, base_scores, strict=True) if a != b]
    for gold, stated, a, b in disagreements[:10]:
        print(f"  DISAGREE gold={gold!r} stated={stated!r} ours={a} math-verify={b}")


if __name__ == "__main__":
    main()
