"""Policy models: the tiny local Qwen2.5-VL of the embedded default (see :mod:`perception_r1.model.tiny`)."""
