"""Perception judging: prompt, strict verdict parsing, injection sanitising, judges (LLM and rule).

Entry points: :class:`perception_r1.judge.config.JudgeConfig` and :func:`perception_r1.judge.judges.build_judge`.
"""
