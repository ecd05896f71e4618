#!/usr/bin/env bash
# Peak and final disk use of setup.sh's install steps, in a throwaway venv (nothing of the project's
# .venv is touched). Prints MB above the disk's use before the install. Usage:
#   bash benchmarks/install_disk.sh [python3.10]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-}
if [ -z "$PY" ]; then
  if python3.10 -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then PY=python3.10
  else PY=$(ls "$(pyenv root 2>/dev/null)"/versions/3.10.*/bin/python 2>/dev/null | head -1); fi
fi
[ -n "$PY" ] || { echo "error: Python 3.10 not found; pass its path" >&2; exit 1; }
work=$(mktemp -d "$PWD/.install-disk.XXXX")
sampler=
trap '[ -n "$sampler" ] && kill "$sampler" 2>/dev/null; rm -rf "$work"' EXIT
base=$(df --output=used -B1M . | tail -1)
"$PY" -m venv "$work/venv"
( while true; do echo $(( $(df --output=used -B1M . | tail -1) - base )); sleep 1; done ) > "$work/disk.txt" &
sampler=$!
start=$(date +%s)
for args in "torch -c constraints.txt" "-r requirements.txt -c constraints.txt"; do
  mkdir -p "$work/tmp"
  # shellcheck disable=SC2086
  TMPDIR="$work/tmp" "$work/venv/bin/pip" install -q --disable-pip-version-check --no-cache-dir $args
  rm -rf "$work/tmp"
done
sleep 2
echo "install: $(( $(date +%s) - start )) s, peak $(sort -n "$work/disk.txt" | tail -1) MB above the start," \
     "venv $(du -sm "$work/venv" | cut -f1) MB ($(date -u +%F), $(nproc) cores)"
