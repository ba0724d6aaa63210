"""The ways a local run could execute a DAG, measured on the same DAGs (issue #14's choice).

One BashOperator sleeping 5 s (``one``) and four independent ones (``four``), each way timed from
a fresh process (except the warm scheduler, a running deployment triggered over REST), alternated:

- ``dag_test``: ``dag.test()`` (tasks one after another: what local runs did before #14);
- ``use_executor``: ``dag.test(use_executor=True)`` with the LocalExecutor (parallelism 4) and the
  Execution API served by uvicorn in the same process (its workers need one over HTTP);
- ``local_cold``: our runner without the warm server (``AZML_LOCAL_SERVER_IDLE=0``);
- ``local_warm``: our runner through the warm local server (the default);
- ``scheduler``: a running scheduler + dag-processor + api-server (LocalExecutor, parallelism 4),
  trigger to end over REST.

Run: ``.venv/bin/python -m bench.bench_local_options`` (a few minutes; not part of run_all).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from bench._common import REPO, median_of, report, run_timed

REPEATS = 3

DAGS = """
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

for n, name in ((1, "one"), (4, "four")):
    with DAG(f"opt_{name}", schedule=None) as d:
        for i in range(n):
            BashOperator(task_id=f"t{i}", bash_command="sleep 5")
    globals()[name] = d
"""

DAG_TEST = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("opt", sys.argv[1]); m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
assert m.__dict__[sys.argv[2]].test().state == "success"
"""

USE_EXECUTOR = """
import importlib.util, os, socket, sys, threading, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
os.environ["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
import uvicorn
from airflow.api_fastapi.app import create_app
server = uvicorn.Server(uvicorn.Config(create_app(apps="execution"), host="127.0.0.1", port=port, log_level="warning"))
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.05)
spec = importlib.util.spec_from_file_location("opt", sys.argv[1]); m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
assert m.__dict__[sys.argv[2]].test(use_executor=True).state == "success"
"""

DRIVE = """
import sys, time
from pathlib import Path
from airflow_azml.provider.local.embedded import start_local_run

handle = start_local_run(Path(sys.argv[1]), sys.argv[2], {})
while handle.status().get("state") in (None, "queued", "running"):
    time.sleep(0.2)
assert handle.status()["state"] == "success", handle.status()
"""


def main() -> list[dict]:
    from airflow_azml.provider.local.embedded import embedded_env, ensure_db
    from tests.support.live_airflow import LiveAirflow

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dags = root / "dags"
        dags.mkdir()
        dag_file = dags / "opt.py"
        dag_file.write_text(DAGS)
        for name, text in (("dag_test.py", DAG_TEST), ("use_executor.py", USE_EXECUTOR), ("drive.py", DRIVE)):
            (root / name).write_text(text)
        os.environ["AZML_HOME"] = str(root / "azml")
        os.environ["AZML_AIRFLOW_HOME"] = str(root / "airflow")
        env = embedded_env(dags)
        ensure_db(env)
        env.update(
            {
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__API_AUTH__JWT_SECRET": "bench-local-options-" + "x" * 48,
                "AZML_LOCAL_PARALLELISM": "4",
                "AZML_LOCAL_OWNER_PID": str(os.getpid()),
                "PYTHONPATH": str(REPO),
            }
        )
        py = sys.executable
        ways = {
            "dag_test": lambda d: run_timed([py, str(root / "dag_test.py"), str(dag_file), d], env=env),
            "use_executor": lambda d: run_timed(
                [py, str(root / "use_executor.py"), str(dag_file), d], env=env
            ),
            "local_cold": lambda d: run_timed(
                [py, str(root / "drive.py"), str(dag_file), f"opt_{d}"],
                env={**env, "AZML_LOCAL_SERVER_IDLE": "0"},
            ),
            "local_warm": lambda d: run_timed(
                [py, str(root / "drive.py"), str(dag_file), f"opt_{d}"], env=env
            ),
        }
        ways["local_warm"]("one")  # start the warm server (not timed)
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(REPEATS):
            for way, run in ways.items():
                for dag in ("one", "four"):
                    times.setdefault((way, dag), []).append(run(dag))
        with LiveAirflow(dags, home=root / "live", parallelism=4) as af:
            for dag in ("one", "four"):
                af.wait_dag(f"opt_{dag}")
                assert af.wait_run(f"opt_{dag}", af.trigger(f"opt_{dag}")) == "success"  # warm-up
            for _ in range(REPEATS):
                for dag in ("one", "four"):
                    start = time.perf_counter()
                    assert af.wait_run(f"opt_{dag}", af.trigger(f"opt_{dag}")) == "success"
                    times.setdefault(("scheduler", dag), []).append(time.perf_counter() - start)
    rows = []
    for way in (*ways, "scheduler"):
        one, four = median_of(times[(way, "one")]), median_of(times[(way, "four")])
        rows.append(
            {
                "what": f"local run option {way}: one 5 s BashOperator task / four independent",
                "one_s": one,
                "four_s": four,
                "ratio": four / one,
                "target": "four/one <= 1.2, one <= 10 s",
            }
        )
    report("local_options", rows)
    return rows


if __name__ == "__main__":
    main()
