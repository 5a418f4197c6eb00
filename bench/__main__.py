"""Run every benchmark, print one table, write bench/results/latest.json.

    python -m bench              # everything
    python -m bench fixedpoint   # only modules whose name contains "fixedpoint"
    python -m bench --quick      # fewer repeats (smoke run)
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

from bench.common import Result, ratio

HERE = Path(__file__).resolve().parent


def _modules(selected: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    return names


def _print_table(results: list[Result]) -> None:
    by_bench: dict[str, list[Result]] = {}
    for r in results:
        by_bench.setdefault(r.benchmark, []).append(r)
    header = f"{'benchmark':<38} {'variant':<34} {'median':>14} {'unit':<10} {'vs baseline':>12}"
    print(header)
    print("-" * len(header))
    for bench_name, rows in by_bench.items():
        variants = {r.variant: r for r in rows}
        for r in rows:
            cmp = ""
            if r.baseline and r.baseline in variants and r.baseline != r.variant:
                cmp = f"{ratio(r, variants[r.baseline]):.2f}x"
            print(f"{bench_name:<38} {r.variant:<34} {r.median:>14.3f} {r.unit:<10} {cmp:>12}")
            if r.notes:
                print(f"{'':<38}   {r.notes}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("only", nargs="*", help="substrings of benchmark module names")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--output", default=str(HERE / "results" / "latest.json"))
    args = parser.parse_args()

    results: list[Result] = []
    failures: list[str] = []
    for name in _modules(args.only):
        module = importlib.import_module(f"bench.{name}")
        print(f"# {name} ...", file=sys.stderr, flush=True)
        try:
            results.extend(module.run(args.quick))
        except Exception as exc:  # a broken benchmark must not hide the others
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    _print_table(results)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "python": sys.version.split()[0],
                "machine": platform.machine(),
                "processor": platform.processor(),
                "quick": args.quick,
                "results": [r.to_json() for r in results],
                "failures": failures,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out}")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
