.PHONY: setup setup-verl test test-fast lint typecheck format bench bench-verl

setup:  ## venv + torch + package + test/server extras + SmolLM2 weights
	bash scripts/setup.sh

setup-verl:  ## verl 0.9.1 in its own .venv-verl (the tests that drive verl skip without it)
	bash scripts/setup_verl.sh

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

bench-verl:  ## verl's reward path at 256 responses against a 0.5 s judge (needs make setup-verl)
	.venv-verl/bin/python benchmarks/bench_verl_reward.py
