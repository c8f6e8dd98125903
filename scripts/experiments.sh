#!/usr/bin/env bash
# Runs the fine-tuning experiments of docs/results.md — hierarchical, flat,
# single-task and random-initialisation runs, 3 seeds each — and prints
# their table. Runs already finished are kept (delete their directory to
# redo one); an interrupted one is resumed.
#   bash scripts/experiments.sh [CONFIGS...]
# Environment: SEEDS ("1 2 3"), OUT (runs/exp), STEPS (empty: the configs'
# own budget; otherwise passed as --steps to every run, the same budget for
# all: 392 steps = one epoch of EWT).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/logged.sh
SEEDS=${SEEDS:-"1 2 3"}
OUT=${OUT:-runs/exp}
STEPS=${STEPS:-}
CONFIGS=${*:-ewt-hier ewt-flat upos-only feats-only deps-only ner-only ewt-hier-random}
# The adapter ablations: bash scripts/experiments.sh $(cd examples && ls ewt-hier-{scalar,concat,attn,attn-diff,pool0,pool2,depth-static,depth-attn}.yaml | sed s/.yaml//)
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
go build -o bin/hiertune ./cmd/hiertune
mkdir -p "$OUT"
for c in $CONFIGS; do
	for s in $SEEDS; do
		d=$OUT/$c-s$s
		if grep -q '"split":"dev"' "$d/metrics.jsonl" 2>/dev/null && grep -q '^done' "$d.log" 2>/dev/null; then
			continue
		fi
		flags=""
		[ -n "$STEPS" ] && flags="--steps $STEPS"
		[ -f "$d/latest" ] && flags="$flags --resume"
		echo "== $c seed $s" >&2
		logged "$d.log" bin/hiertune finetune --config "examples/$c.yaml" --output "$d" --seed "$s" $flags
	done
done
python3 scripts/results_table.py "$OUT"
