"""What ``azml migrate`` says about a v1 name: the verdicts come from the v1 API map
(:mod:`airflow_azml.v1map`); the few tables here add advice the map cannot give (secrets in
code, a workspace named in code, docker settings on unknown objects).

Four verdicts: ``unchanged`` (runs as it is once ``airflow_azml.compat.enable()`` is called, or
after the imports are rewritten), ``change`` (needs an edit, the advice says which),
``unsupported`` (nothing in airflow_azml does it: it fails) and ``unknown`` (nothing can be
promised: a member the map does not know, a use of something airflow_azml does not have, a
branch that runs only if a try fails, a module this Python does not have).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_azml import v1map

__all__ = [
    "CALL_RULES",
    "CATEGORIES",
    "CHANGE",
    "INSTANCE_RULES",
    "PLACEHOLDER",
    "STAR",
    "UNCHANGED",
    "UNKNOWN",
    "UNSUPPORTED",
    "USE_RULES",
    "CallRule",
    "Rule",
    "entry_rule",
    "module_rule",
    "name_rule",
    "params_only",
    "prefixes",
]

UNCHANGED = "unchanged"
CHANGE = "change"
UNSUPPORTED = "unsupported"
UNKNOWN = "unknown"
CATEGORIES = (UNCHANGED, CHANGE, UNSUPPORTED, UNKNOWN)


@dataclass(frozen=True)
class Rule:
    """A verdict and the advice shown with it."""

    category: str
    advice: str = ""


@dataclass(frozen=True)
class CallRule:
    """A verdict on a call, given only when the call passes one of ``keywords`` (or any
    positional argument, when ``positional``). ``pattern`` is an fnmatch pattern over
    ``Class`` or ``Class.method``."""

    pattern: str
    rule: Rule
    keywords: frozenset[str] = frozenset()
    positional: bool = False


_SECRET = (
    "works, but the secret sits in the code: move it into an Airflow connection and pass "
    'conn_id="..." instead of {keywords}'
)

CALL_RULES: tuple[CallRule, ...] = (
    CallRule(
        "Workspace",
        Rule(
            CHANGE,
            "write the workspace file (config.json) and use Workspace.from_config() instead of "
            "naming the subscription, resource group and workspace in code",
        ),
        frozenset({"subscription_id", "resource_group", "workspace_name"}),
        positional=True,
    ),
    CallRule(
        "Datastore.register_*",
        Rule(CHANGE, _SECRET.format(keywords="account_key/sas_token/client_secret/password")),
        frozenset({"account_key", "sas_token", "client_secret", "password"}),
    ),
    CallRule(
        "DatabricksCompute.attach_configuration",
        Rule(
            CHANGE,
            'use DatabricksCompute.attach_configuration(conn_id="...") with an Airflow Databricks '
            "connection instead of resource_group/workspace_name/access_token",
        ),
        frozenset({"resource_group", "workspace_name", "access_token"}),
        positional=True,
    ),
)

_FROM_CONFIG = Rule(
    CHANGE,
    "use Workspace.from_config(), which reads the workspace file (config.json); there is no "
    "Azure ML service to look the workspace up in",
)
_DOCKER = Rule(
    CHANGE,
    "runs in the Airflow worker's Python environment (with a logged note) unless a compute target "
    "that runs containers is configured in the workspace file",
)

# ``Class.member`` uses whose advice is more precise than the map's verdict.
USE_RULES: dict[str, Rule] = {
    "Workspace.get": _FROM_CONFIG,
    "Workspace.create": _FROM_CONFIG,
    "Environment.from_docker_image": _DOCKER,
    "Environment.from_dockerfile": _DOCKER,
    "ComputeTarget.create": Rule(
        UNCHANGED,
        "note: runs, but creates no cluster; the target name maps to Airflow routing (queue, pool, "
        "executor) configured in the workspace file",
    ),
}

# Attribute chains (``run_config.environment.docker.enabled``), whatever the object's type is known
# to be, checked only in files that import azureml.
INSTANCE_RULES: dict[tuple[str, ...], Rule] = {
    ("docker", "enabled"): _DOCKER,
    ("docker", "base_image"): _DOCKER,
}

STAR = Rule(CHANGE, "star import: import the names explicitly so that each can be checked")
PLACEHOLDER = Rule(
    CHANGE,
    "a placeholder left from sample code: give the real value (credentials go into an Airflow "
    'connection: conn_id="...")',
)
NOT_IN_MAP = "not part of Azure ML SDK v1's pipeline API as airflow-azml maps it: nothing provides it"
_UNCHANGED = Rule(UNCHANGED)


def prefixes(module: str) -> list[str]:
    """``a.b.c`` -> ``["a.b.c", "a.b", "a"]``."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def params_only(entry: dict[str, Any]) -> bool:
    """A 'different' entry whose only difference is parameters it does not take: reported only
    where such a parameter is passed."""
    missing = entry.get("unsupported_params")
    return bool(missing) and entry.get("note") == "does not take " + ", ".join(missing)


def entry_rule(entry: dict[str, Any] | None) -> Rule:
    """The verdict on using a map entry (a module, name, class, function or member)."""
    if entry is None:
        return Rule(UNSUPPORTED, NOT_IN_MAP)
    status = entry.get("status")
    if status == v1map.UNSUPPORTED:
        return Rule(UNSUPPORTED, v1map.reason(entry))
    if status == v1map.DIFFERENT and not params_only(entry):
        if entry.get("runs"):
            return Rule(UNCHANGED, f"note: {entry['note']}")
        return Rule(CHANGE, entry.get("note", ""))
    return _UNCHANGED


def module_rule(module: str) -> Rule:
    """The verdict on importing ``module`` itself (``azureml`` and ``azureml.pipeline`` are the
    namespaces above v1's modules)."""
    table = v1map.load()
    if module in table.modules:
        return entry_rule(table.modules[module])
    if any(known.startswith(module + ".") for known in table.modules):
        return _UNCHANGED
    return Rule(UNSUPPORTED, NOT_IN_MAP)


def name_rule(module: str, name: str) -> Rule:
    """The verdict on ``name`` taken from ``module``."""
    table = v1map.load()
    if f"{module}.{name}" in table.modules or module not in table.modules:
        return module_rule(f"{module}.{name}")
    return entry_rule(table.name_entry(module, name))
