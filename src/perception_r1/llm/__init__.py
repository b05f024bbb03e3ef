"""LLM client layer: OpenAI-compatible async backend, in-process transformers backend, SQLite reply cache.

Entry points: :func:`perception_r1.llm.client.build_client` and :class:`perception_r1.llm.config.LLMConfig`.
Nothing is imported, connected or loaded at import time.
"""
