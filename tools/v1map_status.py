"""Recompute the statuses of airflow_azml/v1map/data/*.json from what airflow_azml has.

Usage: python tools/v1map_status.py [DRAFT_DIR]
  DRAFT_DIR  output of tools/v1map_extract.py (fresh v1 facts); without it the facts already in
             the map are kept and only the statuses are recomputed.

Each entry gets: supported when airflow_azml has it and accepts every v1 parameter, different
(naming the parameters it does not take) when some are missing, unsupported when it is absent.
Then airflow_azml/v1map/overrides.json, written by hand, is laid on top: reasons, what to use
instead, notes on differences, refused argument values, return types v1 documents only in prose.
Run tests/test_v1map.py afterwards: it checks the result against the tree.
"""

from __future__ import annotations

import copy
import inspect
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_azml.v1map import DATA_DIR, V1Map, dump, import_path, ours_path  # noqa: E402
from airflow_azml.v1map.coverage import find_ours, has_member, missing_params, ours_class_for  # noqa: E402

OVERRIDES = DATA_DIR.parent / "overrides.json"
SKIP_MODULES = ("azureml.train.hyperdrive.error_definition", "azureml.train.hyperdrive.error_strings")
DERIVED = ("status", "why", "instead", "note", "unsupported_params", "ours", "runs", "rules")
NOT_HERE = "not implemented by airflow_azml"
VERSIONS = {
    "azureml-core": "1.61.0",
    "azureml-exceptions": "1.61.0 (shipped in azureml-core)",
    "azureml-train-hyperdrive": "1.62.0 (shipped in azureml-train-core)",
}


def public(path: str) -> bool:
    return all(not p.startswith("_") for p in path.split("."))


def rekey(draft: dict) -> dict[str, str]:
    """Class keys: the defining path when public, else the shortest public export."""
    exports: dict[str, list[str]] = {}
    for module, entry in draft["modules"].items():
        for name, ref in entry["names"].items():
            if ref.get("kind") in ("class", "function"):
                exports.setdefault(ref["ref"], []).append(f"{module}.{name}")
    keys = {}
    for qual in [*draft["classes"], *draft["functions"]]:
        keys[qual] = (
            qual
            if public(qual) or not exports.get(qual)
            else min(exports[qual], key=lambda p: (len(p.split(".")), p))
        )
    return keys


def fix_refs(value, keys: dict[str, str]):
    if isinstance(value, str):
        return keys.get(value, value) if "[" not in value else _fix_inner(value, keys)
    if isinstance(value, list):
        return [fix_refs(v, keys) for v in value]
    if isinstance(value, dict):
        return {k: fix_refs(v, keys) for k, v in value.items()}
    return value


def _fix_inner(text: str, keys: dict[str, str]) -> str:
    head, _, rest = text.partition("[")
    inner = rest[:-1]
    prefix = "str, " if inner.startswith("str, ") else ""
    return f"{head}[{prefix}{keys.get(inner[len(prefix) :], inner[len(prefix) :])}]"


def strip(entry: dict) -> dict:
    out = {k: v for k, v in entry.items() if k not in DERIVED}
    for section in ("members", "names"):
        if section in out:
            out[section] = {k: strip(v) for k, v in out[section].items()}
    return out


def member_status(ours_cls, name: str, entry: dict) -> dict:
    if ours_cls is None or not has_member(ours_cls, name):
        return {"status": "unsupported", "why": NOT_HERE}
    obj = inspect.getattr_static(ours_cls, name, None) if name != "__init__" else ours_cls
    obj = obj.__func__ if isinstance(obj, staticmethod | classmethod) else obj
    missing = missing_params(obj, entry.get("params", [])) if callable(obj) else []
    if missing:
        return {
            "status": "different",
            "note": "does not take " + ", ".join(missing),
            "unsupported_params": missing,
        }
    return {"status": "supported"}


def deep_merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "rules":
            deep_merge(base[key], value)
        else:
            base[key] = value


def group_of(groups: dict[str, dict], key: str) -> dict:
    """The reason (why, instead) of the longest group naming ``key`` or a prefix of it."""
    best = max((p for p in groups if key == p or key.startswith(p + ".")), key=len, default=None)
    return groups[best] if best else {"why": NOT_HERE}


def statuses(data: dict, groups: dict[str, dict]) -> None:
    def group(key: str) -> dict:
        return group_of(groups, key)

    for key, cls in data["classes"].items():
        ours = ours_class_for(key, cls, data)
        cls.update(
            {"status": "supported", "ours": f"{ours.__module__}.{ours.__qualname__}"}
            if ours
            else {"status": "unsupported", **group(key)}
        )
        for name, member in cls["members"].items():
            if ours is not None:
                member.update(member_status(ours, name, member))
                if member["status"] == "unsupported":
                    member.update(group(f"{key}.{name}"))
    for key, fn in data["functions"].items():
        ours = find_ours(key, data)
        fn.update(
            {"status": "supported", "ours": f"{ours.__module__}.{ours.__qualname__}"}
            if ours
            else {"status": "unsupported", **group(key)}
        )
    for module, entry in data["modules"].items():
        for name, ref in entry["names"].items():
            if ref.get("kind") in ("constant", "name", "module"):
                ours = find_ours(f"{module}.{name}", data)
                ref.update(
                    {"status": "supported"}
                    if ours is not None
                    else {"status": "unsupported", **group(module)}
                )


def module_statuses(data: dict, everything: dict, groups: dict[str, dict]) -> None:
    """A module is supported when one of its names is (they may live in another distribution)."""
    for module, entry in data["modules"].items():
        if "status" in entry:
            continue
        found = {"supported"} if import_path(ours_path(module)) is not None else set()
        for ref in entry["names"].values():
            if ref.get("imported"):
                continue  # a name the module only imports says nothing about the module
            target = everything.get(ref.get("ref")) or ref
            found.add(target.get("status"))
        if found & {"supported", "different"}:
            entry["status"] = "supported"
        else:
            best = max(
                (p for p in groups if module == p or module.startswith(p + ".")), key=len, default=None
            )
            entry.update({"status": "unsupported", **(groups[best] if best else {"why": NOT_HERE})})


def inherited(files: list[dict], groups: dict[str, dict]) -> None:
    """Give a subclass its own entry for an inherited member whose status differs for it."""
    v1map = V1Map()
    for data in files:
        for section in ("modules", "classes", "functions"):
            getattr(v1map, section).update(data[section])
    for key in sorted(v1map.classes, key=lambda k: len(_ancestors(v1map, k))):
        cls = v1map.classes[key]
        if cls.get("status") == "unsupported" or not cls.get("ours"):
            continue
        ours = import_path(cls["ours"])
        v1map._members.clear()
        for name, member in v1map.members(key).items():
            if name in cls["members"]:
                continue
            fresh = member_status(ours, name, member)
            absent = (fresh["status"] == "unsupported") != (member.get("status") == "unsupported")
            if fresh["status"] == "unsupported":
                fresh.update(group_of(groups, f"{key}.{name}"))
            if absent or fresh.get("unsupported_params") != member.get("unsupported_params"):
                cls["members"][name] = {**strip(member), **fresh}  # a hand note of the base's is kept


def _ancestors(v1map: V1Map, key: str) -> list[str]:
    out = []
    for base in v1map.classes.get(key, {}).get("bases", []):
        out += [base, *_ancestors(v1map, base)]
    return out


def main(draft_dir: Path | None) -> None:
    overrides = json.loads(OVERRIDES.read_text())
    groups = overrides.pop("groups", {})
    shallow = tuple(overrides.pop("shallow", []))
    files = []
    paths = sorted((draft_dir or DATA_DIR).glob("*.json"))
    keys: dict[str, str] = {}
    for path in paths if draft_dir else []:
        keys.update(rekey(json.loads(path.read_text())))
    for path in paths:
        data = json.loads(path.read_text())
        if draft_dir:
            data["classes"] = {keys[k]: v for k, v in data["classes"].items()}
            data["functions"] = {keys[k]: v for k, v in data["functions"].items()}
            data = fix_refs(data, keys)
        data = {
            "distribution": data["distribution"],
            "version": VERSIONS.get(data["distribution"], "1.62.0"),
            **{
                s: {k: strip(v) for k, v in data[s].items() if not k.startswith(SKIP_MODULES)}
                for s in ("modules", "classes", "functions")
            },
        }
        for key, cls in data["classes"].items():
            if key.startswith(shallow):
                cls["members"] = {}
        for key, extra in overrides.get("classes", {}).items():
            if key in data["classes"] and "ours" in extra:
                data["classes"][key]["ours"] = extra["ours"]  # where our class lives under another name
        for key, extra in overrides.get("classes", {}).items():  # members v1 documents elsewhere
            for name, member in extra.get("members", {}).items():
                if key in data["classes"] and name not in data["classes"][key]["members"]:
                    data["classes"][key]["members"][name] = {
                        k: member[k] for k in ("kind", "params", "returns") if k in member
                    }
        statuses(data, groups)
        for section in ("modules", "classes", "functions"):
            for key, extra in overrides.get(section, {}).items():
                if key in data[section]:
                    deep_merge(data[section][key], copy.deepcopy(extra))
        files.append((path.name, data))
    everything = {k: v for _, d in files for s in ("classes", "functions") for k, v in d[s].items()}
    for _, data in files:
        module_statuses(data, everything, groups)
    inherited([d for _, d in files], groups)
    for name, data in files:
        (DATA_DIR / name).write_text(dump(data))
        print((DATA_DIR / name).relative_to(ROOT))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
