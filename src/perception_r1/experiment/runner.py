"""``perception-r1 experiment``: the stages in order, each skipped when its output is already complete.

Layout of the experiment folder (each stage's marker file is written last, so a killed stage reruns and a
finished one is never repeated)::

    recipe.json                      the resolved recipe (a rerun with different settings is refused)
    data/{train,val,test}.parquet    disjoint splits                 marker: data/summary.json
    policy/                          the untrained policy            marker: policy/policy_build.json
    reading/final/                   the policy, its vision tower pretrained to read labels (reading.steps > 0)
                                                                     marker: reading/summary.json
    warmup/final/                    the warm-up policy (SFT)        marker: warmup/summary.json
    runs/<arm>-seed<k>/              GRPO runs (metrics, samples, the trainer's train.log)   marker: .../summary.json
                                     (arms rlvr, perception_r1 and, with grpo.frozen, the frozen control)
    eval/<policy>/items.jsonl        graded test responses           marker: eval/<policy>/summary.json
    eval/blind/items.jsonl           the image-blind baseline (chance level, no model)
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
from perception_r1.experiment.config import (  # noqa: F401  (QUICK: doctest)
    ARMS,
    BEFORE_THE_KEY,
    QUICK,
    ExperimentConfig,
    grpo_runs,
    validate,
)
from perception_r1.folder_lock import claims_output_folder
from perception_r1.io_utils import atomic_write_json

log = logging.getLogger(__name__)

# Keys a rerun may change without invalidating finished stages (more seeds, a different report, the frozen control
# runs added to a folder made without them).
_FREE_KEYS = {"seeds", "eval.samples", "workers", "grpo.frozen"}
# timings.json entry (negative seconds) for the time parallel GRPO runs overlapped: the sum of all entries is the
# experiment's wall time, the other entries are each stage's own time.
PARALLEL_OVERLAP = "grpo/parallel overlap"


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
        # A key added to the recipe after the folder was made: the folder ran with what the code did before the key
        # existed, which is the key's default unless that default has changed since (BEFORE_THE_KEY).
        defaults = {**flatten_keys(to_dict(ExperimentConfig())), **BEFORE_THE_KEY}
        a.update({k: defaults[k] for k in b.keys() - a.keys() if k in defaults})
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


def _current(summary: dict[str, Any], n: int) -> bool:
    """A finished evaluation of all ``n`` problems by today's grader (an older one's grades are recomputed)."""
    from perception_r1.experiment.perception_metrics import GRADER_VERSION

    return summary.get("n") == n and summary.get("grader") == GRADER_VERSION


class Stages:
    """The experiment's stages over one folder; every method is idempotent (done stages return their marker)."""

    def __init__(self, cfg: ExperimentConfig, announce: Callable[[str], None] = log.info) -> None:
        self.cfg = cfg
        self.root = Path(cfg.output_dir)
        self.announce = announce
        # Stage seconds persist across invocations, so a resumed experiment still reports its whole cost. Only the
        # experiment's own process writes them (a worker process returns its run's seconds to it).
        self.timings: dict[str, float] = _marker(self.root / "timings.json") or {}

    def _timed(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        self._add_time(name, time.perf_counter() - start)
        return result

    def _add_time(self, name: str, seconds: float, base: float | None = None) -> None:
        """Add ``seconds`` to the ``name`` entry, or set it to ``base + seconds`` when ``base`` is given."""
        start = self.timings.get(name, 0.0) if base is None else base
        self.timings[name] = round(start + seconds, 1)
        atomic_write_json(self.root / "timings.json", self.timings)

    def data(self) -> dict[str, Any]:
        """Disjoint splits on disk, checked for overlap every time they are used."""
        from perception_r1.experiment.data import (
            check_disjoint,
            load_split,
            make_splits,
            split_figures,
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
        # Counted by key whatever the split: 0 when split by key, the instance split's twins otherwise.
        self.split_figures = split_figures(self.splits, self.cfg.data.split_by)
        test = self.split_figures["test"]
        self.announce(
            f"data: split by {self.cfg.data.split_by}; {test['problems']} distinct test problems, {test['keys']} "
            f"family-and-values keys, {test['twins']} with a train twin (same family, variant and values)"
        )
        return done

    def policy(self) -> Path:
        """The untrained policy, its tokenizer fitted on the train split's prompts and solutions."""
        from perception_r1.experiment.policy import POLICY_MARKER, build_policy
        from perception_r1.train.prompts import build_policy_prompt

        folder = self.root / "policy"
        if (folder / POLICY_MARKER).is_file():
            from perception_r1.model.integrity import model_folder_problem

            problem = model_folder_problem(folder)
            if problem:  # e.g. built by a rank whose save wrote nothing: build it again, never fail for good
                import shutil

                self.announce(f"policy: {folder} is damaged ({problem}); building it again")
                shutil.rmtree(folder)
        if not (folder / POLICY_MARKER).is_file():
            self.announce("policy: building the small Qwen2.5-VL policy")
            train = self.splits["train"]
            corpus = [m["content"][-1]["text"] for m in (build_policy_prompt(r["problem"], 1)[0] for r in train[:1])]
            corpus += [r["problem"] for r in train] + [r.get("cot") or "" for r in train]
            self._timed("policy", lambda: build_policy(folder, self.cfg.policy, corpus))
        return folder

    def reading(self) -> Path:
        """The policy the warm-up starts from: the built one, or (``reading.steps`` > 0) one that reads labels."""
        built = self.policy()  # only a warm-up trained here needs it (the shipped one brings its own)
        if self.cfg.reading.steps == 0:
            return built
        from perception_r1.experiment.reading import run_reading

        folder = self.root / "reading"
        if _marker(folder / "summary.json") is None:
            self.announce(f"reading: {self.cfg.reading.steps} steps of label-reading pretraining of the vision tower")
            train, val, section = self.splits["train"], self.splits["val"], self.cfg.reading
            size = self.cfg.policy.image_size
            self._timed("reading", lambda: run_reading(built, train, val, section, size, folder))
        return folder / "final"

    def warmup(self) -> Path:
        """The warm-up policy (SFT on the first ``warmup.n_examples`` train problems)."""
        from perception_r1.experiment.warmup import run_warmup

        folder = self.root / "warmup"
        if _marker(folder / "summary.json") is not None:
            return folder / "final"
        if self.cfg.warmup.shipped:
            from perception_r1.experiment.shipped import install

            self.announce("warm-up: the shipped warm-up policy (the full recipe's reading and warm-up stages)")
            made = self._timed("warmup", lambda: install(to_dict(self.cfg), folder / "final"))
            info = {"shipped": True, "validation": made["validation"], "final_model": str(folder / "final")}
            atomic_write_json(folder / "summary.json", {**made["warmup_summary"], **info})
        else:
            start = self.reading()
            self.announce("warm-up: supervised fine-tuning on the generator's solutions (TRL SFTTrainer)")
            rows = self.splits["train"][: self.cfg.warmup.n_examples]
            self._timed("warmup", lambda: run_warmup(start, rows, self.cfg.warmup, folder))
        from perception_r1.experiment.warmup import share_with_train_default

        share_with_train_default(self.cfg, folder)
        return folder / "final"

    def evaluate(self, name: str, model_dir: Path, split: str = "test") -> dict[str, Any]:
        """Greedy evaluation of one policy on a split (``eval/<name>`` for test, ``eval-val/<name>`` for val)."""
        from perception_r1.experiment.evaluate import evaluate_policy

        folder = self.root / ("eval" if split == "test" else f"eval-{split}") / name
        done = _marker(folder / "summary.json")
        if done is not None and _current(done, len(self.splits[split])):
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

    def blind(self, split: str = "test") -> dict[str, Any]:
        """The image-blind baseline on a split: the chance level every policy is compared with (no model)."""
        from perception_r1.experiment.baseline import evaluate_blind

        folder = self.root / ("eval" if split == "test" else f"eval-{split}") / "blind"
        done = _marker(folder / "summary.json")
        if done is not None and _current(done, len(self.splits[split])):
            return done
        return evaluate_blind(self.splits["train"], self.splits[split], folder)

    def arm(self, arm: str, seed: int, warmup_model: Path) -> Path:
        """One GRPO arm for one seed, resumed from its last checkpoint when interrupted."""
        folder = self.root / "runs" / f"{arm}-seed{seed}"
        if _marker(folder / "summary.json") is None:
            self._timed(f"grpo/{arm}-seed{seed}", lambda: self.train_arm(arm, seed, warmup_model))
        return folder / "final"

    def train_arm(self, arm: str, seed: int, warmup_model: Path) -> None:
        """Train one GRPO run (its time is recorded by the caller: :meth:`arm`, or the parent of a worker)."""
        from perception_r1.experiment.arms import PeakMemory, arm_recipe
        from perception_r1.train.trainer import run_training

        folder = self.root / "runs" / f"{arm}-seed{seed}"
        if not (warmup_model / "config.json").is_file():
            raise FileNotFoundError(f"{warmup_model}: missing warm-up checkpoint; the warm-up stage did not finish")
        self.announce(f"GRPO: arm {arm}, seed {seed}, {self.cfg.grpo.max_steps} steps")
        recipe = arm_recipe(self.cfg, arm, seed, str(warmup_model), str(self.root / "data" / "train.parquet"),
                            str(folder))  # fmt: skip
        if self.cfg.processes > 1:  # one data-parallel run over several processes (torchrun)
            from perception_r1.train.launch import run_launched

            run_launched(recipe, self.cfg.processes)
        else:
            run_training(recipe, extra_callbacks=[PeakMemory(str(folder))])

    def train_arms(self, jobs: list[tuple[str, int]], warmup_model: Path) -> None:
        """Train the unfinished ``(arm, seed)`` runs ``workers`` at a time, each in its own process.

        With ``workers: 1`` (or one run left) nothing happens here and :meth:`arm` trains them in this process.
        A failed run stops the stage with its error; the runs that finished keep their outputs.
        """
        todo = [(a, s) for a, s in jobs if _marker(self.root / "runs" / f"{a}-seed{s}" / "summary.json") is None]
        workers = min(self.cfg.workers, len(todo))
        if workers <= 1:
            return
        import multiprocessing
        from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait

        from perception_r1.experiment.progress import RunsProgress
        from perception_r1.processes import die_with_parent, run_stoppable, stop_pool

        threads = max(1, (os.cpu_count() or 1) // (workers * self.cfg.processes))
        self.announce(f"GRPO: {len(todo)} runs, {workers} at a time ({threads} thread(s) each)")
        overlap_before = self.timings.get(PARALLEL_OVERLAP, 0.0)
        names: dict[Future[float], str] = {}  # each submitted run's timings entry
        busy = 0.0
        start = time.perf_counter()

        def record(finished: set[Future[float]]) -> None:
            # Each finished run's own time under its name; the wall clock counts the time they shared once only.
            # Written as each run finishes, so an experiment stopped midway still sums to its wall time.
            nonlocal busy
            for future in finished:
                if future.exception() is None:
                    self._add_time(names.pop(future), future.result())
                    busy += future.result()
            overlap = busy - (time.perf_counter() - start)
            if overlap > 0:
                self._add_time(PARALLEL_OVERLAP, -overlap, base=overlap_before)

        context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
        runs = {f"{arm}-seed{seed}": self.root / "runs" / f"{arm}-seed{seed}" for arm, seed in todo}
        self.announce(f"GRPO logs (the trainers' own output): {self.root / 'runs'}/<run>/train.log")
        with (
            # Each worker stops with the experiment: on SIGTERM, and when the experiment's process dies outright.
            ProcessPoolExecutor(
                workers, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
            ) as pool,
            RunsProgress(runs, self.cfg.grpo.max_steps, self.announce) as progress,
        ):
            try:
                for arm, seed in todo:
                    future = pool.submit(
                        run_stoppable, _run_in_worker, to_dict(self.cfg), arm, seed, str(warmup_model), threads
                    )
                    names[future] = f"grpo/{arm}-seed{seed}"
                pending = set(names)
                while pending:
                    done, pending = wait(pending, timeout=5, return_when=FIRST_EXCEPTION)
                    progress.update()
                    record(done)
                    failed = [f for f in done if f.exception() is not None]
                    if failed:
                        # Queued runs are not started; the ones running finish (and keep their outputs) first.
                        pool.shutdown(wait=True, cancel_futures=True)
                        record({f for f in pending if f.done() and not f.cancelled()})
                        failed[0].result()
            except BaseException:
                # Stopped (SIGTERM, Ctrl-C): the runs in flight stop too (each resumes from its last checkpoint on a
                # rerun) instead of the pool's exit waiting for them to train to the end. After a failed run the
                # pool has already shut down and there is nothing left to stop.
                stop_pool(pool)
                raise


def _run_in_worker(cfg: dict[str, Any], arm: str, seed: int, warmup_model: str, threads: int) -> float:
    """One GRPO run in a worker process (see :meth:`Stages.train_arms`); returns its seconds.

    The trainer's own output (progress bars, logged dicts) goes to the run's ``train.log``: the parent shows one
    progress bar per run instead of several processes writing over each other.
    """
    import torch

    stages = Stages(from_dict(ExperimentConfig, cfg))
    run_dir = stages.root / "runs" / f"{arm}-seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "train.log").open("a", encoding="utf-8") as log_file:
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)  # the ranks of a data-parallel run (processes > 1) inherit it
        start = time.perf_counter()
        stages.train_arm(arm, seed, Path(warmup_model))
        return time.perf_counter() - start


@claims_output_folder("experiment", lambda cfg, *a, **kw: cfg.output_dir, check=lambda cfg, *a, **kw: validate(cfg))
def run_experiment(
    cfg: ExperimentConfig, announce: Callable[[str], None] = log.info, command: str | None = None
) -> dict[str, Any]:
    """Run (or continue) the whole experiment and write its report.

    The folder is checked for writability and held for the call: one experiment per folder (its GRPO runs train
    side by side in worker processes with ``workers``; each of them holds its own run folder).

    Args:
        cfg: The recipe.
        announce: Called with a one-line message as each stage starts.
        command: The command line, recorded in the summary.

    Returns:
        The experiment summary (also ``summary.json``).

    Raises:
        ConfigError: invalid settings, or a folder made with other settings; SplitOverlapError: a test problem
        that is also in train; FolderBusyError: another experiment writes into the folder.
    """
    from perception_r1.experiment.report_md import write_report

    stages = Stages(cfg, announce)  # cfg was validated by claims_output_folder's check, before the lock
    check_recipe(stages.root, cfg)
    stages.data()
    warm = stages.warmup()
    evals: dict[str, Any] = {"blind": stages.blind(), "warmup": stages.evaluate("warmup", warm)}
    runs = grpo_runs(cfg)
    stages.train_arms(runs, warm)
    for arm, seed in runs:
        final = stages.arm(arm, seed, warm)
        if arm in ARMS:  # the frozen control's weights are the warm-up's: its evaluation is the warm-up's
            evals[f"{arm}-seed{seed}"] = stages.evaluate(f"{arm}-seed{seed}", final)
    test_ids = [r["id"] for r in stages.splits["test"]]
    timings = stages.timings
    # The sum of the stage times, less the overlap of parallel runs: the wall time of the uninterrupted parts.
    return write_report(
        stages.root, cfg, evals, timings, sum(timings.values()), command, test_ids, split=stages.split_figures
    )
