"""AdlaStep through Airflow for real: Experiment.submit -> dag.test -> AdlaStepOperator.

The v1 sample (a U-SQL script extracting one column of a CSV) on DuckDB, the same logic on
the PostgreSQL server of this machine (a fresh database per test run), and failures.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.exceptions import ActivityFailedException
from airflow_azml.pipeline.core import Pipeline, PipelineParameter
from airflow_azml.pipeline.steps import AdlaStep
from tests.conftest import write
from tests.pipeline.steps.test_adla_step import sample_step
from tests.support.postgres import PG, fresh_database
from tests.support.samples import V1_ADLA_SAMPLE

pytestmark = pytest.mark.slow

SAMPLE = V1_ADLA_SAMPLE
CSV = 'query\nazure ml\n"pipelines, v1"\nairflow\n'


def project(workspace_dir: Path, targets: dict | None = None) -> Workspace:
    """The workspace file with a local default datastore holding the sample input."""
    cfg = json.loads((workspace_dir / "config.json").read_text())
    cfg["compute_targets"].update(targets or {})
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    ws = Workspace.from_config(workspace_dir)
    write(ws.get_default_datastore().root / "adla_sample" / "sample_input.csv", CSV)
    return ws


def sample_pipeline(ws: Workspace, folder: Path, script: str = SAMPLE, **kw) -> Pipeline:
    """The v1 sample's AdlaStep (tests/pipeline/steps/test_adla_step.py's sample_step) as a pipeline."""
    return Pipeline(ws, [sample_step(ws, folder, script, **kw)])


def test_v1_sample_runs_on_duckdb(embedded_airflow_home, workspace_dir, tmp_path):
    ws = project(workspace_dir)
    pipeline = sample_pipeline(ws, workspace_dir / "adla", degree_of_parallelism=2, priority=100)
    run = Experiment(ws, "adla_duckdb").submit(pipeline)
    assert run.wait_for_completion(show_output=False) == "Finished"
    (step,) = run.get_steps()
    assert step.get_status() == "Finished"
    out = step.get_output_data("script_output")
    assert out.datastore_name == "workspaceblobstore"
    local = Path(out.download(str(tmp_path / "dl"), show_progress=False))
    assert (local / "result.csv").read_text() == 'azure ml\n"pipelines, v1"\nairflow\n'
    statements = step.record["statements"]
    assert [s["index"] for s in statements] == [1, 2]
    assert statements[1]["rows_affected"] == 3
    assert step.record["inputs"]["script_input"]["path"] == "adla_sample/sample_input.csv"
    assert '"rows_affected": 3' in step.get_stdout_log()
    # nothing is left in the staging area once the output is published
    staging = ws.get_default_datastore().root / ".azml" / "staging"
    assert not [p for p in staging.rglob("*") if p.is_file()]


def test_plain_sql_with_params_and_a_pipeline_parameter(embedded_airflow_home, workspace_dir, tmp_path):
    ws = project(workspace_dir)
    script = (
        "COPY (SELECT query FROM read_csv('@@script_input@@', header=true) WHERE length(query) > @@min_len@@ "
        "ORDER BY query LIMIT @@limit@@) TO '@@script_output@@/result.csv' (HEADER false);\n"
    )
    pipeline = sample_pipeline(
        ws,
        workspace_dir / "adla",
        script=script,
        params={"min_len": PipelineParameter("min_len", default_value=100), "limit": 5},
    )
    run = Experiment(ws, "adla_params").submit(pipeline, pipeline_parameters={"min_len": 7})
    assert run.wait_for_completion(show_output=False) == "Finished"
    (step,) = run.get_steps()
    local = Path(step.get_output_data("script_output").download(str(tmp_path / "dl"), show_progress=False))
    assert (local / "result.csv").read_text() == 'azure ml\n"pipelines, v1"\n'


def test_failing_statement_fails_the_step_and_publishes_nothing(embedded_airflow_home, workspace_dir):
    ws = project(workspace_dir)
    pipeline = sample_pipeline(
        ws,
        workspace_dir / "adla",
        script=SAMPLE.replace(
            "OUTPUT @resourcereader", "@bad = SELECT nope FROM @resourcereader;\nOUTPUT @bad"
        ),
    )
    run = Experiment(ws, "adla_fail").submit(pipeline)
    with pytest.raises(ActivityFailedException) as err:
        run.wait_for_completion(show_output=False)
    message = str(err.value)
    assert "SQL statement 2 of 3" in message
    assert "nope" in message
    (step,) = run.get_steps()
    assert step.get_status() == "Failed"
    assert step.record["outputs"] == {}
    assert not (ws.get_default_datastore().root / "azureml").exists()


@pytest.fixture
def pg_conn_env() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database and an Airflow connection to it (env var, inherited by the runner)."""
    conn_id = f"azml_pg_{uuid.uuid4().hex[:6]}"
    var = f"AIRFLOW_CONN_{conn_id.upper()}"
    with fresh_database("azml_adla") as name:
        os.environ[var] = json.dumps(
            {
                "conn_type": "postgres",
                "host": PG["host"],
                "port": PG["port"],
                "login": PG["user"],
                "schema": name,
            }
        )
        try:
            yield conn_id, name
        finally:
            os.environ.pop(var, None)


def test_same_logic_on_postgresql_through_an_airflow_connection(
    embedded_airflow_home, workspace_dir, pg_conn_env
):
    """On a SQL connection the data lives in the database: the CSV's rows are a table there, and the
    step extracts the one column into the table named by a param (a PipelineParameter)."""
    import psycopg2

    conn_id, dbname = pg_conn_env
    with psycopg2.connect(dbname=dbname, **PG) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE sample_input (query text, extra int)")
        cur.executemany(
            "INSERT INTO sample_input VALUES (%s, %s)",
            [("azure ml", 1), ("pipelines, v1", 2), ("airflow", 3)],
        )
    ws = project(workspace_dir, {"pg": {"type": "ADLAnalytics", "conn_id": conn_id, "retries": 0}})
    folder = workspace_dir / "adla_pg"
    write(
        folder / "extract.sql",
        "CREATE TABLE @@target@@ AS SELECT query FROM @@source@@;\n"
        "INSERT INTO @@target@@ SELECT 'rows: ' || count(*) FROM @@source@@;\n",
    )
    step = AdlaStep(
        script_name="extract.sql",
        name="extract_on_pg",
        source_directory=str(folder),
        params={"source": "sample_input", "target": PipelineParameter("target", default_value="x")},
        compute_target="pg",
    )
    run = Experiment(ws, "adla_pg").submit(
        Pipeline(ws, [step]), pipeline_parameters={"target": "result_rows"}
    )
    assert run.wait_for_completion(show_output=False) == "Finished"
    with psycopg2.connect(dbname=dbname, **PG) as conn, conn.cursor() as cur:
        cur.execute("SELECT query FROM result_rows ORDER BY 1")
        assert [r[0] for r in cur.fetchall()] == ["airflow", "azure ml", "pipelines, v1", "rows: 3"]
        cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'result_rows'")
        assert [r[0] for r in cur.fetchall()] == ["query"]
    (rec,) = [s.record for s in run.get_steps()]
    assert [s["rows_affected"] for s in rec["statements"]] == [3, 1]


def test_usql_on_postgresql_is_refused_naming_the_fix(embedded_airflow_home, workspace_dir, pg_conn_env):
    conn_id, _ = pg_conn_env
    ws = project(workspace_dir, {"pg": {"type": "ADLAnalytics", "conn_id": conn_id, "retries": 0}})
    pipeline = sample_pipeline(ws, workspace_dir / "adla", compute_target="pg")
    run = Experiment(ws, "adla_pg_usql").submit(pipeline)
    with pytest.raises(ActivityFailedException, match="U-SQL .* runs on DuckDB only"):
        run.wait_for_completion(show_output=False)
