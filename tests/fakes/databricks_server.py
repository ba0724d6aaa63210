"""A fake Databricks REST server on loopback, for the DatabricksStep tests.

No Databricks workspace can be reached from this machine, so the Jobs and DBFS endpoints
that ``apache-airflow-providers-databricks`` calls are played here. The server records every
request (method, path, query, JSON body, bearer token) so tests can assert the exact
``runs/submit`` payloads, and plays a scripted sequence of run states per submitted run:
success, failure with an error in the run output, cancellation, or a stretch of HTTP 500s
that makes a poll fail (to force an Airflow retry that must re-attach to the same run).
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

__all__ = ["FakeDatabricks", "RunScript", "Request", "SUCCESS", "FAILED", "RUNNING", "PENDING"]

PENDING = ("PENDING", None, "Waiting for cluster")
RUNNING = ("RUNNING", None, "In run")
SUCCESS = ("TERMINATED", "SUCCESS", "")
FAILED = ("TERMINATED", "FAILED", "Task failed with an error")
CANCELED = ("TERMINATED", "CANCELED", "Run cancelled by the user")
_TASK_KINDS = ("notebook_task", "spark_python_task", "spark_jar_task")


@dataclass
class RunScript:
    """How one submitted run behaves: the state each ``runs/get`` returns in turn (the last one
    repeats), an optional error for ``runs/get-output``, and ``runs/get`` calls (by index) that
    answer HTTP 500 instead."""

    states: list[tuple[str, str | None, str]] = field(default_factory=lambda: [PENDING, RUNNING, SUCCESS])
    error: str | None = None
    error_trace: str | None = None
    fail_gets: set[int] = field(default_factory=set)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    token: str | None


@dataclass
class _Run:
    run_id: int
    payload: dict[str, Any]
    script: RunScript
    gets: int = 0
    served: int = 0
    canceled: bool = False

    def state(self) -> tuple[str, str | None, str]:
        if self.canceled:
            return CANCELED
        current = self.script.states[min(self.served, len(self.script.states) - 1)]
        self.served += 1
        return current


class FakeDatabricks:
    """``with FakeDatabricks(token="tok") as fake:`` serves on ``fake.port`` until the block ends.

    ``states``: what a run not given a ``RunScript`` in ``scripts`` goes through (default
    PENDING, RUNNING, SUCCESS); ``port``: 0 picks a free one.
    """

    def __init__(self, token: str = "tok", states: list | None = None, port: int = 0):
        self.token = token
        self.default_states = list(states) if states else None
        self.requests: list[Request] = []
        self.runs: dict[int, _Run] = {}
        self.dbfs: dict[str, bytes] = {}
        self.scripts: list[RunScript] = []
        self._lock = threading.Lock()
        self._next_id = 1000
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def __enter__(self) -> FakeDatabricks:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def connection_json(self) -> str:
        """The Airflow connection (for ``AIRFLOW_CONN_<ID>``) pointing the provider here."""
        return json.dumps(
            {
                "conn_type": "databricks",
                "host": f"127.0.0.1:{self.port}",
                "schema": "http",
                "password": self.token,
            }
        )

    def run_page_url(self, run_id: int) -> str:
        return f"http://127.0.0.1:{self.port}/#job/{run_id}/run/{run_id}"

    # -- what the tests read --------------------------------------------------------------
    def calls(self, path_suffix: str) -> list[Request]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    def submitted(self) -> list[dict[str, Any]]:
        """Every ``runs/submit`` body, in order."""
        return [r.body for r in self.calls("/jobs/runs/submit")]

    # -- request handling -----------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                return

            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                auth = self.headers.get("Authorization") or ""
                token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
                req = Request(method, url.path, query, body, token)
                with fake._lock:
                    fake.requests.append(req)
                    status, answer = fake._answer(req)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler

    def _answer(self, req: Request) -> tuple[int, dict[str, Any]]:
        if req.token != self.token:
            return 401, {"error_code": "UNAUTHENTICATED", "message": "bad or missing bearer token"}
        routes = {
            ("POST", "/api/2.2/jobs/runs/submit"): self._submit,
            ("GET", "/api/2.2/jobs/runs/get"): self._get,
            ("GET", "/api/2.2/jobs/runs/get-output"): self._output,
            ("POST", "/api/2.2/jobs/runs/cancel"): self._cancel,
            ("GET", "/api/2.0/dbfs/get-status"): self._dbfs_status,
            ("POST", "/api/2.0/dbfs/put"): self._dbfs_put,
        }
        route = routes.get((req.method, req.path))
        if route is None:
            return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"{req.method} {req.path}"}
        return route(req)

    def _submit(self, req: Request) -> tuple[int, dict[str, Any]]:
        body = req.body or {}
        tasks = [k for k in _TASK_KINDS if k in body]
        clusters = [k for k in ("new_cluster", "existing_cluster_id") if k in body]
        if len(tasks) != 1 or len(clusters) != 1 or "run_name" not in body:
            return 400, {
                "error_code": "INVALID_PARAMETER_VALUE",
                "message": f"need one task ({tasks}), one cluster ({clusters}) and run_name",
            }
        self._next_id += 1
        default = RunScript(states=list(self.default_states)) if self.default_states else RunScript()
        script = self.scripts.pop(0) if self.scripts else default
        self.runs[self._next_id] = _Run(self._next_id, body, script)
        return 200, {"run_id": self._next_id}

    def _run(self, req: Request) -> _Run | None:
        raw = req.query.get("run_id") or (req.body or {}).get("run_id")
        run_id = int(raw) if raw is not None else -1
        return self.runs.get(run_id) or self.runs.get(run_id - 500_000)

    def _get(self, req: Request) -> tuple[int, dict[str, Any]]:
        run = self._run(req)
        if run is None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run does not exist"}
        run.gets += 1
        if run.gets in run.script.fail_gets:
            return 500, {"error_code": "INTERNAL_ERROR", "message": "scripted outage"}
        life, result, message = run.state()
        state = {"life_cycle_state": life, "state_message": message}
        if result:
            state["result_state"] = result
        task = {"run_id": run.run_id + 500_000, "task_key": "azml_step", "attempt_number": 0, "state": state}
        return 200, {
            "run_id": run.run_id,
            "job_id": run.run_id,
            "run_name": run.payload.get("run_name"),
            "run_page_url": self.run_page_url(run.run_id),
            "state": state,
            "tasks": [task],
        }

    def _output(self, req: Request) -> tuple[int, dict[str, Any]]:
        run = self._run(req)
        if run is None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run does not exist"}
        answer: dict[str, Any] = {"metadata": {"run_id": run.run_id}}
        if run.script.error:
            answer.update(error=run.script.error, error_trace=run.script.error_trace or run.script.error)
        return 200, answer

    def _cancel(self, req: Request) -> tuple[int, dict[str, Any]]:
        run = self._run(req)
        if run is None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run does not exist"}
        run.canceled = True
        return 200, {}

    def _dbfs_status(self, req: Request) -> tuple[int, dict[str, Any]]:
        path = req.query.get("path", "")
        if path not in self.dbfs:
            return 404, {
                "error_code": "RESOURCE_DOES_NOT_EXIST",
                "message": f"No file or directory exists on path {path}.",
            }
        return 200, {"path": path, "is_dir": False, "file_size": len(self.dbfs[path])}

    def _dbfs_put(self, req: Request) -> tuple[int, dict[str, Any]]:
        body = req.body or {}
        path = body.get("path", "")
        if path in self.dbfs and not body.get("overwrite"):
            return 400, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": f"{path} already exists."}
        self.dbfs[path] = base64.b64decode(body.get("contents", ""))
        return 200, {}
