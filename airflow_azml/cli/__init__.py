"""The ``azml`` command line: one subcommand per module in this package."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from airflow_azml._lazy import optional_module

__all__ = ["main", "SUBCOMMANDS"]

#: modules of this package that add a subcommand (``add_parser(subparsers)``), in help order
SUBCOMMANDS = ("validate", "graph", "run", "submit", "runs", "logs", "gc", "migrate")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the subcommand; returns its exit code."""
    parser = argparse.ArgumentParser(prog="azml", description="airflow-azml command line tools")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = optional_module(f"airflow_azml.cli.{name}")
        if module is not None:
            module.add_parser(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)
