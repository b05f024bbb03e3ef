"""perception-r1: GRPO for multimodal LLMs with an LLM-judged visual perception reward.

The package mirrors the data flow of the method:
``data`` (schema, loaders, synthetic testbed, curation) -> ``train.prompts`` -> rollouts (TRL) ->
``rewards`` (rule rewards and the judged perception reward, via ``llm`` and ``judge``) -> ``train`` (GRPO) ->
``eval`` (benchmarks) -> ``analysis`` (McNemar).
"""

__version__ = "0.1.0"
