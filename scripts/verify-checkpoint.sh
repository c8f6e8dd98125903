#!/usr/bin/env bash
# Checks that a checkpoint is a valid HuggingFace BERT checkpoint: the
# PyTorch oracle (../shared/oracles/bert_ref.py, which reads it as
# transformers would) and "hiertune encode" must give the same hidden
# states and pooler output within 1e-4 on the oracle's fixed batch.
#   bash scripts/verify-checkpoint.sh [CHECKPOINT_DIR]   (default: checkpoints/default)
set -euo pipefail
cd "$(dirname "$0")/.."
CK=${1:-checkpoints/default}
PY=${PY:-/usr/bin/python3}
O=${ORACLES:-../shared/oracles}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
go build -o bin/hiertune ./cmd/hiertune
$PY "$O/reference_outputs.py" "$CK" "$W/ref.safetensors" --batch 4 --seq 64 >/dev/null
bin/hiertune encode --model "$CK" --inputs "$W/ref.safetensors" --output "$W/go.safetensors" >/dev/null
$PY "$O/compare_tensors.py" "$W/ref.safetensors" "$W/go.safetensors" --atol 1e-4 --rtol 0
