"""``azml graph DAG_FILE``: a pipeline's steps and the data between them, as text, Mermaid or DOT.

The graph comes from the compiled plan (``compiler/capture.plans_of``), so Airflow is not
imported: data edges are labelled with the data's name, ``run_after`` edges are dashed.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from airflow_azml.cli._common import pick_plan

__all__ = ["add_parser", "graph", "plan_graph", "to_text", "to_mermaid", "to_dot", "FORMATS"]


def plan_graph(plan: dict[str, Any]) -> dict[str, Any]:
    """Nodes and edges of ``plan``: ``{"nodes": [...], "edges": [{"src", "dst", "kind", "label"}]}``.

    ``kind`` is ``"data"`` (one edge per data name flowing from ``src`` to ``dst``) or
    ``"order"`` (a ``run_after`` dependency that carries no data).
    """
    nodes, edges = [], []
    for task_id, step in plan["steps"].items():
        nodes.append(
            {
                "id": task_id,
                "name": step["name"],
                "kind": step["kind"],
                "compute_target": step.get("compute_target"),
                "inputs": [_input_label(i) for i in step["inputs"]],
                "outputs": [o["name"] for o in step["outputs"]],
            }
        )
        fed: set[str] = set()
        for spec in step["inputs"]:
            if spec["source"] == "step_output":
                fed.add(spec["step"])
                edge = {"src": spec["step"], "dst": task_id, "kind": "data", "label": spec["output"]}
                if edge not in edges:
                    edges.append(edge)
        for up in step["upstream"]:
            if up not in fed:
                edges.append({"src": up, "dst": task_id, "kind": "order", "label": "run_after"})
    return {"dag_id": plan["dag_id"], "nodes": nodes, "edges": edges}


def _input_label(spec: dict[str, Any]) -> str:
    """Where an input comes from, in words (``raw_data <- dataset my_data:latest``)."""
    source = spec["source"]
    if source == "step_output":
        where = f"{spec['step']}.{spec['output']}"
    elif source == "datastore":
        where = f"{spec['datastore']}/{spec['path']}"
    elif source == "dataset":
        ref = spec["dataset"]
        where = f"dataset {ref['name']}:{ref['version']}" if "name" in ref else "dataset (unregistered)"
    else:
        where = f"parameter {spec.get('param')}"
    return f"{spec['name']} <- {where}"


def to_text(g: dict[str, Any]) -> str:
    """One block per step: what it reads, what it writes, what it waits for."""
    lines = [f"pipeline {g['dag_id']} ({len(g['nodes'])} steps)"]
    for node in g["nodes"]:
        target = f" on {node['compute_target']}" if node["compute_target"] else ""
        lines.append(f"  {node['name']} [{node['kind']}{target}]")
        lines += [f"    reads  {i}" for i in node["inputs"]]
        lines += [f"    writes {o}" for o in node["outputs"]]
        lines += [
            f"    after  {e['src']} (run_after)"
            for e in g["edges"]
            if e["dst"] == node["id"] and e["kind"] == "order"
        ]
    lines.append("edges:")
    for e in g["edges"]:
        arrow = f"--{e['label']}-->" if e["kind"] == "data" else "..run_after..>"
        lines.append(f"  {e['src']} {arrow} {e['dst']}")
    return "\n".join(lines)


def _mermaid_id(task_id: str) -> str:
    return re.sub(r"\W", "_", task_id)


def to_mermaid(g: dict[str, Any]) -> str:
    """A Mermaid flowchart (paste into Markdown on GitHub/GitLab)."""
    lines = ["flowchart LR"]
    for node in g["nodes"]:
        lines.append(f'  {_mermaid_id(node["id"])}["{node["name"]}<br/><small>{node["kind"]}</small>"]')
    for e in g["edges"]:
        src, dst = _mermaid_id(e["src"]), _mermaid_id(e["dst"])
        lines.append(
            f'  {src} -->|"{e["label"]}"| {dst}' if e["kind"] == "data" else f"  {src} -.->|run_after| {dst}"
        )
    return "\n".join(lines)


def to_dot(g: dict[str, Any]) -> str:
    """Graphviz DOT (``azml graph f.py --format dot | dot -Tsvg > pipeline.svg``)."""
    q = json.dumps  # a JSON string is a valid DOT quoted id
    lines = [f"digraph {q(g['dag_id'])} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for node in g["nodes"]:
        lines.append(f"  {q(node['id'])} [label={q(node['name'] + chr(10) + node['kind'])}];")
    for e in g["edges"]:
        style = "" if e["kind"] == "data" else ", style=dashed"
        lines.append(f"  {q(e['src'])} -> {q(e['dst'])} [label={q(e['label'])}{style}];")
    lines.append("}")
    return "\n".join(lines)


FORMATS = {"text": to_text, "mermaid": to_mermaid, "dot": to_dot, "json": lambda g: json.dumps(g, indent=1)}


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("graph", help="print a pipeline DAG file's steps and data edges")
    p.add_argument("dag_file", type=Path)
    p.add_argument("--dag-id", help="which DAG of the file (default: the only one)")
    p.add_argument("--format", choices=sorted(FORMATS), default="text", help="output format (default: text)")
    p.set_defaults(func=graph)


def graph(args: argparse.Namespace) -> int:
    plan = pick_plan(args.dag_file, args.dag_id)
    print(FORMATS[args.format](plan_graph(plan)))
    return 0
