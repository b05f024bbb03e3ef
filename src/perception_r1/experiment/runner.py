"""``perception-r1 experiment``: the stages in order, each skipped when its output is already complete.

Layout of the experiment folder (each stage's marker file is written last, so a killed stage reruns and a
finished one is never repeated)::

    recipe.json                      the resolved recipe (a rerun with different settings is refused)
    data/{train,val,test}.parquet    disjoint splits                 marker: data/summary.json
    policy/                          the untrained policy            marker: policy/policy_build.json
    warmup/final/                    the warm-up policy (SFT)        marker: warmup/summary.json
    runs/<arm>-seed<k>/              GRPO runs (metrics, samples)    marker: runs/<arm>-seed<k>/summary.json
    eval/<policy>/items.jsonl        graded test responses           marker: eval/<policy>/summary.json
    summary.json, report.md, report.html, plots/*.png

Example:
    >>> summary = run_experiment(from_dict(ExperimentConfig, QUICK))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perception_r1.config import ConfigError, flatten_keys, from_dict, to_dict  # noqa: F401  (from_dict: doctest)
from perception_r1.experiment.config import ARMS, QUICK, ExperimentConfig, validate  # noqa: F401
from perception_r1.io_utils import atomic_write_json

log = logging.getLogger(__name__)

# Keys a rerun may change without invalidating finished stages (more seeds, a different report).
_FREE_KEYS = {"seeds", "eval.samples"}


def check_recipe(root: Path, cfg: ExperimentConfig) -> None:
    """Write ``recipe.json``, or refuse to continue a folder made with other settings.

    Raises:
        ConfigError: listing the keys whose values differ from the folder's recipe.
    """
    import json

    path = root / "recipe.json"
    new = to_dict(cfg)
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        a, b = flatten_keys(old), flatten_keys(new)
        diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k) and k not in _FREE_KEYS | {"output_dir"})
        if diff:
            shown = "; ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in diff[:6])
            raise ConfigError(
                f"{root}: this experiment folder was made with other settings ({shown}); continue it with its own "
                "recipe, or choose a new output_dir"
            )
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, new)


def _marker(path: Path) -> dict[str, Any] | None:
    """The JSON of a finished stage's marker file, or None when the stage has not finished."""
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable stage marker ({exc}); delete it to rerun that stage") from None


class Stages:
    """The experiment's stages over one folder; every method is idempotent (done stages return their marker)."""

    def __init__(self, cfg: ExperimentConfig, announce: Callable[[str], None] = log.info) -> None:
        self.cfg = cfg
        self.root = Path(cfg.output_dir)
        self.announce = announce
        # Stage seconds persist across invocations, so a resumed experiment still reports its whole cost.
        self.timings: dict[str, float] = _marker(self.root / "timings.json") or {}

    def _timed(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        # Re-read first: seeds may run as separate processes over one folder (``--seeds [k]`` each, once the
        # warm-up is evaluated), and each must add its own stages without dropping the others'.
        self.timings = {**self.timings, **(_marker(self.root / "timings.json") or {})}
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 1)
        atomic_write_json(self.root / "timings.json", self.timings)
        return result

    def data(self) -> dict[str, Any]:
        """Disjoint splits on disk, checked for overlap every time they are used."""
        from perception_r1.experiment.data import (
            check_disjoint,
            load_split,
            make_splits,
            unique_instances,
            write_splits,
        )

        folder = self.root / "data"
        done = _marker(folder / "summary.json")
        if done is None:
            self.announce("data: generating the synthetic testbed splits")
            splits = self._timed("data", lambda: make_splits(self.cfg.data, self.cfg.policy.image_size))
            check_disjoint(splits, self.cfg.data.split_by)
            done = write_splits(splits, folder)
            atomic_write_json(folder / "summary.json", done)
        self.splits = {name: load_split(folder, name) for name in ("train", "val", "test")}
        check_disjoint(self.splits, self.cfg.data.split_by)
        # At difficulty 1 the drawing is a function of the values, so the generator repeats problems: train keeps
        # them (they only weight the sampling), evaluation counts each distinct problem once.
        for split in ("val", "test"):
            self.splits[split] = unique_instances(self.splits[split])
        return done

    def policy(self) -> Path:
        """The untrained policy, its tokenizer fitted on the train split's prompts and solutions."""
        from perception_r1.experiment.policy import POLICY_MARKER, build_policy
        from perception_r1.train.prompts import build_policy_prompt

        folder = self.root / "policy"
        if not (folder / POLICY_MARKER).is_file():
            self.announce("policy: building the small Qwen2.5-VL policy")
            train = self.splits["train"]
            corpus = [m["content"][-1]["text"] for m in (build_policy_prompt(r["problem"], 1)[0] for r in train[:1])]
            corpus += [r["problem"] for r in train] + [r.get("cot") or "" for r in train]
            self._timed("policy", lambda: build_policy(folder, self.cfg.policy, corpus))
        return folder

    def warmup(self) -> Path:
        """The warm-up policy (SFT on the first ``warmup.n_examples`` train problems)."""
        from perception_r1.experiment.warmup import run_warmup

        folder = self.root / "warmup"
        if _marker(folder / "summary.json") is None:
            self.announce("warm-up: supervised fine-tuning on the generator's solutions (TRL SFTTrainer)")
            rows = self.splits["train"][: self.cfg.warmup.n_examples]
            self._timed("warmup", lambda: run_warmup(self.root / "policy", rows, self.cfg.warmup, folder))
            _share_with_train_default(self.cfg, folder)
        return folder / "final"

    def evaluate(self, name: str, model_dir: Path, split: str = "test") -> dict[str, Any]:
        """Greedy evaluation of one policy on a split (``eval/<name>`` for test, ``eval-val/<name>`` for val)."""
        from perception_r1.experiment.evaluate import evaluate_policy

        folder = self.root / ("eval" if split == "test" else f"eval-{split}") / name
        done = _marker(folder / "summary.json")
        if done is not None and done.get("n") == len(self.splits[split]):
            return done
        if done is None and not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{model_dir}: missing checkpoint of {name!r}; its training stage did not finish")
        self.announce(f"eval: {name} on the {split} split ({len(self.splits[split])} problems, greedy)")
        e = self.cfg.eval
        return self._timed(
            f"eval/{name}" if split == "test" else f"eval-{split}/{name}",
            lambda: evaluate_policy(
                model_dir, self.splits[split], folder, batch_size=e.batch_size, max_new_tokens=e.max_new_tokens
            ),  # fmt: skip
        )

    def arm(self, arm: str, seed: int, warmup_model: Path) -> Path:
        """One GRPO arm for one seed, resumed from its last checkpoint when interrupted."""
        from perception_r1.experiment.arms import PeakMemory, arm_recipe
        from perception_r1.train.trainer import run_training

        folder = self.root / "runs" / f"{arm}-seed{seed}"
        if _marker(folder / "summary.json") is None:
            if not (warmup_model / "config.json").is_file():
                raise FileNotFoundError(
                    f"{warmup_model}: missing warm-up checkpoint; the warm-up stage did not finish"
                )
            self.announce(f"GRPO: arm {arm}, seed {seed}, {self.cfg.grpo.max_steps} steps")
            recipe = arm_recipe(self.cfg, arm, seed, str(warmup_model), str(self.root / "data" / "train.parquet"),
                                str(folder))  # fmt: skip
            self._timed(
                f"grpo/{arm}-seed{seed}", lambda: run_training(recipe, extra_callbacks=[PeakMemory(str(folder))])
            )
        return folder / "final"


def run_experiment(
    cfg: ExperimentConfig, announce: Callable[[str], None] = log.info, command: str | None = None
) -> dict[str, Any]:
    """Run (or continue) the whole experiment and write its report.

    Args:
        cfg: The recipe.
        announce: Called with a one-line message as each stage starts.
        command: The command line, recorded in the summary.

    Returns:
        The experiment summary (also ``summary.json``).

    Raises:
        ConfigError: invalid settings, or a folder made with other settings; SplitOverlapError: a test problem
        that is also in train.
    """
    from perception_r1.experiment.report import write_report

    validate(cfg)
    stages = Stages(cfg, announce)
    check_recipe(stages.root, cfg)
    stages.data()
    stages.policy()
    warm = stages.warmup()
    evals: dict[str, Any] = {"warmup": stages.evaluate("warmup", warm)}
    for seed in cfg.seeds:
        for arm in ARMS:
            final = stages.arm(arm, seed, warm)
            evals[f"{arm}-seed{seed}"] = stages.evaluate(f"{arm}-seed{seed}", final)
    test_ids = [r["id"] for r in stages.splits["test"]]
    return write_report(stages.root, cfg, evals, stages.timings, sum(stages.timings.values()), command, test_ids)


def _warmup_shaping(cfg: ExperimentConfig) -> dict[str, Any]:
    """The settings that shape a warm-up policy: its data, policy and warm-up sections."""
    return {section: to_dict(getattr(cfg, section)) for section in ("data", "policy", "warmup")}


def _share_with_train_default(cfg: ExperimentConfig, warmup_dir: Path) -> None:
    """A warm-up trained with the quick settings is the one ``train``'s default starts from: cache a copy.

    Only the stages that produced it must match (data, policy, warm-up); a cache already present is kept.
    """
    import shutil

    cache = warmup_cache_dir()
    target = cache / "warmup"
    if (
        _warmup_shaping(cfg) != _warmup_shaping(from_dict(ExperimentConfig, QUICK))
        or (target / "summary.json").is_file()
        or Path(cfg.output_dir).resolve() == cache.resolve()
    ):
        return
    tmp = target.with_name(f".warmup-{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(warmup_dir / "final", tmp / "final")
    shutil.copy2(warmup_dir / "summary.json", tmp / "summary.json")  # the marker, copied last
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, target)
    except OSError:  # another process cached one first
        shutil.rmtree(tmp, ignore_errors=True)


def warmup_cache_dir() -> Path:
    """Folder of the cached warm-up policy: ``$PERCEPTION_R1_CACHE`` (default ``~/.cache/perception_r1``).

    Its name hashes every setting that shapes the quick warm-up (data, policy, warm-up), so a cache made with
    other settings is never mistaken for the current one.
    """
    import hashlib
    import json

    shaping = _warmup_shaping(from_dict(ExperimentConfig, QUICK))
    key = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:10]
    root = Path(os.environ.get("PERCEPTION_R1_CACHE") or Path.home() / ".cache" / "perception_r1")
    return root / f"warmup-policy-{key}"


def ensure_warmup_policy(announce: Callable[[str], None] = log.info) -> Path:
    """The warm-up policy of ``perception-r1 experiment --quick``, trained once and cached.

    This is the starting point of ``perception-r1 train``'s embedded default: a policy that can already see
    the figure and write the format, so that GRPO's rewards are not all 0. Building it runs the quick
    experiment's data, policy and warm-up stages (a few minutes on a CPU) into :func:`warmup_cache_dir`;
    an interrupted build continues where it stopped.
    """
    cfg = from_dict(ExperimentConfig, {**QUICK, "output_dir": str(warmup_cache_dir())})
    stages = Stages(cfg, announce)
    final = stages.root / "warmup" / "final"
    if _marker(stages.root / "warmup" / "summary.json") is not None and (final / "config.json").is_file():
        return final
    validate(cfg)
    check_recipe(stages.root, cfg)
    stages.data()
    stages.policy()
    return stages.warmup()
