"""AdlaStep as v1 code writes it: attach an AdlaCompute with v1's arguments, a headerless CSV, OUTPUT of a query.

Runs through Airflow (Experiment.submit -> dag.test) on DuckDB, the engine an AdlaCompute
without a connection names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.core.compute import AdlaCompute, ComputeTarget
from airflow_azml.core.compute_target import ComputeTargetException
from airflow_azml.data.data_reference import DataReference
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import AdlaStep
from tests.conftest import write

SCRIPT = """
// towns of the region, no header
@towns =
    EXTRACT Id int, Town string, Population int
    FROM "@@towns@@"
    USING Extractors.Csv();

OUTPUT
(
    SELECT Town
    FROM @towns
    WHERE Population >= 1000
)
TO "@@large_towns@@"
USING Outputters.Text();
"""


@pytest.mark.slow
def test_attached_adla_compute_runs_the_v1_shaped_script(embedded_airflow_home, workspace_dir: Path):
    ws = Workspace.from_config(workspace_dir)
    try:
        adla = AdlaCompute(ws, "lakesql")
    except ComputeTargetException:
        config = AdlaCompute.attach_configuration(resource_group="lake-rg", account_name="lakeanalytics")
        adla = ComputeTarget.attach(ws, "lakesql", config)
        adla.wait_for_completion()
    assert adla.cluster_resource_id.endswith(
        "/resourceGroups/lake-rg/providers/Microsoft.DataLakeAnalytics/accounts/lakeanalytics"
    )
    assert (adla.provisioning_state, adla.provisioning_errors) == ("Succeeded", None)

    store = ws.get_default_datastore()
    write(store.root / "region" / "towns.csv", "1, Umea, 1300\n2, Kiruna, 800\n3, Lulea, 1100\n")
    write(workspace_dir / "usql" / "large_towns.usql", SCRIPT)
    towns = DataReference(store, data_reference_name="towns", path_on_datastore="region/towns.csv")
    large = PipelineData("large_towns", datastore=store)
    step = AdlaStep(
        name="pick_large_towns",
        script_name="large_towns.usql",
        source_directory=str(workspace_dir / "usql"),
        inputs=[towns],
        outputs=[large],
        compute_target=adla,
    )
    run = Experiment(ws, "adla_v1").submit(Pipeline(workspace=ws, steps=[step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    (step_run,) = run.get_steps()
    out = step_run.get_output_data("large_towns")
    published = store.root / out.path_on_datastore
    assert published.is_file(), "the script wrote the output path itself as one file, as v1's sample does"
    assert published.read_text() == " Umea\n Lulea\n"
