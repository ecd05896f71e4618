#!/usr/bin/env bash
# One command on a fresh machine: Python 3.10 venv, pinned install, music assets, logs, trained model.
set -euo pipefail
cd "$(dirname "$0")"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false

find_python() {
  if command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    command -v python3.10; return
  fi
  if command -v pyenv >/dev/null 2>&1; then
    for p in "$(pyenv root)"/versions/3.10.*/bin/python; do
      [ -x "$p" ] && { echo "$p"; return; }
    done
  fi
  return 1
}

if [ ! -x .venv/bin/python ]; then
  PY=$(find_python) || { echo "error: Python 3.10 is required (Rasa 3.6 supports 3.8-3.10). Install it, e.g. 'pyenv install 3.10', and re-run." >&2; exit 1; }
  echo "==> creating .venv with $PY"
  "$PY" -m venv .venv
fi
# The install is about 8 GB (PyTorch's CUDA libraries from PyPI, which sentence-transformers needs,
# and Rasa's TensorFlow). pip keeps every downloaded wheel until it exits, so one call peaked at
# 12.7 GB above the start. Hence: no pip cache, its temporary files beside .venv rather than in
# /tmp (which may be a small tmpfs), and PyTorch first, in its own call, so that its wheels are
# gone before the rest are downloaded: 9.6 GB at the peak, 8.2 GB after (bash
# benchmarks/install_disk.sh, 2026-11-27). A failure says how much disk was free.
PIP_TMP="$PWD/.pip-tmp"
pip_install() {
  mkdir -p "$PIP_TMP"
  if ! TMPDIR="$PIP_TMP" .venv/bin/pip install -q --disable-pip-version-check --no-cache-dir "$@"; then
    echo "error: 'pip install $*' failed. Free disk where .venv is: $(df -h --output=avail . | tail -1 | tr -d ' ')" \
         "(the set-up needs about 10 GB free at its peak, 8 GB after). Free some space and re-run ./setup.sh." >&2
    rm -rf "$PIP_TMP"
    exit 1
  fi
  rm -rf "$PIP_TMP"
}
free_gb=$(df -k --output=avail . | tail -1 | awk '{print int($1 / 1048576)}')
if [ "$free_gb" -lt 10 ] && ! .venv/bin/python -c 'import rasa, torch' 2>/dev/null; then
  echo "warning: ${free_gb} GB free where .venv is; the install needs about 10 GB at its peak." >&2
fi
echo "==> installing pinned requirements (constraints.txt keeps Rasa's pins)"
pip_install torch -c constraints.txt
pip_install -r requirements.txt -c constraints.txt
pip_install --no-deps --no-build-isolation -e .
# The catalogue is rebuilt from ../shared/data (MUSIC_DATA=...) when the public data are there;
# otherwise the shipped one is kept, with a note naming the missing folder. The set-up's own
# round of the loop (first-policy) promotes a learned policy or says why the rule-based one serves.
make secrets catalog assets logs first-policy train PY=.venv/bin/python
echo "==> set-up done. Try: make shell"
