"""Test doubles for the tests and the benchmarks: fake OpenAI-compatible servers, scripted judges, answer corpora.

They live outside the installed package on purpose: nothing in ``perception_r1`` may import them (checked by
``tests/test_layering.py``). pytest puts ``tests/`` on ``sys.path`` (``pythonpath`` in pyproject.toml), so tests
import them as ``support.<module>``; benchmarks add ``tests/`` to ``sys.path`` themselves.
"""
