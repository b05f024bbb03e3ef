"""A small Qwen2.5-VL policy for the experiment, built here from scratch with a tokenizer fitted to the testbed.

Why not SmolLM2's weights (the embedded ``train`` default)? On this project's 2-core CPUs a GRPO step of the
135 M SmolLM2-based policy takes about 30 s (2 prompts x 8 completions x 48 tokens), and a third of its
forward pass is the 49,152-word output projection. The testbed's text is templated: a byte-level BPE of a few
hundred tokens fitted on generated problems and solutions covers it, and a model of a few million parameters
learns its language in minutes. What the warm-up must teach - reading values off the figure - is new to any
pretrained text model anyway. The numbers that decided the default shape are in
``recipes/experiment/README.md``.

The architecture is Qwen2.5-VL's (``Qwen2_5_VLForConditionalGeneration`` + ``Qwen2_5_VLProcessor``), so the
whole pipeline (TRL ``SFTTrainer`` and ``GRPOTrainer``, the processor's chat template, evaluation) runs
exactly as it would on the real model.

Example:
    >>> spec = PolicySpec()
    >>> spec.head_dim, sum(spec.mrope_section)
    (32, 16)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perception_r1.config import ConfigError, option
from perception_r1.io_utils import atomic_write_json
from perception_r1.model.tiny import QWEN2_5_VL_CHAT_TEMPLATE, VISION_TOKENS, assemble_vlm_config

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", *VISION_TOKENS)
POLICY_MARKER = "policy_build.json"


@dataclass(frozen=True)
class PolicySpec:
    """Shape of the experiment's policy (text and vision) and of its tokenizer and image processor."""

    vocab_size: int = option(640, "byte-level BPE vocabulary size (256 bytes + special tokens + merges)")
    hidden_size: int = option(128, "text model width")
    num_layers: int = option(4, "text decoder layers")
    num_heads: int = option(4, "text attention heads")
    num_kv_heads: int = option(2, "text key/value heads (grouped-query attention)")
    intermediate_size: int = option(384, "text MLP width")
    vision_depth: int = option(2, "vision transformer blocks")
    vision_hidden_size: int = option(128, "vision transformer width")
    vision_heads: int = option(4, "vision attention heads")
    vision_intermediate_size: int = option(256, "vision MLP width")
    image_size: int = option(168, "figures are rendered and fed at this side (pixels; multiple of 28)")
    seed: int = option(0, "seed of the weight initialisation")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mrope_section(self) -> list[int]:
        """Multimodal RoPE split of the head's rotary pairs (temporal, height, width), Qwen's 1:1.5:1.5."""
        pairs = self.head_dim // 2
        temporal = pairs // 4
        height = (pairs - temporal) // 2
        return [temporal, height, pairs - temporal - height]

    def check(self) -> None:
        """Raises ConfigError naming the key when the shape is inconsistent."""
        if self.hidden_size % self.num_heads or self.head_dim % 2:
            raise ConfigError("policy.hidden_size: must be a multiple of 2 x policy.num_heads")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError("policy.num_kv_heads: must divide policy.num_heads")
        if self.vision_hidden_size % self.vision_heads:
            raise ConfigError("policy.vision_hidden_size: must be a multiple of policy.vision_heads")
        if self.image_size % 28 or not 112 <= self.image_size <= 448:
            raise ConfigError(f"policy.image_size: a multiple of 28 within [112, 448], got {self.image_size}")
        if self.vocab_size < 256 + len(SPECIAL_TOKENS) + 16:
            raise ConfigError(f"policy.vocab_size: at least {256 + len(SPECIAL_TOKENS) + 16}, got {self.vocab_size}")

    def key(self) -> str:
        """Short stable hash of the spec (part of cache folder names)."""
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:10]


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    """Byte-level BPE fitted on ``texts``; digits are always single tokens so numbers are read digit by digit.

    Returns:
        A ``transformers.PreTrainedTokenizerFast`` with Qwen's chat tokens, ``<|im_end|>`` as EOS and
        ``<|endoftext|>`` as padding.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left"
    )
    fast.chat_template = QWEN2_5_VL_CHAT_TEMPLATE
    return fast


def _config(spec: PolicySpec, tokenizer: Any) -> Any:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    eos, pad = ids["<|im_end|>"], ids["<|endoftext|>"]
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_layers,
        "num_attention_heads": spec.num_heads,
        "num_key_value_heads": spec.num_kv_heads,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-6,
        "hidden_act": "silu",
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": spec.mrope_section},
        "tie_word_embeddings": True,
        "bos_token_id": ids["<|im_start|>"],
        "eos_token_id": eos,
        "pad_token_id": pad,
    }
    vision = {
        "depth": spec.vision_depth,
        "hidden_size": spec.vision_hidden_size,
        "num_heads": spec.vision_heads,
        "intermediate_size": spec.vision_intermediate_size,
        "out_hidden_size": spec.hidden_size,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": list(range(spec.vision_depth)),  # small images: every block attends globally
    }
    return assemble_vlm_config(text, vision, {**ids, "bos": ids["<|im_start|>"], "eos": eos, "pad": pad})


def build_policy(out_dir: str | Path, spec: PolicySpec, corpus: Iterable[str]) -> Path:
    """Fit the tokenizer on ``corpus`` and write a freshly initialised policy + processor into ``out_dir``.

    Args:
        out_dir: Folder to write (created); the marker :data:`POLICY_MARKER` is written last.
        spec: The shape.
        corpus: Texts the tokenizer is fitted on (prompts with their chat framing, reference solutions).

    Returns:
        ``out_dir``; loadable with ``AutoModelForImageTextToText`` / ``AutoProcessor.from_pretrained``.
    """
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    from perception_r1.model.integrity import require_complete

    spec.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus, spec.vocab_size)
    config = _config(spec, tokenizer)
    torch.manual_seed(spec.seed)
    # transformers declares PreTrainedModel.to with @wraps(torch.nn.Module.to), which typeshed types unbound.
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32)  # type: ignore[arg-type]
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=[config.eos_token_id, config.pad_token_id],
        pad_token_id=config.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(out)
    pixels = spec.image_size * spec.image_size
    processor = Qwen2_5_VLProcessor(
        # White paper maps to 0 (not CLIP's +1.9): the figures are mostly blank, and with CLIP statistics every
        # blank patch embeds to the same large vector that drowns the strokes and digits (measured: features of
        # different figures differed by 0.4% of their norm, and the warm-up learned to ignore the image).
        image_processor=Qwen2VLImageProcessor(
            min_pixels=pixels, max_pixels=pixels, image_mean=[1.0, 1.0, 1.0], image_std=[0.5, 0.5, 0.5]
        ),
        video_processor=Qwen2VLVideoProcessor(),
        tokenizer=tokenizer,
        chat_template=QWEN2_5_VL_CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    require_complete(out)  # the marker below must never stand for missing weights
    n_params = sum(p.numel() for p in model.parameters())
    atomic_write_json(
        out / POLICY_MARKER, {"spec": dataclasses.asdict(spec), "vocab_size": len(tokenizer), "parameters": n_params}
    )
    return out
