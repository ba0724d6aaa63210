"""``partition_format``: the values of partition keys, read from each file's path.

``'/{userid}/{year}/{month}/{day}/*.csv'`` turns ``.../user7/2024/03/01/a.csv`` into
``{'userid': 'user7', 'year': '2024', 'month': '03', 'day': '01'}`` (strings, as in v1). One key
may carry a date format, ``{PartitionDate:yyyy/MM/dd}``, and becomes a datetime (parts: yyyy,
MM, dd, HH, mm, ss; yyyy is required). The format describes the *end* of the path: it is matched
against the tail of each file's path. ``*`` matches inside one path segment, ``**`` across
segments; ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = ["PartitionFormat", "parse_partition_format", "partition_layout"]

_DATE_PARTS = (("yyyy", 4), ("MM", 2), ("dd", 2), ("HH", 2), ("mm", 2), ("ss", 2))
_PART_NAMES = {"yyyy": "year", "MM": "month", "dd": "day", "HH": "hour", "mm": "minute", "ss": "second"}


@dataclass(frozen=True)
class PartitionFormat:
    """A parsed format: its keys in order, the date key (if any) and the regex over a path's tail."""

    text: str
    keys: tuple[str, ...]
    date_key: str | None
    regex: re.Pattern[str]
    groups: tuple[tuple[str, str], ...]  # (regex group, key or date part)

    def values(self, path: str) -> dict[str, Any] | None:
        """The partition values of one file's path, or None when the path does not fit the format."""
        match = self.regex.search(path)
        if match is None:
            return None
        out: dict[str, Any] = {}
        date: dict[str, int] = {}
        for group, target in self.groups:
            if target.startswith("date:"):
                date[_PART_NAMES[target[5:]]] = int(match.group(group))
            else:
                out[target] = match.group(group)
        if self.date_key is not None:
            out[self.date_key] = dt.datetime(
                date["year"], date.get("month", 1), date.get("day", 1),
                date.get("hour", 0), date.get("minute", 0), date.get("second", 0),
            )  # fmt: skip
        return {key: out[key] for key in self.keys}


def _bad(text: str, why: str) -> UserErrorException:
    return UserErrorException(
        f"Invalid partition_format {text!r}: {why} Example: '/{{userid}}/{{PartitionDate:yyyy/MM/dd}}/*.csv'."
    )


class _Builder:
    """Turns the format into a regex, one piece at a time."""

    def __init__(self, text: str):
        self.text, self.pattern, self.keys = text, "", []
        self.groups: list[tuple[str, str]] = []
        self.seen: dict[str, str] = {}
        self.date_key: str | None = None

    def key(self, body: str) -> None:
        name, colon, date_format = body.partition(":")
        if not name.strip():
            raise _bad(self.text, "a '{}' part has no column name.")
        if not colon:
            if name in self.seen:  # the same key twice must hold the same value
                self.pattern += f"(?P={self.seen[name]})"
                return
            group = f"k{len(self.groups)}"
            self.seen[name] = group
            self.keys.append(name)
            self.groups.append((group, name))
            self.pattern += f"(?P<{group}>[^/]+)"
            return
        if self.date_key is not None:
            raise _bad(self.text, "only one part may have a date format.")
        if not date_format:
            raise _bad(self.text, f"the date part {{{body}}} has no date format after ':'.")
        self.date_key = name
        self.keys.append(name)
        self._date(date_format)

    def _date(self, date_format: str) -> None:
        i, found = 0, set()
        while i < len(date_format):
            part = next((p for p in _DATE_PARTS if date_format.startswith(p[0], i)), None)
            if part is None or part[0] in found:
                self.pattern += re.escape(date_format[i])
                i += 1
                continue
            found.add(part[0])
            group = f"d{part[0]}"
            self.groups.append((group, f"date:{part[0]}"))
            self.pattern += rf"(?P<{group}>\d{{{part[1]}}})"
            i += len(part[0])
        if "yyyy" not in found:
            raise _bad(self.text, "a date format needs 'yyyy'.")

    def literal(self, i: int) -> int:
        text = self.text
        if text.startswith("**", i):
            self.pattern += ".*"
            return i + 2
        if text[i] == "*":
            self.pattern += "[^/]*"
        elif text[i] == "}":
            raise _bad(self.text, "a '}' has no matching '{' (write '}}' for a literal brace).")
        else:
            self.pattern += re.escape(text[i])
        return i + 1


@functools.lru_cache(maxsize=64)
def parse_partition_format(text: str) -> PartitionFormat:
    """Parse and validate a v1 partition_format."""
    if not isinstance(text, str) or not text:
        raise _bad(str(text), "it must be a non-empty string.")
    build, i = _Builder(text), 0
    while i < len(text):
        if text.startswith("{{", i) or text.startswith("}}", i):
            build.pattern += re.escape(text[i])
            i += 2
        elif text[i] == "{":
            close = text.find("}", i + 1)
            if close < 0 or "{" in text[i + 1 : close]:
                raise _bad(text, "braces must come in pairs and cannot be nested.")
            build.key(text[i + 1 : close])
            i = close + 1
        else:
            i = build.literal(i)
    if not build.keys:
        raise _bad(text, "it names no partition key in braces.")
    regex = re.compile(build.pattern + "$")
    return PartitionFormat(text, tuple(build.keys), build.date_key, regex, tuple(build.groups))


def partition_layout(keys: list[str], date_keys: set[str]) -> tuple[str, str]:
    """(partition_format, glob) of the folders ``partition_by`` writes: one level per key, then files.

    A datetime key's folder is its value as yyyyMMddHHmmss, read back as a datetime.
    """
    parts = [f"{{{k}:yyyyMMddHHmmss}}" if k in date_keys else f"{{{k}}}" for k in keys]
    return "/" + "/".join(parts) + "/*.parquet", "/".join("*" for _ in keys) + "/*.parquet"
