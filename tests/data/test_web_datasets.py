"""Datasets whose files live behind web URLs, fetched over real sockets from local servers.

Nothing is fetched when a dataset is built; the driver's ``to_pandas_dataframe`` / ``download`` /
``to_path`` fetch through the proxy the environment names (CONNECT tunnel, a CA bundle the
test made), NO_PROXY hosts are reached directly, and a URL's ETag is its content version.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from airflow_azml.core import Dataset, Workspace
from airflow_azml.data.web import url_version
from airflow_azml.exceptions import DataFetchError, UserErrorException
from tests.support.web import DATA_HOST, LocalWeb

TITANIC = b"PassengerId,Survived,Name\n1,0,Ann\n2,1,Bob\n3,1,Cid\n"
MORE = b"PassengerId,Survived,Name\n4,0,Dee\n"
_PROXY_VARS = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
)


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    site = LocalWeb(tmp_path / "web")
    site.site.put("/demo/Titanic.csv", TITANIC)
    site.site.put("/demo/more.csv", MORE)
    yield site
    site.close()


@pytest.fixture
def corporate(web: LocalWeb, monkeypatch: pytest.MonkeyPatch) -> LocalWeb:
    """The environment of a corporate network: a proxy for the world, its own CA."""
    for name, value in web.proxy_env().items():
        monkeypatch.setenv(name, value)
    return web


def test_building_a_web_dataset_fetches_nothing(web: LocalWeb, azml_home):
    url = web.proxied_url("/demo/Titanic.csv")
    tabular = Dataset.Tabular.from_delimited_files(url)
    files = Dataset.File.from_files([url, web.proxied_url("/demo/more.csv")])
    parquet = Dataset.Tabular.from_parquet_files(path=[url])
    assert tabular.definition["paths"] == [{"url": url}]
    assert len(files.definition["paths"]) == 2 and parquet.definition["format"] == "parquet"
    assert web.site.requests == [] and web.site.tunnels == []


def test_driver_reads_through_the_proxy_with_its_ca(corporate: LocalWeb, azml_home):
    url = corporate.proxied_url("/demo/Titanic.csv")
    frame = Dataset.Tabular.from_delimited_files(url).to_pandas_dataframe()
    assert frame["Name"].tolist() == ["Ann", "Bob", "Cid"]
    assert corporate.site.tunnels and all(t == f"{DATA_HOST}:443" for t in corporate.site.tunnels)
    assert corporate.site.gets("/demo/Titanic.csv") == 1


def test_a_second_read_comes_from_the_cache_until_the_etag_changes(corporate: LocalWeb, azml_home):
    ds = Dataset.Tabular.from_delimited_files(corporate.proxied_url("/demo/Titanic.csv"))
    before = url_version(corporate.proxied_url("/demo/Titanic.csv"))
    assert len(ds.to_pandas_dataframe()) == 3 and len(ds.to_pandas_dataframe()) == 3
    assert corporate.site.gets("/demo/Titanic.csv") == 1  # the second read only asked for the ETag
    corporate.site.put("/demo/Titanic.csv", TITANIC + b"4,0,Dee\n")
    assert url_version(corporate.proxied_url("/demo/Titanic.csv")) != before
    assert len(ds.to_pandas_dataframe()) == 4
    assert corporate.site.gets("/demo/Titanic.csv") == 2


@pytest.mark.parametrize("no_proxy", ["localhost,127.0.0.1", ".invalid,localhost,127.0.0.0/8"])
def test_no_proxy_hosts_are_reached_directly(web: LocalWeb, azml_home, monkeypatch, no_proxy):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", no_proxy)  # names, or a CIDR range as corporate lists have
    monkeypatch.setenv("SSL_CERT_FILE", str(web.ca))
    https = Dataset.Tabular.from_delimited_files(web.https_url("/demo/Titanic.csv"))
    plain = Dataset.Tabular.from_delimited_files(web.http_url("/demo/more.csv"))
    assert len(https.to_pandas_dataframe()) == 3 and len(plain.to_pandas_dataframe()) == 1
    assert web.site.tunnels == []


def test_list_of_urls_reads_every_file_and_file_datasets_download(corporate: LocalWeb, azml_home, tmp_path):
    urls = [corporate.proxied_url("/demo/Titanic.csv"), corporate.proxied_url("/demo/more.csv")]
    rows = Dataset.Tabular.from_delimited_files(path=urls).to_pandas_dataframe()
    assert rows["PassengerId"].tolist() == [1, 2, 3, 4]
    single = Dataset.File.from_files(urls[0])
    assert single.to_path() == ["/Titanic.csv"]
    both = Dataset.File.from_files(urls)
    assert both.to_path() == ["/Titanic.csv", "/more.csv"]
    written = both.download(str(tmp_path / "dl"))
    assert sorted(Path(p).name for p in written) == ["Titanic.csv", "more.csv"]
    assert (tmp_path / "dl" / "Titanic.csv").read_bytes() == TITANIC
    assert both.take(1).to_path() == ["/Titanic.csv"]


def test_parquet_from_a_url(corporate: LocalWeb, azml_home):
    import pandas as pd

    buf = io.BytesIO()
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(buf, index=False)
    corporate.site.put("/tables/t.parquet", buf.getvalue())
    ds = Dataset.Tabular.from_parquet_files(corporate.proxied_url("/tables/t.parquet"))
    assert ds.take(1).to_pandas_dataframe().to_dict("records") == [{"a": 1, "b": "x"}]


def test_register_and_get_by_name(corporate: LocalWeb, azml_home):
    ws = Workspace()
    url = corporate.proxied_url("/demo/Titanic.csv")
    registered = Dataset.Tabular.from_delimited_files(url).register(ws, "titanic_web")
    assert (registered.name, registered.version) == ("titanic_web", 1)
    assert corporate.site.requests == []  # registering stores the definition, it fetches nothing
    again = Dataset.get_by_name(ws, "titanic_web")
    assert again.definition["paths"] == [{"url": url}]
    assert again.to_pandas_dataframe()["Name"].tolist() == ["Ann", "Bob", "Cid"]


def test_a_missing_file_names_the_url_and_the_route(corporate: LocalWeb, azml_home):
    url = corporate.proxied_url("/demo/nope.csv")
    with pytest.raises(DataFetchError) as err:
        Dataset.Tabular.from_delimited_files(url).to_pandas_dataframe()
    text = str(err.value)
    assert url in text and "HTTP 404" in text and corporate.proxy in text


def test_an_untrusted_certificate_is_refused_with_a_hint(web: LocalWeb, azml_home, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", web.proxy)
    with pytest.raises(DataFetchError) as err:
        Dataset.Tabular.from_delimited_files(web.proxied_url("/demo/Titanic.csv")).to_pandas_dataframe()
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value) and "REQUESTS_CA_BUNDLE" in str(err.value)


def test_servers_without_etag_are_versioned_by_last_resort_content_hash(corporate: LocalWeb, azml_home):
    corporate.site.etags = False
    first = url_version(corporate.proxied_url("/demo/Titanic.csv"))
    assert first.startswith("sha256:")
    corporate.site.put("/demo/Titanic.csv", MORE)
    assert url_version(corporate.proxied_url("/demo/Titanic.csv")) != first


def test_bad_paths_are_refused_when_built(azml_home):
    with pytest.raises(UserErrorException, match="wildcard"):
        Dataset.File.from_files("https://example.invalid/data/*.csv")
    with pytest.raises(UserErrorException, match="not supported"):
        Dataset.File.from_files("data/local.csv")
    with pytest.raises(UserErrorException, match="empty list"):
        Dataset.Tabular.from_delimited_files([])
    assert json.dumps(Dataset.File.from_files("http://example.invalid/a.csv").definition)


def test_a_proxy_that_refuses_the_tunnel_is_named(web: LocalWeb, azml_home, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", web.http_url(""))  # a server that does not do CONNECT
    monkeypatch.setenv("SSL_CERT_FILE", str(web.ca))
    with pytest.raises(DataFetchError) as err:
        Dataset.File.from_files(web.proxied_url("/demo/Titanic.csv")).download()
    assert "Tunnel connection failed" in str(err.value) and "HTTPS_PROXY" in str(err.value)
