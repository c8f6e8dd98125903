#!/usr/bin/env bash
# Data-parallel scaling on this machine, in one command: the quickstart's
# fine-tuning job (UPOS, features, parsing on the embedded default, a
# bert-mini-sized encoder) with the same global batch (16 sentences × 2)
# on 1 process × 2 threads and on 2 ranks × 1 thread (mpirun). Prints the
# tokens/s of each and their ratio, the all-reduce time per update and its
# share of the step time, and the all-reduce bandwidth measured, then the
# cluster model of docs/distributed.md (scripts/scaling_model.py) fed with
# these measurements. Writes runs/scaling/summary.json.
#   bash scripts/scaling.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-100}
OUT=runs/scaling
rm -rf "$OUT"
mkdir -p "$OUT"
sed -e "s#^output: .*#output: $OUT/unused#" \
	-e 's#^  batch_size: 32#  batch_size: 16\n  accumulate: 2#' \
	-e 's#^  epochs: 4#  steps: '"$STEPS"'#' \
	-e 's#^  eval_every: epoch#  eval_every: 0#' \
	-e '/^  select:/d' examples/quickstart.yaml >"$OUT/job.yaml"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "1 process x 2 threads" >&2
bin/hiertune finetune --config "$OUT/job.yaml" --output "$OUT/one" 2>"$OUT/one.log"
echo "2 ranks x 1 thread" >&2
mpirun -np 2 --bind-to none bin/hiertune finetune --config "$OUT/job.yaml" --output "$OUT/two" 2>"$OUT/two.log"
/usr/bin/env python3 scripts/scaling_model.py "$OUT"
