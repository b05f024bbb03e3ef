"""Thread-safe, time-bounded, fast answer verification with math-verify semantics.

Why this exists (docs/reference.md#defect-1-gold-answers-parsed-bare and
docs/reference.md#defect-5-signal-timeout-off-the-main-thread):
    * math-verify reads a bare ``2\\sqrt{3}`` as 2 and ``12\\pi`` as 12; every expression is therefore wrapped in
      ``$...$`` before parsing (:func:`wrap_latex`).
    * math-verify's own timeout uses ``signal.alarm``, which raises outside the main thread (TRL runs async rewards
      on a loop thread). We disable it and bound time instead by running math-verify in a worker subprocess
      (``isolation="process"``, :mod:`mv_worker`): a verification that exceeds ``timeout_s`` kills the worker
      and yields ``None``; the next batch starts a fresh one.
    * Throughput: a GRPO batch repeats gold answers (8 responses per prompt) and responses often agree, so
      verdicts are cached per (gold, prediction) pair and parses per string in the worker; simple exact and
      numeric forms (integers, decimals, fractions, radicals, pi, degrees) are decided by :mod:`fastpath`
      without sympy, and only when that decision provably equals math-verify's (otherwise it defers).

Example:
    >>> checker = MathChecker(isolation="inline")
    >>> checker.verify_many([("2\\\\sqrt{3}", "\\\\sqrt{12}"), ("12\\\\pi", "12")])
    [True, False]
"""

from __future__ import annotations

import functools
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from perception_r1.rewards import fastpath

logger = logging.getLogger(__name__)

Verdict = bool | None  # None: gold unparseable or verification timed out / crashed
_WORKER_STARTUP_S = 30.0  # a new worker imports sympy and math-verify before its first reply
_IN_FLIGHT = 256  # requests queued ahead of replies (pipelining; writes never block, see _Worker)
_WRITE_CHUNK = 65536  # bytes per non-blocking write


@dataclass(frozen=True)
class VerifyOptions:
    """Options passed to math-verify (same meaning and defaults as ``math_verify.verify``)."""

    float_rounding: int = 6
    numeric_precision: int = 15
    strict: bool = True


def wrap_latex(expr: str) -> str:
    """Wrap a bare answer so math-verify parses it as LaTeX: ``2\\sqrt{3}`` -> ``$2\\sqrt{3}$``.

    Already delimited input (``$...$``, ``\\(...\\)``, ``\\[...\\]``, ``\\boxed{}``) is kept; ``°`` becomes
    ``^\\circ`` because math-verify drops ``^\\circ`` but cannot parse ``°`` inside a box.
    """
    text = expr.strip().replace("°", "^\\circ")
    if text.startswith("$") or text.startswith("\\(") or text.startswith("\\[") or "\\boxed" in text:
        return text
    return f"${text}$"


@functools.lru_cache(maxsize=65536)
def _parse(text: str) -> tuple[Any, ...]:
    from math_verify import parse

    # parsing_timeout=None: math-verify's signal-based timeout would raise off the main thread; the process
    # isolation around this call provides the time bound instead.
    return tuple(parse(text, parsing_timeout=None))


def _verify_pair(gold: str, pred: str, options: VerifyOptions) -> Verdict:
    """math-verify's verdict for already-wrapped strings; ``None`` when the gold answer does not parse."""
    from math_verify import verify

    gold_parsed = _parse(gold)
    if not gold_parsed:
        return None
    pred_parsed = _parse(pred)
    if not pred_parsed:
        return False
    return bool(
        verify(
            list(gold_parsed),
            list(pred_parsed),
            float_rounding=options.float_rounding,
            numeric_precision=options.numeric_precision,
            strict=options.strict,
            timeout_seconds=None,
        )
    )


def _short(text: str, limit: int = 120) -> str:
    """``repr`` of ``text`` cut to ``limit`` characters, so a 100 KB answer does not flood the log."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


class _Worker:
    """A ``python -m perception_r1.rewards.mv_worker`` subprocess with line-based, time-bounded replies.

    Requests are queued in memory and written to the worker's stdin only while waiting for a reply, through a
    non-blocking descriptor and ``select``: a worker stuck in sympy on one request stops reading its stdin, and a
    blocking ``write`` past the pipe buffer (64 KiB) would then hold the caller forever, past every timeout.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "perception_r1.rewards.mv_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
        )
        if self.proc.stdin is None or self.proc.stdout is None:  # never with PIPE; this narrows their types
            raise RuntimeError("the math-verify worker was started without pipes")
        self._stdin, self._stdout = self.proc.stdin, self.proc.stdout
        os.set_blocking(self._stdin.fileno(), False)
        self._buf = b""
        self._out = bytearray()  # requests not yet taken by the worker
        self.fresh = True  # it has not yet said "ready" (sympy and math-verify take a while to import)

    def send(self, gold: str, pred: str, options: VerifyOptions) -> None:
        """Queue one request (never blocks; it is written while :meth:`receive` waits)."""
        request = [gold, pred, options.float_rounding, options.numeric_precision, options.strict]
        self._out += (json.dumps(request) + "\n").encode()

    @property
    def queued_bytes(self) -> int:
        """Bytes of requests not yet written to the worker."""
        return len(self._out)

    def receive(self, timeout_s: float) -> list[Any]:
        """Next reply; raises ``TimeoutError`` when it takes longer than ``timeout_s``."""
        if self.fresh:  # the worker announces itself once its imports are done; only then does the clock run
            self._read_line(_WORKER_STARTUP_S)
            self.fresh = False
        return json.loads(self._read_line(timeout_s))

    def _read_line(self, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        fd_in, fd_out = self._stdin.fileno(), self._stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, writable, _ = select.select([fd_out], [fd_in] if self._out else [], [], remaining)
            if writable:
                try:
                    written = os.write(fd_in, self._out[:_WRITE_CHUNK])
                except BlockingIOError:
                    written = 0
                del self._out[:written]
            if readable:
                chunk = os.read(fd_out, 65536)
                if not chunk:
                    raise RuntimeError(f"math-verify worker exited with code {self.proc.wait()}")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for stream in (self._stdin, self._stdout):
            try:
                stream.close()
            except OSError:  # a pipe with unwritten data may complain on close; the worker is gone anyway
                pass


class MathChecker:
    """Verify predictions against gold answers with math-verify semantics; safe in any thread.

    Args:
        timeout_s: Time bound for one verification (process isolation only).
        isolation: ``"process"`` runs math-verify in worker processes (time-bounded, any thread);
            ``"inline"`` runs it in the calling thread with no time bound (tests, trusted inputs).
        use_fastpath: Decide simple numeric/exact forms without sympy (verdicts identical to math-verify).
        options: math-verify comparison options.
        cache_size: Maximum number of cached (gold, prediction) verdicts.
    """

    def __init__(
        self,
        timeout_s: float = 5.0,
        isolation: Literal["process", "inline"] = "process",
        use_fastpath: bool = True,
        options: VerifyOptions | None = None,
        cache_size: int = 200_000,
    ) -> None:
        if isolation not in ("process", "inline"):
            raise ValueError(f"isolation must be 'process' or 'inline', got {isolation!r}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.timeout_s = timeout_s
        self.isolation = isolation
        self.use_fastpath = use_fastpath
        self.options = options or VerifyOptions()
        self.cache_size = cache_size
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._cache: dict[tuple[str, str], Verdict] = {}
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self.stats = {"fastpath": 0, "cached": 0, "math_verify": 0, "timeouts": 0}

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_cache", "_lock", "_worker", "stats")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def verify(self, gold: str, pred: str) -> Verdict:
        """Verdict for one pair (see :meth:`verify_many`)."""
        return self.verify_many([(gold, pred)])[0]

    def verify_many(self, pairs: Sequence[tuple[str, str]], raw_preds: Sequence[bool] | None = None) -> list[Verdict]:
        """Verdicts for ``(gold, prediction)`` pairs of bare answers (wrapped here).

        Args:
            pairs: ``(gold, prediction)`` strings.
            raw_preds: Per pair, ``True`` when the prediction is free text to hand to math-verify unwrapped (it
                then finds the expression itself, e.g. in "the result is 5").

        Returns:
            One entry per pair: ``True``/``False`` as math-verify decides; ``None`` when the gold answer does not
            parse or the verification timed out or crashed.
        """
        raw = raw_preds if raw_preds is not None else [False] * len(pairs)
        keys = [(wrap_latex(g), p if is_raw else wrap_latex(p)) for (g, p), is_raw in zip(pairs, raw, strict=True)]
        out: dict[tuple[str, str], Verdict] = {}
        pending: list[tuple[str, str]] = []
        for key in dict.fromkeys(keys):  # unique, in order
            if key in self._cache:
                out[key] = self._cache[key]
                self.stats["cached"] += 1
                continue
            decided = fastpath.decide(*key, self.options.float_rounding) if self.use_fastpath else None
            if decided is not None:
                out[key] = decided
                self.stats["fastpath"] += 1
            else:
                pending.append(key)
        if pending:
            self.stats["math_verify"] += len(pending)
            out.update(zip(pending, self._slow(pending), strict=True))
        if len(self._cache) + len(out) > self.cache_size:
            self._cache.clear()
        self._cache.update(out)
        return [out[k] for k in keys]

    def _slow(self, pairs: list[tuple[str, str]]) -> list[Verdict]:
        if self.isolation == "inline":
            logging.getLogger("math_verify").setLevel(logging.ERROR)
            return [self._inline(g, p) for g, p in pairs]
        with self._lock:  # one batch at a time drives the worker; other threads wait
            return self._in_worker(pairs)

    def _inline(self, gold: str, pred: str) -> Verdict:
        try:
            return _verify_pair(gold, pred, self.options)
        except Exception as exc:  # math-verify raising on odd input is a failed check, not a crash
            logger.warning("math-verify failed on %s vs %s: %s", _short(gold), _short(pred), exc)
            return None

    def _in_worker(self, pairs: list[tuple[str, str]]) -> list[Verdict]:
        results: list[Verdict] = []
        sent = 0
        while len(results) < len(pairs):
            if self._worker is None:
                self._worker = _Worker()
                sent = len(results)  # requests written to a killed worker are sent again
            try:
                while sent < len(pairs) and sent - len(results) < _IN_FLIGHT:
                    self._worker.send(*pairs[sent], self.options)
                    sent += 1
                verdict, error = self._worker.receive(self.timeout_s)
            except TimeoutError:
                # Replies come in request order, so the oldest unanswered pair is the one that hangs.
                self.stats["timeouts"] += 1
                logger.warning(
                    "math-verify timed out after %.1fs on %s vs %s", self.timeout_s, *map(_short, pairs[len(results)])
                )
                verdict, error = None, None
                self._stop_worker()
            except (OSError, RuntimeError) as exc:  # the worker died (e.g. out of memory): restart, mark item
                logger.warning("math-verify worker failed on %s vs %s: %s", *map(_short, pairs[len(results)]), exc)
                verdict, error = None, None
                self._stop_worker()
            if error:
                logger.warning("math-verify failed on %s vs %s: %s", *map(_short, pairs[len(results)]), error)
            results.append(verdict)
        return results

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None

    def close(self) -> None:
        """Stop the worker process (it is restarted on demand)."""
        with self._lock:
            self._stop_worker()

    def __del__(self) -> None:
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.kill()
