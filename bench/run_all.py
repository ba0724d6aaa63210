"""Run every benchmark in bench/ one after the other and print one table of ratios.

Each module writes bench/results/<name>.json through ``report``; this prints them all as the
Markdown table that README.md carries. ``python -m bench.run_all --only parse,chain`` runs a subset;
``--table`` only prints the table from the stored results.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

from bench._common import REPO

MODULES = [
    "bench_parse",
    "bench_lineage",
    "bench_chain",
    "bench_trigger",
    "bench_data",
    "bench_envs",
    "bench_reuse",
    "bench_parallel",
    "bench_hyperdrive",
    "bench_local",
]


def _fmt(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def table() -> str:
    """Every stored result row: what, the measured figures, the ratio and its target."""
    lines = ["| benchmark | figures | ratio | target |", "|---|---|---|---|"]
    for path in sorted((REPO / "bench" / "results").glob("*.json")):
        for row in json.loads(path.read_text()).get("rows", []):
            skip = {"what", "name", "ratio", "target"}
            figures = ", ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k not in skip)
            lines.append(
                f"| {row.get('what') or row.get('name') or path.stem} | {figures} | "
                f"{_fmt(row.get('ratio', ''))} | {row.get('target', '')} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated module names without the bench_ prefix")
    parser.add_argument("--table", action="store_true", help="print the table of stored results only")
    args = parser.parse_args()
    if not args.table:
        wanted = [f"bench_{m}" for m in args.only.split(",")] if args.only else MODULES
        for name in wanted:
            if importlib.util.find_spec(f"bench.{name}") is None:
                print(f"(skipping {name}: not present)")
                continue
            print(f"\n### {name}", flush=True)
            code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=REPO)
            if code != 0:
                print(f"{name} failed with exit code {code}")
    print("\n" + table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
