"""Train step: least-squares model of units on temperature, promo and region; logs metrics."""

import argparse
import json
import os

import numpy as np

from airflow_azml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--learning-rate", type=float, default=0.1)
parser.add_argument("--model-dir", required=True)
args = parser.parse_args()

run = Run.get_context()
df = run.input_datasets["processed"].to_pandas_dataframe()
X = np.column_stack([np.ones(len(df)), df["temperature"], df["promo"], df["region_mean_units"]])
y = df["units"].to_numpy(dtype=float)
coef, *_ = np.linalg.lstsq(X, y, rcond=None)
pred = X @ coef
rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
r2 = float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))

run.log("rmse", rmse)
run.log("r2", r2)
run.log("learning_rate", args.learning_rate)
run.log_list("coefficients", [float(c) for c in coef])
os.makedirs(args.model_dir, exist_ok=True)
with open(os.path.join(args.model_dir, "model.json"), "w") as fh:
    json.dump({"coef": coef.tolist(), "features": ["bias", "temperature", "promo", "region_mean_units"]}, fh)
print(f"train: rmse={rmse:.3f} r2={r2:.3f}")
