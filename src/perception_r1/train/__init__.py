"""GRPO training on TRL: recipe config, prompts, reward wiring, trainer, callbacks, launch plan, verl adapter."""
