"""Report what Azure ML SDK v1 code needs to run on airflow_azml, and rewrite its imports.

Reads ``.py`` files and the code cells of ``.ipynb`` notebooks with ``ast`` (never runs them)
and classifies each use of an ``azureml.*`` name, and each member used on a v1 object, with the
v1 API map (:mod:`airflow_azml.migrate_analysis`). Imports from ``airflow_azml.*`` are read as their
``azureml.*`` twins, so a file whose imports were rewritten still reports what has no
equivalent. The rewriter renames the ``azureml`` token of import statements only, so the rest
of the file stays byte-identical, and replaces the file atomically. Pure stdlib: importing
this never imports Airflow.
"""

from __future__ import annotations

import ast
import bisect
import contextlib
import io
import json
import os
import shutil
import tempfile
import tokenize
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow_azml.migrate_analysis import Analyzer, Finding, char_col

__all__ = ["FileReport", "Finding", "process_file"]

V1, OURS = "azureml", "airflow_azml"


@dataclass
class FileReport:
    """What one file holds, what could not be read, and what the rewrite did."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rewritten: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)


@dataclass(eq=False)
class _Unit:
    """A piece of Python: a whole .py file or one notebook code cell."""

    cell: int | None
    text: str
    code: str  # what the parser sees: ``text`` with IPython magic lines masked
    tree: ast.Module | None = None

    @cached_property
    def lines(self) -> list[str]:
        """Lines as the Python tokenizer counts them (``\\n``, ``\\r\\n`` or ``\\r``)."""
        return _split_lines(self.code)

    def where(self) -> str:
        """A prefix naming the cell, for messages."""
        return f"cell {self.cell}, " if self.cell else ""


@dataclass
class _Document:
    """A file as read: its bytes, its Python units and, for a notebook, the parsed JSON."""

    path: Path
    raw: bytes
    units: list[_Unit]
    encoding: str = "utf-8"
    notebook: dict[str, Any] | None = None


def _split_lines(text: str) -> list[str]:
    """Split keeping line endings, on the same newlines as Python (not ``\\f`` or ``\\x1c``)."""
    return io.StringIO(text, newline="").readlines()


def _mask_magics(text: str) -> str:
    """Replace IPython ``%line`` and ``!shell`` lines with ``pass``, keeping line numbers."""
    out = []
    for line in _split_lines(text):
        body = line.lstrip(" \t")
        if body[:1] in ("%", "!"):
            line = line[: len(line) - len(body)] + "pass" + line[len(line.rstrip("\r\n")) :]
        out.append(line)
    return "".join(out)


def _notebook_units(notebook: Any) -> list[_Unit]:
    """The code cells of a notebook, cell-magic cells (``%%bash``) left out."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a Jupyter notebook (no list of cells)")
    units = []
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        if not text.lstrip().startswith("%%"):  # a cell magic: not Python
            units.append(_Unit(index, text, _mask_magics(text)))
    return units


def _load(path: Path) -> _Document:
    """Read a .py file in its declared encoding, or a notebook's code cells."""
    raw = path.read_bytes()
    if path.suffix == ".ipynb":
        notebook = json.loads(raw.decode("utf-8"))
        return _Document(path, raw, _notebook_units(notebook), notebook=notebook)
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    text = raw.decode(encoding)
    return _Document(path, raw, [_Unit(None, text, text)], encoding)


def _parse(doc: _Document, report: FileReport) -> None:
    """Parse every unit; a unit that does not parse becomes an error and keeps ``tree=None``."""
    for unit in doc.units:
        try:
            unit.tree = ast.parse(unit.code, filename=str(doc.path))
        except SyntaxError as exc:
            report.errors.append(f"{unit.where()}line {exc.lineno}: syntax error: {exc.msg}")
        except ValueError as exc:  # null bytes, on Python 3.11
            report.errors.append(f"{unit.where()}cannot parse: {exc}")


def _v1(module: str | None) -> bool:
    """Whether ``module`` is ``azureml`` or under it."""
    return module == V1 or (module or "").startswith(V1 + ".")


def _rewrite_unit(unit: _Unit, notes: list[str]) -> tuple[str, int]:
    """``unit.text`` with the ``azureml`` token of each import renamed, and how many were."""
    readline = io.StringIO(unit.code, newline="").readline
    names = [t for t in tokenize.generate_tokens(readline) if t.type == tokenize.NAME]
    starts = [t.start for t in names]
    edits: list[tokenize.TokenInfo] = []

    def token_after(node: ast.AST, skip: int) -> tokenize.TokenInfo:
        start = (node.lineno, char_col(unit.lines[node.lineno - 1], node.col_offset))
        token = names[bisect.bisect_left(starts, start) + skip]
        if token.string != V1:
            raise ValueError(f"{unit.where()}line {node.lineno}: cannot find the module name")
        return token

    for node in ast.walk(unit.tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _v1(node.module):
            edits.append(token_after(node, 1))  # the token after ``from``
        for alias in node.names if isinstance(node, ast.Import) else ():
            if _v1(alias.name) and alias.asname:
                edits.append(token_after(alias, 0))
            elif _v1(alias.name):
                notes.append(
                    f"{unit.where()}line {alias.lineno}: `import {alias.name}` left as is: it binds "
                    f"the name `azureml`; rename its uses by hand or keep airflow_azml.compat.enable()"
                )
    lines = _split_lines(unit.text)
    for token in sorted(edits, key=lambda t: t.start, reverse=True):
        (row, begin), (_, end) = token.start, token.end
        lines[row - 1] = lines[row - 1][:begin] + OURS + lines[row - 1][end:]
    return "".join(lines), len(edits)


def _dump_notebook(raw: bytes, notebook: dict[str, Any]) -> bytes:
    """The notebook as JSON in the original's indentation, escaping and final newline."""
    text = raw.decode("utf-8")
    second = text.split("\n", 2)[1] if "\n" in text else ""
    indent = (len(second) - len(second.lstrip(" "))) or None
    dumped = json.dumps(notebook, indent=indent, ensure_ascii=text.isascii())
    return (dumped + "\n" if text.endswith("\n") else dumped).encode("utf-8")


def _rewritten_bytes(doc: _Document, report: FileReport) -> bytes | None:
    """The rewritten file, or ``None`` when there is nothing to rename."""
    total = 0
    for unit in doc.units:
        text, count = _rewrite_unit(unit, report.notes)
        total += count
        if count:  # still Python, or raise
            ast.parse(_mask_magics(text) if doc.notebook is not None else text)
        if count and doc.notebook is not None:
            cell = doc.notebook["cells"][unit.cell - 1]
            cell["source"] = _split_lines(text) if isinstance(cell["source"], list) else text
        elif count:
            unit.text = text
    report.rewritten = total
    if not total:
        return None
    if doc.notebook is not None:
        return _dump_notebook(doc.raw, doc.notebook)
    return doc.units[0].text.encode(doc.encoding)


def _atomic_write(path: Path, data: bytes, backup: bool) -> None:
    """Write through a temporary file in the same folder and ``os.replace``: never half-written."""
    path = path.resolve()  # replace a symlink's target, not the link
    if backup:
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _rewrite(doc: _Document, report: FileReport, backup: bool) -> None:
    """Rename the imports of ``doc`` on disk, unless some part of it does not parse."""
    if report.errors:
        report.notes.append("not rewritten: the file does not parse")
        return
    try:
        data = _rewritten_bytes(doc, report)
    except (IndexError, SyntaxError, ValueError, tokenize.TokenError) as exc:
        report.rewritten = 0
        report.errors.append(f"not rewritten: {exc}")
        return
    if data is not None:
        _atomic_write(doc.path, data, backup)


def process_file(path: Path, *, rewrite: bool = False, backup: bool = True) -> FileReport:
    """Analyze one file and, when ``rewrite``, rename its azureml imports in place (only when
    every part of it parses; the original is kept as ``<name>.bak`` when ``backup``)."""
    report = FileReport(str(path))
    try:
        doc = _load(path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
        report.errors.append(f"cannot read: {exc}")
        return report
    _parse(doc, report)
    report.findings = Analyzer(report.path).run(doc.units)
    if rewrite:
        _rewrite(doc, report, backup)
    return report
