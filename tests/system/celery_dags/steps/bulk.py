"""write: FILES files of MIB MiB of bytes seeded by SEED (a big upload); digest: sha256 of each."""

import argparse
import hashlib
import json
import os
import random

parser = argparse.ArgumentParser()
parser.add_argument("action", choices=["write", "digest"])
parser.add_argument("--src")
parser.add_argument("--out", required=True)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--files", type=int, default=40)
parser.add_argument("--mib", type=int, default=1)
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)

if args.action == "write":
    for i in range(args.files):
        with open(os.path.join(args.out, f"blob_{i:03d}.bin"), "wb") as fh:
            fh.write(random.Random(f"{args.seed}-{i}").randbytes(args.mib * 2**20))
else:
    digests = {
        n: hashlib.sha256(open(os.path.join(args.src, n), "rb").read()).hexdigest()
        for n in sorted(os.listdir(args.src))
    }
    with open(os.path.join(args.out, "digests.json"), "w") as fh:
        json.dump(digests, fh)
