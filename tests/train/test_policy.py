"""Policy loading options: frozen vision tower, LoRA on the language model only, image pixel budget."""

from __future__ import annotations

import re

import pytest

from perception_r1.config import from_dict
from perception_r1.train.config import ModelConfig

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("options", "vision_trainable", "lora"),
    [
        # the default trains everything
        ({}, True, False),
        # a frozen vision tower (encoder and merger)
        ({"freeze_vision_tower": True}, False, False),
        # LoRA: adapters only on language-model projections
        ({"lora": {"enabled": True, "r": 4}}, True, True),
    ],
)
def test_load_policy_options(tiny_model_path, options, vision_trainable, lora):
    from perception_r1.train.trainer import load_policy

    model_cfg = from_dict(ModelConfig, {**options, "max_pixels": 56 * 56})
    policy, processor, peft_config = load_policy(model_cfg, str(tiny_model_path))
    assert all(p.requires_grad == vision_trainable for p in policy.model.visual.parameters())
    assert processor.image_processor.size["longest_edge"] == 56 * 56
    assert (peft_config is not None) == lora
    if lora:
        names = [n for n, _ in policy.named_modules()]
        targeted = [n for n in names if re.fullmatch(peft_config.target_modules, n)]
        assert targeted and all(".language_model." in n for n in targeted)
        # the vision MLP has gate/up/down projections too, and they are left alone
        assert any(n.startswith("model.visual") and n.endswith("gate_proj") for n in names)
