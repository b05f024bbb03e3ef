"""A sympy-free decision for simple answers that provably agrees with math-verify, or a deferral.

Covered grammar (after stripping ``$...$`` and one trailing degree mark, which math-verify also drops):
integers and decimals without leading zeros, ``+ - * / ^``, ``\\cdot``, ``\\times``, parentheses (``\\left(``),
``\\frac{a}{b}`` (also ``\\dfrac``, ``\\tfrac`` and one-digit ``\\frac12``), ``\\sqrt{x}``, ``\\sqrt[n]{x}``,
``\\pi``, and implicit multiplication before a command (``2\\sqrt{3}``, ``12\\pi``; not after a division in
the same term, and not before a parenthesis: ``3(2)``, which math-verify does not read as a product).
Anything else (letters, units, percent, commas, sets, equations, boxes) returns ``None`` = "ask math-verify".

Decision, with values evaluated to 50 significant digits:
    * two exact expressions (no decimal point): equal values -> ``True``; values that differ by more than
      1e-20 relative -> ``False``;
    * when a decimal is involved, only as a whole side (an atomic float in math-verify's terms): values that
      differ by more than twice the rounding unit (2e-6) and by more than 1e-10 relative -> ``False`` (they
      cannot round to the same 6-decimal value, and are not symbolically equal either); equal values ->
      ``True`` only when both sides are simple (one number, or one fraction of two integers): math-verify
      rejects some equal sums, e.g. gold ``\\frac{31}{5} + \\frac{9}{5}`` against ``8.0``;
    * a division followed by an implicit product in the same term (``27 / 18\\sqrt{3}``: math-verify reads
      27/(18 sqrt 3)) is outside the grammar;
    * everything else (near-ties, decimals inside larger expressions) -> ``None``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import mpmath

_MP = mpmath.MPContext()
_MP.dps = 50
_MAX_EXPONENT = 64  # larger powers are rare in answers; defer rather than risk a slow evaluation

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:0|[1-9]\d*)(?:\.\d+)?)|(?P<cmd>\\(?:dfrac|tfrac|frac|sqrt|pi|cdot|times|left|right))"
    r"|(?P<sym>[-+*/^(){}\[\]]))"
)
_TRAILING_DEGREE = re.compile(r"\s*\^\s*(?:\{\s*\\circ\s*\}|\\circ)\s*$")


class _Defer(Exception):
    """The expression is outside the covered grammar."""


@dataclass(frozen=True)
class Value:
    """An evaluated answer: its value, whether it is a plain decimal number, whether a decimal occurs in it, and
    whether it is simple (one number, or one fraction of two integers, optionally negated)."""

    value: mpmath.mpf
    plain_decimal: bool
    has_decimal: bool
    simple: bool = False


_INT = r"(?:0|[1-9]\d*)"
_SIMPLE = re.compile(
    rf"(?:- )?(?:{_INT}(?:\.\d+)?|\\[dt]?frac (?:\d\d|\{{ {_INT} \}} \{{ {_INT} \}})|{_INT} / {_INT})"
)


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise _Defer
        tok = m.group("num") or m.group("cmd") or m.group("sym")
        if tok not in ("\\left", "\\right"):  # \left( and \right) are plain parentheses
            tokens.append(tok)
        pos = m.end()
    return tokens


class _Parser:
    """Recursive-descent evaluator over the token list (see module docstring for the grammar)."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise _Defer
        self.i += 1
        return tok

    def expr(self) -> mpmath.mpf:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> mpmath.mpf:
        value = self.unary()
        divided = False
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times"):
                self.take()
                value *= self.unary()
            elif tok == "/":
                self.take()
                value = self._div(value, self.unary())
                divided = True
            elif tok is not None and (tok.startswith("\\") and tok not in ("\\cdot", "\\times") or tok == "("):
                if divided or tok == "(":
                    # 27 / 18\sqrt{3}: math-verify binds the implicit product first, 27/(18 sqrt 3), where a
                    # left-to-right reading gives (27/18) sqrt 3 (2\pi / 3 reads the same either way). And a
                    # parenthesis after a value is not a product to math-verify: it reads 2(3) as 5, \pi(2) as a
                    # function call.
                    raise _Defer
                value *= self.power()  # implicit multiplication: 2\sqrt{3}, 12\pi
            else:
                return value

    def unary(self) -> mpmath.mpf:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            raise _Defer  # "+3" is unusual; let math-verify decide
        return self.power()

    def power(self) -> mpmath.mpf:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.group() if self.peek() == "{" else self._digit()
            if abs(exponent) > _MAX_EXPONENT or (base < 0 and exponent != int(exponent)) or (base == 0 >= exponent):
                raise _Defer
            base = _MP.power(base, exponent)
        return base

    def atom(self) -> mpmath.mpf:
        tok = self.take()
        if tok[0].isdigit():
            return _MP.mpf(tok)
        if tok == "(":
            value = self.expr()
            self.take(")")
            return value
        if tok == "{":
            self.i -= 1
            return self.group()
        if tok == "\\pi":
            return _MP.pi
        if tok in ("\\frac", "\\dfrac", "\\tfrac"):
            nxt = self.peek() or ""
            if len(nxt) == 2 and nxt.isdigit():  # \frac12: the tokenizer read "12" as one number
                self.take()
                return self._div(_MP.mpf(nxt[0]), _MP.mpf(nxt[1]))
            num = self.group() if self.peek() == "{" else self._digit()
            den = self.group() if self.peek() == "{" else self._digit()
            return self._div(num, den)
        if tok == "\\sqrt":
            return self._sqrt()
        raise _Defer

    def _sqrt(self) -> mpmath.mpf:
        degree = _MP.mpf(2)
        if self.peek() == "[":
            self.take()
            degree = self.expr()
            self.take("]")
            if degree != int(degree) or degree < 2:
                raise _Defer
        radicand = self.group()
        if radicand < 0:
            raise _Defer
        return _MP.root(radicand, int(degree))

    def group(self) -> mpmath.mpf:
        self.take("{")
        value = self.expr()
        self.take("}")
        return value

    def _digit(self) -> mpmath.mpf:
        tok = self.take()
        if not tok.isdigit():
            raise _Defer
        if len(tok) > 1:  # \frac123 means \frac{1}{2}3 in LaTeX; keep such forms for math-verify
            raise _Defer
        return _MP.mpf(tok)

    @staticmethod
    def _div(a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
        if b == 0:
            raise _Defer
        return a / b


@functools.lru_cache(maxsize=65536)
def evaluate(wrapped: str) -> Value | None:
    """Evaluate a ``$...$``-wrapped answer in the covered grammar, or return ``None`` if it is outside it."""
    text = wrapped.strip()
    if len(text) < 2 or not (text.startswith("$") and text.endswith("$")) or len(text) > 200:
        return None
    body = _TRAILING_DEGREE.sub("", text[1:-1].strip())
    try:
        tokens = _tokenize(body)
        if not tokens:
            return None
        parser = _Parser(tokens)
        value = parser.expr()
        if parser.peek() is not None:
            return None
    except (_Defer, ZeroDivisionError, ValueError, OverflowError):
        return None
    has_decimal = any("." in t for t in tokens)
    plain = len(tokens) == 1 or (len(tokens) == 2 and tokens[0] == "-")
    return Value(value, plain and has_decimal, has_decimal, bool(_SIMPLE.fullmatch(" ".join(tokens))))


def decide(gold: str, pred: str, float_rounding: int = 6) -> bool | None:
    """math-verify's verdict for two ``$...$``-wrapped answers when it is certain, else ``None``."""
    a, b = evaluate(gold), evaluate(pred)
    if a is None or b is None:
        return None
    if (a.has_decimal and not a.plain_decimal) or (b.has_decimal and not b.plain_decimal):
        return None
    diff = abs(a.value - b.value)
    scale = max(_MP.mpf(1), abs(a.value), abs(b.value))
    equal = diff <= scale * _MP.mpf("1e-40")
    if not a.has_decimal and not b.has_decimal:
        if equal:
            return True
        return False if diff > scale * _MP.mpf("1e-20") else None
    # A decimal against anything: far apart is a sure "no" (beyond 6-decimal rounding and beyond the 15
    # significant digits a float carries). Equal values are a sure "yes" only against a single number or
    # fraction: math-verify rejects, e.g., gold 31/5 + 9/5 against 8.0 although it accepts 3 + 5 against 8.0.
    if diff > max(2 * _MP.mpf(10) ** (-float_rounding), scale * _MP.mpf("1e-10")):
        return False
    return True if equal and a.simple and b.simple else None
