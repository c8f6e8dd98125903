#!/bin/sh
# Checks hiertune's ONNX export with the oracle (onnx.checker and a NumPy
# interpreter, /work/shared/oracles/check_onnx.py): for each kind of model —
# plain hierarchical, every layer mix, word pooling mode, word pooling in the
# encoder, depth mixing, CRF and classification heads — it fine-tunes a tiny
# run (one step on the embedded tiny-random checkpoint), exports it with
# --dump (sample inputs and hiertune's outputs) and has check_onnx.py compare
# the graph's outputs, computed by NumPy, with hiertune's.
#
# Run from the repository root: sh export/testdata/oracle_check.sh
# Needs the system python3 with onnx 1.12 (PY=/usr/bin/python3).
set -eu
PY=${PY:-/usr/bin/python3}
ORACLES=${ORACLES:-/work/shared/oracles}
ROOT=$(pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export HIERTUNE_CACHE="$W/cache"
go build -o "$W/hiertune" ./cmd/hiertune
TRAIN="$ROOT/examples/data/ewt-sample-train.conllu"
DEV="$ROOT/export/testdata/dev.conllu"

# check NAME EXTRA TASKS...: one run with the given top-level lines and tasks.
check() {
	name=$1 extra=$2
	shift 2
	{
		echo "output: $W/$name"
		echo "model: tiny-random"
		printf '%b' "$extra"
		echo "datasets:"
		echo "  ewt: {format: conllu, train: $TRAIN, dev: $DEV, limit: 16}"
		echo "tasks:"
		for t in "$@"; do echo "  - {dataset: ewt, $t}"; done
		echo "train: {batch_size: 8, steps: 1, threads: 2}"
		echo 'eval: {every: "1"}'
	} >"$W/$name.yaml"
	"$W/hiertune" finetune --config "$W/$name.yaml" >/dev/null 2>&1
	"$W/hiertune" export --run "$W/$name" --output "$W/$name.onnx" --hidden-states 0,2 --dump "$W/$name.ref.safetensors" 2>/dev/null
	if "$PY" "$ORACLES/check_onnx.py" "$W/$name.onnx" --ref "$W/$name.ref.safetensors" >"$W/$name.json" 2>&1; then
		verdict=ok
	else
		verdict=FAIL
	fi
	"$PY" - "$W/$name.json" "$name" "$verdict" <<'PYEOF'
import json, sys
text = open(sys.argv[1]).read()
report = json.loads(text[text.index("{"):])
worst = max((c["max_abs"] for c in report["comparisons"]), default=float("nan"))
print("%-22s checker %-3s  outputs %d  max abs diff %.2g  %s" % (
    sys.argv[2], report.get("checker"), len(report["comparisons"]), worst, sys.argv[3]))
PYEOF
}

TAG="name: upos, type: tag, column: upos"
FEATS="name: feats, type: feats"
DEPS="name: deps, type: parse, arc_mlp: 16, rel_mlp: 8"
check hierarchical "" "$TAG, layer: 1" "$FEATS, layer: 1" "$DEPS, layer: 2"
check mixes "" "$TAG, mix: {mode: scalar}" "name: xpos, type: tag, column: xpos, mix: {mode: concat, layers: [1, 2]}" \
	"$FEATS, mix: {mode: attention, diff: true}" "$DEPS, mix: {mode: scalar, diff: true, layers: [1, 2]}"
check poolings "" "$TAG, layer: 2, pooling: mean, crf: true" "name: xpos, type: tag, column: xpos, layer: 0, pooling: last" \
	"$FEATS, layer: 1, pooling: sum" "$DEPS, layer: 2, pooling: attention"
check words-after-0 "word_pooling: {after: 0, mode: mean}\n" "$TAG, layer: 1" "$DEPS, layer: 2"
check words-after-1 "word_pooling: {after: 1, mode: attention}\n" "$TAG, layer: 1" "$DEPS, layer: 2"
check depth-static "depth_mixing: static\n" "$TAG, layer: 1" "$DEPS, layer: 2"
check depth-attention "depth_mixing: attention\n" "$TAG, layer: 1" "$DEPS, layer: 2"
