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


def layer_plot(path, metric, arms):
    """arms: {arm: {layer: [values]}} drawn as one line per arm over layers."""
    W, H, L, B, T, R = 640, 380, 60, 45, 40, 230
    pts = {a: sorted((l, statistics.mean(v)) for l, v in ls.items() if v) for a, ls in arms.items()}
    ys = [y for p in pts.values() for _, y in p]
    xs = [x for p in pts.values() for x, _ in p]
    if not ys:
        return
    x0, x1, y0, y1 = min(xs), max(max(xs), min(xs) + 1), 0, max(ys) * 1.1
    px = lambda x: L + (x - x0) / (x1 - x0) * (W - L - R)
    py = lambda y: H - B - (y - y0) / (y1 - y0) * (H - B - T)
    colors = ["#1f4e79", "#b03a2e", "#1e8449", "#7d3c98", "#b9770e", "#555555"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{(L + W - R) / 2}" y="20" text-anchor="middle" font-size="14">{metric} of the hierarchy vectors against gold trees, EWT dev</text>',
           f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/><line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
           f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">hidden state (layer)</text>']
    for x in range(x0, x1 + 1):
        out.append(f'<text x="{px(x):.1f}" y="{H-B+16}" text-anchor="middle">{x}</text>')
    for i in range(6):
        y = y0 + (y1 - y0) * i / 5
        out.append(f'<text x="{L-6}" y="{py(y)+4:.1f}" text-anchor="end">{y:.2f}</text>')
        out.append(f'<line x1="{L}" y1="{py(y):.1f}" x2="{W-R}" y2="{py(y):.1f}" stroke="#ddd"/>')
    for i, (a, p) in enumerate(sorted(pts.items())):
        c = colors[i % len(colors)]
        out.append(f'<polyline points="{" ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in p)}" fill="none" stroke="{c}" stroke-width="2"/>')
        ly = T + 10 + 18 * i
        out.append(f'<line x1="{W-R+10}" y1="{ly}" x2="{W-R+30}" y2="{ly}" stroke="{c}" stroke-width="2"/><text x="{W-R+35}" y="{ly+4}">{a}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


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
    for metric in ("uuas", "dspr"):
        by = {}
        for (arm, layer), rs in arms.items():
            vals = [r[metric] for r in rs if r.get(metric) is not None]
            by.setdefault(arm, {})[layer] = vals
        layer_plot(os.path.join(out, f"hierarchy-{metric}.svg"), metric.upper(), by)
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
