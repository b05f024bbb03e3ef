"""Drive the verl adapter through verl itself; runs in verl's own environment (``.venv-verl``), not in the tests'.

``python tests/support/verl_driver.py SPEC.json OUT.json`` composes each scenario's config with verl's Hydra from
our recipe plus overrides (as ``python -m verl.trainer.main_ppo --config-path ... --config-name ...`` does),
checks it (our :func:`perception_r1.integrations.verl_check.check_config` and verl's ``validate_config``), builds
the scorer the way the trainer does, scores a verl ``DataProto`` batch and writes what came back:

* ``reward_loop``: verl's ``RewardLoopWorker`` (the class the trainer wraps in a Ray actor) loads the reward
  manager and the custom function from the config, and its ``compute_score_batch`` gathers one
  ``compute_score`` coroutine per response, as the agent loop's streaming calls do; the results are stacked into
  arrays by verl's ``RewardLoopManager`` rule (keys of the first response).
* ``legacy_batch``: verl's pre-0.8 ``BatchRewardManager`` (still shipped in ``verl.workers.reward_manager``) with
  ``compute_score_batch`` and the recipe's reward kwargs, as verl < 0.8's trainer built it.

``extra_info`` values are handed over the way verl hands them to reward functions: lists as numpy arrays,
integers as numpy scalars. No Ray, no GPU: only the reward path runs. The same module times that path for
``benchmarks/bench_verl_reward.py`` (:func:`run_scenario` returns the wall time of the scoring call).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any


def byte_tokenizer(folder: Path) -> str:
    """Save a byte-level tokenizer (256 byte tokens, no merges: any text round-trips) and return its folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {ch: i for i, ch in enumerate(bytes_to_unicode().values())}
    vocab["<|endoftext|>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(str(folder))
    return str(folder)


def numpy_extra_info(case: dict[str, Any]) -> dict[str, Any]:
    """A case's ``extra_info`` as verl delivers it: lists as numpy arrays, the index as a numpy integer."""
    import numpy as np

    extra: dict[str, Any] = {"index": np.int64(case["index"])}
    if case.get("annotations") is not None:
        extra["visual_annotations"] = np.array(case["annotations"], dtype=object)
    if case.get("choices") is not None:
        extra["choices"] = np.array(case["choices"], dtype=object)
    return extra


def make_batch(cases: list[dict[str, Any]], tokenizer: Any) -> Any:
    """A verl ``DataProto`` holding one response per case (prompt ids, right-padded responses, masks, extras)."""
    import numpy as np
    import torch
    from verl import DataProto

    encoded = [tokenizer.encode(c["response"], add_special_tokens=False) for c in cases]
    width = max(len(ids) for ids in encoded)
    responses = torch.full((len(cases), width), tokenizer.pad_token_id, dtype=torch.long)
    prompts = torch.ones((len(cases), 4), dtype=torch.long)
    mask = torch.zeros((len(cases), 4 + width), dtype=torch.long)
    mask[:, :4] = 1
    for i, ids in enumerate(encoded):
        responses[i, : len(ids)] = torch.tensor(ids)
        mask[i, 4 : 4 + len(ids)] = 1

    def objects(values: list[Any]) -> Any:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    return DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": mask},
        non_tensors={
            "data_source": objects([c.get("data_source", "hiyouga/geometry3k") for c in cases]),
            "reward_model": objects([{"style": "rule", "ground_truth": np.array(c["answer"])} for c in cases]),
            "extra_info": objects([numpy_extra_info(c) for c in cases]),
            "uid": objects([c["uid"] for c in cases]),
        },
    )


def compose(spec: dict[str, Any], scenario: dict[str, Any], tokenizer_dir: str) -> Any:
    from perception_r1.integrations.verl_check import compose_verl_config

    overrides = [f"actor_rollout_ref.model.path={tokenizer_dir}", *spec.get("overrides", []), *scenario["overrides"]]
    return compose_verl_config(spec["config_dir"], scenario.get("config_name", "perception_r1"), overrides)


def _plain(value: Any) -> Any:
    from perception_r1.rewards.base import plain

    value = plain(value)
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def score_reward_loop(cfg: Any, data: Any) -> dict[str, Any]:
    """Score ``data`` through verl's reward loop worker; returns results, stacked keys and the scoring wall time."""
    import numpy as np
    from verl.experimental.reward_loop import RewardLoopWorker
    from verl.utils.ray_utils import get_event_loop

    worker = RewardLoopWorker(cfg)
    manager = worker.reward_manager
    raw = getattr(manager.compute_score, "args", [None])[0]  # verl wraps the custom function in a partial
    loop = get_event_loop()
    start = time.perf_counter()
    outputs = loop.run_until_complete(worker.compute_score_batch(data))
    wall = time.perf_counter() - start
    infos = [o.get("reward_extra_info", {}) for o in outputs]
    keys = list(infos[0])
    stacked = {k: np.array([info[k] for info in infos]).tolist() for k in keys}  # RewardLoopManager's rule
    rm_scores = type(manager).assemble_rm_scores(data, [o["reward_score"] for o in outputs])
    return {
        "manager": type(manager).__name__,
        "function": getattr(raw, "__qualname__", None),
        "function_module": getattr(raw, "__module__", None),
        "results": outputs,
        "stacked": stacked,
        "rm_score_sums": rm_scores.sum(-1).tolist(),
        "wall_s": wall,
    }


def score_legacy(cfg: Any, data: Any, tokenizer: Any, manager_name: str) -> dict[str, Any]:
    """Score ``data`` with verl's pre-0.8 managers and the top-level ``custom_reward_function`` keys."""
    from functools import partial

    from omegaconf import OmegaConf
    from verl.utils.import_utils import load_extern_object
    from verl.workers.reward_manager import get_reward_manager_cls

    fn_cfg = cfg.custom_reward_function
    raw = load_extern_object(fn_cfg.path, fn_cfg.name)
    kwargs = OmegaConf.to_container(fn_cfg.get("reward_kwargs", {}), resolve=True)
    manager = get_reward_manager_cls(manager_name)(tokenizer, 0, compute_score=partial(raw, **kwargs))
    start = time.perf_counter()
    out = manager(data, return_dict=True)
    wall = time.perf_counter() - start
    return {
        "manager": type(manager).__name__,
        "function": raw.__qualname__,
        "function_module": raw.__module__,
        "results": [{"reward_score": float(s)} for s in out["reward_tensor"].sum(-1).tolist()],
        "stacked": {k: list(v) for k, v in out["reward_extra_info"].items()},
        "wall_s": wall,
    }


def run_scenario(spec: dict[str, Any], scenario: dict[str, Any], tokenizer_dir: str) -> dict[str, Any]:
    """One scenario: compose, check, validate, score. Errors are reported, not raised."""
    from transformers import AutoTokenizer
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    from perception_r1.integrations.verl_check import check_config

    out: dict[str, Any] = {"name": scenario["name"]}
    try:
        cfg = compose(spec, scenario, tokenizer_dir)
        out["problems"], out["notes"] = check_config(cfg, scenario.get("layout", "reward_loop"))
        try:
            validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
            out["validate"] = "ok"
        except (AssertionError, ValueError) as exc:
            out["validate"] = f"{type(exc).__name__}: {exc}"
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        data = make_batch(scenario.get("cases") or spec["cases"], tokenizer)
        if scenario.get("path", "reward_loop") == "reward_loop":
            out.update(score_reward_loop(cfg, data))
        else:
            out.update(score_legacy(cfg, data, tokenizer, scenario.get("legacy_manager", "batch")))
    except Exception as exc:  # reported to the test, which asserts on it
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    return out


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer_dir = byte_tokenizer(Path(tmp) / "tokenizer")
        results = [run_scenario(spec, scenario, tokenizer_dir) for scenario in spec["scenarios"]]
    import verl

    Path(argv[1]).write_text(json.dumps({"verl": verl.__version__, "scenarios": _plain(results)}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
