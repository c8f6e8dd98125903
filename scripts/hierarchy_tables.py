#!/usr/bin/env python3
"""Tables of the soft-hierarchy experiments (scripts/hierarchy-experiments.sh):
the hierarchy vectors against gold trees (OUT/ARM-sS/hierarchy.json, from
inspect --hierarchy) and the training cost of the hierarchy losses
(OUT/cost/ARM-rR/metrics.jsonl). Usage: hierarchy_tables.py OUT"""
import glob
import json
import os
import re
import statistics
import sys


def ms(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–"
    if len(xs) == 1:
        return f"{xs[0]:.3f}"
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}"


def main():
    out = sys.argv[1]
    arms = {}
    for path in sorted(glob.glob(os.path.join(out, "*-s*", "hierarchy.json"))):
        arm = re.sub(r"-s\d+$", "", os.path.basename(os.path.dirname(path)))
        for r in json.load(open(path)):
            arms.setdefault((arm, r["layer"]), []).append(r)
    print("| run | layer | seeds | DSpr | UUAS | squared H distance q10 / q50 / q90 | mean pair weight |")
    print("|---|---|---|---|---|---|---|")
    for (arm, layer), rs in sorted(arms.items()):
        q = " / ".join(f"{statistics.mean(r[k] for r in rs):.3g}" for k in ("sq_dist_q10", "sq_dist_q50", "sq_dist_q90"))
        print(f"| `{arm}` | {layer} | {len(rs)} | {ms([r.get('dspr') for r in rs])} | {ms([r.get('uuas') for r in rs])} | {q} | {ms([r.get('mean_weight') for r in rs])} |")
    cost = {}
    for path in sorted(glob.glob(os.path.join(out, "cost", "*-r*", "metrics.jsonl"))):
        arm = re.sub(r"-r\d+$", "", os.path.basename(os.path.dirname(path)))
        train = [json.loads(l) for l in open(path) if '"split":"train"' in l]
        if train:
            cost.setdefault(arm, []).append(train[-1]["tokens_per_s"])
    if cost:
        base = statistics.median(cost.get("ewt-tree", [float("nan")]))
        print()
        print("| configuration | rounds | training tokens/s (median) | ratio to ewt-tree |")
        print("|---|---|---|---|")
        for arm, v in sorted(cost.items()):
            m = statistics.median(v)
            print(f"| `{arm}` | {len(v)} | {m:.0f} | {m / base:.2f} |")


if __name__ == "__main__":
    main()
