"""LaTeX-to-number helpers shared by the MATH-Vision and EMMA official rules.

The official scripts parse with ``latex2sympy2`` and evaluate the result (MATH-Vision with Python's ``eval`` over
``math``, EMMA with ``evalf``). Here ``latex2sympy2_extended`` (installed with math-verify) parses and sympy
evaluates; a value that is not a real number, or any parse error, counts as "does not convert", which the official
code also treats as "not equal". Two behaviours of ``latex2sympy2`` are kept: a degree sign (``^{\\circ}``) leaves
a symbol, so such text never has a value, and a string with an unmatched closing brace is read up to it.
"""

from __future__ import annotations

from typing import Any


def is_number(text: str) -> bool:
    """Whether Python's ``float`` reads ``text`` (the official scripts' plain "is it a number" test)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse(text: str) -> Any:
    """The sympy expression of ``text``.

    Raises:
        Exception: any parse error (callers treat it as "not a number", as the official code does).
    """
    from latex2sympy2_extended import latex2sympy

    return latex2sympy(text)


def to_number(text: str) -> int | float:
    """``text`` as a Python number: an ``int`` for an integer expression, else a ``float``.

    Raises:
        ValueError: when ``text`` does not parse or is not a real constant.
    """

    if "\\circ" in text:  # latex2sympy2 keeps a degree sign as a symbol, so the value never evaluates
        raise ValueError(f"not a number: {text!r}")
    if _whole_group(text):  # latex2sympy2 reads a braced group "{4}" as its content
        text = text[1:-1]
    try:
        try:
            expr = parse(text)
        except Exception:  # noqa: BLE001
            expr = parse(_official_prefix(text))
        return _evaluate(expr)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - parser and sympy raise many types; all mean "no number"
        raise ValueError(f"not a number: {text!r}") from exc


def _official_prefix(text: str) -> str:
    """What latex2sympy2 reads of a string it cannot parse whole: the text up to an unmatched closing brace
    ("\\frac{3}{2}}{cm" -> "\\frac{3}{2}")."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return text[:i]
    raise ValueError(f"not a number: {text!r}")


def _whole_group(text: str) -> bool:
    """Whether ``text`` is one brace group: "{4}" but not "{1}{2}"."""
    if not (text.startswith("{") and text.endswith("}")):
        return False
    depth = 0
    for ch in text[:-1]:
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0:
            return False
    return True


def _evaluate(expr: Any) -> int | float:
    import sympy

    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"not a number expression: {expr!r}")
    # ``eval`` over ``math`` knows pi and e as names; the parser may leave them as symbols.
    expr = expr.subs({sympy.Symbol("pi"): sympy.pi, sympy.Symbol("e"): sympy.E})
    if expr.free_symbols:
        raise ValueError(f"not a constant: {expr!r}")
    if expr.is_Integer:
        return int(expr)
    value = complex(expr.evalf())
    if value.imag:
        raise ValueError(f"not a real number: {expr!r}")
    return float(value.real)
