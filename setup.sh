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
echo "==> installing pinned requirements (constraints.txt keeps Rasa's pins)"
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
.venv/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
# The catalogue is rebuilt from ../shared/data (MUSIC_DATA=...) when the public data are there;
# otherwise the shipped one is kept, with a note naming the missing folder. The set-up's own
# round of the loop (first-policy) promotes a learned policy or says why the rule-based one serves.
make secrets catalog assets logs first-policy train PY=.venv/bin/python
echo "==> set-up done. Try: make shell"
