#!/usr/bin/env bash
# A separate virtual environment with verl, for the tests that drive the verl adapter through verl itself
# (tests/integrations/test_verl_real.py) and for benchmarks/bench_verl_reward.py. verl pins its own transformers
# (< 5.11 for verl 0.9.1), which the main .venv's trl cannot share: hence its own venv, .venv-verl by default.
#   bash scripts/setup_verl.sh                    # creates or reuses .venv-verl
#   VERL_VENV=/path VERL_SPEC="verl==0.9.1" PYTHON=python3.11 bash scripts/setup_verl.sh
# Cached: a venv with the requested verl version and this checkout's adapter importable is reused as it is (seconds).
# Downloads go to pip's own cache (PIP_CACHE_DIR, by default ~/.cache/pip), outside the repository. The tests find
# the venv at .venv-verl/bin/python or at $PERCEPTION_R1_VERL_PYTHON, and skip (saying why) without it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VERL_VENV="${VERL_VENV:-.venv-verl}"
VERL_SPEC="${VERL_SPEC:-verl==0.9.1}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"
# What the reward path of perception_r1 imports. The package itself goes in with --no-deps: its training
# dependencies (trl among them) want a newer transformers than verl allows.
REWARD_DEPS=("math-verify>=0.8" "openai>=1.60" "tenacity>=8.2" "pyyaml>=6" "rich>=13" "pillow>=10" "typer>=0.15")
VY="$VERL_VENV/bin/python"

ready() {
  "$VY" - "${VERL_SPEC#verl==}" "$PWD/src" <<'PY' 2>/dev/null
import pathlib, sys
import verl
import perception_r1
import perception_r1.integrations.verl_manager  # noqa: F401  (the adapter and its dependencies import)
here = pathlib.Path(perception_r1.__file__).resolve().is_relative_to(pathlib.Path(sys.argv[2]).resolve())
sys.exit(0 if verl.__version__ == sys.argv[1] and here else 1)
PY
}

if [ -x "$VY" ] && ready; then
  echo "verl venv reused: $VERL_VENV ($("$VY" -c 'import verl; print("verl", verl.__version__)'))"
  exit 0
fi
[ -x "$VY" ] || "$PYTHON" -m venv "$VERL_VENV"
PIP=("$VY" -m pip install --disable-pip-version-check)
"${PIP[@]}" -q --upgrade pip
# torch pinned and resolved together with verl, so that verl's own pins cannot pull another (multi-GB) build.
# shellcheck disable=SC2086
"${PIP[@]}" $TORCH_SPEC "$VERL_SPEC" "${REWARD_DEPS[@]}"
"${PIP[@]}" --no-deps -e .
ready || { echo "error: $VERL_VENV was built but verl or perception_r1's adapter does not import there" >&2; exit 1; }
echo "verl venv ready: $VERL_VENV ($("$VY" -c 'import verl, torch; print("verl", verl.__version__, "torch", torch.__version__)'))"
