"""The ``azml`` command line: one subcommand per module in this package."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from airflow_azml.cli import migrate, run

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the subcommand; returns its exit code."""
    parser = argparse.ArgumentParser(prog="azml", description="airflow-azml command line tools")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    migrate.add_parser(subparsers)
    run.add_parser(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)
