"""The pipeline view in a real browser: a live Airflow (api-server, scheduler, dag-processor),
two runs of a pipeline whose steps log metrics (log, repeated log, log_row, log_list, log_image),
then headless Chromium logs in to Airflow, opens the run's "Pipeline (azml)" tab and checks the
graph, metrics and charts. Screenshots go to tests/system/artifacts/ for review.

Needs Debian's chromium + chromium-driver and the ``selenium`` package; skips without them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import write
from tests.support.live_airflow import PASSWORDS, LiveAirflow, LiveAirflowError

pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parent / "artifacts"
DAG_ID = "ui_metrics_pipeline"

DAG_FILE = f'''from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
features = PipelineData("features", datastore=ws.get_default_datastore())
model = PipelineData("model", datastore=ws.get_default_datastore())
lr = PipelineParameter("learning_rate", default_value=0.1)
prep = PythonScriptStep(name="prep", script_name="prep.py", source_directory="steps",
                        arguments=["--out", features], outputs=[features])
train = PythonScriptStep(name="train", script_name="train.py", source_directory="steps",
                         arguments=["--features", features, "--model", model, "--lr", lr],
                         inputs=[features], outputs=[model])
dag = Pipeline(workspace=ws, steps=[train], description="UI test: metrics of every kind").to_dag("{DAG_ID}")
'''

PREP = """import argparse, os
from airflow_azml.core import Run
p = argparse.ArgumentParser(); p.add_argument("--out"); a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
with open(os.path.join(a.out, "features.csv"), "w") as fh:
    fh.write("x,y\\n" + "".join(f"{i},{2 * i + 1}\\n" for i in range(500)))
run = Run.get_context()
run.log("rows", 500)
for split, n in (("train", 400), ("test", 100)):
    run.log_row("splits", split=split, rows=n)
"""

TRAIN = """import argparse, os, struct, zlib
from airflow_azml.core import Run
p = argparse.ArgumentParser()
p.add_argument("--features"); p.add_argument("--model"); p.add_argument("--lr", type=float)
a = p.parse_args()
run = Run.get_context()
rows = open(os.path.join(a.features, "features.csv")).read().count("\\n") - 1
loss = 1.0
for epoch in range(1, 9):
    loss *= 1 - a.lr * 2
    run.log("loss", round(loss, 4))
    run.log_row("epochs", epoch=epoch, val_loss=round(loss * 1.1, 4), val_acc=round(1 - loss / 2, 4))
run.log("accuracy", round(1 - loss / 2, 4))
run.log_list("coefficients", [2.0, 1.0, a.lr])

def png(path, w=160, h=90):
    rows_ = b"".join(b"\\0" + b"".join(bytes((30 + x, 90 + y, 200)) if y > h - (x * h // w) else b"\\xff\\xff\\xff"
                                       for x in range(w)) for y in range(h))
    chunk = lambda k, d: struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
    with open(path, "wb") as fh:
        fh.write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                 + chunk(b"IDAT", zlib.compress(rows_)) + chunk(b"IEND", b""))

os.makedirs(a.model, exist_ok=True)
png(os.path.join(a.model, "curve.png"))
run.log_image("learning_curve", path=os.path.join(a.model, "curve.png"))
open(os.path.join(a.model, "model.txt"), "w").write(f"lr={a.lr} rows={rows}")
print("train: rows", rows, "accuracy", 1 - loss / 2)
"""


def _need_browser() -> None:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            "needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver): "
            "apt-get update && apt-get install -y chromium chromium-driver"
        )
    pytest.importorskip("selenium", reason="needs the selenium package (uv pip install selenium)")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveAirflow, list[str]]]:
    """A deployment with the metrics pipeline, and two finished runs of it (learning rates 0.1, 0.2)."""
    root = tmp_path_factory.mktemp("ui_live")
    dags = root / "dags"
    write(dags / "config.json", json.dumps({"workspace_name": "ui-test"}))
    write(dags / "ui_pipeline.py", DAG_FILE)
    write(dags / "steps" / "prep.py", PREP)
    write(dags / "steps" / "train.py", TRAIN)
    af = LiveAirflow(dags, home=root / "airflow", extra_env={"AZML_HOME": str(root / "azml_home")})
    try:
        af.start()
    except LiveAirflowError as exc:
        pytest.fail(str(exc))
    try:
        af.wait_dag(DAG_ID)
        runs = []
        for lr in (0.1, 0.2):
            run_id = af.trigger(DAG_ID, {"learning_rate": lr})
            assert af.wait_run(DAG_ID, run_id) == "success", af.log_tail("scheduler")
            runs.append(run_id)
        yield af, runs
    finally:
        af.stop()
        af.cleanup()


def _page(af: LiveAirflow, run_id: str, api: bool = False) -> str:
    kind = "api/pipeline" if api else "pipeline"
    return f"{af.base_url}/azml-ui/{kind}/{DAG_ID}/{quote(run_id, safe='')}"


def test_endpoints_require_airflow_auth(live: tuple[LiveAirflow, list[str]]) -> None:
    af, runs = live
    assert httpx.get(_page(af, runs[1], api=True)).status_code == 401
    bad = httpx.get(_page(af, runs[1], api=True), headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    login = httpx.get(_page(af, runs[1]), follow_redirects=False)
    assert login.status_code == 307 and "/auth/login" in login.headers["location"]
    img = f"{_page(af, runs[1])}/file/train/files/images/learning_curve.png"
    assert httpx.get(img).status_code == 401
    viewer = {"Authorization": f"Bearer {af.token('viewer1')}"}
    view = httpx.get(_page(af, runs[1], api=True), headers=viewer).json()
    steps = {s["task_id"]: s for s in view["steps"]}
    assert steps["prep"]["status"] == "Reused" and steps["train"]["status"] == "Finished"
    assert view["edges"] == [{"src": "prep", "dst": "train", "kind": "data", "label": "features"}]
    csv_size = len("x,y\n") + sum(len(f"{i},{2 * i + 1}\n") for i in range(500))
    assert steps["prep"]["outputs"][0]["size"] == csv_size  # features.csv, measured on the datastore
    assert view["history"]["metrics"]["train.accuracy"][0] < view["history"]["metrics"]["train.accuracy"][1]
    css = httpx.get(f"{af.base_url}/azml-ui/static/azml_ui.css")  # no data in it: served without a token
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    png = httpx.get(img, headers=viewer)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    links = af.api(
        "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(runs[1], safe='')}/taskInstances/train/links"
    )
    assert links.status_code == 200, links.text
    assert links.json()["extra_links"]["Pipeline view"] == f"{_page(af, runs[1])}?task_id=train"
    assert links.json()["extra_links"]["Step outputs"].endswith("?task_id=train#outputs")


def _browser(profile: Path):  # -> selenium WebDriver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1440,1400",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def _login(driver, af: LiveAirflow, wait) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{af.base_url}/auth/login")
    wait.until(lambda d: d.find_elements(By.NAME, "username"))
    driver.find_element(By.NAME, "username").send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys(PASSWORDS["admin"])
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: d.get_cookie("_token") is not None)


def test_pipeline_view_in_chromium(live: tuple[LiveAirflow, list[str]]) -> None:
    _need_browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    af, runs = live
    ARTIFACTS.mkdir(exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="azml_chromium_"))
    driver = _browser(profile)
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(_page(af, runs[1]))  # not logged in: sent to Airflow's login page
        wait.until(lambda d: "/auth/login" in d.current_url)
        _login(driver, af, wait)
        # the tab on Airflow's own DAG run page (an iframe of the plugin page)
        driver.get(f"{af.base_url}/dags/{DAG_ID}/runs/{quote(runs[1], safe='')}/plugin/azml_pipeline")
        frame = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "iframe"))[0]
        driver.switch_to.frame(frame)
        wait.until(lambda d: d.find_elements(By.ID, "azml-graph"))
        _check_page(driver)
        driver.switch_to.default_content()
        driver.save_screenshot(str(ARTIFACTS / "ui_pipeline.png"))
        # the task instance tab: the same page focused on the step
        driver.get(f"{af.base_url}/dags/{DAG_ID}/runs/{quote(runs[1], safe='')}/tasks/train/plugin/azml_step")
        driver.switch_to.frame(wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "iframe"))[0])
        step = wait.until(lambda d: d.find_elements(By.ID, "azml-step"))[0]
        assert step.text.startswith("Step train (Finished, try 1)")
        assert "train: rows 500 accuracy" in driver.find_element(By.CSS_SELECTOR, "pre.log").text
        driver.switch_to.default_content()
        # the page on its own, focused on the train step, full height
        driver.get(_page(af, runs[1]) + "?task_id=train")
        wait.until(lambda d: d.find_elements(By.ID, "azml-step"))
        _check_page(driver)
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1440, min(int(height) + 300, 6000))
        driver.save_screenshot(str(ARTIFACTS / "ui_pipeline_full.png"))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert (ARTIFACTS / "ui_pipeline.png").stat().st_size > 10_000


def _check_page(driver) -> None:
    from selenium.webdriver.common.by import By

    assert driver.execute_script("return getComputedStyle(document.body).marginTop") == "16px"  # our CSS
    nodes = {
        n.get_attribute("data-task-id"): n.get_attribute("data-status")
        for n in driver.find_elements(By.CSS_SELECTOR, "#azml-graph .azml-node")
    }
    assert nodes == {"prep": "Reused", "train": "Finished"}
    assert len(driver.find_elements(By.CSS_SELECTOR, "#azml-graph .azml-reused")) == 1
    metrics = driver.find_element(By.ID, "azml-metrics").text
    for name in ("accuracy", "loss", "coefficients", "epochs", "splits", "rows", "learning_curve"):
        assert name in metrics
    charts = driver.find_element(By.ID, "azml-charts")
    history = charts.find_elements(By.CSS_SELECTOR, "[id='azml-history-train.accuracy'] .azml-point")
    assert len(history) == 2  # accuracy of both runs
    assert charts.find_elements(By.ID, "azml-series-train-loss")  # a value logged 8 times
    assert charts.find_elements(By.ID, "azml-series-train-coefficients")  # log_list
    assert charts.find_elements(By.ID, "azml-table-train-epochs")  # log_row
    image = charts.find_element(By.CSS_SELECTOR, "img.azml-image")
    assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) == 160
