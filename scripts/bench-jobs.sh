#!/usr/bin/env bash
# Measures the training jobs against "hiertune bench" on the same shapes, in
# one command, on the embedded default checkpoint (docs/performance.md):
#   1. word pooling inside the encoder: bench on EWT train batches with no
#      pooling and with words pooled after hidden state 0, 2 (L/2) and 4;
#   2. finetune on EWT (one tagging task on the top layer, batch 32, one
#      epoch) against bench on the same batches;
#   3. pretrain (the embedded default's configuration, 64 × 128) against
#      bench --head mlm on the same shapes.
# Prints one JSON line per measurement, then the ratios.
#   bash scripts/bench-jobs.sh            # PARTS="2" bash scripts/bench-jobs.sh: only part 2
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
go build -o bin/hiertune ./cmd/hiertune
EWT=../shared/data/ud_english_ewt/en_ewt-ud-train.conllu
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
say() { echo "$1" | tee -a "$W/all.jsonl"; }
PARTS=${PARTS:-"1 2 3"}
part() { [[ " $PARTS " == *" $1 "* ]]; }

# 1. Word pooling: tokens/s (real pieces) and the encoder's forward FLOPs.
part 1 && for k in -1 0 2 4; do
	r=$(bin/hiertune bench --model checkpoints/default --data "$EWT" --batch 32 --seq 128 --steps 100 --word-pooling "$k" 2>/dev/null)
	say "{\"job\":\"bench-pooling\",\"word_pooling\":$k,\"result\":$r}"
done

# 2. Fine-tuning against bench on the same EWT batches.
if part 2; then
sed -e "s#^output: .*#output: $W/ft#" examples/upos-only.yaml >"$W/ft.yaml"
bin/hiertune finetune --config "$W/ft.yaml" --steps 392 2>"$W/ft.log" >/dev/null
# Overall, and after the first 50 steps (bench leaves out its warm-up too:
# the first steps grow the step arena, page fault by page fault).
ft=$(python3 -c "
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '\"split\":\"train\"' in l]
s = json.load(open(sys.argv[2]))
late = [x for x in r if x['step'] > 50]
print(json.dumps({'tokens_per_s': s['tokens'] / s['train_seconds'],
                  'after_step_50_tokens_per_s': sum(x['tokens_per_s'] for x in late) / len(late)}))" "$W/ft/metrics.jsonl" "$W/ft/checkpoints/$(cat "$W/ft/latest")/state.json")
r=$(bin/hiertune bench --model checkpoints/default --data "$EWT" --batch 32 --seq 128 --steps 20 --mode train 2>/dev/null)
say "{\"job\":\"finetune-vs-bench\",\"finetune\":$ft,\"bench\":$r}"
fi

# 3. Pretraining against bench --head mlm on the same shapes.
if part 3; then
sed -e "s#^output: .*#output: $W/pt#" -e "s#^  steps: .*#  steps: 60#" -e "s#^  eval_every: .*#  eval_every: 1000#" \
	-e "s#^  save_every: .*#  save_every: 1000#" examples/pretrain-default.yaml >"$W/pt.yaml"
bin/hiertune pretrain --config "$W/pt.yaml" 2>"$W/pt.log" >/dev/null
pt=$(python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if '\"split\":\"train\"' in l]; print(json.dumps({k: r[-1][k] for k in ('step','tokens_per_s','padded_tokens_per_s')}))" "$W/pt/metrics.jsonl")
r=$(bin/hiertune bench --model checkpoints/default --head mlm --batch 64 --seq 128 --steps 10 --mode train 2>/dev/null)
say "{\"job\":\"pretrain-vs-bench\",\"pretrain\":$pt,\"bench\":$r}"
fi

python3 - "$W/all.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
pool = {r["word_pooling"]: r["result"] for r in recs if r["job"] == "bench-pooling"}
base = pool.get(-1)
for k, r in sorted(pool.items()):
    print(f"word pooling {k:>2}: train {r['train_tokens_per_s']:.0f} tok/s ({r['train_tokens_per_s']/base['train_tokens_per_s']:.2f}×), "
          f"infer {r['infer_tokens_per_s']:.0f} tok/s ({r['infer_tokens_per_s']/base['infer_tokens_per_s']:.2f}×), "
          f"forward {r['encoder_fwd_gflop_per_step']:.2f} GFLOP/step ({base['encoder_fwd_gflop_per_step']/r['encoder_fwd_gflop_per_step']:.2f}× fewer)")
for r in recs:
    if r["job"] == "finetune-vs-bench":
        f, b = r["finetune"], r["bench"]["train_tokens_per_s"]
        print(f"finetune {f['tokens_per_s']:.0f} tok/s ({f['tokens_per_s']/b:.2f}×), after step 50 {f['after_step_50_tokens_per_s']:.0f} "
              f"({f['after_step_50_tokens_per_s']/b:.2f}×) vs bench {b:.0f}")
    if r["job"] == "pretrain-vs-bench":
        p, b = r["pretrain"], r["bench"]
        print(f"pretrain {p['padded_tokens_per_s']:.0f} padded tok/s ({p['tokens_per_s']:.0f} real) vs bench --head mlm {b['train_tokens_per_s']:.0f}: {p['padded_tokens_per_s']/b['train_tokens_per_s']:.2f}×")
PY
