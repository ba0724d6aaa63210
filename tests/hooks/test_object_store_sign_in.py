"""A Blob / ADLS Gen2 datastore registered with a service principal that cannot sign in fails at its first
use in seconds with an error naming the connection and what to check (adlfs alone retried for 5+ minutes,
then raised a bare ServiceRequestError). Real Azure SDK, real network calls: this machine cannot reach
Microsoft Entra ID, which is the case under test."""

from __future__ import annotations

import json
import time

import pytest

from airflow_azml.core.datastore_remote import connection_for
from airflow_azml.exceptions import DatastoreError
from airflow_azml.provider.hooks.object_store import ObjectStore


def test_an_unreachable_sign_in_fails_at_once_naming_the_settings(monkeypatch: pytest.MonkeyPatch):
    conn = connection_for(
        "adls_gen2",
        {
            "account_name": "gen2acct",
            "tenant_id": "tenant-x",
            "client_id": "client-x",
            "client_secret": "s3cret",
        },
    )
    monkeypatch.setenv("AIRFLOW_CONN_GEN2_UNREACHABLE", json.dumps(conn))
    # a proxy that refuses every tunnel, as the notebook runner's does for hosts it does not serve
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    store = ObjectStore("gen2_unreachable", "fs1", kind="adls_gen2")
    started = time.monotonic()
    with pytest.raises(DatastoreError) as caught:
        store.exists("data/x.csv")
    assert time.monotonic() - started < 60
    message = str(caught.value)
    assert "'gen2_unreachable'" in message and "'client-x' of tenant 'tenant-x'" in message
    assert "tenant_id, client_id and client_secret" in message and "HTTPS_PROXY" in message
    assert "s3cret" not in message
