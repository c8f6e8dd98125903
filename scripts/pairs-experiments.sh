#!/usr/bin/env bash
# The pair-state measurements of docs/results.md: EWT (UPOS, LAS) and
# WikiANN F1 at equal steps (STEPS, default 392 = one epoch of EWT's
# batches) for the baseline, pair states read by attention only, with
# updates, with the parser reading them, and without absolute positions,
# 3 seeds each (scripts/experiments.sh, into runs/exp-pairs); the swap test
# ("A B" against "B A") on the first seed of the baseline and of the
# position-free model; and the cost benchmark (scripts/pairs_bench.py).
#   bash scripts/pairs-experiments.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/exp-pairs}
STEPS=${STEPS:-392} OUT=$OUT bash scripts/experiments.sh pairs-base pairs-bias pairs-update pairs-parser pairs-nopos
for c in pairs-base pairs-nopos; do
	bin/hiertune inspect --swap --run "$OUT/$c-s1" --data ../shared/data/ud_english_ewt/en_ewt-ud-dev.conllu --dataset ewt \
		--json "$OUT/$c-swap.json" | tee "$OUT/$c-swap.txt"
done
python3 scripts/pairs_bench.py "$OUT/bench.jsonl"
