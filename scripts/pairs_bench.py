#!/usr/bin/env python3
"""Cost of pair states (docs/pairs.md, docs/results.md): training and
inference tokens/s and peak memory of the embedded default with pair states
against the same encoder without, at sentence lengths 16, 32, 64 and 128,
2048 tokens per batch. Every (length, arm) is a separate `hiertune bench`
process (so that its peak RSS is its own), and ROUNDS rounds run every arm
in turn, so that slow spells of the machine fall on all of them; the table
gives medians over rounds as ratios to the baseline of the same length.

Usage: scripts/pairs_bench.py [OUT.jsonl]   (ROUNDS=3 STEPS=4 THREADS=2)
"""
import json
import os
import statistics
import subprocess
import sys

ROUNDS = int(os.environ.get("ROUNDS", "3"))
STEPS = os.environ.get("STEPS", "4")
THREADS = os.environ.get("THREADS", "2")
LENGTHS = [16, 32, 64, 128]
ARMS = [
    ("baseline", ""),
    ("bias only", "{dim: 16, update: none}"),
    ("bias + product update", "{dim: 16}"),
    ("+ triangle update", "{dim: 16, triangle: true, triangle_max_length: 128}"),
]


def bench(seq, spec):
    cmd = ["bin/hiertune", "bench", "--model", "checkpoints/default", "--seq", str(seq), "--batch", str(2048 // seq),
           "--steps", STEPS, "--warmup", "1", "--threads", THREADS]
    if spec:
        cmd += ["--pairs", spec]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/pairs-bench.jsonl"
    recs = []
    if os.path.exists(out):
        recs = [json.loads(l) for l in open(out)]
    else:
        with open(out, "w") as f:
            for rnd in range(ROUNDS):
                for seq in LENGTHS:
                    for name, spec in ARMS:
                        r = bench(seq, spec)
                        rec = {"round": rnd, "seq": seq, "arm": name, "train": r["train_tokens_per_s"],
                               "infer": r["infer_tokens_per_s"], "rss_mb": r["peak_rss_mb"]}
                        f.write(json.dumps(rec) + "\n")
                        f.flush()
                        recs.append(rec)
                        print(f"round {rnd+1}/{ROUNDS} seq {seq} {name}: {rec}", file=sys.stderr)
    med = {}
    for key in {(r["seq"], r["arm"]) for r in recs}:
        rs = [r for r in recs if (r["seq"], r["arm"]) == key]
        med[key] = {k: statistics.median(r[k] for r in rs) for k in ("train", "infer", "rss_mb")}
    print("| length | arm | train tok/s (× baseline) | inference tok/s (× baseline) | peak RSS MB (× baseline) |")
    print("|---|---|---|---|---|")
    for seq in LENGTHS:
        base = med[(seq, "baseline")]
        for name, _ in ARMS:
            m = med[(seq, name)]
            print(f"| {seq} | {name} | {m['train']:.0f} (×{m['train']/base['train']:.2f}) | {m['infer']:.0f} "
                  f"(×{m['infer']/base['infer']:.2f}) | {m['rss_mb']:.0f} (×{m['rss_mb']/base['rss_mb']:.2f}) |")


if __name__ == "__main__":
    main()
