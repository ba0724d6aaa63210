"""Fingerprints: source folders hashed through a stat cache, every input that can change a result."""

from __future__ import annotations

import os
import time
from pathlib import Path

from airflow_azml.execution.fingerprint import fingerprint_step, hash_source_dir, referenced_parameters
from tests.conftest import write


def _old(path: Path) -> None:
    """Age a file so the stat cache trusts it (files written this instant are re-hashed)."""
    then = time.time_ns() - 10_000_000_000
    os.utime(path, ns=(then, then))


def _tree(root: Path) -> None:
    for rel in (
        "train.py",
        "lib/util.py",
        "data/big.bin",
        "lib/__pycache__/util.cpython-311.pyc",
        "notes.log",
    ):
        write(root / rel, f"content of {rel}\n")
    for p in root.rglob("*"):
        if p.is_file():
            _old(p)


def test_source_hash_honours_amlignore_over_gitignore(azml_home, tmp_path):
    src = tmp_path / "src"
    _tree(src)
    write(src / ".gitignore", "*.py\n")
    write(src / ".amlignore", "data/\n*.log\n")
    files = hash_source_dir(src).files
    assert sorted(files) == [".amlignore", ".gitignore", "lib/util.py", "train.py"]


def test_source_hash_nested_gitignore_and_negation(azml_home, tmp_path):
    src = tmp_path / "src"
    _tree(src)
    write(src / "lib" / ".gitignore", "*.py\n!keep.py\n")
    write(src / "lib" / "keep.py", "x")
    files = hash_source_dir(src).files
    assert "lib/util.py" not in files and "lib/keep.py" in files and "train.py" in files
    assert not any("__pycache__" in f for f in files)


def test_stat_cache_skips_unchanged_files_and_catches_changes(azml_home, tmp_path):
    src = tmp_path / "src"
    _tree(src)
    first = hash_source_dir(src)
    assert first.rehashed == len(first.files) == 4
    assert list((azml_home / "cache" / "srchash").glob("*.json"))
    second = hash_source_dir(src)
    assert second.rehashed == 0 and second.digest == first.digest
    write(src / "train.py", "content of train.PY\n")  # same size, new content, new mtime
    third = hash_source_dir(src)
    assert third.rehashed == 1 and third.digest != first.digest
    assert third.files["train.py"] != first.files["train.py"]


def test_files_written_just_now_are_not_trusted_from_cache(azml_home, tmp_path):
    src = tmp_path / "src"
    write(src / "train.py", "a")
    assert hash_source_dir(src).rehashed == 1
    assert hash_source_dir(src).rehashed == 1  # racy: same mtime tick could hide a rewrite
    _old(src / "train.py")
    hash_source_dir(src)
    assert hash_source_dir(src).rehashed == 0


def test_ten_thousand_files_second_pass_reads_nothing(azml_home, tmp_path):
    src = tmp_path / "many"
    for d in range(100):
        (src / f"d{d}").mkdir(parents=True)
        for f in range(100):
            (src / f"d{d}" / f"f{f}.py").write_text(f"{d}-{f}")
    then = time.time_ns() - 10_000_000_000
    for p in src.rglob("*.py"):
        os.utime(p, ns=(then, then))
    hash_source_dir(src)
    again = hash_source_dir(src)
    # nothing re-read: the speed itself (< 0.2 s for 10 000 files) is measured by bench/bench_reuse.py
    assert again.rehashed == 0 and len(again.files) == 10_000


STEP = {
    "name": "train",
    "task_id": "train",
    "kind": "python_script",
    "operator": "x.Op",
    "compute_target": "cpu",
    "routing": {"queue": "cpu"},
    "upstream": ["prep"],
    "source_directory": "",
    "script_name": "train.py",
    "arguments": ["--n", {"$param": "n"}, "--data", {"$input": "raw_data"}],
    "allow_reuse": True,
    "version": None,
    "params": {"MODE": {"$param": "mode"}},
    "environment": {"pip": [], "env": {}},
    "inputs": [
        {"name": "raw_data", "source": "datastore", "mode": "mount", "datastore": "ds", "path": "raw"},
        {"name": "prepped", "source": "step_output", "mode": "mount", "step": "prep", "output": "out"},
    ],
    "outputs": [{"name": "model", "kind": "pipeline_data", "mode": "mount"}],
}
RECORDS = {
    "raw_data": {"datastore": "ds", "path": "raw", "version": "v1"},
    "prepped": {"datastore": "ds", "path": "azureml/r1/prep/out", "version": "p1"},
}
UPSTREAM = {"prep": {"out": {"datastore": "ds", "path": "azureml/r1/prep/out", "fingerprint": "f-prep"}}}


def _fp(
    tmp_path: Path,
    step: dict | None = None,
    params: dict | None = None,
    records: dict | None = None,
    upstream: dict | None = None,
) -> str:
    step = dict(step or STEP)
    step["source_directory"] = step["source_directory"] or str(tmp_path / "src")
    return fingerprint_step(
        step, params or {"n": 5, "mode": "fast", "unused": 1}, records or RECORDS, upstream or UPSTREAM
    ).digest


def test_fingerprint_changes_with_what_changes_results(azml_home, tmp_path):
    write(tmp_path / "src" / "train.py", "print(1)")
    base = _fp(tmp_path)
    assert _fp(tmp_path) == base
    assert _fp(tmp_path, params={"n": 5, "mode": "fast", "unused": 2}) == base  # not referenced by the step
    assert _fp(tmp_path, step={**STEP, "compute_target": "gpu", "routing": {}, "upstream": []}) == base
    assert _fp(tmp_path, params={"n": 6, "mode": "fast"}) != base
    assert _fp(tmp_path, params={"n": 5, "mode": "slow"}) != base  # params -> AML_PARAMETER_ env var
    assert _fp(tmp_path, records={**RECORDS, "raw_data": {**RECORDS["raw_data"], "version": "v2"}}) != base
    assert (
        _fp(tmp_path, upstream={"prep": {"out": {**UPSTREAM["prep"]["out"], "fingerprint": "other"}}}) != base
    )
    for key, value in (
        ("version", "2"),
        ("environment", {"pip": ["numpy"], "env": {}}),
        ("arguments", ["--n", {"$param": "n"}]),
        ("name", "train2"),
        ("kind", "estimator"),
    ):
        assert _fp(tmp_path, step={**STEP, key: value}) != base, key
    outputs = [{"name": "model", "kind": "pipeline_data", "mode": "upload"}]
    assert _fp(tmp_path, step={**STEP, "outputs": outputs}) != base
    write(tmp_path / "src" / "train.py", "print(2)")
    assert _fp(tmp_path) != base


def test_components_explain_the_digest(azml_home, tmp_path):
    write(tmp_path / "src" / "train.py", "print(1)")
    step = {**STEP, "source_directory": str(tmp_path / "src")}
    fp = fingerprint_step(step, {"n": 5, "mode": "fast", "unused": 1}, RECORDS, UPSTREAM)
    comp = fp.components
    assert comp["parameters"] == {"n": 5, "mode": "fast"}
    assert comp["inputs"]["raw_data"] == {"location": "ds/raw", "version": "v1"}
    assert comp["inputs"]["prepped"]["fingerprint"] == "f-prep"
    assert list(comp["source"]["files"]) == ["train.py"]
    assert "compute_target" not in comp["config"] and comp["config"] == {"script_name": "train.py"}


def test_steps_without_code_do_not_hash_a_folder(azml_home, tmp_path):
    step = {
        "name": "copy",
        "kind": "data_transfer",
        "source_directory": str(tmp_path),
        "inputs": [],
        "outputs": [],
    }
    assert fingerprint_step(step, {}, {}).components["source"] is None


def test_referenced_parameters_found_anywhere_in_the_plan():
    step = {
        "arguments": [{"$param": "a"}],
        "params": {"X": {"$param": "b"}},
        "notebook_params": {"k": {"$param": "c"}},
        "inputs": [{"name": "d", "source": "datapath_param", "param": "d"}],
    }
    assert referenced_parameters(step) == {"a", "b", "c", "d"}
