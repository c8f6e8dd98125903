#!/bin/sh
# Parity of hiertune's encoder with the plain-PyTorch oracle on the full-size
# presets (bert-mini, minilm-l6-h384) in F32, F16 and BF16, with and without
# the "bert." prefix and with an MLM head, plus one training step on
# bert-mini. Needs Debian's python3-torch; CI runs the same tests on the small
# committed fixtures instead (encoder/testdata).
#   sh scripts/parity.sh [WORKDIR]
set -e
PY=${PY:-/usr/bin/python3}
O=${ORACLES:-$(cd "$(dirname "$0")/../.." && pwd)/shared/oracles}
W=${1:-$(mktemp -d)}
mkdir -p "$W/parity"
case_() { # name, make_checkpoint args...
	c=$1; shift
	$PY "$O/make_checkpoint.py" "$W/parity/$c/ckpt" "$@" >/dev/null
	$PY "$O/reference_outputs.py" "$W/parity/$c/ckpt" "$W/parity/$c/ref.safetensors" --batch 4 --seq 64 --attentions >/dev/null
}
case_ micro --preset micro
case_ bert-mini-f32 --preset bert-mini
case_ bert-mini-f16-noprefix --preset bert-mini --dtype F16 --no-prefix
case_ bert-mini-bf16-mlmhead --preset bert-mini --dtype BF16 --with-mlm-head
case_ minilm-f32-mlmhead --preset minilm-l6-h384 --with-mlm-head
case_ minilm-f16 --preset minilm-l6-h384 --dtype F16
case_ minilm-bf16-noprefix --preset minilm-l6-h384 --dtype BF16 --no-prefix
mkdir -p "$W/train"
$PY "$O/make_checkpoint.py" "$W/train/ckpt" --preset bert-mini --num-labels 5 >/dev/null
$PY "$O/train_step_reference.py" "$W/train/ckpt" "$W/train/step.safetensors" --mid-layer 2 --all-grads --seq 32 >/dev/null
cd "$(dirname "$0")/.."
HIERTUNE_PARITY_DIR="$W" go test -count=1 -v -run 'MatchPyTorch' ./encoder/ | grep -E 'max \||^(--- |ok|FAIL)'
