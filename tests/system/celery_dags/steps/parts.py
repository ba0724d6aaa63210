"""write: PARTS files, one every PAUSE seconds (a slow step to kill); check: count and hash them."""

import argparse
import hashlib
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("action", choices=["write", "check"])
parser.add_argument("--src")
parser.add_argument("--out", required=True)
parser.add_argument("--parts", type=int, default=6)
parser.add_argument("--pause", type=float, default=1.5)
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)

if args.action == "write":
    for i in range(args.parts):
        with open(os.path.join(args.out, f"part_{i}.txt"), "w") as fh:
            fh.write(f"part {i}\n" * 1000)
        print(f"wrote part {i}", flush=True)
        time.sleep(args.pause)
else:
    names = sorted(os.listdir(args.src))
    digest = hashlib.sha256()
    for name in names:
        digest.update(open(os.path.join(args.src, name), "rb").read())
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump({"files": names, "sha256": digest.hexdigest()}, fh)
