.PHONY: setup test test-fast lint typecheck format bench

setup:  ## venv + torch + package + test/server extras + SmolLM2 weights
	bash scripts/setup.sh

test:  ## the whole suite (what CI runs)
	.venv/bin/python -m pytest

test-fast:  ## unit tests only
	.venv/bin/python -m pytest -m "not integration"

lint:
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks

typecheck:  ## mypy on src/ (configured in pyproject.toml; the suite runs it too: tests/test_typecheck.py)
	.venv/bin/python -m mypy

format:
	.venv/bin/ruff format src tests benchmarks
	.venv/bin/ruff check --fix src tests benchmarks

bench:  ## performance scripts (print figures against a baseline measured in the same run)
	.venv/bin/python benchmarks/bench_rewards.py
