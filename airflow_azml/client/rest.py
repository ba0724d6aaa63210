"""A small client for a running Airflow's REST API v2 (JWT from ``/auth/token``).

Configured by the workspace file's ``airflow`` section::

    "airflow": {"base_url": "http://airflow:8080", "username": "ci", "password_env": "CI_AIRFLOW_PW"}

or by the environment: ``AZML_AIRFLOW_URL``, ``AZML_AIRFLOW_USERNAME``, ``AZML_AIRFLOW_PASSWORD``
(environment values win over the file). Never imports Airflow: it talks HTTP only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from airflow_azml.core._home import airflow_settings
from airflow_azml.exceptions import AirflowApiError, WorkspaceConfigError

__all__ = ["AirflowRestClient", "airflow_settings"]


def _q(part: str) -> str:
    return quote(part, safe="")


class AirflowRestClient:
    """Calls to ``/api/v2`` with a bearer token fetched (and refreshed once on 401) from ``/auth/token``."""

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 30.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self._token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    @classmethod
    def from_workspace(cls, workspace: Any = None) -> AirflowRestClient:
        """The client for the Airflow named by ``workspace``'s file or the environment."""
        cfg = airflow_settings(workspace)
        if not cfg.get("base_url"):
            raise WorkspaceConfigError(
                "No running Airflow is configured: add an 'airflow' section with base_url, username and "
                "password (or password_env) to the workspace file, or set AZML_AIRFLOW_URL, "
                "AZML_AIRFLOW_USERNAME and AZML_AIRFLOW_PASSWORD."
            )
        return cls(cfg["base_url"], cfg.get("username"), cfg.get("password"), token=cfg.get("token"))

    # -- auth -------------------------------------------------------------------------------
    def token(self, refresh: bool = False) -> str:
        """A JWT for the configured user (POST /auth/token)."""
        if self._token and not refresh:
            return self._token
        if not self.username or self.password is None:
            raise WorkspaceConfigError(
                f"Airflow at {self.base_url} needs a username and password (workspace file 'airflow' section, "
                "or AZML_AIRFLOW_USERNAME / AZML_AIRFLOW_PASSWORD)."
            )
        resp = self._send("POST", "/auth/token", json={"username": self.username, "password": self.password})
        if resp.status_code not in (200, 201):
            raise AirflowApiError(
                f"Airflow at {self.base_url} refused the login of {self.username!r}: "
                f"{resp.status_code} {resp.text[:300]}",
                resp.status_code,
            )
        self._token = str(resp.json()["access_token"])
        return self._token

    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AirflowApiError(f"Cannot reach Airflow at {self.base_url}{path}: {exc}") from exc

    def request(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response:
        """Send with the bearer token; a 401 refreshes the token once; other statuses not in ``ok`` raise."""
        resp = self._send(method, path, headers=self.auth_header(), **kwargs)
        if resp.status_code == 401 and self.username:
            self.token(refresh=True)
            resp = self._send(method, path, headers=self.auth_header(), **kwargs)
        if resp.status_code not in ok:
            detail = _detail(resp)
            raise AirflowApiError(
                f"{method} {path} on {self.base_url}: {resp.status_code} {detail}", resp.status_code, detail
            )
        return resp

    # -- DAGs ----------------------------------------------------------------------------------
    def get_dag(self, dag_id: str) -> dict[str, Any] | None:
        resp = self.request("GET", f"/api/v2/dags/{_q(dag_id)}", ok=(200, 404))
        return None if resp.status_code == 404 else dict(resp.json())

    def wait_dag(
        self, dag_id: str, timeout: float = 0, until: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any] | None:
        """The DAG, polling up to ``timeout`` seconds for the dag-processor to parse it (and, with
        ``until``, for a parse of it that ``until`` accepts); None when that did not happen in time."""
        deadline = time.monotonic() + timeout
        while True:
            dag = self.get_dag(dag_id)
            if dag is not None and (until is None or until(dag)):
                return dag
            if time.monotonic() >= deadline:
                return None
            time.sleep(1)

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        return dict(self.request("PATCH", f"/api/v2/dags/{_q(dag_id)}", json={"is_paused": paused}).json())

    def list_tasks(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/api/v2/dags/{_q(dag_id)}/tasks").json()["tasks"])

    # -- runs ------------------------------------------------------------------------------------
    def trigger(
        self,
        dag_id: str,
        conf: dict[str, Any] | None = None,
        run_id: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Create a DAG run now (``logical_date`` null); the DAG's Params validate ``conf`` (400 otherwise)."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        if note:
            body["note"] = note
        return dict(self.request("POST", f"/api/v2/dags/{_q(dag_id)}/dagRuns", json=body).json())

    def get_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}").json())

    def list_runs(self, dag_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Runs of ``dag_id``, newest first."""
        resp = self.request(
            "GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns", params={"limit": limit, "order_by": "-run_after"}
        )
        return list(resp.json()["dag_runs"])

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> dict[str, Any]:
        return dict(
            self.request(
                "PATCH", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}", json={"state": state}
            ).json()
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        resp = self.request(
            "GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances", params={"limit": 1000}
        )
        return list(resp.json()["task_instances"])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """The Airflow task log of one try, as text."""
        resp = self.request(
            "GET",
            f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/logs/{try_number}",
            params={"full_content": True},
            headers={"Accept": "text/plain"},
        )
        return resp.text

    # -- connections -----------------------------------------------------------------------------
    def put_connection(self, conn_id: str, fields: dict[str, Any]) -> str:
        """Create the connection ``conn_id`` (POST), or replace its fields when it exists (PATCH).

        ``fields``: conn_type, host, login, password, schema, port, extra (a dict or a JSON string).
        Returns ``"created"`` or ``"updated"``. An error's text is the server's, which may quote the
        request: callers that send a secret redact it before showing the error.
        """
        extra = fields.get("extra")
        body = {
            "connection_id": conn_id,
            "conn_type": fields["conn_type"],
            **{k: fields.get(k) for k in ("description", "host", "login", "password", "schema", "port")},
            "extra": extra if extra is None or isinstance(extra, str) else json.dumps(extra),
        }
        resp = self.request("POST", "/api/v2/connections", ok=(201, 409), json=body)
        if resp.status_code == 201:
            return "created"
        self.request("PATCH", f"/api/v2/connections/{_q(conn_id)}", json=body)
        return "updated"

    def get_connection(self, conn_id: str) -> dict[str, Any] | None:
        """The connection ``conn_id`` as the server shows it (password and secret extras masked), or None."""
        resp = self.request("GET", f"/api/v2/connections/{_q(conn_id)}", ok=(200, 404))
        return None if resp.status_code == 404 else dict(resp.json())

    # -- assets ----------------------------------------------------------------------------------
    def find_asset(self, uri: str) -> dict[str, Any] | None:
        """The active asset whose URI is ``uri`` (a DAG declares it), or None."""
        resp = self.request("GET", "/api/v2/assets", params={"uri_pattern": uri, "limit": 100})
        found = [a for a in resp.json()["assets"] if a.get("uri") == uri]
        return dict(found[0]) if found else None

    def post_asset_event(self, asset_id: int, extra: dict[str, Any]) -> dict[str, Any]:
        """Create an event of the asset ``asset_id`` (POST /api/v2/assets/events)."""
        body = {"asset_id": asset_id, "extra": extra}
        return dict(self.request("POST", "/api/v2/assets/events", json=body).json())

    def close(self) -> None:
        self._http.close()


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:500]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return str(detail)[:1000]
