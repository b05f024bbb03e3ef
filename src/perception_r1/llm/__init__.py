"""LLM client layer: OpenAI-compatible async backend, in-process transformers backend, SQLite reply cache.

Entry points: :func:`perception_r1.llm.client.build_client` and :class:`perception_r1.llm.config.LLMConfig`.
Async code awaits ``LLMClient.agenerate``; sync code calls ``LLMClient.generate_sync`` (or uses
:func:`perception_r1.llm.client.sync_client`), which runs on the one shared loop of
:func:`perception_r1.llm.loop.run_sync`. Nothing is imported, connected or loaded at import time.
"""
