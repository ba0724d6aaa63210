"""Draft the v1 API facts of airflow_azml/v1map from the source of the v1 wheels (never imported).

Usage: python tools/v1map_extract.py SRC_DIR OUT_DIR
  SRC_DIR  the v1 wheels unpacked into one folder (holding azureml/)
  OUT_DIR  where to write one <distribution>.json per v1 distribution (facts only, no statuses)

A one-off helper for whoever updates the map: it reads signatures, ``:rtype:`` and ``:return:``
docstring fields (what v1's reference documentation is generated from) with ``ast``. The
committed map is maintained by hand afterwards; ``tools/v1map_status.py`` fills statuses.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

# v1 distribution -> the public module prefixes it ships that pipeline code uses.
DISTRIBUTIONS = {
    "azureml-core": ["azureml.core", "azureml.data", "azureml.history"],
    "azureml-exceptions": ["azureml.exceptions"],
    "azureml-pipeline-core": ["azureml.pipeline.core"],
    "azureml-pipeline-steps": ["azureml.pipeline.steps"],
    "azureml-train-core": [
        "azureml.train.estimator",
        "azureml.train.dnn",
        "azureml.train.sklearn",
        "azureml.train",
    ],
    "azureml-train-hyperdrive": ["azureml.train.hyperdrive"],
    "azureml-widgets": ["azureml.widgets"],
    "azureml-contrib-notebook": ["azureml.contrib.notebook"],
}
# Modules listed only by name (their content is out of a pipeline's scope).
SHALLOW = ("azureml.core.webservice", "azureml.core.image", "azureml.history")


def modname(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def public(name: str) -> bool:
    return not name.startswith("_")


class Index:
    def __init__(self, root: Path):
        self.root = root
        self.trees: dict[str, ast.Module] = {}
        self.is_pkg: dict[str, bool] = {}
        for path in sorted(root.rglob("*.py")):
            name = modname(path, root)
            if "restclient" in name or "_vendor" in name:
                continue
            try:
                self.trees[name] = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
            except SyntaxError:
                continue
            self.is_pkg[name] = path.name == "__init__.py"
        self.imports: dict[str, dict[str, str]] = {m: self._imports(m, t) for m, t in self.trees.items()}
        self.defs: dict[str, dict[str, ast.AST]] = {
            m: {n.name: n for n in t.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
            for m, t in self.trees.items()
        }

    def _imports(self, module: str, tree: ast.Module) -> dict[str, str]:
        out: dict[str, str] = {}
        package = module if self.is_pkg.get(module) else module.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                for alias in node.names:
                    out[alias.asname or alias.name] = f"{base}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        out[alias.asname] = alias.name
        return out

    def resolve(self, qual: str, depth: int = 0) -> str:
        """Follow re-exports to where a name is defined."""
        if depth > 10:
            return qual
        module, _, name = qual.rpartition(".")
        if module in self.defs and name in self.defs[module]:
            return qual
        if qual in self.trees:
            return qual
        if module in self.imports and name in self.imports[module]:
            return self.resolve(self.imports[module][name], depth + 1)
        return qual

    def node(self, qual: str) -> ast.AST | None:
        module, _, name = qual.rpartition(".")
        return self.defs.get(module, {}).get(name)

    def lookup(self, module: str, expr: ast.expr) -> str | None:
        name = ast.unparse(expr)
        head, _, rest = name.partition(".")
        if head in self.defs.get(module, {}):
            qual = f"{module}.{head}"
        elif head in self.imports.get(module, {}):
            qual = self.imports[module][head]
        else:
            return None
        return self.resolve(f"{qual}.{rest}" if rest else qual)


RTYPE = re.compile(r":rtype:\s*(.+)")
RETURN = re.compile(r":return:\s*(.+?)(?:\n\s*\n|\n\s*:|\Z)", re.S)
INTERNAL = re.compile(r"^[A-Z_]*(_FMT|_PATH|DELIM)$")  # run-history path formats, not API
CLASSREF = re.compile(r":class:`~?([\w.]+)`")


def doc_returns(fn: ast.FunctionDef) -> tuple[str | None, str | None]:
    doc = ast.get_docstring(fn) or ""
    rtype = RTYPE.search(doc)
    ret = RETURN.search(doc)
    return (
        rtype.group(1).strip().rstrip(".") if rtype else None,
        " ".join(ret.group(1).split()) if ret else None,
    )


def params(fn: ast.FunctionDef, drop_first: bool) -> list[str]:
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    pairs = list(zip(positional, defaults, strict=True))[1 if drop_first else 0 :]
    out = [arg.arg if default is None else f"{arg.arg}={short(default)}" for arg, default in pairs]
    if a.vararg:
        out.append("*" + a.vararg.arg)
    elif a.kwonlyargs:
        out.append("*")
    for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        out.append(arg.arg if default is None else f"{arg.arg}={short(default)}")
    if a.kwarg:
        out.append("**" + a.kwarg.arg)
    return out


def short(expr: ast.expr) -> str:
    text = ast.unparse(expr)
    return text if len(text) <= 40 else "..."


def decorators(fn: ast.FunctionDef) -> set[str]:
    return {ast.unparse(d) for d in fn.decorator_list}


class Extractor:
    def __init__(self, index: Index):
        self.ix = index
        self.classes: dict[str, dict] = {}

    def type_of(self, module: str, text: str | None, ret: str | None) -> str | None:
        if not text:
            return None
        text = text.strip().strip("`").replace("builtin.", "").replace("builtins.", "")
        text = re.sub(r":class:`~?([\w.]+)`", r"\1", text)
        for plain in ("str", "int", "bool", "float", "dict", "list", "None", "bytes", "object"):
            if text == plain or text.lower() == plain:
                if plain in ("list", "dict") and ret:
                    refs = [self.canon(module, r) for r in CLASSREF.findall(ret)]
                    refs = [r for r in refs if r]
                    if len(set(refs)) == 1:
                        return f"{plain}[{refs[0]}]" if plain == "list" else f"dict[str, {refs[0]}]"
                return plain
        if re.fullmatch(r"[\w.]+", text):
            return self.canon(module, text) or text
        return text

    def canon(self, module: str, name: str) -> str | None:
        if "." not in name:
            qual = self.ix.lookup(module, ast.Name(name))
            if qual is None:
                for m, defs in self.ix.defs.items():
                    if (
                        name in defs
                        and isinstance(defs[name], ast.ClassDef)
                        and m.startswith("azureml.")
                        and public_path(m)
                    ):
                        qual = f"{m}.{name}"
                        break
            return qual
        resolved = self.ix.resolve(name)
        return resolved if self.ix.node(resolved) is not None else None

    def members(self, module: str, cls: ast.ClassDef) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for item in cls.body:
            if isinstance(item, ast.FunctionDef):
                decos = decorators(item)
                if any(d.endswith((".setter", ".deleter")) for d in decos):
                    continue
                if item.name != "__init__" and not public(item.name):
                    continue
                rtype, ret = doc_returns(item)
                entry: dict = {}
                if item.name == "__init__":
                    entry["kind"] = "constructor"
                elif "property" in decos:
                    entry["kind"] = "property"
                elif "staticmethod" in decos:
                    entry["kind"] = "staticmethod"
                elif "classmethod" in decos:
                    entry["kind"] = "classmethod"
                else:
                    entry["kind"] = "method"
                if entry["kind"] != "property":
                    entry["params"] = params(item, drop_first=entry["kind"] != "staticmethod")
                returns = self.type_of(module, rtype, ret)
                if returns and entry["kind"] != "constructor":
                    entry["returns"] = returns
                out[item.name] = entry
            elif isinstance(item, ast.Assign) and ast.unparse(item.targets[0]) == "_field_to_info_dict":
                out.update(self.fields(module, item.value))
            elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                for t in targets:
                    if (
                        isinstance(t, ast.Name)
                        and public(t.id)
                        and item.value is not None
                        and not INTERNAL.match(t.id)
                    ):
                        entry = {"kind": "attribute"}
                        ref = (
                            self.ix.lookup(module, item.value)
                            if isinstance(item.value, (ast.Name, ast.Attribute))
                            else None
                        )
                        if ref and isinstance(self.ix.node(ref), ast.ClassDef):
                            entry["returns"] = f"type[{ref}]"
                        out[t.id] = entry
        for item in cls.body:  # instance attributes v1 sets in its methods (self.type = ...)
            if isinstance(item, ast.FunctionDef):
                for node in ast.walk(item):
                    if isinstance(node, ast.Assign):
                        for t in node.targets:
                            if (
                                isinstance(t, ast.Attribute)
                                and isinstance(t.value, ast.Name)
                                and t.value.id == "self"
                                and public(t.attr)
                            ):
                                out.setdefault(t.attr, {"kind": "attribute"})
        return out

    def fields(self, module: str, value: ast.expr) -> dict[str, dict]:
        """``_field_to_info_dict = OrderedDict([("name", _FieldInfo(Type, ...)), ...])``: the
        serialized attributes of v1's run configuration classes, with their types."""
        out: dict[str, dict] = {}
        pairs = (
            value.args[0].elts
            if isinstance(value, ast.Call) and value.args and isinstance(value.args[0], ast.List)
            else []
        )
        for pair in pairs:
            if not (
                isinstance(pair, ast.Tuple) and len(pair.elts) == 2 and isinstance(pair.elts[0], ast.Constant)
            ):
                continue
            name, info = pair.elts[0].value, pair.elts[1]
            if not public(name):
                continue
            entry = {"kind": "attribute"}
            if isinstance(info, ast.Call) and info.args:
                ref = (
                    self.ix.lookup(module, info.args[0])
                    if isinstance(info.args[0], (ast.Name, ast.Attribute))
                    else None
                )
                if ref and isinstance(self.ix.node(ref), ast.ClassDef):
                    entry["returns"] = ref
                elif isinstance(info.args[0], ast.Name) and info.args[0].id in (
                    "str",
                    "int",
                    "bool",
                    "float",
                    "list",
                    "dict",
                ):
                    entry["returns"] = info.args[0].id
            out[name] = entry
        return out

    def klass(self, qual: str) -> dict:
        if qual in self.classes:
            return self.classes[qual]
        node = self.ix.node(qual)
        module = qual.rpartition(".")[0]
        entry: dict = {"bases": [], "members": {}}
        self.classes[qual] = entry
        inherited: dict[str, dict] = {}
        for base in node.bases:
            ref = self.ix.lookup(module, base)
            if not ref or not isinstance(self.ix.node(ref), ast.ClassDef):
                continue
            if public_path(ref):
                entry["bases"].append(ref)
                self.klass(ref)
            else:
                for name, m in self.flat(ref).items():
                    inherited.setdefault(name, m)
        own = self.members(module, node)
        for name, m in inherited.items():
            if name not in own:
                own[name] = m
        entry["members"] = dict(sorted(own.items(), key=lambda kv: (kv[0] != "__init__", kv[0])))
        return entry

    def flat(self, qual: str) -> dict[str, dict]:
        """All public members of a (private) class, its bases' included."""
        node = self.ix.node(qual)
        module = qual.rpartition(".")[0]
        out = self.members(module, node)
        for base in node.bases:
            ref = self.ix.lookup(module, base)
            if ref and isinstance(self.ix.node(ref), ast.ClassDef):
                for name, m in self.flat(ref).items():
                    out.setdefault(name, m)
        return out


def public_path(qual: str) -> bool:
    return all(public(p) for p in qual.split("."))


def module_names(ix: Index, module: str) -> list[str]:
    tree = ix.trees[module]
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            try:
                return list(ast.literal_eval(node.value))
            except ValueError:
                pass
    names = [n for n in ix.defs[module] if public(n)] + sorted(constants(ix, module))
    if ix.is_pkg[module]:
        names += [n for n, q in ix.imports[module].items() if public(n) and q.startswith("azureml.")]
    return sorted(set(names))


def constants(ix: Index, module: str) -> set[str]:
    out = set()
    for node in ix.trees[module].body:
        if isinstance(node, ast.Assign):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name) and public(t.id) and t.id.isupper()}
    return out


def main(src: Path, out_dir: Path) -> None:
    ix = Index(src)
    ex = Extractor(ix)
    out_dir.mkdir(parents=True, exist_ok=True)
    owner: dict[str, str] = {}
    for m in ix.trees:
        matches = [
            (len(p), d) for d, ps in DISTRIBUTIONS.items() for p in ps if m == p or m.startswith(p + ".")
        ]
        if public_path(m) and matches:
            owner[m] = max(matches)[1]
    all_names: dict[str, tuple] = {}
    all_functions: dict[str, dict] = {}
    for dist in DISTRIBUTIONS:
        modules: dict[str, dict] = {}
        functions: dict[str, dict] = {}
        class_names: set[str] = set()
        for m in sorted(k for k, d in owner.items() if d == dist):
            if any(m != s and m.startswith(s + ".") for s in SHALLOW):
                continue
            entry: dict = {"names": {}}
            if any(m == s for s in SHALLOW):
                modules[m] = entry
                continue
            for name in module_names(ix, m):
                qual = ix.resolve(f"{m}.{name}")
                node = ix.node(qual)
                if isinstance(node, ast.ClassDef):
                    entry["names"][name] = {"kind": "class", "ref": qual}
                    if qual.startswith("azureml."):
                        class_names.add(qual)
                elif isinstance(node, ast.FunctionDef):
                    entry["names"][name] = {"kind": "function", "ref": qual}
                    rtype, ret = doc_returns(node)
                    fentry = {"params": params(node, drop_first=False)}
                    returns = ex.type_of(qual.rpartition(".")[0], rtype, ret)
                    if returns:
                        fentry["returns"] = returns
                    functions[qual] = fentry
                elif qual in ix.trees:
                    entry["names"][name] = {"kind": "module", "ref": qual}
                else:
                    entry["names"][name] = {
                        "kind": "constant" if name in constants(ix, m) or name.isupper() else "name"
                    }
            modules[m] = entry
        all_names[dist] = (modules, class_names)
        all_functions[dist] = functions
    known = {q for _, cs in all_names.values() for q in cs} | {
        q
        for m in all_names.values()
        for e in m[0].values()
        for r in e["names"].values()
        if r.get("kind") == "function"
        for q in [r["ref"]]
    }
    for dist, (modules, class_names) in all_names.items():
        for (
            m,
            entry,
        ) in modules.items():  # v1 code imports re-exported names too (compute_target.ComputeTargetException)
            for node in ix.trees[m].body if m in ix.trees and m not in SHALLOW else []:
                if isinstance(node, ast.ImportFrom) and (
                    node.level or (node.module or "").startswith("azureml.")
                ):
                    for a in node.names:
                        local = a.asname or a.name
                        qual = ix.resolve(f"{m}.{local}")
                        if public(local) and local not in entry["names"] and qual in known:
                            kind = "class" if isinstance(ix.node(qual), ast.ClassDef) else "function"
                            entry["names"][local] = {"kind": kind, "ref": qual, "imported": True}
        functions = all_functions[dist]
        classes = {}
        for qual in sorted(class_names):
            ex.klass(qual)
        for qual in sorted(class_names):
            classes[qual] = ex.classes[qual]
        data = {"distribution": dist, "modules": modules, "classes": classes, "functions": functions}
        (out_dir / f"{dist}.json").write_text(json.dumps(data, indent=1) + "\n")
        print(
            dist,
            len(modules),
            "modules",
            len(classes),
            "classes",
            sum(len(c["members"]) for c in classes.values()),
            "members",
            len(functions),
            "functions",
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
