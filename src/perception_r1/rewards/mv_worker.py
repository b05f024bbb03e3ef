"""Worker process for :class:`perception_r1.rewards.mathcheck.MathChecker` (``python -m`` entry point).

Protocol: one JSON request per stdin line, ``[gold, pred, float_rounding, numeric_precision, strict]`` with
already-wrapped LaTeX strings; one JSON reply per stdout line, ``[verdict, error]`` where verdict is
``true``/``false``/``null``; the first line, ``["ready", null]``, is written once the imports are done.

A separate interpreter (not ``multiprocessing``) is used so that the parent can be any thread of any program
(a notebook, a ``python -`` script, a TRL event-loop thread) and can kill a worker stuck in sympy without side
effects.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    import logging

    from perception_r1.rewards.mathcheck import VerifyOptions, _verify_pair

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its "timeout disabled" warning is by design
    _verify_pair("$x+1$", "$\\frac{2}{3}$", VerifyOptions())  # warm up the LaTeX parser before the clock starts
    out = sys.stdout
    out.write(json.dumps(["ready", None]) + "\n")  # imports done: the parent's per-item clock starts now
    out.flush()
    for line in sys.stdin:
        try:
            gold, pred, rounding, precision, strict = json.loads(line)
            verdict = _verify_pair(gold, pred, VerifyOptions(rounding, precision, strict))
            reply: list[bool | str | None] = [verdict, None]
        except Exception as exc:  # a failed check is reported, never a dead worker
            reply = [None, f"{type(exc).__name__}: {exc}"[:500]]  # short: a reply must not fill the pipe
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
