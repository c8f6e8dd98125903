#!/usr/bin/env bash
# Runs "hiertune bench" and the PyTorch oracle's torch_speed.py on the same
# shapes, alternating them, and prints the median tokens/s and peak RSS of
# each with the ratios, as a Markdown table.
#   bash scripts/bench-vs-torch.sh [CONFIGS] [ROUNDS]
# CONFIGS defaults to bert-mini,minilm-l6-h384, ROUNDS to 3. Environment:
# THREADS (2), BATCH (16), SEQ (128), PY (/usr/bin/python3, with Debian's
# python3-torch), ORACLES (../shared/oracles). PyTorch runs twice per round:
# with the machine's OpenBLAS settings, and with OPENBLAS_CORETYPE=SkylakeX,
# the AVX-512 kernels hiertune itself picks on AVX-512 CPUs.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIGS=${1:-bert-mini,minilm-l6-h384}
ROUNDS=${2:-3}
THREADS=${THREADS:-2} BATCH=${BATCH:-16} SEQ=${SEQ:-128}
PY=${PY:-/usr/bin/python3}
ORACLES=${ORACLES:-../shared/oracles}
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
go build -o bin/hiertune ./cmd/hiertune
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

for ((r = 1; r <= ROUNDS; r++)); do
	for c in ${CONFIGS//,/ }; do
		echo "round $r: $c" >&2
		bin/hiertune bench --model "$c" --threads "$THREADS" --batch "$BATCH" --seq "$SEQ" >"$W/go-$c-$r.json"
		/usr/bin/time -f %M -o "$W/torch-$c-$r.rss" "$PY" "$ORACLES/torch_speed.py" --configs "$c" --threads "$THREADS" \
			--batch "$BATCH" --seq "$SEQ" --json "$W/torch-$c-$r.json" >/dev/null
		OPENBLAS_CORETYPE=SkylakeX /usr/bin/time -f %M -o "$W/torchx-$c-$r.rss" "$PY" "$ORACLES/torch_speed.py" --configs "$c" \
			--threads "$THREADS" --batch "$BATCH" --seq "$SEQ" --json "$W/torchx-$c-$r.json" >/dev/null
	done
done

"$PY" - "$W" "$CONFIGS" "$ROUNDS" <<'PYEOF'
import json, statistics, sys
w, configs, rounds = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
med = statistics.median
def load(kind, c):
    out = []
    for r in range(1, rounds + 1):
        d = json.load(open(f"{w}/{kind}-{c}-{r}.json"))
        if kind == "go":
            out.append((d["train_tokens_per_s"], d["infer_tokens_per_s"], d["peak_rss_mb"], d))
        else:
            res = d["results"][0]
            rss = int(open(f"{w}/{kind}-{c}-{r}.rss").read().split()[-1]) / 1024
            out.append((res["train_tokens_per_s"], res["infer_tokens_per_s"], rss, d))
    return [med(x[i] for x in out) for i in range(3)], out[0][3]
print("| config | engine | train tok/s | infer tok/s | peak RSS MiB | train × | infer × | RSS × |")
print("|---|---|---|---|---|---|---|---|")
for c in configs:
    g, gd = load("go", c)
    t, td = load("torch", c)
    x, _ = load("torchx", c)
    for name, v in (("PyTorch (machine's OpenBLAS core)", t), ("PyTorch (OPENBLAS_CORETYPE=SkylakeX)", x)):
        print(f"| {c} | {name} | {v[0]:.0f} | {v[1]:.0f} | {v[2]:.0f} | | | |")
    print(f"| {c} | **hiertune** | {g[0]:.0f} | {g[1]:.0f} | {g[2]:.0f} | {g[0]/t[0]:.2f} / {g[0]/x[0]:.2f} | "
          f"{g[1]/t[1]:.2f} / {g[1]/x[1]:.2f} | {g[2]/t[2]:.2f} / {g[2]/x[2]:.2f} |")
print()
print(f"hiertune backend: {gd['backend']}; {gd['threads']} threads, batch {gd['batch']} x seq {gd['seq']}, dropout {gd['dropout']}.")
print(f"PyTorch {td['env']['torch']}, {td['env']['threads']} threads. Ratios are hiertune / PyTorch (machine default / SkylakeX); medians of {rounds} alternating rounds.")
PYEOF
