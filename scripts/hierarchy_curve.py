#!/usr/bin/env python3
"""Speed-accuracy curves of token merging (docs/hierarchy.md, docs/results.md).

Times every (run, merging) pair with `hiertune bench --run`, ROUNDS rounds
interleaved across all runs so that the machine's slow spells fall on every
arm alike, and writes:
  OUT/curve.jsonl   one record per run and merging: median tokens/s, the
                    speed-up over the seed's baseline run unmerged, scores
  OUT/curve.md      the table, mean ± sd over seeds
  OUT/curve-METRIC.svg  score against speed-up, one line per method

Usage: scripts/hierarchy_curve.py SPEC.json
SPEC: {"out": DIR, "data": FILE, "dataset": NAME (runs with several), "rounds": 3, "metrics": ["ewt.las", ...],
       "baseline": "method whose 'none' is the speed-up's 1.0",
       "arms": [{"method": NAME, "runs": [DIR, ...], "merges": ["none", SPEC, ...]}, ...]}
Runs of one seed share an index in their "runs" lists.
"""
import json
import math
import os
import statistics
import subprocess
import sys


def bench(run, data, merges, dataset=""):
    cmd = ["bin/hiertune", "bench", "--run", run, "--data", data, "--rounds", "1"]
    if dataset:
        cmd += ["--dataset", dataset]
    for m in merges:
        cmd += ["--merge", m]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def ratio_label(spec):
    if spec == "none":
        return 0.0
    for part in spec.strip("{}").split(","):
        k, _, v = part.partition(":")
        if k.strip() == "ratio":
            return float(v)
    return float("nan")


def mean_sd(xs):
    if len(xs) == 1:
        return xs[0], 0.0
    return statistics.mean(xs), statistics.stdev(xs)


def svg(path, metric, series):
    """series: {method: [(speedup, score, sd), ...]} drawn as lines."""
    W, H, L, B, T, R = 1040, 440, 70, 50, 40, 490
    xs = [p[0] for pts in series.values() for p in pts]
    ys = [p[1] for pts in series.values() for p in pts]
    x0, x1 = min(1.0, min(xs)), max(xs) * 1.02
    y0, y1 = min(ys) - 0.01, max(ys) + 0.01
    px = lambda x: L + (x - x0) / (x1 - x0) * (W - L - R)
    py = lambda y: H - B - (y - y0) / (y1 - y0) * (H - B - T)
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
              "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W/2}" y="20" text-anchor="middle" font-size="14">{metric} against inference speed-up (mean of seeds)</text>',
           f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
           f'<text x="{(L+W-R)/2}" y="{H-12}" text-anchor="middle">speed-up over the unmerged baseline (×)</text>',
           f'<text x="16" y="{(T+H-B)/2}" transform="rotate(-90 16 {(T+H-B)/2})" text-anchor="middle">{metric}</text>']
    for i in range(6):
        x = x0 + (x1 - x0) * i / 5
        y = y0 + (y1 - y0) * i / 5
        out.append(f'<text x="{px(x):.1f}" y="{H-B+16}" text-anchor="middle">{x:.2f}</text>')
        out.append(f'<text x="{L-6}" y="{py(y)+4:.1f}" text-anchor="end">{y:.3f}</text>')
        out.append(f'<line x1="{L}" y1="{py(y):.1f}" x2="{W-R}" y2="{py(y):.1f}" stroke="#ddd"/>')
    for i, (name, pts) in enumerate(series.items()):
        c = colors[i % len(colors)]
        dash = ' stroke-dasharray="6 3"' if i >= len(colors) else ""
        pts = sorted(pts)
        d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _ in pts)
        out.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
        for x, y, sd in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
            if sd > 0:
                out.append(f'<line x1="{px(x):.1f}" y1="{py(y-sd):.1f}" x2="{px(x):.1f}" y2="{py(y+sd):.1f}" stroke="{c}"/>')
        ly = T + 10 + 18 * i
        out.append(f'<line x1="{W-R+10}" y1="{ly}" x2="{W-R+30}" y2="{ly}" stroke="{c}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{W-R+35}" y="{ly+4}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    spec = json.load(open(sys.argv[1]))
    out, data, rounds = spec["out"], spec["data"], spec.get("rounds", 3)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "curve.jsonl")
    if os.path.exists(path):  # timed already: only the tables and plots again
        report(spec, [json.loads(l) for l in open(path)])
        return
    times, scores = {}, {}
    for rnd in range(rounds):
        for arm in spec["arms"]:
            for seed, run in enumerate(arm["runs"]):
                for rec in bench(run, data, arm["merges"], spec.get("dataset", "")):
                    key = (arm["method"], seed, rec["merge"])
                    times.setdefault(key, []).append(rec["tokens_per_s"])
                    scores[key] = rec
                print(f"round {rnd+1}/{rounds}: {arm['method']} seed {seed+1} timed", file=sys.stderr)
    records = []
    for (method, seed, merge), tps in times.items():
        base = statistics.median(times[(spec["baseline"], seed, "none")])
        rec = dict(scores[(method, seed, merge)])
        rec.update(method=method, seed=seed + 1, tokens_per_s=statistics.median(tps), speedup=statistics.median(tps) / base,
                   ratio=ratio_label(merge))
        records.append(rec)
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    report(spec, records)


def report(spec, records):
    """Writes the table and the plots of the records."""
    out = spec["out"]
    lines = ["| method | merging | seeds | speed-up | kept | " + " | ".join(spec["metrics"]) + " |",
             "|---|---|---|---|---|" + "---|" * len(spec["metrics"])]
    series = {m: {} for m in spec["metrics"]}
    groups = {}
    for r in records:
        groups.setdefault((r["method"], r["merge"]), []).append(r)
    for (method, merge), rs in groups.items():
        sp, _ = mean_sd([r["speedup"] for r in rs])
        kept, _ = mean_sd([r["kept"] for r in rs])
        cells = []
        for m in spec["metrics"]:
            mu, sd = mean_sd([100 * r[m] for r in rs])
            cells.append(f"{mu:.2f} ± {sd:.2f}")
            series[m].setdefault(method, []).append((sp, mu / 100, sd / 100))
        lines.append(f"| {method} | `{merge}` | {len(rs)} | ×{sp:.2f} | {kept:.2f} | " + " | ".join(cells) + " |")
    with open(os.path.join(out, "curve.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    for m, s in series.items():
        svg(os.path.join(out, f"curve-{m.replace('.', '-')}.svg"), m, s)


if __name__ == "__main__":
    main()
