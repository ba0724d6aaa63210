"""An import-linter contract that forbids import cycles between the modules of a package.

import-linter's own ``acyclic_siblings`` contract compares whole sibling packages (core against
pipeline), which the v1 layout cannot satisfy: ``core`` and ``pipeline`` are v1's public packages
and legitimately use each other's leaves. What issue #13 asks for is finer: no *module* may reach
itself through its imports (at any depth, imports inside functions included, as grimp reads every
import statement). This contract finds the strongly connected components of the module graph
(Tarjan) after removing the listed ``ignore_imports``, and fails on every component of more than
one module, naming the imports inside it. An ignore that no longer matches an import fails too,
so the list of tolerated cycle edges can only shrink.
"""

from __future__ import annotations

import grimp
from importlinter.application import contract_utils, output
from importlinter.application.contract_utils import AlertLevel
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck

__all__ = ["AcyclicModulesContract", "find_cycles"]


def find_cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """The import cycles inside ``package``: each strongly connected component of 2+ modules, sorted."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    inside = set(modules)
    edges = {m: sorted(inside & graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(root: str) -> None:
        # Iterative Tarjan: the module graph is deep enough to make recursion fragile.
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            child = next(successors, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return sorted(cycles)


class AcyclicModulesContract(Contract):
    """No import cycle between any two modules of the listed packages (ignored imports aside)."""

    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.StringField())
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)
    unmatched_ignore_imports_alerting = fields.EnumField(AlertLevel, default=AlertLevel.ERROR)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        warnings = contract_utils.remove_ignored_imports(
            graph=graph,
            ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=self.unmatched_ignore_imports_alerting,  # type: ignore[arg-type]
        )
        found = []
        for package in self.packages:  # type: ignore[attr-defined]
            for cycle in find_cycles(graph, package):
                members = set(cycle)
                imports = [
                    (importer, imported)
                    for importer in cycle
                    for imported in sorted(members & graph.find_modules_directly_imported_by(importer))
                ]
                found.append({"modules": cycle, "imports": imports})
        return ContractCheck(kept=not found, warnings=warnings, metadata={"cycles": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(f"Import cycle between {len(cycle['modules'])} modules:")
            output.new_line()
            for importer, imported in cycle["imports"]:
                output.indent_cursor()
                output.print_error(f"{importer} -> {imported}", bold=False)
            output.new_line()
