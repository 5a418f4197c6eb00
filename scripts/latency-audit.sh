#!/usr/bin/env bash
# Run `stanchion latency-audit` with the given arguments (see docs/latency-audit.md).
# Uses the repository's virtualenv when present (created by `make run` / `make test`).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -x "$repo/.venv/bin/stanchion" ]]; then
    exec "$repo/.venv/bin/stanchion" latency-audit "$@"
fi
if [[ -x "$repo/.venv/bin/python" ]]; then
    py="$repo/.venv/bin/python"
else
    py="$(command -v python3.11 || command -v python3)"
fi
PYTHONPATH="$repo/src${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m stanchion.cli.main latency-audit "$@"
