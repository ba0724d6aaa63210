"""A public Blob container registered with no credential is read anonymously, as in v1.

The container lives in a real Azurite, on HTTPS under a throwaway CA, for an account named like
a production one (``pipelinedata``); clients reach ``https://pipelinedata.blob.core.windows.net``
only through a local CONNECT proxy (``HTTPS_PROXY``), and trust the CA only through
``SSL_CERT_FILE`` or ``REQUESTS_CA_BUNDLE``: what a notebook behind a corporate proxy sees.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_azml.core import Dataset, Datastore, Experiment, Workspace
from airflow_azml.exceptions import DatastoreError
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write
from tests.support.azurite import AzuriteServer, require_azurite
from tests.support.web import Site, _Proxy, _Server, make_ca_and_cert

ACCOUNT, CONTAINER = "pipelinedata", "sampledata"
HOST = f"{ACCOUNT}.blob.core.windows.net"
IRIS = b"sepal.length,sepal.width\n5.1,3.5\n4.9,3.0\n6.2,2.9\n"


@dataclass
class PublicBlob:
    proxy: str
    ca: Path
    site: Site  # the proxy's log: which hosts were tunnelled


@pytest.fixture(scope="module")
def public_blob(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublicBlob]:
    """Azurite serving account ``pipelinedata`` on HTTPS behind a CONNECT proxy, seeded with a public container."""
    require_azurite()
    folder = tmp_path_factory.mktemp("public_blob")
    ca, cert, key = make_ca_and_cert(folder, [HOST])
    account_key = base64.b64encode(os.urandom(64)).decode()
    azurite = AzuriteServer(
        extra_args=("--cert", str(cert), "--key", str(key)),
        env={"AZURITE_ACCOUNTS": f"{ACCOUNT}:{account_key}"},
    )
    proxy = _Server(("127.0.0.1", 0), _Proxy)
    proxy.site = Site()  # type: ignore[attr-defined]
    with azurite:
        proxy.https_port = azurite.port  # type: ignore[attr-defined]  # every tunnel ends at Azurite
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{proxy.server_address[1]}"
        _seed(url, ca, account_key)
        try:
            yield PublicBlob(url, ca, proxy.site)  # type: ignore[attr-defined]
        finally:
            proxy.shutdown()
            proxy.server_close()


def _seed(proxy: str, ca: Path, account_key: str) -> None:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient(
        f"https://{HOST}",
        credential={"account_name": ACCOUNT, "account_key": account_key},
        proxies={"https": proxy},
        connection_verify=str(ca),
    )
    container = service.get_container_client(CONTAINER)
    container.create_container(public_access="container")  # anonymous read and list
    for i in range(3):
        container.upload_blob(f"mnist/{i}.png", f"png {i}".encode())
    container.upload_blob("iris/iris.csv", IRIS)


@pytest.fixture
def behind_proxy(public_blob: PublicBlob, monkeypatch: pytest.MonkeyPatch) -> PublicBlob:
    for key in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(key, public_blob.proxy)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")  # the embedded Airflow's API stays direct
    monkeypatch.setenv("SSL_CERT_FILE", str(public_blob.ca))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    return public_blob


def _register(ws: Workspace) -> Datastore:
    return Datastore.register_azure_blob_container(
        ws, datastore_name="sample_store", container_name=CONTAINER, account_name=ACCOUNT
    )


def test_read_without_credentials_through_the_proxy(
    behind_proxy: PublicBlob, azml_home: Path, tmp_path
) -> None:
    ws = Workspace()
    store = _register(ws)
    # no secret, so no Airflow connection: the registration keeps the names only
    assert store.to_spec() == {
        "type": "azure_blob",
        "container_name": CONTAINER,
        "account_name": ACCOUNT,
        "anonymous": True,
    }
    mnist = Dataset.File.from_files(path=store.path("mnist"))
    assert mnist.to_path() == ["/0.png", "/1.png", "/2.png"]
    iris = Dataset.Tabular.from_delimited_files(path=[(store, "iris/iris.csv")])
    assert iris.to_pandas_dataframe()["sepal.length"].tolist() == [5.1, 4.9, 6.2]
    # Datastore.download as v1: the files below the prefix, keeping their paths
    assert store.download(str(tmp_path / "dl"), prefix="mnist", show_progress=False) == 3
    assert (tmp_path / "dl" / "mnist" / "1.png").read_bytes() == b"png 1"
    assert f"{HOST}:443" in behind_proxy.site.tunnels
    # found again by name from another Workspace object (another notebook, a worker)
    again = Datastore(Workspace(), "sample_store")
    assert again.store.read_bytes("iris/iris.csv") == IRIS
    with pytest.raises(
        DatastoreError, match=r"registered without a credential.*account_key=, sas_token= or conn_id="
    ):
        store.upload(str(tmp_path / "dl"), target_path="mine", show_progress=False)


def test_ca_bundle_from_requests_ca_bundle_and_verification(
    behind_proxy: PublicBlob, azml_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(behind_proxy.ca))
    assert _register(Workspace()).store.list_files("iris") == ["iris/iris.csv"]
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(Exception, match="(?i)certificate"):  # the throwaway CA is trusted only when given
        _register(Workspace()).store.list_files("iris")


@pytest.mark.slow
def test_a_step_reads_the_public_container(
    behind_proxy: PublicBlob, embedded_airflow_home, azml_home, tmp_path
):
    """A DataReference download and a mounted file dataset, both from the anonymous container, in a worker."""
    ws = Workspace()
    store = _register(ws)
    write(
        tmp_path / "steps" / "count.py",
        "import os, sys\nfrom airflow_azml.core import Run\n"
        "run = Run.get_context()\n"
        "rows = open(os.path.join(sys.argv[1], 'iris.csv')).read().splitlines()\n"
        "run.log('rows', len(rows) - 1)\n"
        "digits = run.input_datasets['digits']\n"
        "run.log('digits', len(os.listdir(digits)))\n",
    )
    iris = store.path("iris", data_reference_name="iris").as_download()
    digits = Dataset.File.from_files(path=store.path("mnist")).as_named_input("digits").as_mount()
    step = PythonScriptStep(
        "count.py",
        name="count",
        arguments=[iris],
        inputs=[iris, digits],
        source_directory=str(tmp_path / "steps"),
    )
    run = Experiment(ws, "public_container").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert run.find_step_run("count")[0].get_metrics() == {"rows": 3, "digits": 3}
