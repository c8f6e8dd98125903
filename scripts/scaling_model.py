"""Reads the two runs of scripts/scaling.sh and prints (and writes as
runs/scaling/summary.json) the measured data-parallel scaling on this
machine and the model of larger clusters of docs/distributed.md.

Measured: tokens/s of 1 process x 2 threads and of 2 ranks x 1 thread (the
same global batch), the all-reduce time per update and its share, and the
all-reduce bandwidth (the bytes of one update's gradients over the time to
sum them: a ring all-reduce of S bytes on N ranks moves 2(N-1)/N * S per
rank, which is S for N = 2).

Modelled (weak scaling, each rank keeping its batch, as Horovod reports):
an update takes t_c of computing and t_ar = 2(N-1)/N * S / B + 2(N-1) a of
summing on a ring of N ranks with link bandwidth B and per-message latency
a; hiertune sums after the backward pass, so the efficiency is
t_c / (t_c + t_ar). t_c is the measured computing time per update of one
rank with one thread here (bert-mini: the default's shape); bert-base's
is scaled by its parameters in the encoder layers (the FLOPs per token of
a BERT grow with them at a fixed sequence length).

Usage: python3 scripts/scaling_model.py runs/scaling
"""
import json
import os
import re
import struct
import sys


def done_tokens_per_s(log):
    m = re.findall(r"done: \d+ steps, (\d+) tokens/s", open(log).read())
    if not m:
        sys.exit(f"{log}: no 'done:' line (did the run finish?)")
    return float(m[-1])


def records(run):
    out = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def gradient_bytes(run):
    """Bytes of float32 gradients: every tensor of the last checkpoint."""
    ck = os.path.join(run, "checkpoints")
    last = sorted(d for d in os.listdir(ck) if d.startswith("step-"))[-1]
    n = 0
    for f in ("model.safetensors", "heads.safetensors"):
        path = os.path.join(ck, last, f)
        if not os.path.exists(path):
            continue
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for k, v in header.items():
            if k == "__metadata__":
                continue
            count = 1
            for d in v["shape"]:
                count *= d
            n += count
    return 4 * n


def encoder_layer_params(hidden, inter, layers):
    return layers * (4 * hidden * hidden + 2 * hidden * inter)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/scaling"
    one = done_tokens_per_s(os.path.join(out, "one.log"))
    two = done_tokens_per_s(os.path.join(out, "two.log"))
    train = [r for r in records(os.path.join(out, "two")) if r.get("split") == "train" and "allreduce_ms_per_update" in r]
    if not train:
        sys.exit(f"{out}/two/metrics.jsonl: no all-reduce records")
    ar_ms = sum(r["allreduce_ms_per_update"] for r in train) / len(train)
    share = sum(r["allreduce_share"] for r in train) / len(train)
    wait_ms = sum(r["rank_wait_ms_per_update"] for r in train) / len(train)
    wait_share = sum(r["rank_wait_share"] for r in train) / len(train)
    size = gradient_bytes(os.path.join(out, "two"))
    bandwidth = size / (ar_ms / 1000)  # bytes/s, N = 2
    # Computing time per update of one rank (1 thread): the step time less
    # the all-reduce and the wait for the slower rank.
    update_ms = ar_ms / share
    tc_ms = update_ms - ar_ms - wait_ms
    print(f"1 process x 2 threads: {one:.0f} tokens/s")
    print(f"2 ranks x 1 thread:    {two:.0f} tokens/s  ({two / one:.3f}x)")
    print(f"all-reduce: {size / 1e6:.1f} MB per update in {ar_ms:.1f} ms ({100 * share:.1f}% of the step time); "
          f"loopback bandwidth {bandwidth / 1e9:.2f} GB/s")
    print(f"waiting for the slower rank: {wait_ms:.1f} ms per update ({100 * wait_share:.1f}%); "
          f"computing {tc_ms:.0f} ms per update per rank")

    models = {
        # name: (gradient bytes, computing ms per update per rank)
        "bert-mini (measured here)": (size, tc_ms),
        "bert-base (scaled)": (4 * 110e6, tc_ms * encoder_layer_params(768, 3072, 12) / encoder_layer_params(256, 1024, 4)),
    }
    nets = {"10 Gb/s": (10e9 / 8, 20e-6), "100 Gb/s": (100e9 / 8, 5e-6)}
    table = []
    print("\nexpected scaling efficiency t_c / (t_c + t_ar), all-reduce after backward:")
    print(f"{'model':28} {'network':9} {'N=8':>6} {'N=32':>6} {'N=128':>6}")
    for name, (S, tc) in models.items():
        for net, (B, a) in nets.items():
            row = {"model": name, "network": net, "bytes": S, "compute_ms": tc}
            cells = []
            for N in (8, 32, 128):
                tar = 2 * (N - 1) / N * S / B + 2 * (N - 1) * a
                eff = (tc / 1000) / (tc / 1000 + tar)
                row[f"efficiency_{N}"] = eff
                cells.append(f"{100 * eff:5.1f}%")
            table.append(row)
            print(f"{name:28} {net:9} " + " ".join(f"{c:>6}" for c in cells))
    print("Horovod (Sergeev & Del Balso 2018): 88% at 128 GPUs (Inception V3, ResNet-101) over 25 Gb/s RoCE.")
    summary = {"one_process_2_threads_tokens_per_s": one, "two_ranks_1_thread_tokens_per_s": two, "ratio": two / one,
               "allreduce_ms_per_update": ar_ms, "allreduce_share": share,
               "rank_wait_ms_per_update": wait_ms, "rank_wait_share": wait_share, "gradient_bytes": size,
               "loopback_bandwidth_bytes_per_s": bandwidth, "compute_ms_per_update_per_rank": tc_ms, "model": table}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
