"""Benchmark evaluation: registry of the paper's eight benchmarks, loading, prompts, scoring, runner, reports."""
