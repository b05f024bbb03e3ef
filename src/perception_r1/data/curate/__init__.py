"""Data curation as in the paper: teacher CoT distillation, accuracy filtering, visual-annotation extraction.

Steps (each a Python function and a ``perception-r1 data`` subcommand): :func:`.distill.distill`,
:func:`.filtering.filter_trajectories`, :func:`.annotate.annotate`, and :func:`.recipe.build` for a whole
recipe (``recipes/data/geometry3k.yaml``). LLM calls go through :mod:`perception_r1.llm` with its SQLite cache.
"""
