"""Parameter values at run time: coerced to their declared types, expanded into argv."""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = ["coerce_params", "expand_arguments", "coerce_value"]


def coerce_value(name: str, ptype: str, value: Any) -> Any:
    """A trigger-time value as the parameter's type; a clear error naming the parameter otherwise."""
    try:
        if ptype == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if ptype == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if ptype == "bool":
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            if not isinstance(value, bool):
                raise ValueError
            return value
        if ptype == "string":
            return str(value)
    except (TypeError, ValueError):
        raise UserErrorException(
            f"Pipeline parameter {name!r} must be of type {ptype}, got {value!r} ({type(value).__name__})."
        ) from None
    if ptype == "datapath" and isinstance(value, str):
        datastore, _, path = value.partition("/")
        return {"datastore": datastore, "path_on_datastore": path}
    return value


def coerce_params(specs: dict[str, Any], values: dict[str, Any], step: str) -> dict[str, Any]:
    out = {}
    for name, spec in specs.items():
        raw = values.get(name, spec["default"])
        out[name] = coerce_value(name, spec["type"], raw)
    return out


def expand_arguments(
    args: list[Any], params: dict[str, Any], inputs: dict[str, Any], outputs: dict[str, str], step: str
) -> list[str]:
    """Placeholders become values: ``$param`` its value, ``$input`` / ``$output`` a local path."""
    out = []
    for arg in args:
        if not isinstance(arg, dict):
            out.append(str(arg))
        elif "$param" in arg:
            out.append(str(params[arg["$param"]]))
        elif "$output" in arg:
            out.append(outputs[arg["$output"]])
        else:
            item = inputs[arg["$input"]]
            if "path" not in item and "dataset_id" in item:  # v1: a direct dataset argument is its id
                out.append(item["dataset_id"])
                continue
            if "path" not in item:
                raise UserErrorException(
                    f"Step {step!r}: input {arg['$input']!r} is tabular (delivered as a Dataset object through "
                    "run.input_datasets), so it cannot be an argument path; use as_mount() to get a path."
                )
            out.append(item["path"])
    return out
