"""Secrets out of every text the project prints, logs or stores.

API keys live in environment variables (each LLM config's ``api_key_env``) and travel only in request headers,
but a server may send them back: some gateways quote the ``Authorization`` header in a 401 body, and that body
becomes an error text that is printed and stored. :func:`redact` replaces, in any text,

* the value of every *secret variable*: each name registered with :func:`register_secret_env` (every
  :class:`perception_r1.llm.config.LLMConfig` registers its ``api_key_env`` when it is built: judge, teacher,
  annotator, evaluation grader) and every environment variable whose name looks like a credential
  (``*_API_KEY``, ``*_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``, ``*_CREDENTIALS``); values shorter than
  :data:`MIN_SECRET_CHARS` are not searched for (they would match ordinary words);
* header-shaped credentials, whatever their origin: the value of ``Authorization:``, ``Proxy-Authorization:``,
  ``api-key:``, ``x-api-key:`` (``=`` and JSON ``"key": "value"`` forms too) and of ``Bearer <token>``;
* ``sk-...`` tokens (the OpenAI/Anthropic key shape).

The LLM layer redacts error texts where it makes them (:mod:`perception_r1.llm.openai_backend`); the writers of
error texts (evaluation generations and items, training samples, curation records, the HTML report, CLI output)
redact again as a defence (:func:`redact_obj` for records).

Example:
    >>> redact('HTTP 401: bad header "Authorization: Bearer abc.def-123456"')
    'HTTP 401: bad header "Authorization: [REDACTED]"'
    >>> redact("x-api-key: s3cr3t-value")
    'x-api-key: [REDACTED]'
    >>> redact_obj({"error": "token sk-proj-0123456789abcdef", "n": 3})
    {'error': 'token [REDACTED]', 'n': 3}
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from typing import Any

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 8  # shorter values ("1", "true", "default") are not credentials worth mangling text for

_REGISTERED: set[str] = set()
_LOCK = threading.Lock()
# A variable name that says it holds a credential: a word of the name (split at "_") is one of these.
_SECRET_NAME = re.compile(r"(?:^|_)(?:API_?KEY|KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIALS?)(?:_|$)", re.I)
# A credential value ends at whitespace or at what delimits it in JSON, HTML, headers and Python reprs.
_VALUE = r"[^\s\"'`,;&<>(){}\[\]\\]+"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Bearer xyz / Authorization=Basic xyz / "authorization": "Bearer xyz" -> keep the name
    (
        re.compile(
            rf"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token|digest)\s+)?{_VALUE}"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(rf"(?i)\b((?:x-)?api[-_]?key[\"']?\s*[:=]\s*[\"']?){_VALUE}"), rf"\1{REDACTED}"),
    (re.compile(rf"(?i)\bbearer\s+{_VALUE}"), f"Bearer {REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{12,}"), REDACTED),
]


def register_secret_env(name: str | None) -> None:
    """Treat the value of environment variable ``name`` as a secret from now on (in this process).

    Args:
        name: An environment variable name (``api_key_env`` of a config); None or empty is ignored.
    """
    if name:
        with _LOCK:
            _REGISTERED.add(name)


def secret_env_names() -> set[str]:
    """The registered names plus every environment variable whose name looks like a credential."""
    with _LOCK:
        names = set(_REGISTERED)
    return names | {n for n in os.environ if _SECRET_NAME.search(n)}


def secret_values() -> list[str]:
    """Current values of the secret variables (at least :data:`MIN_SECRET_CHARS` long), longest first.

    Read at each call: a key set or changed after start-up is still found.
    """
    values = {os.environ.get(name, "").strip() for name in secret_env_names()}
    return sorted((v for v in values if len(v) >= MIN_SECRET_CHARS), key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every secret value and credential-shaped token replaced by ``[REDACTED]``.

    Args:
        text: Any text (an error message, a log line, a whole HTML page or JSON document).

    Returns:
        The redacted text (the same object when there was nothing to replace).
    """
    return _redact(text, secret_values()) if text else text


def redact_obj(obj: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples, strings) with every string passed through :func:`redact`.

    Keys are kept as they are (they are field names); other values are returned unchanged.
    """
    return _redact_obj(obj, secret_values())


def _redact_obj(obj: Any, values: list[str]) -> Any:
    if isinstance(obj, str):
        return _redact(obj, values)
    if isinstance(obj, dict):
        return {k: _redact_obj(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact_obj(v, values) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_redact_obj(v, values) for v in obj)
    return obj


def _redact(text: str, values: list[str]) -> str:
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
        escaped = json.dumps(value)[1:-1]  # the form the value takes inside a JSON string
        if escaped != value and escaped in text:
            text = text.replace(escaped, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def install() -> None:
    """Redact every log message and uncaught-exception report of this process (the CLI calls it at start-up).

    Wraps the logging record factory (a record's message is formatted and redacted when it is created) and
    ``sys.excepthook`` (a traceback's text is redacted before it is printed). Calling it again adds nothing.
    """
    import logging
    import sys

    if not isinstance(logging.getLogRecordFactory(), _RedactingRecords):
        logging.setLogRecordFactory(_RedactingRecords(logging.getLogRecordFactory()))
    if not isinstance(sys.excepthook, _RedactingHook):
        sys.excepthook = _RedactingHook()


class _RedactingRecords:
    """A logging record factory around another one: the record's message comes out redacted."""

    def __init__(self, inner: Callable[..., Any]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        record = self.inner(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: left for the handler to report, as usual
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record


class _RedactingHook:
    """``sys.excepthook`` that prints the traceback redacted."""

    def __call__(self, kind: type[BaseException], value: BaseException, tb: Any) -> None:
        import sys
        import traceback

        sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))
