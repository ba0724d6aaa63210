"""Prep step: drop incomplete rows, add a per-region mean, write the result as CSV."""

import argparse
import os

from airflow_azml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--folder", required=True, help="where to write processed.csv")
parser.add_argument("--min", type=int, default=10, help="fewest rows a region needs to be kept")
args = parser.parse_args()

run = Run.get_context()
df = run.input_datasets["raw_data"].to_pandas_dataframe().dropna()
counts = df.groupby("region")["units"].transform("size")
df = df[counts >= args.min].copy()
df["region_mean_units"] = df.groupby("region")["units"].transform("mean")

os.makedirs(args.folder, exist_ok=True)
df.to_csv(os.path.join(args.folder, "processed.csv"), index=False)
run.log("rows", len(df))
run.log("regions", int(df["region"].nunique()))
print(f"prep: wrote {len(df)} rows for {df['region'].nunique()} regions")
