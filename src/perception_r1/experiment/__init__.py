"""The controlled perception experiment on the synthetic testbed (``perception-r1 experiment``).

Stages, each resumable and each writing into its own folder of the experiment directory:
data (disjoint train / validation / test splits) -> policy (a small Qwen2.5-VL built here) -> warm-up (TRL
``SFTTrainer`` on the generator's exact CoTs) -> GRPO arms ``rlvr`` and ``perception_r1`` from the same warm-up
checkpoint -> greedy evaluation on the test split with exact perception metrics -> exact McNemar tests across
arms -> report (Markdown, HTML, JSON, plots).
"""
