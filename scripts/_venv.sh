# shellcheck shell=bash
# Sourced by scripts/run and scripts/test: cd to the repository root, make .venv and install the
# project into it, once per change of pyproject.toml (a stamp file records what was installed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "ERROR: $PY not found: install Python 3.11 or newer (Debian: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "ERROR: Python 3.11 or newer is needed (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi

ensure_venv() {  # $1: pip install spec, "." or ".[test]"
  local spec="$1" name
  name="${spec//[^a-z]/}"
  local stamp=".venv/.installed-${name:-base}"
  # A venv without a working pip (e.g. `python3 -m venv` failed half-way for lack of Debian's
  # python3-venv) is made again from scratch.
  if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    echo "creating .venv ..." >&2
    if ! "$PY" -m venv --clear .venv; then
      echo "ERROR: could not create .venv (Debian/Ubuntu: apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
  # ".[test]" includes "."; either stamp will do for ".".
  local have="" s
  for s in "$stamp" .venv/.installed-test; do
    if [ -f "$s" ] && [ ! pyproject.toml -nt "$s" ]; then have=1; fi
    [ "$spec" = "." ] || break
  done
  if [ -z "$have" ]; then
    echo "installing $spec into .venv ..." >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec" >&2
    touch "$stamp"
  fi
}
