#!/usr/bin/env python3
"""Pre-deploy step: validate configuration files (default: examples/ and deploy/config/).

Exit 0 when every file is valid; 1 with one line per problem, `FILE: path: what is wrong`.
Same validation as `stanchion config validate`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from stanchion.cli.config_cmd import validate_files  # noqa: E402


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv]
    if not paths:
        paths = sorted((ROOT / "examples").glob("*.yaml"))
        paths += sorted((ROOT / "deploy" / "config").glob("*.yaml"))
    ok, bad = validate_files(paths)
    for line in ok:
        print(line)
    for line in bad:
        print(line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
