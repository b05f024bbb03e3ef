"""Prompt templates that a recipe can point to: loading from files, versions and content hashes.

Two texts shape what the paper's method optimises and are therefore part of a run's identity: the format
instruction that follows each problem (:class:`FormatTemplate`) and the judge prompt
(:class:`perception_r1.judge.prompt.JudgeTemplate`). Both default to this project's own wording; a recipe can
point to a file instead (for example to run with another implementation's exact text). Every template has a
``version`` label and a ``digest`` (SHA-256 of its content) that are written into ``recipe.json`` and, for the
judge, into the reply-cache key, so runs and cached verdicts of different texts never mix.

Placeholders are replaced literally (``str.replace``), never with ``str.format``: LaTeX braces such as
``\\boxed{}`` need no escaping.

Example:
    >>> t = FormatTemplate("mine", "{question} Put the answer in \\\\boxed{}.")
    >>> t.render("What is x?")
    'What is x? Put the answer in \\\\boxed{}.'
    >>> t.split()
    ('', ' Put the answer in \\\\boxed{}.')
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perception_r1.config import ConfigError

QUESTION = "{question}"

FORMAT_INSTRUCTION_V1 = (
    "First think through the problem step by step inside <think> </think> tags, then give your answer inside "
    "<answer> </answer> tags, with the final answer in \\boxed{}."
)
FORMAT_VERSION_V1 = "format-v1"
# The instruction that follows each problem by default, in training and in evaluation alike; the format reward
# (perception_r1.rewards.format) checks the structure it asks for.
FORMAT_INSTRUCTION = FORMAT_INSTRUCTION_V1


def digest(content: Any) -> str:
    """First 16 hex digits of the SHA-256 of ``content`` (text, or JSON-able data in canonical form)."""
    text = content if isinstance(content, str) else json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_template_file(path: str | Path, what: str) -> tuple[str, dict[str, Any] | str]:
    """Read a template file: ``.yaml``/``.yml`` as a mapping, anything else as plain text.

    Args:
        path: The file.
        what: What the file is for (error messages), e.g. ``"data.prompt_template"``.

    Returns:
        ``(default_version, content)``: the file stem as version, and the mapping or the text (one trailing
        newline removed, so that an editor's final newline does not change the prompt).

    Raises:
        ConfigError: a missing or unreadable file, or YAML that is not a mapping.
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read template file {p}: {exc.strerror or exc}") from None
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{what}: {p} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{what}: {p} must hold a mapping of template keys, got {type(data).__name__}")
        return p.stem, data
    return p.stem, raw[:-1] if raw.endswith("\n") else raw


@dataclass(frozen=True)
class FormatTemplate:
    """The user text of a policy prompt: ``{question}`` (the problem, with its options) and the format rules.

    Attributes:
        version: A label for humans (``format-v1`` for the built-in text).
        text: The template; contains ``{question}`` exactly once.
    """

    version: str
    text: str

    def __post_init__(self) -> None:
        if self.text.count(QUESTION) != 1:
            raise ValueError(
                f"format template {self.version!r} must contain {QUESTION} exactly once, found "
                f"{self.text.count(QUESTION)}"
            )

    @property
    def digest(self) -> str:
        """Content hash of the template text."""
        return digest(self.text)

    def render(self, question: str) -> str:
        """The full user text for ``question``."""
        return self.text.replace(QUESTION, question)

    def split(self) -> tuple[str, str]:
        """``(prefix, suffix)`` around the question (images are interleaved inside the question)."""
        prefix, suffix = self.text.split(QUESTION)
        return prefix, suffix

    def fingerprint(self) -> dict[str, str]:
        """``{"version", "digest"}`` for ``recipe.json`` and reports."""
        return {"version": self.version, "digest": self.digest}


DEFAULT_FORMAT = FormatTemplate(FORMAT_VERSION_V1, QUESTION + "\n" + FORMAT_INSTRUCTION_V1)


def load_format_template(path: str | Path | None, what: str = "data.prompt_template") -> FormatTemplate:
    """The format template of a recipe: the built-in one (``None``) or a file.

    A plain-text file is the template itself (version: the file name without extension). A YAML file holds
    ``template:`` and optionally ``version:``.

    Raises:
        ConfigError: naming the file when it cannot be read, has unknown keys or lacks ``{question}``.
    """
    if path is None:
        return DEFAULT_FORMAT
    version, content = read_template_file(path, what)
    if isinstance(content, dict):
        unknown = sorted(set(content) - {"version", "template"})
        if unknown or not isinstance(content.get("template"), str):
            raise ConfigError(
                f"{what}: {path} must have a string 'template' (and optionally 'version'); unknown keys: "
                f"{', '.join(unknown) or '(none)'}"
            )
        version, text = str(content.get("version", version)), content["template"]
    else:
        text = content
    try:
        return FormatTemplate(version, text)
    except ValueError as exc:
        raise ConfigError(f"{what}: {path}: {exc}") from None
