#!/usr/bin/env bash
# Installs what building stanchion.book._native needs (a C compiler and the Python
# headers of the interpreter given as $1), with apt when root. Idempotent: does
# nothing when both are present. STANCHION_PURE_PYTHON=1 skips the extension and
# this check (the book then runs its pure-Python path, ~2.5x slower per diff).
set -euo pipefail

python="${1:-python3}"
if [ "${STANCHION_PURE_PYTHON:-}" = "1" ]; then
  exit 0
fi

need=()
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
if ! "$python" -c 'import os, sysconfig, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)'; then
  version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  need+=("python${version}-dev")
fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
. "$(dirname "$0")/apt-install.sh"
apt_install "build packages for stanchion.book._native (or set STANCHION_PURE_PYTHON=1)" "${need[@]}"
