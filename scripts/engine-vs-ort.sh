#!/usr/bin/env bash
# hiertune's engine against ONNX Runtime on the same exported graph, in one
# command: `export --bench` (the two engines take turns, best of 3 passes
# each) over EWT dev at batch 1 (latency) and batch 32 (throughput), for
# each run given, REPEATS times; prints tokens/s and the ratio, mean ± sd.
#   bash scripts/engine-vs-ort.sh RUN...    (REPEATS=3 THREADS=2)
# docs/performance.md uses an encoder + tagger run and the quick start's
# hierarchical run with a parser.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-3}
THREADS=${THREADS:-2}
DATA=${DATA:-../shared/data/ud_english_ewt/en_ewt-ud-dev.conllu}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for run in "$@"; do
	for batch in 1 32; do
		for _ in $(seq "$REPEATS"); do
			bin/hiertune export --run "$run" --output "$tmp/m.onnx" --bench --dataset ewt --data "$DATA" \
				--batch "$batch" --threads "$THREADS" 2>/dev/null | tail -1 |
				python3 -c 'import json, sys; r = json.load(sys.stdin); print(sys.argv[1], sys.argv[2], r["hiertune_tokens_per_s"], r["onnxruntime_tokens_per_s"])' "$run" "$batch"
		done
	done
done | python3 -c '
import statistics as st, sys
rows = {}
for line in sys.stdin:
    run, batch, go, ort = line.split()
    rows.setdefault((run, int(batch)), []).append((float(go), float(ort)))
def ms(v):
    return f"{st.mean(v):.3f} ± {st.stdev(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}"
print("%-36s %5s %15s %10s %16s" % ("run", "batch", "hiertune tok/s", "ORT tok/s", "hiertune / ORT"))
for (run, batch), v in rows.items():
    go = [g for g, _ in v]; ort = [o for _, o in v]
    print(f"{run:36} {batch:5d} {st.mean(go):15.0f} {st.mean(ort):10.0f} {ms([g / o for g, o in v]):>16}")
'
