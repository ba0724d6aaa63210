"""The v1 API map against the tree: what it calls supported exists with v1's parameters, what it
calls unsupported does not silently exist, and docs/v1-coverage.md is generated from it."""

from __future__ import annotations

from pathlib import Path

from airflow_azml.v1map import DIFFERENT, SUPPORTED, UNSUPPORTED, load
from airflow_azml.v1map.coverage import check, render_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "v1-coverage.md"
STATUSES = {SUPPORTED, DIFFERENT, UNSUPPORTED}
DISTRIBUTIONS = {
    "azureml-core",
    "azureml-exceptions",
    "azureml-pipeline-core",
    "azureml-pipeline-steps",
    "azureml-train-core",
    "azureml-train-hyperdrive",
    "azureml-widgets",
    "azureml-contrib-notebook",
}


def test_map_agrees_with_the_tree() -> None:
    assert check(load()) == []


def test_every_entry_has_a_status_and_unsupported_ones_say_why_and_what_instead() -> None:
    v1map = load()
    assert set(v1map.distribution.values()) == DISTRIBUTIONS
    for section in (v1map.modules, v1map.classes, v1map.functions):
        for key, entry in section.items():
            assert entry.get("status") in STATUSES, key
            if entry["status"] == UNSUPPORTED:
                assert entry.get("why") and entry.get("instead"), key
    for key in v1map.classes:
        for name, member in v1map.members(key).items():
            assert member.get("status") in STATUSES, f"{key}.{name}"
            assert member["status"] != UNSUPPORTED or (member.get("why") and member.get("instead")), (
                f"{key}.{name}"
            )
            assert member["status"] != DIFFERENT or member.get("note"), f"{key}.{name}"


def test_facts_of_the_pipeline_api() -> None:
    """Spot checks of v1's signatures and documented return types."""
    v1map = load()
    pipeline = v1map.resolve("azureml.pipeline.core.Pipeline")
    assert pipeline == ("class", "azureml.pipeline.core.pipeline.Pipeline")
    members = v1map.members(pipeline[1])
    assert members["__init__"]["params"][:3] == ["workspace", "steps", "description=None"]
    assert members["submit"]["returns"] == "azureml.pipeline.core.run.PipelineRun"
    run = v1map.members("azureml.pipeline.core.run.PipelineRun")
    assert v1map.parse_type(run["get_steps"]["returns"]) == ("list", "azureml.pipeline.core.run.StepRun")
    # v1 documents Run.get_children() as runs; a pipeline run's children are its step runs
    assert v1map.parse_type(v1map.members("azureml.core.run.Run")["get_children"]["returns"]) == (
        "list",
        "azureml.core.run.Run",
    )
    assert v1map.parse_type(run["get_children"]["returns"]) == ("list", "azureml.pipeline.core.run.StepRun")
    step = v1map.members("azureml.pipeline.core.run.StepRun")
    assert v1map.parse_type(step["get_outputs"]["returns"]) == (
        "dict",
        "azureml.pipeline.core.run.StepRunOutput",
    )
    dataset = v1map.members("azureml.core.dataset.Dataset")
    assert v1map.parse_type(dataset["Tabular"]["returns"]) == (
        "class",
        "azureml.data.dataset_factory.TabularDatasetFactory",
    )
    assert v1map.resolve("azureml.core.compute_target.ComputeTargetException")[0] == "class"
    assert v1map.modules["azureml.core.webservice"]["status"] == UNSUPPORTED


def test_coverage_doc_is_generated_from_the_map() -> None:
    text = render_markdown(load())
    old = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if old != text:
        DOC.write_text(text, encoding="utf-8")
    assert old == text, "docs/v1-coverage.md was out of date and has been regenerated: commit it"
    assert text.count("\n## azureml-") == len(DISTRIBUTIONS)
