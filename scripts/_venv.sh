# Sourced by scripts/run and scripts/test: make .venv and install the project into it, once per
# change of pyproject.toml (a stamp file records what was installed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi
ensure_venv() {  # $1: pip extras spec, e.g. "." or ".[test]"
  local spec="$1" stamp=".venv/.installed-$(echo "$1" | tr -c 'a-z' '_')"
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "installing $spec into .venv ..." >&2
    .venv/bin/python -m pip install -q --upgrade pip >&2
    .venv/bin/python -m pip install -q -e "$spec" >&2
    touch "$stamp"
  fi
}
