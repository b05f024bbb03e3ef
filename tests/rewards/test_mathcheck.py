import time

import pytest

from perception_r1.rewards import fastpath
from perception_r1.rewards.mathcheck import MathChecker, wrap_latex
from support.answer_corpus import make_corpus


@pytest.mark.parametrize(
    ("raw", "wrapped"),
    [
        ("2\\sqrt{3}", "$2\\sqrt{3}$"),  # bare LaTeX gets delimiters
        ("$x$", "$x$"),  # already delimited
        ("\\boxed{4}", "\\boxed{4}"),  # already boxed
        ("40°", "$40^\\circ$"),  # unicode degree -> ^\circ
    ],
)
def test_wrap_latex(raw, wrapped):
    assert wrap_latex(raw) == wrapped


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("$2\\sqrt{3}$", "$\\sqrt{12}$", True),  # exact equality of radicals
        ("$12\\pi$", "$12$", False),  # exact inequality
        ("$12$", "$12.0$", True),  # equal values, one decimal
        ("$12\\pi$", "$37.699112$", None),  # decimal within rounding distance: defer to math-verify
        ("$3$", "$3.5$", False),  # decimal far away
        ("$40$", "$40^\\circ$", True),  # trailing degree mark dropped, as math-verify does
        ("$5$", "$5 cm$", None),  # units are outside the grammar
        ("$x+1$", "$1+x$", None),  # symbols are outside the grammar
        ("$\\frac12$", "$0.5$", True),  # one-digit \frac shorthand
        ("$1.5\\sqrt{2}$", "$2.1213$", None),  # decimal inside a larger expression: defer
        ("$2^{10}$", "$1024$", True),  # powers
        ("$2^{1000}$", "$1$", None),  # huge exponent: defer
        ("$\\frac{1}{0}$", "$1$", None),  # division by zero: defer
    ],
)
def test_fastpath_decisions(gold, pred, expected):
    assert fastpath.decide(gold, pred) == expected


def test_fastpath_agrees_with_math_verify_on_corpus():
    # Every fast-path decision must equal math-verify's own verdict (a fast path that changes a verdict is a bug).
    inline = MathChecker(isolation="inline", use_fastpath=False)
    pairs = {
        (wrap_latex(i.gold if not i.choices else "1"), wrap_latex(i.stated))
        for i in make_corpus(64, 8, seed=3)
        if i.stated is not None
    }
    decided = [(g, p, fastpath.decide(g, p)) for g, p in sorted(pairs)]
    decided = [(g, p, d) for g, p, d in decided if d is not None]
    assert len(decided) > 100
    truth = inline.verify_many([(g, p) for g, p, _ in decided])
    assert [d for _, _, d in decided] == truth


def test_pathological_expression_times_out_without_hanging():
    # sympy needs minutes for this comparison; the worker is killed after timeout_s and the verdict is None.
    checker = MathChecker(timeout_s=1.0)
    start = time.monotonic()
    verdicts = checker.verify_many([("(x+y+z)^{60}", "(x+y+z+1)^{60}"), ("x+1", "1+x")])
    elapsed = time.monotonic() - start
    assert verdicts == [None, True]  # the next item is still verified, by a fresh worker
    assert checker.stats["timeouts"] == 1
    # two worker start-ups (~2 s each here) + the 1 s bound; sympy alone would take minutes
    assert elapsed < 15
    checker.close()


def test_cache_and_stats():
    checker = MathChecker(isolation="inline")
    assert checker.verify_many([("x", "x"), ("x", "x"), ("2", "2")]) == [True, True, True]
    assert checker.stats == {"fastpath": 1, "cached": 0, "math_verify": 1, "timeouts": 0}
    checker.verify("x", "x")
    assert checker.stats["cached"] == 1


def test_unparseable_gold_is_none():
    assert MathChecker(isolation="inline").verify("\\text{}", "1") is None


def _run_bounded(checker, pairs, limit_s):
    """verify_many on a daemon thread; (verdicts, seconds) or (None, limit_s) when it is still running."""
    import threading

    out: dict = {}

    def go():
        start = time.monotonic()
        out["verdicts"] = checker.verify_many(pairs)
        out["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(limit_s)
    return out.get("verdicts"), out.get("elapsed", limit_s)


HANG = ("(x+y+z)^{60}", "(x+y+z+1)^{60}")  # sympy needs minutes: the worker stops reading its stdin


@pytest.mark.parametrize(
    "tail",
    [
        # the case: a stuck request followed by one 100 KB answer (past the 64 KiB pipe buffer)
        [("1", "\\boxed{" + "1" * 100_000 + "}")],
        # many requests behind the stuck one: 255 answers of ~600 characters (150 KB in all)
        [("1", "\\boxed{" + "2" * 590 + f"{i:03d}" + "}") for i in range(255)],
    ],
)
def test_a_stuck_verification_cannot_block_the_caller_on_a_full_pipe(tail):
    # Before the fix the parent wrote requests ahead into the worker's pipe and blocked in write() once the pipe
    # was full: the timeout never fired and the call hung for as long as sympy ran (minutes).
    checker = MathChecker(timeout_s=1.0, use_fastpath=False)
    verdicts, elapsed = _run_bounded(checker, [HANG, *tail], limit_s=120)
    assert verdicts is not None, "verify_many did not return: the timeout did not bound the call"
    assert verdicts[0] is None and checker.stats["timeouts"] >= 1
    # the rest are unequal (False), or None where a huge number itself ran past the bound under load
    assert len(verdicts) == 1 + len(tail) and set(verdicts[1:]) <= {False, None}
    checker.close()
