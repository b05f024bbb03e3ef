"""Reusable test doubles (fake servers) for tests, benchmarks and pipeline dry runs. Nothing here runs on import."""
