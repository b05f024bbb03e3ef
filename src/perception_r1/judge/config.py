"""Typed configuration of the perception judge, and its construction from YAML files and CLI options.

Example:
    >>> cfg = judge_config_from_cli(None, {"backend": "rule"})
    >>> cfg.backend, cfg.api_key_env
    ('rule', 'PERCEPTION_R1_JUDGE_API_KEY')
    >>> judge_config_from_cli(None, {}) is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perception_r1.config import ConfigError, apply_overrides, from_dict, load_yaml, option
from perception_r1.llm.config import LLMConfig


@dataclass
class JudgeConfig(LLMConfig):
    """The judging LLM (or the rule judge) behind the perception reward.

    Inherits the client settings of :class:`perception_r1.llm.config.LLMConfig`; ``backend`` may also be
    ``rule`` (deterministic matcher for canonical geometry annotations, no LLM).
    """

    backend: str = option("openai", "judge backend: openai, transformers or rule")
    api_key_env: str = option("PERCEPTION_R1_JUDGE_API_KEY", "environment variable holding the judge API key")
    structured_output: bool = option(
        False, 'constrain replies with a JSON schema: {"verdicts": [0|1, ...]} of M items'
    )
    invalid_retries: int = option(2, "re-asks of a judge whose verdicts are missing, extra, duplicated or non-binary")
    retry_temperature: float = option(0.7, "temperature of those re-asks (at 0 a deterministic judge would repeat)")
    sanitize: bool = option(True, "neutralise verdict-like text in responses before judging (anti-injection)")
    prompt_version: str = option(
        "v2",
        "built-in judge prompt version: v2 (a value contradicted elsewhere in the response is a 0) or v1 (the "
        "earlier text); see perception_r1.judge.prompt.BUILTIN_TEMPLATES; unused with prompt_file",
    )
    prompt_file: str | None = option(
        None,
        "YAML judge prompt template (system, case, fact_line, few_shot, version; see "
        "recipes/qwen2_5_vl_7b/README.md); None: the built-in prompt",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.invalid_retries < 0:
            raise ValueError(f"invalid_retries must be >= 0, got {self.invalid_retries}")


def judge_template(cfg: JudgeConfig) -> Any:
    """The :class:`perception_r1.judge.prompt.JudgeTemplate` that ``cfg`` asks for.

    Raises:
        ConfigError: an unknown built-in version, or a template file that cannot be used (named in the message).
    """
    from perception_r1.judge.prompt import BUILTIN_TEMPLATES, load_judge_template

    if cfg.prompt_file is not None:
        return load_judge_template(cfg.prompt_file)
    if cfg.prompt_version not in BUILTIN_TEMPLATES:
        raise ConfigError(
            f"judge.prompt_version: unknown built-in judge prompt {cfg.prompt_version!r}; known: "
            f"{', '.join(BUILTIN_TEMPLATES)} (or set judge.prompt_file)"
        )
    return BUILTIN_TEMPLATES[cfg.prompt_version]


def _judge_yaml(path: str | Path) -> dict[str, Any]:
    """JudgeConfig keys of a YAML file: its top level, or its ``judge:`` section when that is all it holds."""
    data = load_yaml(path)
    if set(data) == {"judge"} and isinstance(data["judge"], Mapping):
        return dict(data["judge"])
    return data


def coerce_judge_config(judge: JudgeConfig | Mapping[str, Any] | str | Path | None) -> JudgeConfig:
    """Accept a :class:`JudgeConfig`, a plain mapping, a YAML file path (top level or a ``judge:`` section), or
    None (defaults).

    Raises:
        ConfigError: unknown keys (with suggestions) or wrong value types.
    """
    if isinstance(judge, JudgeConfig):
        return judge
    if judge is None:
        return JudgeConfig()
    if isinstance(judge, (str, Path)):
        return from_dict(JudgeConfig, _judge_yaml(judge), where=f"{judge}:")
    if isinstance(judge, Mapping):
        return from_dict(JudgeConfig, judge, where="judge")
    raise ConfigError(f"judge: expected a JudgeConfig, a mapping or a YAML path, got {type(judge).__name__}")


def judge_config_from_cli(config_file: str | Path | None, overrides: Mapping[str, Any]) -> JudgeConfig | None:
    """Build the judge config of a CLI command from ``--judge-config FILE.yaml`` and ``--judge-*`` options.

    Args:
        config_file: YAML file with JudgeConfig keys (top level, or under a ``judge:`` section), or None.
        overrides: ``{field: value}`` from the CLI; values that are None (option not given) are ignored.

    Returns:
        The config, or None when neither a file nor any override was given (no perception reward wanted).

    Raises:
        ConfigError: unknown keys or wrong types, naming the file or the option.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    if config_file is None and not given:
        return None
    data = _judge_yaml(config_file) if config_file is not None else {}
    cfg = from_dict(JudgeConfig, data, where=f"{config_file}:" if config_file else "judge")
    try:
        return apply_overrides(cfg, given, where="--judge")
    except ConfigError:
        raise
    except ValueError as exc:  # __post_init__ range checks
        raise ConfigError(f"--judge: {exc}") from exc
