"""Two workspaces on one machine (one AZML_HOME) never see each other's registrations.

Each workspace's default datastore lives under ``$AZML_HOME/workspaces/<name>-<hash>/``, keyed
by subscription / resource group / name (or, for a workspace file naming none, by its path);
the default workspace (no file) keeps ``$AZML_HOME/datastores``. A dataset declared in the
workspace file is version 1 of its name; registered versions follow.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from airflow_azml.core import Dataset, Datastore, Workspace
from airflow_azml.core.model import Model, ModelNotFoundError
from airflow_azml.exceptions import DatasetNotFoundError, DatastoreNotFoundError, UserErrorException
from tests.conftest import write


def _project(root: Path, config: dict) -> Workspace:
    write(root / "config.json", json.dumps(config))
    return Workspace.from_config(root)


@pytest.fixture
def two(azml_home: Path, tmp_path: Path) -> tuple[Workspace, Workspace]:
    """Project A registers things; project B declares ``my_data`` (region,units) in its file."""
    a = _project(
        tmp_path / "a", {"workspace_name": "alpha", "subscription_id": "sub", "resource_group": "rg"}
    )
    b_root = tmp_path / "b"
    write(b_root / "data" / "sales.csv", "region,units\nnorth,3\nsouth,5\n")
    b = _project(
        b_root,
        {
            "workspace_name": "beta",
            "subscription_id": "sub",
            "resource_group": "rg",
            "datastores": {"seed": {"type": "local", "path": "data"}},
            "datasets": {"my_data": {"type": "tabular", "datastore": "seed", "path": "sales.csv"}},
        },
    )
    return a, b


def test_each_workspace_has_its_own_default_datastore(two, azml_home: Path, tmp_path: Path) -> None:
    a, b = two
    root_a, root_b = a.get_default_datastore().root, b.get_default_datastore().root
    assert root_a != root_b
    assert root_a.parent.parent.parent == azml_home / "workspaces" and root_a.parent.parent.name.startswith(
        "alpha-"
    )
    # the same identity from another Workspace object (a task process, another notebook) is the same place
    assert Workspace.from_config(tmp_path / "a").get_default_datastore().root == root_a
    assert (
        Workspace(subscription_id="sub", resource_group="rg", workspace_name="alpha")
        .get_default_datastore()
        .root
        == root_a
    )
    # the default workspace keeps the single-workspace layout of earlier releases
    assert Workspace().get_default_datastore().root == azml_home / "datastores" / "workspaceblobstore"
    # two workspace files that name no workspace are two workspaces, keyed by their paths
    unnamed_1 = _project(tmp_path / "u1", {"compute_targets": {}})
    unnamed_2 = _project(tmp_path / "u2", {"compute_targets": {}})
    roots = {w.get_default_datastore().root for w in (unnamed_1, unnamed_2, Workspace())}
    assert len(roots) == 3


def test_a_registration_elsewhere_never_shadows_a_declared_dataset(two) -> None:
    """The seed pipeline's KeyError: 'region': another project had registered my_data."""
    a, b = two
    store_a = a.get_default_datastore()
    write(store_a.root / "other.csv", "colour\nred\n")
    Dataset.Tabular.from_delimited_files(path=[(store_a, "other.csv")]).register(a, "my_data")
    assert list(Dataset.get_by_name(a, "my_data").to_pandas_dataframe().columns) == ["colour"]
    mine = Dataset.get_by_name(b, "my_data")
    assert list(mine.to_pandas_dataframe().columns) == ["region", "units"] and mine.resolve().version == 1
    assert Dataset.get_all(a).keys() == {"my_data"} and Dataset.get_all(b).keys() == {"my_data"}
    with pytest.raises(DatasetNotFoundError):
        Dataset.get_by_name(a, "my_data", version=2).resolve()


def test_declared_is_version_one_and_registrations_follow(two) -> None:
    _, b = two
    seed = b.datastores["seed"]
    write(Path(seed.root) / "more.csv", "region,units\neast,7\n")
    more = Dataset.Tabular.from_delimited_files(path=[(seed, "more.csv")])
    with pytest.raises(
        UserErrorException, match=r"already registered \(version 1\).*create_new_version=True"
    ):
        more.register(b, "my_data")
    registered = more.register(b, "my_data", create_new_version=True)
    assert registered.version == 2
    assert Dataset.get_by_name(b, "my_data").to_pandas_dataframe().to_dict("list") == {
        "region": ["east"],
        "units": [7],
    }
    assert list(Dataset.get_by_name(b, "my_data", version=1).to_pandas_dataframe()["region"]) == [
        "north",
        "south",
    ]
    with pytest.raises(DatasetNotFoundError, match=r"versions: \[1, 2\]"):
        Dataset.get_by_name(b, "my_data", version=3).resolve()


def test_datastores_and_models_stay_in_their_workspace(two, tmp_path: Path) -> None:
    a, b = two
    Datastore.register_local(a, "scratch", str(tmp_path / "scratch"))
    # registered in A: found from a fresh Workspace object of A (another process), not from B
    assert (
        Datastore(Workspace.from_config(tmp_path / "a"), "scratch").root == (tmp_path / "scratch").resolve()
    )
    with pytest.raises(DatastoreNotFoundError, match=r"No datastore named 'scratch' in workspace 'beta'"):
        Datastore.get(b, "scratch")
    Model.register(a, str(write(tmp_path / "m.pkl", "weights")), "shared_name")
    assert [m.id for m in Model.list(a)] == ["shared_name:1"] and Model.list(b) == []
    with pytest.raises(ModelNotFoundError, match="in workspace 'beta'"):
        Model.get_model_path("shared_name", _workspace=b)


def test_published_pipelines_stay_in_their_workspace(two, tmp_path: Path) -> None:
    from airflow_azml.pipeline.core import Pipeline, PublishedPipeline
    from airflow_azml.pipeline.steps import PythonScriptStep

    a, b = two
    write(tmp_path / "a" / "steps" / "s.py", "print('hi')\n")
    step = PythonScriptStep("s.py", name="s", source_directory=str(tmp_path / "a" / "steps"))
    published = Pipeline(a, [step]).publish(name="only_in_a")
    assert [p.id for p in PublishedPipeline.list(a)] == [published.id]
    assert PublishedPipeline.list(b) == []


def test_missing_datastore_is_what_v1_code_catches(two, monkeypatch) -> None:
    """v1 samples wrap Datastore.get in ``except HttpOperationError`` (msrest) or ``except UserErrorException``."""
    _, b = two

    class HttpOperationError(Exception):
        def __init__(self, deserialize, response):  # msrest's signature: never called for ours
            raise AssertionError("not used")

    monkeypatch.setitem(
        sys.modules, "msrest.exceptions", types.SimpleNamespace(HttpOperationError=HttpOperationError)
    )
    with pytest.raises(HttpOperationError) as caught:
        Datastore.get(b, "MyAdlsDatastore")
    assert isinstance(caught.value, UserErrorException) and "MyAdlsDatastore" in caught.value.message
    monkeypatch.delitem(sys.modules, "msrest.exceptions")
    with pytest.raises(UserErrorException):
        Datastore.get(b, "MyAdlsDatastore")


def test_a_registration_in_the_old_shared_layout_is_pointed_to(two, azml_home: Path) -> None:
    """Earlier releases kept every workspace's registry in $AZML_HOME/datastores: say where, and how to move it."""
    a, _ = two
    old = azml_home / "datastores" / "workspaceblobstore"
    write(old / ".azml" / "datasets" / "legacy" / "1.json", "{}")
    with pytest.raises(DatasetNotFoundError) as caught:
        Dataset.get_by_name(a, "legacy").resolve()
    message = str(caught.value)
    assert f"stored in {old}" in message and str(a.get_default_datastore().root) in message
    with pytest.raises(DatasetNotFoundError, match=r"No dataset named .legacy2.") as other:
        Dataset.get_by_name(a, "legacy2").resolve()
    assert "stored in" not in str(other.value)  # only named when it is there
