"""ParallelRunStep entry script: one row per file, saying which Celery worker scored it.

Node 0 is the slow node (2 s per mini-batch, 0.5 s elsewhere): alone it needs 24 s, long enough
for node 1 to start on the other worker; from then on node 1 claims most of what is left.
"""

import os
import time

from azureml_user.parallel_run import EntryScript


def init():
    global WORKER, PAUSE
    WORKER = os.environ.get("AZML_WORKER_NAME", "?")
    PAUSE = 2.0 if EntryScript().node_id == 0 else 0.5


def run(mini_batch):
    time.sleep(PAUSE)
    return [f"{os.path.basename(path)} {open(path).read().strip()} {WORKER}" for path in mini_batch]
