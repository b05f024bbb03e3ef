"""Former home of the verl adapter, kept so that ``pkg://perception_r1.train.verl_reward`` in existing verl configs
still resolves: the functions live in :mod:`perception_r1.integrations.verl` (new configs name that module)."""

from perception_r1.integrations.verl import compute_score, compute_score_async, compute_score_batch, result

__all__ = ["compute_score", "compute_score_async", "compute_score_batch", "result"]
