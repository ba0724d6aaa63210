"""Step environments: one virtual environment per distinct requirement set, built once, reused.

A step that asks for packages (``pip_packages``, a requirements file, an Environment's or a
RunConfiguration's CondaDependencies) runs with the Python of a virtual environment cached
under ``$AZML_HOME/envs/<hash>``. The hash covers the worker's interpreter and the normalized
requirements, so equal requests share one environment. Building happens under an fcntl lock
so concurrent steps on one worker never race; the ready marker is written last, so a later
run finds a complete environment with one ``stat``. The worker's own site-packages are
appended to the environment's path (a ``.pth`` file), so ``airflow_azml`` — the step runtime
behind ``Run.get_context()`` — imports inside it while the step's own pins take precedence.

conda packages are installed with pip under the same names (said in the step log); a
Docker base image is noted in the log and the step runs in the worker's environment.
``azureml-*`` packages (``azureml-core``, ``azureml-defaults``, ``azureml-dataset-runtime[...]``,
pinned or not: every v1 sample lists them) are never installed: airflow-azml is what provides
the ``azureml`` modules in a step, so they are dropped with a note. Requirements the worker's
own Python already satisfies build nothing; pins that cannot install on it fail before anything
is built (``pins.py``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import site
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_azml.core._home import azml_home
from airflow_azml.exceptions import UserErrorException
from airflow_azml.execution.pins import (
    check_pins,
    installer_env,
    satisfied_by_worker,
    unreachable_hint,
    uv_index_flags,
)

__all__ = [
    "Requirements",
    "EnvironmentCache",
    "interpreter_for",
    "resolve_command",
    "requirements_from_spec",
    "conda_to_pip",
    "find_uv",
    "is_azureml_package",
    "ENV_FORMAT",
]

ENV_FORMAT = 1
READY = ".azml-ready.json"
_SKIP_CONDA = {"python", "pip", "setuptools", "wheel"}
_NOT_FOUND = (
    re.compile(r"Because ([A-Za-z0-9_.\-\[\]]+) was not found in the package registry"),
    re.compile(r"Because there is no version of ([A-Za-z0-9_.\-]+)"),
    re.compile(r"No matching distribution found for ([A-Za-z0-9_.\-]+)"),
    re.compile(r"Could not find a version that satisfies the requirement ([A-Za-z0-9_.\-]+)"),
)


@dataclass
class Requirements:
    """What a step asks to have installed, normalized; ``origin`` says where each line came from."""

    lines: list[str] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, line: str, origin: str) -> None:
        line = line.strip()
        if is_azureml_package(line):
            self.notes.append(
                f"{line!r} ({origin}) is not installed: airflow-azml provides the azureml modules in every step."
            )
            return
        if line and line not in self.origin:
            self.lines.append(line)
            self.origin[line] = origin

    def key(self) -> str:
        """Hash of interpreter + requirements: equal requests share one environment."""
        data = {
            "format": ENV_FORMAT,
            "prefix": sys.prefix,
            "version": sys.version,
            "reqs": sorted(self.lines),
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def is_azureml_package(requirement: str) -> bool:
    """True for an Azure ML SDK v1 package (``azureml-core==1.48``, ``azureml-dataset-runtime[fuse]``...)."""
    name = re.split(r"[<>=!~\s\[;@]", requirement.strip(), maxsplit=1)[0]
    return _norm(name) == "azureml" or _norm(name).startswith("azureml-")


def conda_to_pip(package: str) -> str | None:
    """A conda spec as a pip requirement (``numpy=1.26`` -> ``numpy==1.26``); None for python/pip."""
    spec = package.strip().split("::")[-1]
    if " " in spec and not re.search(r"[<>=!]", spec):
        name, _, version = spec.partition(" ")
        spec = f"{name}=={version.strip()}"
    name = re.split(r"[<>=!~\s\[]", spec, maxsplit=1)[0]
    if not name or name.lower() in _SKIP_CONDA:
        return None
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)=([^=<>!]+?)(=[^=]+)?", spec)
    if match:
        return f"{match.group(1)}=={match.group(2)}"
    return spec.replace(" ", "")


def _requirement_file(path: Path, reqs: Requirements, step: str, seen: set[Path]) -> None:
    """Lines of a requirements file (and the files it ``-r``-includes)."""
    if path in seen:
        return
    seen.add(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserErrorException(
            f"Step {step!r}: cannot read the pip requirements file {str(path)!r} ({exc}). Check "
            "pip_requirements_file: relative paths are resolved against the step's source_directory."
        ) from exc
    for raw in text.splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            _requirement_file((path.parent / line.split(None, 1)[1]).resolve(), reqs, step, seen)
        else:
            reqs.add(line, f"requirements file {path.name}")


def requirements_from_spec(spec: dict[str, Any] | None, step: str) -> Requirements:
    """The requirement set of a step's ``environment`` plan entry (pip, conda, -r files)."""
    reqs = Requirements()
    spec = spec or {}
    for line in spec.get("pip") or []:
        text = str(line).strip()
        if text.startswith(("-r ", "--requirement ")):
            _requirement_file(Path(text.split(None, 1)[1]).expanduser().resolve(), reqs, step, set())
        else:
            reqs.add(text, "pip_packages")
    for package in spec.get("conda") or []:
        if is_azureml_package(str(package)):
            reqs.add(str(package), "conda_packages")
            continue
        pip_name = conda_to_pip(str(package))
        if pip_name is None:
            reqs.notes.append(f"conda package {package!r} skipped: the worker's Python and pip are used.")
            continue
        reqs.add(pip_name, f"conda_packages ({package})")
        reqs.notes.append(f"conda package {package!r} is installed with pip as {pip_name!r} (no conda here).")
    return reqs


def find_uv() -> str | None:
    """The ``uv`` binary: next to this interpreter, next to its base interpreter, or on PATH."""
    for folder in (Path(sys.executable).parent, Path(sys.base_prefix) / "bin", Path(sys.prefix) / "bin"):
        candidate = folder / "uv"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("uv")


def _parent_site_dirs() -> list[str]:
    dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
    user = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    return dirs + ([user] if user and Path(user).is_dir() else [])


class EnvironmentCache:
    """Virtual environments under ``root`` (default ``$AZML_HOME/envs``), one per requirement set."""

    def __init__(self, root: Path | None = None, log: Any = None):
        self.root = Path(root) if root is not None else azml_home() / "envs"
        self.log = log

    def _info(self, msg: str, *args: Any) -> None:
        if self.log is not None:
            self.log.info(msg, *args)

    def path_for(self, reqs: Requirements) -> Path:
        return self.root / reqs.key()

    def ensure(self, reqs: Requirements, step: str) -> Path:
        """The environment's folder, building it first if no complete one exists."""
        env_dir = self.path_for(reqs)
        if (env_dir / READY).is_file():
            self._info("Environment %s reused (cache hit; %d requirement(s)).", env_dir, len(reqs.lines))
            return env_dir
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{env_dir.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (env_dir / READY).is_file():
                self._info("Environment %s reused (built meanwhile by another step).", env_dir)
                return env_dir
            self._build(env_dir, reqs, step)
        return env_dir

    def _build(self, env_dir: Path, reqs: Requirements, step: str) -> None:
        started = time.time()
        shutil.rmtree(env_dir, ignore_errors=True)
        uv = find_uv()
        self._info(
            "Building environment %s for step %r with %s: %s",
            env_dir,
            step,
            "uv" if uv else "venv+pip",
            ", ".join(reqs.lines),
        )
        check_pins(reqs, step, self.log)
        req_file = env_dir.parent / f".{env_dir.name}.requirements.txt"
        req_file.write_text("\n".join(reqs.lines) + "\n")
        try:
            self._create_venv(env_dir, uv)
            self._link_parent(env_dir)
            self._install(env_dir, req_file, uv, reqs, step)
        except BaseException:
            shutil.rmtree(env_dir, ignore_errors=True)
            raise
        shutil.move(req_file, env_dir / "requirements.txt")
        duration = round(time.time() - started, 3)
        record = {
            "key": env_dir.name,
            "requirements": reqs.lines,
            "built_at": time.time(),
            "duration": duration,
            "tool": "uv" if uv else "pip",
            "pid": os.getpid(),
            "step": step,
        }
        with open(self.root / "builds.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        (env_dir / READY).write_text(json.dumps(record))
        self._info("Environment %s built in %.1f s.", env_dir, duration)

    @staticmethod
    def _create_venv(env_dir: Path, uv: str | None) -> None:
        if uv:
            argv = [uv, "venv", "--quiet", "--python", sys.executable, str(env_dir)]
        else:
            argv = [sys.executable, "-m", "venv", str(env_dir)]
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            raise UserErrorException(
                f"Could not create the virtual environment {env_dir}: {proc.stderr[-2000:]}"
            )

    @staticmethod
    def _link_parent(env_dir: Path) -> None:
        """Append the worker's site-packages (after the environment's own) so airflow_azml imports."""
        found = list(env_dir.glob("lib/python*/site-packages"))
        if not found:
            raise UserErrorException(f"The virtual environment {env_dir} has no site-packages folder.")
        lines = [f"import site; site.addsitedir({d!r})" for d in _parent_site_dirs()]
        (found[0] / "_azml_worker_site.pth").write_text("\n".join(lines) + "\n")

    def _install(self, env_dir: Path, req_file: Path, uv: str | None, reqs: Requirements, step: str) -> None:
        python = str(env_dir / "bin" / "python")
        if uv:
            argv = [uv, "pip", "install", "--python", python, "-r", str(req_file)]
            argv += uv_index_flags()
        else:
            argv = [python, "-m", "pip", "install", "--disable-pip-version-check", "-r", str(req_file)]
        proc = subprocess.run(argv, capture_output=True, text=True, env=installer_env() if uv else None)
        (env_dir / "build.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise UserErrorException(_install_error(step, reqs, proc.stdout + proc.stderr))
        self._info("%s", (proc.stdout + proc.stderr).strip()[-2000:])


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _install_error(step: str, reqs: Requirements, output: str) -> str:
    """A sentence naming the package pip could not find, where it was asked for, and what to do."""
    flat = " ".join(output.split())  # installers wrap long lines
    missing = [m.group(1) for pattern in _NOT_FOUND for m in pattern.finditer(flat)]
    named = []
    for name in dict.fromkeys(missing):
        base = _norm(re.split(r"[<>=!~\[]", name, maxsplit=1)[0])
        where = [
            f"{line!r} from {reqs.origin[line]}"
            for line in reqs.lines
            if _norm(re.split(r"[<>=!~\s\[;@]", line, maxsplit=1)[0]) == base
        ]
        named.append(f"package {name!r}" + (f" (requested as {', '.join(where)})" if where else ""))
    what = unreachable_hint(output) or (
        f"{'; '.join(named)} not found by pip on the configured package index"
        if named
        else "pip could not install the requirements"
    )
    return (
        f"Step {step!r}: could not build its Python environment: {what}. Check the package names and versions "
        "(conda package names are installed with pip under the same name; rename those that differ on PyPI)."
        f"\n--- installer output ---\n{output.strip()[-3000:]}"
    )


def _image_notes(spec: dict[str, Any], step: str, log: Any) -> None:
    """Say what a step asked for that this deployment does not run: an image, a Dockerfile, a curated environment."""
    if log is None:
        return
    image = spec.get("docker_image")
    if image:
        log.warning(
            "Step %r asks for the Docker image %r: it runs in the worker's Python environment instead (plus any "
            "packages it asks for), because no compute target in this deployment runs containers.",
            step,
            image,
        )
    if spec.get("dockerfile"):
        log.warning(
            "Step %r: its environment is built from a Dockerfile; the Dockerfile is recorded with the environment "
            "but not built (no container runtime is configured), so the step runs in the worker's Python.",
            step,
        )
    if spec.get("curated"):
        log.info(
            "Step %r uses the curated environment %r: it runs in the worker's Python %s (%s), with the packages "
            "installed there (and any the environment lists).",
            step,
            spec["curated"],
            platform.python_version(),
            sys.executable,
        )


def interpreter_for(step: dict[str, Any], log: Any = None, cache: EnvironmentCache | None = None) -> str:
    """The Python a step runs with: the worker's own, or its cached environment's when it asks for packages."""
    spec = step.get("environment") or {}
    _image_notes(spec, step.get("name", "?"), log)
    reqs = requirements_from_spec(spec, step.get("name", "?"))
    for note in reqs.notes:
        if log is not None:
            log.info("Step %r: %s", step.get("name"), note)
    if not reqs.lines:
        return sys.executable
    installed = satisfied_by_worker(reqs.lines)
    if installed is not None:
        if log is not None:
            log.info(
                "Step %r: the worker's Python already has %s: no environment built.",
                step.get("name"),
                ", ".join(installed),
            )
        return sys.executable
    env_dir = (cache or EnvironmentCache(log=log)).ensure(reqs, step.get("name", "?"))
    return str(env_dir / "bin" / "python")


def resolve_command(argv: list[str], cwd: Path, env: dict[str, str], step: str) -> list[str]:
    """A CommandStep's argv with its program checked: on the step's PATH or a file in source_directory."""
    if not argv:
        raise UserErrorException(f"CommandStep {step!r} has an empty command.")
    program = argv[0]
    if "/" in program:
        if not (cwd / program).is_file():
            raise UserErrorException(f"CommandStep {step!r}: {program!r} is not a file in {str(cwd)!r}.")
        return argv
    if shutil.which(program, path=env.get("PATH")) is None:
        raise UserErrorException(
            f"CommandStep {step!r}: program {program!r} not found on the step's PATH. Install it on the worker, "
            "add it to the step's environment, or give its path relative to source_directory (./script.sh)."
        )
    return argv
