"""make: COUNT files i.txt holding i; square: each number squared; total: their sum as total.json."""

import argparse
import json
import os

parser = argparse.ArgumentParser()
parser.add_argument("action", choices=["make", "square", "total"])
parser.add_argument("--src")
parser.add_argument("--out", required=True)
parser.add_argument("--count", type=int, default=5)
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)

if args.action == "make":
    for i in range(args.count):
        with open(os.path.join(args.out, f"{i}.txt"), "w") as fh:
            fh.write(str(i))
elif args.action == "square":
    for name in sorted(os.listdir(args.src)):
        value = int(open(os.path.join(args.src, name)).read())
        with open(os.path.join(args.out, name), "w") as fh:
            fh.write(str(value * value))
else:
    names = sorted(os.listdir(args.src))
    total = sum(int(open(os.path.join(args.src, n)).read()) for n in names)
    with open(os.path.join(args.out, "total.json"), "w") as fh:
        json.dump({"files": names, "sum": total, "worker": os.environ.get("AZML_WORKER_NAME")}, fh)
print(f"{args.action}: done")
