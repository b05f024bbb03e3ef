"""Will verl call our reward? A check of a verl config, run before a launch (``perception-r1 verl check``).

verl moved its reward keys in 0.8 and kept accepting the old ones: a config with only the top-level
``custom_reward_function`` / ``reward_model.reward_manager`` keys starts, and verl 0.9.1's trainer then scores
every response with its built-in scorer (for ``data_source=hiyouga/geometry3k``: verl's geo3k reward, no
perception term), with no error. :func:`check_config` reads a config the way the chosen verl generation does and
lists every reason our function would not be called, or called wrongly:

* ``reward_loop`` (verl >= 0.8, tested on 0.9.1): ``reward.custom_reward_function.{path,name}`` must name
  :mod:`perception_r1.integrations.verl` and a per-response entry point; ``reward.reward_manager`` must be a
  registered name (naive, dapo, gdpo, rate_limited, remote; ``batch`` is gone) or our
  :mod:`~perception_r1.integrations.verl_manager` (which needs ``reward.num_workers=1``).
* ``legacy`` (verl < 0.8): top-level ``custom_reward_function`` with ``reward_model.reward_manager``
  (``batch`` for :func:`~perception_r1.integrations.verl.compute_score_batch`, a per-response manager for
  :func:`~perception_r1.integrations.verl.compute_score`; the coroutine cannot be called there).

Both: the reward kwargs must build (a perception weight needs a judge), ``num_generations`` must equal
``rollout.n``, and the micro-batch sizes verl insists on must be set. Keys missing from a partial config read as
verl 0.9.1's defaults (:data:`VERL_DEFAULTS`); a config composed by verl's own Hydra
(:func:`compose_verl_config`) has them all.

Example:
    >>> problems, notes = check_config({"custom_reward_function": {"path": "pkg://perception_r1.integrations.verl",
    ...                                 "name": "compute_score_batch"}, "reward_model": {"reward_manager": "batch"}})
    >>> for problem in problems:
    ...     print(problem[:80])
    custom_reward_function.path and reward_model.reward_manager are verl < 0.8 keys:
    reward.custom_reward_function.path is not set, so verl >= 0.8 scores with its bu
    actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu is not set (verl refuses to
    actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu is not set (verl ref
    >>> check_config({"custom_reward_function": {"path": "pkg://perception_r1.integrations.verl",
    ...               "name": "compute_score_batch", "reward_kwargs": {"judge": {"backend": "rule"}}},
    ...               "reward_model": {"reward_manager": "batch"},
    ...               "actor_rollout_ref": {"actor": {"use_dynamic_bsz": True}}}, layout="legacy")
    ([], [])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perception_r1.integrations.scoring import RewardSettings, plain_config

ADAPTER_MODULES = ("perception_r1.integrations.verl", "perception_r1.train.verl_reward")
MANAGER_MODULE = "perception_r1.integrations.verl_manager"
MANAGER_NAME = "PerceptionR1RewardManager"
#: Reward-loop managers registered in verl 0.9.1.
REGISTERED_MANAGERS = ("naive", "dapo", "gdpo", "rate_limited", "remote")
PER_RESPONSE = ("compute_score_async", "compute_score")
#: The verl 0.9.1 defaults of the keys checked here (a partial config is read on top of them).
VERL_DEFAULTS: dict[str, Any] = {
    "reward.num_workers": 8,
    "reward.reward_manager.source": "register",
    "reward.reward_manager.name": "naive",
    "reward_model.reward_manager": None,
    "actor_rollout_ref.rollout.n": 1,
    "actor_rollout_ref.actor.use_dynamic_bsz": False,
}
LAYOUTS = ("reward_loop", "legacy")


def layout_for(verl_version: str | None) -> str:
    """``legacy`` for verl < 0.8, else ``reward_loop`` (also when the version is unknown: the current layout)."""
    if not verl_version:
        return "reward_loop"
    parts = [int(p) for p in verl_version.split(".")[:2] if p.isdigit()]
    return "legacy" if len(parts) == 2 and tuple(parts) < (0, 8) else "reward_loop"


def get(cfg: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted key (``VERL_DEFAULTS`` where a level is missing)."""
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return VERL_DEFAULTS.get(dotted)
        node = node[part]
    return node


def _module_file(module: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:  # pragma: no cover - our own modules are always importable
        raise ImportError(module)
    return Path(spec.origin).resolve()


def names_module(path: Any, modules: Sequence[str]) -> bool:
    """Whether a verl module path (``pkg://a.b``, ``pkg://a/b``, ``file://x.py`` or a file path) is one of ours."""
    if not path:
        return False
    path = str(path)
    if path.startswith("pkg://"):
        return path[len("pkg://") :].replace("/", ".").removesuffix(".py") in modules
    path = path.removeprefix("file://")
    return Path(path).resolve() in {_module_file(m) for m in modules}


def adapter_problem(path: Any, name: Any, where: str, allowed: Sequence[str] = PER_RESPONSE) -> str | None:
    """Why ``where.{path,name}`` does not name one of our ``allowed`` entry points (None: it does)."""
    if not path:
        return (
            f"{where}.path is not set, so verl >= 0.8 scores with its built-in reward (for hiyouga/geometry3k: "
            f"its geo3k reward, no perception term): set {where}.path=pkg://perception_r1.integrations.verl"
        )
    if not names_module(path, ADAPTER_MODULES):
        return f"{where}.path={path!r} is not perception_r1's verl adapter (pkg://perception_r1.integrations.verl)"
    if name not in allowed:
        return f"{where}.name={name!r}: expected one of {', '.join(allowed)} here"
    return None


def _settings_problem(kwargs: Any, where: str) -> str | None:
    kwargs = dict(plain_config(kwargs) or {})
    try:
        RewardSettings.from_kwargs(
            **{k: v for k, v in kwargs.items() if k in ("weights", "judge", "repetition", "isolation")}, where=where
        )
    except (ValueError, KeyError) as exc:
        return str(exc)
    return None


def _micro_batch_problems(cfg: Mapping[str, Any]) -> list[str]:
    if get(cfg, "actor_rollout_ref.actor.use_dynamic_bsz"):
        return []
    needed = {
        "actor_rollout_ref.actor": "ppo_micro_batch_size",
        "actor_rollout_ref.rollout": "log_prob_micro_batch_size",
    }
    problems = []
    for section, key in needed.items():
        if get(cfg, f"{section}.{key}") is None and get(cfg, f"{section}.{key}_per_gpu") is None:
            problems.append(f"{section}.{key}_per_gpu is not set (verl refuses to start without it)")
    return problems


def _reward_loop(cfg: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    notes: list[str] = []
    where = "reward.custom_reward_function"
    path, name = get(cfg, f"{where}.path"), get(cfg, f"{where}.name")
    problem = adapter_problem(path, name, where)
    old = [key for key in ("custom_reward_function.path", "reward_model.reward_manager") if get(cfg, key)]
    if old:
        message = (
            f"{' and '.join(old)} are verl < 0.8 keys: verl >= 0.8 accepts them and its trainer ignores them "
            "(it reads reward.custom_reward_function and reward.reward_manager)"
        )
        (problems if problem else notes).append(message)
    if problem and name == "compute_score_batch" and names_module(path, ADAPTER_MODULES):
        problem = (
            f"{where}.name=compute_score_batch takes a whole batch, but verl >= 0.8 scores one response per call: "
            "use compute_score_async"
        )
    if problem:
        problems.append(problem)
    elif name == "compute_score":
        notes.append(
            "compute_score is synchronous: verl runs it in a small thread pool, a few judge calls at a time; "
            "compute_score_async has every response's judgment in flight at once"
        )
    source, manager = get(cfg, "reward.reward_manager.source"), get(cfg, "reward.reward_manager.name")
    if source == "importlib" and names_module(get(cfg, "reward.reward_manager.module.path"), (MANAGER_MODULE,)):
        if manager != MANAGER_NAME:
            problems.append(f"reward.reward_manager.name={manager!r}: the class in {MANAGER_MODULE} is {MANAGER_NAME}")
        if get(cfg, "reward.num_workers") != 1:
            problems.append(
                f"reward.num_workers={get(cfg, 'reward.num_workers')}: {MANAGER_NAME} needs 1 (a prompt's responses "
                "must meet in one worker)"
            )
    elif source == "register" and manager not in REGISTERED_MANAGERS:
        problems.append(
            f"reward.reward_manager.name={manager!r} is not a verl >= 0.8 reward-loop manager "
            f"({', '.join(REGISTERED_MANAGERS)}, or {MANAGER_NAME} from {MANAGER_MODULE})"
        )
    elif source == "register":
        notes.append(
            f"reward manager {manager!r}: a failed judgment adds 0 to its response (flagged perception_missing); "
            f"{MANAGER_NAME} gives it its group's mean instead (neutral)"
        )
    return problems, notes


def _legacy(cfg: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    where = "custom_reward_function"
    path, name = get(cfg, f"{where}.path"), get(cfg, f"{where}.name")
    manager = get(cfg, "reward_model.reward_manager") or "naive"
    allowed = ("compute_score_batch",) if manager == "batch" else ("compute_score",)
    problem = adapter_problem(path, name, where, allowed)
    if problem and not path:
        problem = f"{where}.path is not set, so verl < 0.8 scores with its built-in reward"
    problems = [problem] if problem else []
    notes = [] if manager == "batch" else [f"reward manager {manager!r}: a failed judgment adds 0 (not neutral)"]
    return problems, notes


def check_config(cfg: Mapping[str, Any], layout: str = "reward_loop") -> tuple[list[str], list[str]]:
    """Every reason verl would not call our reward (or call it wrongly), and notes on what it will do.

    Args:
        cfg: The verl config: a nested mapping or an OmegaConf DictConfig (composed or a partial recipe).
        layout: ``reward_loop`` (verl >= 0.8) or ``legacy`` (verl < 0.8): see :func:`layout_for`.

    Returns:
        ``(problems, notes)``: the config is fine when ``problems`` is empty.

    Raises:
        ValueError: an unknown layout.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    cfg = plain_config(cfg)
    problems, notes = _reward_loop(cfg) if layout == "reward_loop" else _legacy(cfg)
    where = "reward.custom_reward_function" if layout == "reward_loop" else "custom_reward_function"
    kwargs = get(cfg, f"{where}.reward_kwargs") or {}
    settings_problem = _settings_problem(kwargs, f"{where}.reward_kwargs")
    if settings_problem and names_module(get(cfg, f"{where}.path"), ADAPTER_MODULES):  # else: not our kwargs
        problems.append(settings_problem)
    n = get(cfg, "actor_rollout_ref.rollout.n")
    if kwargs.get("num_generations") not in (None, n):
        problems.append(f"{where}.reward_kwargs.num_generations={kwargs['num_generations']} but rollout.n={n}")
    problems.extend(_micro_batch_problems(cfg))
    return problems, notes


def installed_verl_version() -> str | None:
    """The version of the verl installed in this environment, or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("verl")
    except PackageNotFoundError:
        return None


def set_override(cfg: dict[str, Any], override: str) -> None:
    """Apply one Hydra-style command-line override (``a.b=1``, ``+a.b=x``, ``++a.b=x``, ``~a.b``) to a plain dict.

    Values are read as YAML (``{backend: rule}``, ``8``, ``null``), as Hydra reads them.

    Raises:
        ValueError: an override that is neither ``key=value`` nor ``~key``.

    Example:
        >>> cfg = {}
        >>> set_override(cfg, "+reward.custom_reward_function.reward_kwargs.judge={backend: rule}")
        >>> cfg
        {'reward': {'custom_reward_function': {'reward_kwargs': {'judge': {'backend': 'rule'}}}}}
    """
    import yaml

    if override.startswith("~"):
        *parents, last = override[1:].split("=", 1)[0].split(".")
        node: Any = cfg
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(last, None)
        return
    if "=" not in override:
        raise ValueError(f"override {override!r}: expected key=value (or ~key)")
    key, value = override.lstrip("+").split("=", 1)
    *parents, last = key.split(".")
    node = cfg
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = yaml.safe_load(value) if value else None


def compose_verl_config(config_dir: str | Path, config_name: str, overrides: Sequence[str] = ()) -> Any:
    """Compose a config with verl's Hydra setup, as ``python -m verl.trainer.main_ppo --config-path ... --config-name
    ...`` does (needs verl installed).

    Args:
        config_dir: Folder of the config (e.g. ``recipes/verl``); ``ppo_trainer`` is found through the config's
            ``hydra.searchpath`` (our recipes list ``pkg://verl.trainer.config``).
        config_name: Config file name without ``.yaml``.
        overrides: Hydra command-line overrides (``key=value``, ``+key=value``).

    Returns:
        The composed OmegaConf DictConfig.
    """
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base=None):
        return compose(config_name=config_name, overrides=list(overrides))


__all__ = [
    "ADAPTER_MODULES",
    "LAYOUTS",
    "MANAGER_MODULE",
    "MANAGER_NAME",
    "REGISTERED_MANAGERS",
    "VERL_DEFAULTS",
    "adapter_problem",
    "check_config",
    "compose_verl_config",
    "installed_verl_version",
    "layout_for",
    "names_module",
    "set_override",
]
