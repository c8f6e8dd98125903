#!/usr/bin/env bash
# Runs the experiments of docs/results.md#the-deeper-encoder on the embedded
# 8-layer `deep` checkpoint: probes of the pretrained encoder (and of the
# 4-layer default, for reference), the fine-tuning comparison (hierarchical,
# flat, single-task, the adapters, continual schedules and loss weights; 3
# seeds at the configurations' own 3 epochs), probes of seed 1's
# hierarchical and flat runs against the pretrained encoder, and inference
# speed of the multi-task runs in interleaved rounds. Finished parts are kept.
#   bash scripts/deep-experiments.sh
# Environment: OUT (runs/exp-deep), SEEDS ("1 2 3"), ROUNDS (2), ARMS.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/exp-deep}
SEEDS=${SEEDS:-"1 2 3"}
ROUNDS=${ROUNDS:-2}
ARMS=${ARMS:-"deep-hier deep-flat deep-upos-only deep-feats-only deep-deps-only deep-ner-only deep-hier-pool0 deep-hier-concat deep-hier-continual deep-hier-weights"}
EWT_DEV=../shared/data/ud_english_ewt/en_ewt-ud-dev.conllu
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
go build -o bin/hiertune ./cmd/hiertune
mkdir -p "$OUT"

# probe SOURCE-FLAGS NAME: the EWT columns and WikiANN's tags.
probe() {
	local name=$1
	shift
	[ -f "$OUT/probe-$name-ewt.json" ] || bin/hiertune probe "$@" --dataset ewt --task upos,feats,deprel,head \
		--label "$name" --json "$OUT/probe-$name-ewt.json" --svg "$OUT/probe-$name-ewt.svg" >"$OUT/probe-$name-ewt.txt"
	[ -f "$OUT/probe-$name-wikiann.json" ] || bin/hiertune probe "$@" --dataset wikiann --task tag \
		--label "$name" --json "$OUT/probe-$name-wikiann.json" --svg "$OUT/probe-$name-wikiann.svg" >"$OUT/probe-$name-wikiann.txt"
}

# 1. The pretrained encoders.
probe deep-pretrained --config examples/deep-flat.yaml
probe default-pretrained --config examples/ewt-flat.yaml

# 2. Every arm, every seed (runs/exp-deep/ARM-sSEED).
OUT=$OUT SEEDS="$SEEDS" bash scripts/experiments.sh $ARMS

# 3. Before and after fine-tuning.
probe deep-hier --run "$OUT/deep-hier-s1"
probe deep-flat --run "$OUT/deep-flat-s1"
for d in ewt wikiann; do
	bin/hiertune probe --compare "$OUT/probe-deep-pretrained-$d.json,$OUT/probe-deep-hier-$d.json,$OUT/probe-deep-flat-$d.json" --svg "$OUT/probe-compare"
done

# 4. Inference speed on EWT dev, ratios to the flat model of the same seed.
runs() { local c=$1; local out=""; for s in $SEEDS; do out="$out\"$OUT/$c-s$s\","; done; echo "[${out%,}]"; }
cat >"$OUT/speed-ewt.json" <<JSON
{"out": "$OUT/speed-ewt", "data": "$EWT_DEV", "dataset": "ewt", "rounds": $ROUNDS, "metrics": ["ewt.las", "ewt.upos"], "baseline": "deep-flat",
 "arms": [
  {"method": "deep-flat", "runs": $(runs deep-flat), "merges": ["none"]},
  {"method": "deep-hier", "runs": $(runs deep-hier), "merges": ["none"]},
  {"method": "deep-hier-pool0", "runs": $(runs deep-hier-pool0), "merges": ["none"]},
  {"method": "deep-hier-concat", "runs": $(runs deep-hier-concat), "merges": ["none"]}
 ]}
JSON
[ -f "$OUT/speed-ewt/curve.md" ] || python3 scripts/hierarchy_curve.py "$OUT/speed-ewt.json"
python3 scripts/results_table.py "$OUT"
