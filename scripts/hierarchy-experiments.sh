#!/usr/bin/env bash
# Runs the soft-hierarchy experiments of docs/results.md#soft-hierarchy:
# trains every arm (3 seeds, the same budget), trains a structural probe on
# each seed's frozen baseline model, measures the hierarchy vectors against
# the gold trees, times the speed-accuracy curves of merging, and measures
# what the regulariser costs in training tokens/s. Finished runs are kept.
#   bash scripts/hierarchy-experiments.sh
# Environment: OUT (runs/exp-hier), SEEDS ("1 2 3"), STEPS (392), ROUNDS (2:
# timed passes per merging), COST_STEPS (60) and COST_ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/logged.sh
OUT=${OUT:-runs/exp-hier}
SEEDS=${SEEDS:-"1 2 3"}
STEPS=${STEPS:-392}
ROUNDS=${ROUNDS:-2}
EWT_DEV=../shared/data/ud_english_ewt/en_ewt-ud-dev.conllu
SST_DEV=../shared/data/sst2/dev.tsv
EWT_ARMS="ewt-tree ewt-tree-reg ewt-tree-merge ewt-tree-tome ewt-tree-reg-syntax ewt-tree-syntax ewt-tree-pool1 ewt-tree-pool0 ewt-tree-pool0-merge ewt-tree-pool0-tome"
SST_ARMS="sst2 sst2-reg sst2-merge sst2-tome"

# 1. Every arm, every seed.
OUT=$OUT STEPS=$STEPS SEEDS="$SEEDS" bash scripts/experiments.sh $EWT_ARMS $SST_ARMS

# 2. A structural probe on each seed's frozen baseline.
for s in $SEEDS; do
	d=$OUT/ewt-tree-probe-s$s
	grep -q '"split":"dev"' "$d/metrics.jsonl" 2>/dev/null && continue
	sed "s|model: runs/ewt-tree/checkpoints/best|model: $OUT/ewt-tree-s$s/checkpoints/best|" examples/ewt-tree-probe.yaml >"$OUT/ewt-tree-probe-s$s.yaml"
	flags="--steps $STEPS --seed $s"
	[ -f "$d/latest" ] && flags="$flags --resume"
	logged "$d.log" bin/hiertune finetune --config "$OUT/ewt-tree-probe-s$s.yaml" --output "$d" $flags
done

# 3. The hierarchy vectors against the gold trees, and their spread.
for c in ewt-tree-probe ewt-tree-reg ewt-tree-syntax ewt-tree-reg-syntax ewt-tree-merge; do
	for s in $SEEDS; do
		[ -f "$OUT/$c-s$s/hierarchy.json" ] && continue
		bin/hiertune inspect --hierarchy --run "$OUT/$c-s$s" --data $EWT_DEV --sentences 0 --json "$OUT/$c-s$s/hierarchy.json" >/dev/null
	done
done
bin/hiertune inspect --hierarchy --run "$OUT/ewt-tree-reg-syntax-s1" --data $EWT_DEV --sentences 3 --svg "$OUT/dendrograms" >"$OUT/dendrograms.txt"

# 4. Speed-accuracy curves: every arm of a seed timed in the same rounds.
runs() { local c=$1; local out=""; for s in $SEEDS; do out="$out\"$OUT/$c-s$s\","; done; echo "[${out%,}]"; }
ratios() { local by=$1; local out='"none"'; for r in 0.2 0.35 0.5; do out="$out, \"{by: $by, after: [1, 2, 3], ratio: $r}\""; done; echo "[$out]"; }
cat >"$OUT/curve-ewt.json" <<JSON
{"out": "$OUT/curve-ewt", "data": "$EWT_DEV", "rounds": $ROUNDS, "metrics": ["ewt.las", "ewt.upos"], "baseline": "unmerged (ewt-tree)",
 "arms": [
  {"method": "unmerged (ewt-tree)", "runs": $(runs ewt-tree), "merges": ["none"]},
  {"method": "ToMe at inference (ewt-tree)", "runs": $(runs ewt-tree), "merges": $(ratios keys)},
  {"method": "H + regulariser (ewt-tree-reg)", "runs": $(runs ewt-tree-reg), "merges": $(ratios hierarchy)},
  {"method": "H + syntax (ewt-tree-syntax)", "runs": $(runs ewt-tree-syntax), "merges": $(ratios hierarchy)},
  {"method": "H + regulariser + syntax (ewt-tree-reg-syntax)", "runs": $(runs ewt-tree-reg-syntax), "merges": $(ratios hierarchy)},
  {"method": "H + syntax, by threshold (ewt-tree-syntax)", "runs": $(runs ewt-tree-syntax), "merges": ["{after: [1, 2, 3], threshold: 1}", "{after: [1, 2, 3], threshold: 1.5}"]},
  {"method": "H + regulariser + syntax, by threshold (ewt-tree-reg-syntax)", "runs": $(runs ewt-tree-reg-syntax), "merges": ["{after: [1, 2, 3], threshold: 1}", "{after: [1, 2, 3], threshold: 1.5}"]},
  {"method": "H, merged in training (ewt-tree-merge)", "runs": $(runs ewt-tree-merge), "merges": $(ratios hierarchy)},
  {"method": "ToMe, merged in training (ewt-tree-tome)", "runs": $(runs ewt-tree-tome), "merges": $(ratios keys)},
  {"method": "word pooling after 1 (ewt-tree-pool1)", "runs": $(runs ewt-tree-pool1), "merges": ["none"]},
  {"method": "word pooling after 0 (ewt-tree-pool0)", "runs": $(runs ewt-tree-pool0), "merges": ["none"]},
  {"method": "word pooling after 0 + H merged in training (ewt-tree-pool0-merge)", "runs": $(runs ewt-tree-pool0-merge), "merges": $(ratios hierarchy)},
  {"method": "word pooling after 0 + ToMe merged in training (ewt-tree-pool0-tome)", "runs": $(runs ewt-tree-pool0-tome), "merges": $(ratios keys)}
 ]}
JSON
cat >"$OUT/curve-sst2.json" <<JSON
{"out": "$OUT/curve-sst2", "data": "$SST_DEV", "rounds": $ROUNDS, "metrics": ["sst2.accuracy"], "baseline": "unmerged (sst2)",
 "arms": [
  {"method": "unmerged (sst2)", "runs": $(runs sst2), "merges": ["none"]},
  {"method": "ToMe at inference (sst2)", "runs": $(runs sst2), "merges": $(ratios keys)},
  {"method": "H + regulariser (sst2-reg)", "runs": $(runs sst2-reg), "merges": $(ratios hierarchy)},
  {"method": "H, merged in training (sst2-merge)", "runs": $(runs sst2-merge), "merges": $(ratios hierarchy)},
  {"method": "ToMe, merged in training (sst2-tome)", "runs": $(runs sst2-tome), "merges": $(ratios keys)}
 ]}
JSON
[ -f "$OUT/curve-ewt/curve.md" ] || python3 scripts/hierarchy_curve.py "$OUT/curve-ewt.json"
[ -f "$OUT/curve-sst2/curve.md" ] || python3 scripts/hierarchy_curve.py "$OUT/curve-sst2.json"

# 5. What the hierarchy losses cost in training: the jobs alternate.
mkdir -p "$OUT/cost"
for r in $(seq 1 "${COST_ROUNDS:-3}"); do
	for c in ewt-tree ewt-tree-reg ewt-tree-reg-syntax ewt-tree-merge; do
		d=$OUT/cost/$c-r$r
		[ -f "$d/metrics.jsonl" ] && grep -q '"split":"train"' "$d/metrics.jsonl" && continue
		bin/hiertune finetune --config "examples/$c.yaml" --output "$d" --steps "${COST_STEPS:-60}" --restart >/dev/null 2>&1
	done
done
python3 scripts/hierarchy_tables.py "$OUT"
