"""``azml migrate PATH...``: what Azure ML SDK v1 code needs to run on airflow_azml.

Reports, file by file and line by line, what runs unchanged once
``airflow_azml.compat.enable()`` is called, what needs a change (and which), and what has no
equivalent; ``--rewrite-imports`` renames ``azureml.*`` imports to ``airflow_azml.*`` in place.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from airflow_azml import migrate_rules as rules
from airflow_azml.migrate import FileReport, Finding, process_file

__all__ = ["add_parser", "exit_code", "format_text", "iter_source_files", "run", "summarize"]

SOURCE_SUFFIXES = (".py", ".ipynb")
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv"})

DESCRIPTION = (
    "Report, file by file and line by line, what Azure ML SDK v1 code (.py files and the code "
    "cells of .ipynb notebooks) needs to run on airflow_azml. Lines and columns are 1-based; "
    "in a notebook, 'cell N' is the N-th cell."
)
EPILOG = """\
categories:
  unchanged    runs as it is with airflow_azml.compat.enable() (or after --rewrite-imports)
  change       needs an edit; the advice says which
  unsupported  nothing in airflow_azml does it: the line fails
  unknown      nothing can be promised: a member of a v1 object the v1 map does not know (or a
               private one), a use of something airflow_azml does not have, a branch that runs
               only if a try fails, a module this Python does not have

Uses of names imported from azureml are followed through assignments, attribute chains, calls,
loops over returned lists and dict items, across the cells of a notebook: a method or attribute
used on a v1 object is checked against the v1 API map (airflow_azml/v1map, docs/v1-coverage.md)
like an import is. Supported members are not listed; everything else is.

exit status:
  0  everything found runs unchanged
  1  something needs a change, has no equivalent or is unknown, or a file could not be parsed or
     rewritten
  2  bad usage (e.g. a PATH that does not exist)

--json prints {"files": [{"path", "findings": [{"file", "line", "col", "category", "name",
"advice", "cell"}], "errors", "notes", "rewritten"}], "summary": {"files", "unchanged", "change",
"unsupported", "unknown", "errors", "rewritten"}, "exit_code": N}.

--rewrite-imports renames the azureml token of `import azureml.x as y` and
`from azureml.x import ...` statements only, so the rest of each file stays byte-identical.
A file is written only when all of it parses, through a temporary file and os.replace; the
original is kept as <name>.bak unless --no-backup. A bare `import azureml.x` is left as is
(it binds the name `azureml`, used further down) and reported in a note.
"""


def add_parser(subparsers: Any) -> None:
    """Register ``migrate`` on the ``azml`` subparsers."""
    parser = subparsers.add_parser(
        "migrate",
        help="report what Azure ML v1 pipeline code needs to run on airflow_azml",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help=".py or .ipynb files, or folders to scan"
    )
    parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")
    parser.add_argument(
        "--rewrite-imports",
        action="store_true",
        help="rewrite azureml.* imports to airflow_azml.* in place",
    )
    parser.add_argument("--no-backup", action="store_true", help="with --rewrite-imports: keep no .bak")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Scan ``args.paths``, print the report, and return the exit status (see EPILOG)."""
    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        print(f"azml migrate: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    reports = [
        process_file(path, rewrite=args.rewrite_imports, backup=not args.no_backup)
        for path in iter_source_files(args.paths)
    ]
    status = exit_code(reports)
    if args.as_json:
        document = {
            "files": [report.to_dict() for report in reports],
            "summary": summarize(reports),
            "exit_code": status,
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(format_text(reports))
    return status


def iter_source_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named on the command line, and the .py/.ipynb files under named folders (sorted;
    hidden folders, virtualenvs and caches skipped)."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
            yield from (Path(root, name) for name in sorted(files) if name.endswith(SOURCE_SUFFIXES))


def summarize(reports: Iterable[FileReport]) -> dict[str, int]:
    """Counts per category, plus files scanned, files with errors and files rewritten."""
    reports = list(reports)
    counts = dict.fromkeys(rules.CATEGORIES, 0)
    for report in reports:
        for finding in report.findings:
            counts[finding.category] += 1
    return {
        "files": len(reports),
        **counts,
        "errors": sum(bool(report.errors) for report in reports),
        "rewritten": sum(bool(report.rewritten) for report in reports),
    }


def exit_code(reports: Iterable[FileReport]) -> int:
    """0 when everything runs unchanged; 1 when something needs a change, has no equivalent, is
    unknown, or could not be read or rewritten."""
    summary = summarize(reports)
    return int(any(summary[c] for c in (rules.CHANGE, rules.UNSUPPORTED, rules.UNKNOWN, "errors")))


def _location(finding: Finding) -> str:
    """``line:col``, prefixed by the cell in a notebook."""
    cell = f"cell {finding.cell}, " if finding.cell is not None else ""
    return f"{cell}{finding.line}:{finding.col}"


def _format_file(report: FileReport) -> list[str]:
    """One file's block of the text report: findings with their advice, errors, notes."""
    lines = [report.path]
    width = max((len(_location(f)) for f in report.findings), default=0)
    for finding in report.findings:
        lines.append(f"  {_location(finding):<{width}}  {finding.category:<11}  {finding.name}")
        if finding.advice:
            lines.append(f"  {'':<{width}}  {'':<11}  -> {finding.advice}")
    lines += [f"  error: {error}" for error in report.errors]
    lines += [f"  note: {note}" for note in report.notes]
    if report.rewritten:
        lines.append(f"  rewritten: {report.rewritten} import(s)")
    return lines


def format_text(reports: Sequence[FileReport]) -> str:
    """The human report: files with something to say, then the summary counts."""
    lines: list[str] = []
    for report in reports:
        if report.findings or report.errors or report.notes or report.rewritten:
            lines += [*_format_file(report), ""]
    summary = summarize(reports)
    lines.append(
        f"{summary['files']} file(s) scanned: {summary['unchanged']} unchanged, "
        f"{summary['change']} change, {summary['unsupported']} unsupported, {summary['unknown']} unknown; "
        f"{summary['errors']} file(s) with errors; {summary['rewritten']} file(s) rewritten"
    )
    return "\n".join(lines)
