"""Tokens and expressions of U-SQL, for the translator in :mod:`.usql`.

U-SQL expressions are C# expressions; the translator rewrites the ones that have a plain SQL
meaning (``==``, ``&&``, ``||``, ``!``, ``== null``, ``+`` on strings, string literals) and
raises :class:`UsqlTranslationError` for the C# that has none (method calls, casts, ``?:``,
``new``), so a script either translates faithfully or says where it cannot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from airflow_azml.runtime.sql.errors import UsqlTranslationError

__all__ = [
    "USQL_TYPES",
    "State",
    "Tok",
    "Var",
    "decode",
    "find_top",
    "ident",
    "literal",
    "number",
    "split_at_semicolons",
    "split_top",
    "tokenize",
    "translate_expr",
]

#: C# column and variable types of U-SQL, and the DuckDB type each one becomes.
USQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "char": "VARCHAR",
    "bool": "BOOLEAN",
    "byte": "UTINYINT",
    "sbyte": "TINYINT",
    "short": "SMALLINT",
    "ushort": "USMALLINT",
    "int": "INTEGER",
    "uint": "UINTEGER",
    "long": "BIGINT",
    "ulong": "UBIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "decimal": "DECIMAL(38, 10)",
    "DateTime": "TIMESTAMP",
    "Guid": "UUID",
}

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<comment>--[^\n]*|//[^\n]*|/\*.*?\*/)
    |(?P<string>@"(?:[^"]|"")*"|"(?:[^"\\\n]|\\.)*")
    |(?P<char>'(?:[^'\\\n]|\\.)*')
    |(?P<var>@@\w+@@|@@?\w+)
    |(?P<ident>\[[A-Za-z_][^\]\n]*\]|[A-Za-z_]\w*)
    |(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[A-Za-z]*)
    |(?P<op>==|!=|<=|>=|<>|&&|\|\||=>|\?\?|::|[-+*/%<>=!?:.,;()\[\]{}&|^~])""",
    re.VERBOSE | re.DOTALL,
)
_NUMBER = re.compile(r"(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)[uUlLmMfFdD]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
_UDO = {"PROCESS", "REDUCE", "COMBINE", "APPLY", "EXPLODE", "PRESORT", "READONLY", "REQUIRED"}
_AGGREGATES = {"STDEV": "stddev_samp", "VAR": "var_samp"}


class Tok(NamedTuple):
    """One U-SQL token: its kind (a group name of ``_TOKEN``), text and 1-based line."""

    kind: str
    text: str
    line: int


@dataclass
class Var:
    """A DECLAREd variable: the SQL inlined where it is used, and its value if a string literal."""

    sql: str
    literal: str | None
    is_string: bool


@dataclass
class State:
    """What earlier statements defined: variables and rowsets (with their view names)."""

    variables: dict[str, Var] = field(default_factory=dict)
    rowsets: dict[str, str] = field(default_factory=dict)

    def bind_rowset(self, name: str) -> str:
        """Give rowset ``name`` a fresh view name, so reassigning it never makes a view cycle."""
        taken = set(self.rowsets.values())
        view, n = name, 1
        while view in taken:
            n += 1
            view = f"{name}_{n}"
        self.rowsets[name] = view
        return view


def tokenize(script: str) -> list[Tok]:
    """Split U-SQL into tokens, dropping whitespace and comments, keeping line numbers."""
    tokens, pos, line = [], 0, 1
    while pos < len(script):
        match = _TOKEN.match(script, pos)
        if match is None:
            raise UsqlTranslationError(script[pos], line, "is not a character U-SQL text can hold here")
        kind, text = match.lastgroup or "", match.group()
        if kind not in ("ws", "comment"):
            tokens.append(Tok(kind, text, line))
        line += text.count("\n")
        pos = match.end()
    return tokens


def split_at_semicolons(tokens: list[Tok]) -> list[list[Tok]]:
    """Cut the token list at semicolons; a last statement without one is accepted."""
    statements: list[list[Tok]] = [[]]
    for tok in tokens:
        if tok.text == ";":
            statements.append([])
        else:
            statements[-1].append(tok)
    return [stmt for stmt in statements if stmt]


def translate_expr(tokens: list[Tok], state: State) -> str:
    """Translate a SELECT, an ORDER BY or a value token by token into DuckDB SQL."""
    parts: list[tuple[str, int]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind in ("string", "char"):
            sql, used = literal(decode(tok.text)), 1
        elif tok.kind == "number":
            sql, used = number(tok), 1
        elif tok.kind == "var":
            sql, used = _var(tok, state), 1
        elif tok.kind == "ident":
            sql, used = _word(tokens, i)
        else:
            sql, used = _operator(tokens, i, state)
        parts.append((sql, tok.line))
        i += used
    return _join(parts)


def number(tok: Tok) -> str:
    """A numeric literal without its C# suffix (``10L``, ``1.5m``, ``2f``)."""
    match = _NUMBER.fullmatch(tok.text)
    if match is None:
        raise UsqlTranslationError(tok.text, tok.line, "is not a supported numeric literal")
    return match.group(1)


def _var(tok: Tok, state: State) -> str:
    """A rowset reference (its view) or a DECLAREd variable (its value, inlined)."""
    if tok.text.startswith("@@"):
        raise UsqlTranslationError(
            tok.text, tok.line, "is not supported (a system variable or an unreplaced placeholder)"
        )
    if tok.text[1:] in state.rowsets:
        return ident(state.rowsets[tok.text[1:]])
    if tok.text in state.variables:
        return state.variables[tok.text].sql
    raise UsqlTranslationError(tok.text, tok.line, "is used before it is assigned or DECLAREd")


def _word(tokens: list[Tok], i: int) -> tuple[str, int]:
    """A keyword, function name or identifier; C# code and user-defined operators raise."""
    tok = tokens[i]
    nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
    after_as = i > 0 and tokens[i - 1].text == "AS"
    text = tok.text
    if text.startswith("["):
        return ident(text[1:-1]), 1
    if text in _UDO or (text in ("CROSS", "OUTER") and nxt == "APPLY"):
        construct = f"{text} APPLY" if nxt == "APPLY" else text
        raise UsqlTranslationError(
            construct,
            tok.line,
            "is not supported (APPLY, EXPLODE and user-defined operators have no translation)",
        )
    if text == "new":
        raise UsqlTranslationError(f"new {nxt}", tok.line, "is not supported (C# object creation)")
    if text == "FETCH":
        return _fetch(tokens, i)
    if nxt == "(" and not after_as:
        if text in _AGGREGATES:
            return _AGGREGATES[text], 1
        if not text.isupper():
            raise UsqlTranslationError(
                f"{text}(...)",
                tok.line,
                "is not supported (C# or user-defined function; built-ins are upper case)",
            )
        return text, 1
    if text in ("true", "false", "null"):
        return text.upper(), 1
    return (text, 1) if text.isupper() else (ident(text), 1)


def _fetch(tokens: list[Tok], i: int) -> tuple[str, int]:
    """U-SQL ``FETCH [FIRST|NEXT] n [ROW|ROWS] [ONLY]`` into ``LIMIT n``."""
    j = i + 1
    if j < len(tokens) and tokens[j].text in ("FIRST", "NEXT"):
        j += 1
    if j >= len(tokens) or tokens[j].kind != "number":
        raise UsqlTranslationError("FETCH", tokens[i].line, "must read 'FETCH n ROWS'")
    count = number(tokens[j])
    j += 1
    for optional in (("ROW", "ROWS"), ("ONLY",)):
        if j < len(tokens) and tokens[j].text in optional:
            j += 1
    return f"LIMIT {count}", j - i


def _operator(tokens: list[Tok], i: int, state: State) -> tuple[str, int]:
    """C# operators into SQL ones (``==`` ``&&`` ``||`` ``!``, ``== null``, ``+`` on strings)."""
    tok = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    text = tok.text
    if text in ("==", "!=") and nxt is not None and nxt.text == "null":
        return ("IS NULL" if text == "==" else "IS NOT NULL"), 2
    if text in ("==", "&&", "||", "!"):
        return {"==": "=", "&&": "AND", "||": "OR", "!": "NOT"}[text], 1
    if text == "+" and (_is_string(tokens[i - 1] if i else None, state) or _is_string(nxt, state)):
        return "||", 1
    if text == "." and nxt is not None and i + 2 < len(tokens) and tokens[i + 2].text == "(":
        before = tokens[i - 1].text if i else ""
        raise UsqlTranslationError(f"{before}.{nxt.text}(...)", tok.line, "is not supported (C# method call)")
    if text == "(" and _is_cast(tokens, i):
        raise UsqlTranslationError(f"({tokens[i + 1].text}) cast", tok.line, "is not supported (C# cast)")
    if text in ("?", "??", ":", "=>", "::", "[", "]", "{", "}", "^"):
        raise UsqlTranslationError(text, tok.line, "is not supported (C# operator)")
    return text, 1


def _is_string(tok: Tok | None, state: State) -> bool:
    """Whether a token is a string literal or a string variable (then ``+`` concatenates)."""
    if tok is None:
        return False
    if tok.kind in ("string", "char"):
        return True
    return tok.kind == "var" and tok.text in state.variables and state.variables[tok.text].is_string


def _is_cast(tokens: list[Tok], i: int) -> bool:
    """Whether ``(`` at ``i`` opens a C# cast such as ``(int?) x``."""
    j = i + 1
    if j >= len(tokens) or tokens[j].text not in USQL_TYPES:
        return False
    j += 1
    if j < len(tokens) and tokens[j].text == "?":
        j += 1
    if j + 1 >= len(tokens) or tokens[j].text != ")":
        return False
    following = tokens[j + 1]
    return following.kind in ("ident", "var", "number", "string", "char") or following.text == "("


def find_top(tokens: list[Tok], text: str) -> int:
    """Index of the first token ``text`` outside parentheses, or -1."""
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.text == text and depth == 0 and tok.kind in ("ident", "op"):
            return i
        depth += {"(": 1, ")": -1}.get(tok.text, 0)
    return -1


def split_top(tokens: list[Tok]) -> list[list[Tok]]:
    """Split at commas outside parentheses; no tokens give no parts."""
    if not tokens:
        return []
    parts: list[list[Tok]] = [[]]
    depth = 0
    for tok in tokens:
        if tok.text == "," and depth == 0:
            parts.append([])
            continue
        depth += {"(": 1, ")": -1}.get(tok.text, 0)
        parts[-1].append(tok)
    return parts


def _join(parts: list[tuple[str, int]]) -> str:
    """Glue translated tokens back into text, keeping the script's line breaks."""
    out: list[str] = []
    prev_text, prev_line = "", 0
    for text, line in parts:
        if out:
            if line > prev_line:
                out.append("\n")
            elif text not in (",", ")", ".") and prev_text not in ("(", "."):
                out.append(" ")
        out.append(text)
        prev_text, prev_line = text, line
    return "".join(out)


def decode(text: str) -> str:
    """The value of a C# string or char literal (regular or verbatim ``@"..."``)."""
    if text.startswith('@"'):
        return text[2:-1].replace('""', '"')

    def unescape(match: re.Match[str]) -> str:
        code = match.group(1)
        return chr(int(code[1:], 16)) if len(code) == 5 else _ESCAPES.get(code, code)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", unescape, text[1:-1])


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier (case kept, reserved words allowed)."""
    return '"' + name.replace('"', '""') + '"'
