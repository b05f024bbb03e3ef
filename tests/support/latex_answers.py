"""Seeded random answers over the whole grammar of :mod:`perception_r1.rewards.fastpath`, in pairs.

Used to check that the fast path only decides where math-verify decides the same (tests) and to find the
forms where it must defer. Pairs are built to hit the hard cases, not only random noise: an expression against
its own value written as a decimal (rounded or not), against a respelling of itself (``\\dfrac`` vs ``\\frac``,
``\\cdot`` vs ``\\times``, spacing, ``\\left(``), against a near miss, and against an unrelated expression.

Example:
    >>> pairs = make_pairs(seed=0, n=5)
    >>> len(pairs), all(g.startswith("$") and p.endswith("$") for g, p in pairs)
    (5, True)
"""

from __future__ import annotations

import random

_FRACS = ("\\frac", "\\dfrac", "\\tfrac")
_TIMES = ("*", "\\cdot", "\\times")


def _number(rng: random.Random, decimals: float = 0.05) -> str:
    roll = rng.random()
    if roll < decimals:  # a decimal inside an expression (the fast path must defer on these)
        return f"{rng.randint(0, 60)}.{rng.choice(['5', '25', '75', '1', '0', '125', '333', '000000'])}"
    if roll < 0.7:
        return str(rng.randint(0, 12))
    return str(rng.randint(13, 400))


def _atom(rng: random.Random, depth: int) -> str:
    roll = rng.random() if depth > 0 else rng.random() * 0.45
    if roll < 0.35:
        return _number(rng)
    if roll < 0.45:
        return "\\pi"
    if roll < 0.6:
        frac = rng.choice(_FRACS)
        if rng.random() < 0.2:
            return f"{frac}{rng.randint(1, 9)}{rng.randint(1, 9)}"  # \frac12
        return f"{frac}{{{_expr(rng, depth - 1)}}}{{{_expr(rng, depth - 1)}}}"
    if roll < 0.72:
        if rng.random() < 0.25:
            return f"\\sqrt[{rng.randint(2, 4)}]{{{_expr(rng, depth - 1)}}}"
        return f"\\sqrt{{{_expr(rng, depth - 1)}}}"
    if roll < 0.82:
        inner = _expr(rng, depth - 1)
        return f"\\left({inner}\\right)" if rng.random() < 0.3 else f"({inner})"
    if roll < 0.92:
        exponent = str(rng.randint(0, 4)) if rng.random() < 0.7 else f"{{{_expr(rng, depth - 1)}}}"
        return f"{_atom(rng, depth - 1)}^{exponent}"
    return f"{rng.randint(2, 12)}{_atom(rng, depth - 1)}"  # implicit multiplication: 2\sqrt{3}, 3(4)


def _term(rng: random.Random, depth: int) -> str:
    out = _atom(rng, depth)
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        roll = rng.random()
        nxt = _atom(rng, depth - 1)
        if roll < 0.35:
            out += f" {rng.choice(_TIMES)} {nxt}"
        elif roll < 0.7:
            out += f" / {nxt}"
        elif nxt.startswith("\\") or nxt.startswith("("):
            out += nxt  # implicit multiplication before a command or parenthesis
        else:
            out += "\\pi"
    return out


def _expr(rng: random.Random, depth: int) -> str:
    out = ("-" if rng.random() < 0.15 else "") + _term(rng, depth)
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        out += f" {rng.choice('+-')} {'-' if rng.random() < 0.05 else ''}{_term(rng, depth - 1)}"
    return out.strip()


def random_answer(rng: random.Random, depth: int = 2) -> str:
    """One random answer of the covered grammar (bare LaTeX, no ``$``): a plain number or an expression."""
    if rng.random() < 0.2:
        text = _number(rng, decimals=0.4)
    else:
        text = _expr(rng, depth)
    if rng.random() < 0.05:
        text += rng.choice(["^\\circ", "^{\\circ}"])
    return text


def _respell(text: str, rng: random.Random) -> str:
    for a, b in (("\\dfrac", "\\frac"), ("\\cdot", "\\times"), ("\\left(", "("), ("\\right)", ")")):
        if rng.random() < 0.5:
            text = text.replace(a, b)
    return text.replace(" ", "") if rng.random() < 0.5 else text


def _as_decimal(value: float, rng: random.Random) -> str:
    digits = rng.choice([0, 1, 2, 4, 6, 6, 8, 12])
    return f"{value:.{digits}f}"


def _ambiguous_division(rng: random.Random) -> tuple[str, list[str]]:
    """``a / b X`` with an implicit product after the division, and both of its readings."""
    a, b = rng.randint(1, 60), rng.randint(2, 30)
    x = rng.choice([f"\\sqrt{{{rng.randint(2, 7)}}}", "\\pi", f"({rng.randint(2, 9)})"])
    gold = f"{a} / {b}{x}"
    bound_first = f"\\frac{{{a}}}{{{b}{x}}}"  # a / (b X): math-verify's reading
    left_to_right = f"\\frac{{{a}}}{{{b}}}{x}"  # (a / b) X
    return gold, [bound_first, left_to_right]


def _nice_sum(rng: random.Random) -> tuple[str, list[str]]:
    """Fractions whose exact sum is an integer or a short decimal, and that value written as decimals."""
    q = rng.choice([2, 4, 5, 10])
    total = rng.randint(1, 40) * q + rng.choice([0, 0, q // 2 if q % 2 == 0 else 0])
    p1 = rng.randint(1, total - 1) if total > 1 else 1
    frac = rng.choice(_FRACS)
    parts = [f"{frac}{{{p1}}}{{{q}}}", f"{frac}{{{total - p1}}}{{{q}}}"]
    if rng.random() < 0.3:  # an equivalent but unreduced second fraction, as in 18/10
        parts[1] = f"{frac}{{{2 * (total - p1)}}}{{{2 * q}}}"
    value = total / q
    decimals = [f"{value:.6f}", f"{value:.1f}", f"{value:g}", f"{value + 1:.6f}"]
    return " + ".join(parts), decimals


def _paren_product(rng: random.Random) -> tuple[str, list[str]]:
    """A value followed by a parenthesis (``2(3)``, ``(2)(3)``, ``\\pi(2)``), and the product's exact forms."""
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    if rng.random() < 0.25:
        return f"\\pi({b})", [f"{b}\\pi", f"\\pi \\cdot {b}"]
    left = rng.choice([str(a), f"({a})"])
    inner = rng.choice([str(b), f"{b} + 1", f"-{b}"])
    value = a * {str(b): b, f"{b} + 1": b + 1, f"-{b}": -b}[inner]
    return f"{left}({inner})", [str(value), f"{a} \\cdot {inner}" if "+" not in inner else str(value + a)]


def make_pairs(seed: int, n: int = 40) -> list[tuple[str, str]]:
    """``n`` ``($gold$, $pred$)`` pairs; the same seed gives the same pairs.

    Three tenths are built around the known traps (a value followed by a parenthesis, which math-verify does not
    read as a product; a division followed by an implicit product; an exact sum against its decimal value), the
    rest are random expressions against their value (exact or as a decimal), a respelling, a near miss or another
    random answer. Gold and prediction are swapped half of the time.
    """
    from perception_r1.rewards import fastpath

    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n:
        roll = rng.random()
        if roll < 0.1:
            gold, options = _paren_product(rng)
            pred = rng.choice(options)
        elif roll < 0.2:
            gold, options = _ambiguous_division(rng)
            pred = rng.choice(options)
            value = fastpath.evaluate(f"${pred}$")
            if value is not None and rng.random() < 0.5:
                pred = _as_decimal(float(value.value), rng)
        elif roll < 0.3:
            gold, options = _nice_sum(rng)
            pred = rng.choice(options)
        else:
            gold = random_answer(rng, depth=rng.choice([1, 1, 2]))
            value = fastpath.evaluate(f"${gold}$")
            roll = rng.random()
            if roll < 0.4 and value is not None and abs(value.value) < 1e12:
                if value.value == int(value.value) and rng.random() < 0.5:
                    pred = str(int(value.value))  # an integer value, written exactly
                else:
                    pred = _as_decimal(float(value.value), rng)  # its value as a decimal: exact, rounded or cut
            elif roll < 0.6:
                pred = _respell(gold, rng)
            elif roll < 0.75 and value is not None and abs(value.value) < 1e12:
                pred = _as_decimal(float(value.value) + rng.choice([1e-7, 1e-6, 3e-6, 1e-3, 1]), rng)  # near misses
            else:
                pred = random_answer(rng, depth=rng.choice([1, 2]))
        if rng.random() < 0.5:
            gold, pred = pred, gold
        pairs.append((f"${gold}$", f"${pred}$"))
    return pairs
