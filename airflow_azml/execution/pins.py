"""The package-index side of environment builds: what the worker already has, pins that cannot
install on its Python, and the index settings and errors of the installer.

Pinned packages that cannot install on the worker's Python are found before anything is built.

v1's curated images ran Python 3.8, so v1 environments pin versions that only ever shipped
wheels for old Pythons (``scikit-learn==0.22.2``, ``numpy==1.19.5``). On a newer worker such a
pin either fails after minutes of compiling its source or not at all. Before building an
environment, every ``name==version`` pin is looked up on the package index (PEP 691 JSON):
a version whose files all require another Python, or that ships compiled wheels but none for
this interpreter, fails the build at once with the package, the pin, the Python and the
nearest version that does install here. A pure source-only package passes (it builds
anywhere). An index that cannot be reached or speaks no JSON skips the check (the installer
then reports what it finds).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import urllib.request
from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = [
    "check_pins",
    "index_url",
    "nearest_installable",
    "satisfied_by_worker",
    "installer_env",
    "uv_index_flags",
    "unreachable_hint",
]

_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.\-]*)(\[[^\]]*\])?\s*===?\s*([A-Za-z0-9_.+!\-]+)\s*(;.*)?")
_JSON = "application/vnd.pypi.simple.v1+json"


def index_url() -> str:
    """The index the environment build installs from (uv's, then pip's setting, else PyPI)."""
    for key in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if os.environ.get(key):
            return os.environ[key].rstrip("/")
    return "https://pypi.org/simple"


def _files(name: str, timeout: float = 15) -> list[dict[str, Any]] | None:
    """The index's files of ``name`` (PEP 691), or None when the index cannot tell."""
    from packaging.utils import canonicalize_name

    url = f"{index_url()}/{canonicalize_name(name)}/"
    request = urllib.request.Request(url, headers={"Accept": _JSON})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - the configured index
            if _JSON not in resp.headers.get("Content-Type", ""):
                return None
            return list(json.load(resp).get("files", []))
    except (OSError, ValueError):
        return None


def _releases(files: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    """Files grouped by version (unparseable names skipped)."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    out: dict[Any, list[dict[str, Any]]] = {}
    for entry in files:
        filename = entry.get("filename", "")
        try:
            if filename.endswith(".whl"):
                _, version, _, tags = parse_wheel_filename(filename)
            else:
                version, tags = parse_sdist_filename(filename)[1], None
        except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
            continue
        out.setdefault(version, []).append({**entry, "tags": tags})
    return out


def _why_not(files: list[dict[str, Any]]) -> str | None:
    """Why a release cannot install here, or None when it can."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    files = [f for f in files if not f.get("yanked")]
    if not files:
        return "every file of it is yanked"
    here = platform.python_version()
    allowed = []
    for f in files:
        try:
            allowed.append(f if SpecifierSet(f.get("requires-python") or "").contains(here) else None)
        except InvalidSpecifier:
            allowed.append(f)
    usable = [f for f in allowed if f is not None]
    if not usable:
        return f"it requires Python {files[0].get('requires-python')}"
    wheels = [f for f in usable if f["tags"] is not None]
    if not wheels:
        return None  # source only: a pure package, it builds anywhere
    supported = _supported_tags()
    if any(supported & set(f["tags"]) for f in wheels):
        return None
    pythons = sorted({t.interpreter for f in wheels for t in f["tags"]})
    return f"it has no build for this Python (its wheels are for {', '.join(pythons)})"


@functools.cache
def _supported_tags() -> frozenset[Any]:
    from packaging.tags import sys_tags

    return frozenset(sys_tags())


def nearest_installable(files: list[dict[str, Any]], pinned: str) -> str | None:
    """The release closest to ``pinned`` that installs here: the lowest newer one, else the highest older."""
    from packaging.version import InvalidVersion, Version

    try:
        want = Version(pinned)
    except InvalidVersion:
        return None
    good = sorted(v for v, fs in _releases(files).items() if not v.is_prerelease and _why_not(fs) is None)
    newer = [v for v in good if v > want]
    older = [v for v in good if v < want]
    return str(newer[0]) if newer else (str(older[-1]) if older else None)


def _problem(line: str, origin: str, name: str, version: str, log: Any) -> str | None:
    from packaging.version import InvalidVersion, Version

    files = _files(name)
    if files is None:
        if log is not None:
            log.info(
                "Pin %r not checked: the package index %s gave no JSON listing for it.", line, index_url()
            )
        return None
    try:
        releases = _releases(files)
        found = releases.get(Version(version))
    except InvalidVersion:
        return None
    reason = f"the index has no version {version}" if found is None else _why_not(found)
    if reason is None:
        return None
    nearest = nearest_installable(files, version)
    hint = (
        f"the nearest version that installs here is {name}=={nearest}"
        if nearest
        else "no version installs here"
    )
    return f"{line!r} (from {origin}): {reason}; {hint}"


def check_pins(reqs: Any, step: str, log: Any = None) -> None:
    """Fail when a ``name==version`` pin of ``reqs`` cannot install on this Python (see module doc)."""
    if _truthy(os.environ.get("PIP_NO_INDEX")) or _truthy(os.environ.get("UV_OFFLINE")):
        return  # no index to ask: the installer reports what its sources lack
    problems = []
    for line in reqs.lines:
        match = _PIN.fullmatch(line.strip())
        if match and not match.group(4):
            problem = _problem(line, reqs.origin.get(line, "?"), match.group(1), match.group(3), log)
            problems += [problem] if problem else []
    if not problems:
        return
    raise UserErrorException(
        f"Step {step!r}: its environment cannot be built on this worker's Python {platform.python_version()}: "
        + "; ".join(problems)
        + ". v1's images ran Python 3.8, where these pins installed; change them in the step's environment "
        "(pip_packages, conda_packages or the requirements file) to a version that supports this Python."
    )


#: pip's index settings and uv's names for them: a worker set up for pip builds from the same index
#: (PIP_NO_INDEX, which uv reads from no variable, becomes --no-index)
_PIP_TO_UV = {
    "PIP_INDEX_URL": "UV_INDEX_URL",
    "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS": "UV_FIND_LINKS",
    "PIP_TRUSTED_HOST": "UV_INSECURE_HOST",
}


def _truthy(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def installer_env() -> dict[str, str]:
    """The worker's environment, with pip's index settings given to uv where uv has none of its own."""
    env = dict(os.environ)
    for pip_key, uv_key in _PIP_TO_UV.items():
        if env.get(pip_key) and not env.get(uv_key):
            env[uv_key] = env[pip_key]
    return env


_UNREACHABLE = ("tunnel error", "error sending request", "ProxyError", "Failed to establish a new connection")


def unreachable_hint(output: str) -> str | None:
    """What to do when the installer could not reach the package index at all."""
    if not any(marker in output for marker in _UNREACHABLE):
        return None
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    via = f" through the proxy {proxy} (HTTPS_PROXY)" if proxy else ""
    return (
        f"the package index {index_url()} could not be reached{via}. Let the workers reach it (the proxy must "
        "allow it, or NO_PROXY name it), or point UV_INDEX_URL / PIP_INDEX_URL at a package mirror they can reach"
    )


def uv_index_flags() -> list[str]:
    """uv flags for pip settings uv reads from no variable (PIP_NO_INDEX)."""
    return ["--no-index"] if _truthy(os.environ.get("PIP_NO_INDEX")) else []


def satisfied_by_worker(lines: list[str]) -> list[str] | None:
    """The installed versions (``pandas 2.2.3``) when the worker's own Python already satisfies every
    requirement line, else None: such a step needs no environment of its own (nor the network)."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement

    found = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            return None  # -r files, URLs, options: leave them to the installer
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            have = version(req.name)
        except PackageNotFoundError:
            return None
        if req.extras or req.url or not req.specifier.contains(have, prereleases=True):
            return None
        found.append(f"{req.name} {have}")
    return found
