"""The submitting machine's network settings for data, forwarded to a running Airflow's workers.

In Azure ML v1 a step's compute fetched web data (``Dataset.File.from_files("https://...")``,
public blob containers) itself, with the compute's own network. Airflow workers are the compute
here, and they do the same: ``data/web.py`` and the Blob client honour ``HTTPS_PROXY`` /
``NO_PROXY`` and a CA bundle from the worker's environment, which is where a shared deployment
sets them.

A worker started before (or apart from) the user's proxy setup does not have them, while the
notebook that submits does: typically an Airflow on the user's own machine, whose embedded runs
inherit the notebook's environment but whose scheduler-started tasks do not. A workspace can then
ask that the submitting process's settings go with the pipeline: ``"airflow": {"forward_network":
true}`` in the workspace file, or ``AZML_AIRFLOW_FORWARD_NETWORK=1``. The values are taken when the
pipeline is compiled (submit, publish) and stored in the plan's workspace, so every run of it
(submitted, published, REST, scheduled) fetches as the submitting process would; each step applies
them to its task process (and so to its script) for the attempt. A proxy password is not
forwarded (the plan is stored on the datastore); a CA bundle is forwarded as a path and used only
where it exists on the worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["NETWORK_ENVS", "FORWARD_ENV", "forwards_network", "client_network", "applied_network"]

#: the settings forwarded, as the environment names them (proxy names in both cases, as curl reads them)
PROXY_ENVS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")
CA_ENVS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
NETWORK_ENVS = PROXY_ENVS + CA_ENVS
#: the environment switch, as AZML_AIRFLOW_URL is for the workspace file's airflow.base_url
FORWARD_ENV = "AZML_AIRFLOW_FORWARD_NETWORK"

_log = logging.getLogger(__name__)


def forwards_network(workspace: Any) -> bool:
    """True when the workspace file (``airflow.forward_network``) or ``AZML_AIRFLOW_FORWARD_NETWORK`` asks."""
    value = (workspace._config.get("airflow") or {}).get("forward_network")
    if value is None:
        value = os.environ.get(FORWARD_ENV, "")
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    _log.warning(
        "The proxy %s has a password: it is not forwarded to the workers with the pipeline; give the workers "
        "HTTPS_PROXY in their own environment.",
        parts.hostname,
    )
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def client_network() -> dict[str, str]:
    """This process's proxy and CA bundle settings (only those set)."""
    found = {name: os.environ[name] for name in NETWORK_ENVS if os.environ.get(name)}
    return {
        k: _without_password(v) if k.lower() != "no_proxy" and k in PROXY_ENVS else v
        for k, v in found.items()
    }


@contextlib.contextmanager
def applied_network(settings: dict[str, str] | None, log: Any = None) -> Iterator[None]:
    """This process's environment with the forwarded ``settings`` (restored afterwards).

    A CA bundle that does not exist here is left out (with a log line): the worker keeps its own.
    """
    if not settings:
        yield
        return
    log = log or _log
    chosen: dict[str, str] = {}
    for name, value in settings.items():
        if name not in NETWORK_ENVS:
            continue
        if name in CA_ENVS and not os.path.exists(value):
            log.warning("The forwarded CA bundle %s=%s does not exist on this worker: not used.", name, value)
            continue
        chosen[name] = value
    if not chosen:
        yield
        return
    proxies = {k: v for k, v in chosen.items() if k.isupper() and k in PROXY_ENVS}
    log.info(
        "Network settings forwarded with the pipeline (airflow.forward_network): %s",
        ", ".join(f"{k}={v}" for k, v in sorted(proxies.items())) or "CA bundle only",
    )
    saved = {name: os.environ.get(name) for name in chosen}
    os.environ.update(chosen)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
