#!/usr/bin/env python3
"""Prints the docs/results.md table from the runs of scripts/experiments.sh.

  python3 scripts/results_table.py RUNS_DIR

For every run directory NAME-sSEED it takes the dev scores logged at the
step of the best checkpoint (checkpoints/best/state.json, chosen by the
run's train.select; for a distillation run, its student's) and reports, per configuration, the mean and standard
deviation (sample, n-1) over seeds of UPOS, UFeats, UAS, LAS, Lemmas (EWT
dev) and NER F1 (WikiANN dev), with the training throughput.
"""
import collections
import json
import os
import re
import statistics
import sys

COLUMNS = [("ewt.upos", "UPOS"), ("ewt.ufeats", "UFeats"), ("ewt.uas", "UAS"), ("ewt.las", "LAS"),
           ("ewt.lemmas", "Lemmas"), ("wikiann.ner_f1", "WikiANN F1")]


def best_scores(run):
    state = json.load(open(os.path.join(run, "checkpoints", "best", "state.json")))
    best = state["best_step"]
    scores = None
    for line in open(os.path.join(run, "metrics.jsonl")):
        rec = json.loads(line)
        if rec.get("split") == "dev" and rec.get("step") == best:
            scores = rec
    tps = state["tokens"] / state["train_seconds"] if state.get("train_seconds") else float("nan")
    return scores, best, tps


def main():
    root = sys.argv[1]
    groups = collections.OrderedDict()
    for name in sorted(os.listdir(root)):
        m = re.fullmatch(r"(.+)-s(\d+)", name)
        run = os.path.join(root, name)
        if os.path.isdir(os.path.join(run, "student", "checkpoints", "best")):
            run = os.path.join(run, "student")  # a distillation run: its student
        if not m or not os.path.isdir(os.path.join(run, "checkpoints", "best")):
            continue
        groups.setdefault(m.group(1), []).append(run)
    print("| configuration | seeds | " + " | ".join(c[1] for c in COLUMNS) + " | best step | train tok/s |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    for cfg, runs in groups.items():
        vals = collections.defaultdict(list)
        steps, speeds = [], []
        for r in runs:
            s, step, tps = best_scores(r)
            steps.append(step)
            speeds.append(tps)
            for key, _ in COLUMNS:
                if s and key in s:
                    vals[key].append(100 * s[key])
        cells = []
        for key, _ in COLUMNS:
            v = vals[key]
            if not v:
                cells.append("—")
            elif len(v) == 1:
                cells.append(f"{v[0]:.2f}")
            else:
                cells.append(f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}")
        print(f"| {cfg} | {len(runs)} | " + " | ".join(cells) +
              f" | {statistics.mean(steps):.0f} | {statistics.mean(speeds):.0f} |")


if __name__ == "__main__":
    main()
