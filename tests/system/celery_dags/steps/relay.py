"""Read the token in SRC (if any), append ADD, sleep SLEEP seconds, write token.txt to OUT."""

import argparse
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--src")
parser.add_argument("--out", required=True)
parser.add_argument("--add", required=True)
parser.add_argument("--sleep", type=float, default=0)
args = parser.parse_args()

token = open(os.path.join(args.src, "token.txt")).read() if args.src else ""
time.sleep(args.sleep)
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "token.txt"), "w") as fh:
    fh.write(token + args.add)
print("token:", token + args.add)
