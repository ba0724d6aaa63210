"""Translate the common subset of U-SQL into DuckDB SQL.

Azure Data Lake Analytics, the only engine that ran U-SQL, was retired on 2024-02-29. The job
most AdlaStep scripts do - read files of the lake, query them, write files back - is ordinary
SQL over files, so the common U-SQL forms are rewritten into DuckDB statements: an EXTRACT
becomes a temporary view over ``read_csv``, a rowset assignment a temporary view, an OUTPUT a
``COPY ... TO``, a DECLAREd variable is inlined where it is used. Anything beyond that subset
(C# code-behind, user-defined operators, the U-SQL catalog) raises
:class:`UsqlTranslationError` naming the construct and its line, instead of running something
that only looks equivalent.

Known differences from ADLA: values are written the DuckDB way (``true``, ISO timestamps,
``decimal`` with 10 decimals) and strings are quoted only when needed; U-SQL keywords are
upper case, mixed-case names are identifiers, as in U-SQL itself.
"""

from __future__ import annotations

import logging
import re

from airflow_azml.runtime.sql._usql_expr import (
    USQL_TYPES,
    State,
    Tok,
    Var,
    decode,
    find_top,
    ident,
    literal,
    split_at_semicolons,
    split_top,
    tokenize,
    translate_expr,
)
from airflow_azml.runtime.sql.errors import UsqlTranslationError

__all__ = ["USQL_TYPES", "is_usql", "translate_usql"]

log = logging.getLogger(__name__)

_MARKERS = re.compile(r"@\w+\s*=\s*EXTRACT\b|\bOUTPUT\s+@\w+\s+TO\b[^;]*\bUSING\b")
_NOISE = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|--[^\n]*|//[^\n]*|/\*.*?\*/""", re.DOTALL)
_TWO_WORD = {"REFERENCE", "CREATE", "DROP", "ALTER", "USE", "DEPLOY", "INSERT", "TRUNCATE", "SET"}
_FORMATS = {"Csv": ",", "Tsv": "\t", "Text": ","}
_IN_ARGS = {"skipFirstLine", "silent", "quoting", "nullEscape", "encoding"}
_OUT_ARGS = {"outputHeader", "quoting", "nullEscape", "encoding"}


def is_usql(script: str) -> bool:
    """Tell U-SQL from plain SQL: a ``@x = EXTRACT`` or an ``OUTPUT @x TO ... USING``.

    Comments and string literals are ignored, and keywords must be upper case as in U-SQL, so
    the SQL function ``extract(year FROM ts)`` is not mistaken for U-SQL.
    """
    return _MARKERS.search(_NOISE.sub(" ", script)) is not None


def translate_usql(script: str) -> list[str]:
    """Translate a U-SQL script into DuckDB statements, in order (DECLAREs produce none)."""
    state = State()
    statements = []
    for stmt in split_at_semicolons(tokenize(script)):
        sql = _statement(stmt, state)
        if sql is not None:
            statements.append(sql)
    log.info("Translated U-SQL into %s DuckDB statement(s)", len(statements))
    return statements


def _statement(stmt: list[Tok], state: State) -> str | None:
    """Translate one statement; raise for every statement kind outside the subset."""
    head = stmt[0]
    if head.kind == "var" and len(stmt) > 2 and stmt[1].text == "=":
        return _rowset(stmt, state)
    if head.text == "DECLARE":
        _declare(stmt, state)
        return None
    if head.text == "OUTPUT":
        return _output(stmt, state)
    construct = head.text
    if head.text in _TWO_WORD and len(stmt) > 1:
        construct = f"{head.text} {stmt[1].text}"
    raise UsqlTranslationError(construct, head.line)


def _rowset(stmt: list[Tok], state: State) -> str:
    """``@x = EXTRACT ...`` or ``@x = SELECT ...`` into a temporary view named after ``@x``."""
    name, keyword = stmt[0].text, stmt[2]
    if name.startswith("@@"):
        raise UsqlTranslationError(name, keyword.line, "cannot be assigned")
    if keyword.text == "EXTRACT":
        body = _extract(stmt[3:], state, keyword)
    elif keyword.text in ("SELECT", "("):
        body = translate_expr(stmt[2:], state)
    elif keyword.text in ("PROCESS", "REDUCE", "COMBINE"):
        detail = "is not supported (user-defined operators run C# code-behind)"
        raise UsqlTranslationError(f"{name} = {keyword.text}", keyword.line, detail)
    else:
        raise UsqlTranslationError(f"{name} = {keyword.text}", keyword.line)
    view = state.bind_rowset(name[1:])
    return f"CREATE OR REPLACE TEMP VIEW {ident(view)} AS  -- {name}, U-SQL line {stmt[0].line}\n{body}"


def _extract(tokens: list[Tok], state: State, keyword: Tok) -> str:
    """``EXTRACT cols FROM paths USING Extractors.X(...)`` into a ``read_csv`` query."""
    from_at, using_at = find_top(tokens, "FROM"), find_top(tokens, "USING")
    if from_at < 0 or using_at < from_at:
        raise UsqlTranslationError(
            "EXTRACT", keyword.line, "needs '... FROM \"path\" USING Extractors.Csv()'"
        )
    columns = ", ".join(f"{literal(n)}: {literal(t)}" for n, t in _columns(tokens[:from_at], keyword))
    paths = [_path(part, state, keyword.line) for part in split_top(tokens[from_at + 1 : using_at])]
    fmt, args = _udo(tokens[using_at + 1 :], "Extractors", _IN_ARGS, keyword)
    quote = "'\"'" if _bool(args.get("quoting"), True) else "''"
    options = [
        f"delim = {literal(_text(args.get('delimiter'), _FORMATS[fmt]))}",
        f"header = {str(_bool(args.get('skipFirstLine'), False)).lower()}",
        f"quote = {quote}",
        f"escape = {quote}",
        f"columns = {{{columns}}}",
        "auto_detect = false",
        "allow_quoted_nulls = false",
        f"ignore_errors = {str(_bool(args.get('silent'), False)).lower()}",
    ]
    if "nullEscape" in args:
        options.append(f"nullstr = {literal(_text(args['nullEscape'], ''))}")
    source = literal(paths[0]) if len(paths) == 1 else "[" + ", ".join(map(literal, paths)) + "]"
    return f"SELECT * FROM read_csv({source}, {', '.join(options)})"


def _columns(tokens: list[Tok], keyword: Tok) -> list[tuple[str, str]]:
    """The EXTRACT schema ``name type, ...`` as (column name, DuckDB type) pairs."""
    columns = []
    if not tokens:
        raise UsqlTranslationError("EXTRACT", keyword.line, "needs at least one column ('EXTRACT name type')")
    generic = next((i for i, tok in enumerate(tokens) if tok.text == "<"), None)
    if generic:
        raise UsqlTranslationError(f"type {tokens[generic - 1].text}<...>", tokens[generic].line)
    for part in split_top(tokens):
        if len(part) < 2 or part[0].kind != "ident":
            where = part[0].line if part else keyword.line
            raise UsqlTranslationError("EXTRACT column list", where, "must read 'name type, name type, ...'")
        columns.append((part[0].text.strip("[]"), _type(part[1:])))
    return columns


def _type(tokens: list[Tok]) -> str:
    """A C# type (``int``, ``int?``, ``DateTime``, ``byte[]``) as a DuckDB type."""
    text = "".join(tok.text for tok in tokens)
    if text == "byte[]":
        return "BLOB"
    duck = USQL_TYPES.get(text.removesuffix("?"))
    if duck is None:
        raise UsqlTranslationError(
            f"type {text}", tokens[0].line, f"is not supported (use one of {', '.join(USQL_TYPES)})"
        )
    return duck


def _path(part: list[Tok], state: State, line: int) -> str:
    """A FROM/TO path: a string literal or a string variable; file sets only as ``{*}``."""
    value = _constant(part, state)
    if value is None:
        raise UsqlTranslationError(
            " ".join(t.text for t in part) or "path",
            part[0].line if part else line,
            "is not a path; write a string literal or a DECLAREd string variable",
        )
    value = value.replace("{*}", "*")
    pattern = re.search(r"\{[^}]*\}", value)
    if pattern:
        raise UsqlTranslationError(
            f"file set {pattern.group()}", part[0].line, "is not supported (only {*} is)"
        )
    return value


def _udo(tokens: list[Tok], family: str, allowed: set[str], keyword: Tok) -> tuple[str, dict[str, list[Tok]]]:
    """``Extractors.Csv(a: x, ...)`` into ('Csv', {'a': tokens}); user-defined ones raise."""
    line = tokens[0].line if tokens else keyword.line
    if tokens and tokens[0].text == "new":
        construct = f"USING new {tokens[1].text if len(tokens) > 1 else ''}"
        raise UsqlTranslationError(
            construct, line, "is not supported (no user-defined extractors or outputters)"
        )
    if (
        len(tokens) < 5
        or tokens[0].text != family
        or tokens[1].text != "."
        or tokens[3].text != "("
        or tokens[-1].text != ")"
        or tokens[2].text not in _FORMATS
    ):
        text = "".join(tok.text for tok in tokens[:4])
        raise UsqlTranslationError(
            f"USING {text}", line, f"is not supported (use {family}.Csv(), .Tsv() or .Text())"
        )
    fmt = tokens[2].text
    allowed = allowed | ({"delimiter"} if fmt == "Text" else set())
    return fmt, _named_args(tokens[4:-1], f"{family}.{fmt}", allowed, line)


def _named_args(tokens: list[Tok], where: str, allowed: set[str], line: int) -> dict[str, list[Tok]]:
    """Named arguments ``name: value, ...`` of a built-in extractor or outputter, checked."""
    args = {}
    for part in split_top(tokens):
        if len(part) < 3 or part[0].kind != "ident" or part[1].text != ":":
            raise UsqlTranslationError(
                f"{where} argument {''.join(t.text for t in part)}",
                part[0].line if part else line,
                "is not supported; pass named arguments such as skipFirstLine: true",
            )
        if part[0].text not in allowed:
            raise UsqlTranslationError(
                f"{where}({part[0].text}:)",
                part[0].line,
                f"is not supported (supported: {', '.join(sorted(allowed))})",
            )
        args[part[0].text] = part[2:]
    encoding = "".join(t.text for t in args.get("encoding", []))
    if encoding and encoding not in ("Encoding.UTF8", "Encoding.Default"):
        raise UsqlTranslationError(
            f"encoding: {encoding}", args["encoding"][0].line, "is not supported (only UTF-8)"
        )
    return args


def _output(stmt: list[Tok], state: State) -> str:
    """``OUTPUT @x|(SELECT ...) TO "path" [ORDER BY ...] USING Outputters.X(...)`` into ``COPY ... TO``."""
    head, to_at = stmt[0], find_top(stmt, "TO")
    source = stmt[1:to_at] if to_at > 1 else []
    rowset = len(source) == 1 and source[0].kind == "var"
    query_expr = (
        len(source) > 2 and source[0].text == "(" and source[-1].text == ")"
    )  # v1's sample writes these
    if to_at + 1 >= len(stmt) or not (rowset or query_expr):
        raise UsqlTranslationError(
            "OUTPUT", head.line, "must read 'OUTPUT @rowset TO \"path\" USING Outputters.Csv()'"
        )
    if rowset and source[0].text[1:] not in state.rowsets:
        raise UsqlTranslationError(
            f"OUTPUT {source[0].text}", head.line, "names no rowset assigned before it"
        )
    using_at = find_top(stmt, "USING")
    if using_at < 0:
        raise UsqlTranslationError("OUTPUT without USING", head.line)
    order_at = find_top(stmt[:using_at], "ORDER")
    path = _path(stmt[to_at + 1 : order_at if order_at > 0 else using_at], state, head.line)
    fmt, args = _udo(stmt[using_at + 1 :], "Outputters", _OUT_ARGS, head)
    query = f"SELECT * FROM {translate_expr(source, state)}"
    if order_at > 0:
        query += " " + translate_expr(stmt[order_at:using_at], state)
    options = [
        "FORMAT CSV",
        f"DELIMITER {literal(_text(args.get('delimiter'), _FORMATS[fmt]))}",
        f"HEADER {str(_bool(args.get('outputHeader'), False)).lower()}",
    ]
    if not _bool(args.get("quoting"), True):
        options.append("QUOTE ''")
    if "nullEscape" in args:
        options.append(f"NULLSTR {literal(_text(args['nullEscape'], ''))}")
    target = f"{literal(path)} ({', '.join(options)})"
    label = source[0].text if rowset else "(query)"
    return f"COPY  -- OUTPUT {label}, U-SQL line {head.line}\n({query}) TO {target}"


def _declare(stmt: list[Tok], state: State) -> None:
    """``DECLARE [EXTERNAL|CONST] @name type = value``: remember the value to inline later.

    A DECLARE EXTERNAL keeps a value declared before it, as in U-SQL, where a DECLARE placed
    ahead of the script overrides its EXTERNAL defaults.
    """
    at = 2 if len(stmt) > 1 and stmt[1].text in ("EXTERNAL", "CONST") else 1
    equals = find_top(stmt, "=")
    if len(stmt) <= at or stmt[at].kind != "var" or equals < at + 2 or equals == len(stmt) - 1:
        raise UsqlTranslationError("DECLARE", stmt[0].line, "must read 'DECLARE @name type = value;'")
    name, type_tokens, value = stmt[at].text, stmt[at + 1 : equals], stmt[equals + 1 :]
    _type(type_tokens)
    if name in state.variables:
        if stmt[1].text == "EXTERNAL":
            return
        raise UsqlTranslationError(f"DECLARE {name}", stmt[0].line, "declares a variable already declared")
    is_string = type_tokens[0].text in ("string", "char")
    constant = _constant(value, state) if is_string else None
    sql = literal(constant) if constant is not None else translate_expr(value, state)
    if constant is None and len(value) > 1:
        sql = f"({sql})"
    state.variables[name] = Var(sql, constant, is_string)


def _constant(tokens: list[Tok], state: State) -> str | None:
    """The value of a constant string expression (literals, string variables, ``+``), else None."""
    pieces = []
    for i, tok in enumerate(tokens):
        if i % 2 == 1:
            if tok.text != "+":
                return None
        elif tok.kind in ("string", "char"):
            pieces.append(decode(tok.text))
        elif (
            tok.kind == "var"
            and tok.text in state.variables
            and state.variables[tok.text].literal is not None
        ):
            pieces.append(state.variables[tok.text].literal or "")
        else:
            return None
    return "".join(pieces) if tokens and len(tokens) % 2 == 1 else None


def _bool(tokens: list[Tok] | None, default: bool) -> bool:
    """A ``true``/``false`` argument of an extractor or outputter."""
    if tokens is None:
        return default
    text = "".join(tok.text for tok in tokens)
    if text not in ("true", "false"):
        raise UsqlTranslationError(text, tokens[0].line, "is not a boolean (write true or false)")
    return text == "true"


def _text(tokens: list[Tok] | None, default: str) -> str:
    """A string or char argument of an extractor or outputter (``delimiter: '|'``)."""
    if tokens is None:
        return default
    if len(tokens) != 1 or tokens[0].kind not in ("string", "char"):
        text = "".join(tok.text for tok in tokens)
        raise UsqlTranslationError(text, tokens[0].line, "is not a string or char literal")
    return decode(tokens[0].text)
