#!/bin/sh
# Golden fixtures for the encoder's parity tests, made with the plain-PyTorch
# oracles (../shared/oracles). Run from the repository root:
#   sh encoder/testdata/make_fixtures.sh
# Each parity/<case>/ holds ckpt/ (a HuggingFace checkpoint) and ref.safetensors
# (every hidden state, the pooler output and, for some, the attention
# probabilities, from reference_outputs.py); train/ holds one AdamW step from
# train_step_reference.py. CI only reads these files: it needs no PyTorch.
set -e
PY=${PY:-/usr/bin/python3}
O=${ORACLES:-../shared/oracles}
D=encoder/testdata/parity
rm -rf "$D" && mkdir -p "$D"

ckpt() { # case, make_checkpoint args...
	c=$1; shift
	$PY $O/make_checkpoint.py "$D/$c/ckpt" "$@" >/dev/null
	rm -f "$D/$c/ckpt/tokenizer_config.json" "$D/$c/ckpt/special_tokens_map.json" "$D/$c/ckpt/vocab.txt"
}
ckpt micro-f32 --preset micro --seed 1
ckpt micro-f16-noprefix --preset micro --seed 2 --dtype F16 --no-prefix
ckpt micro-bf16-mlmhead --preset micro --seed 3 --dtype BF16 --with-mlm-head
# 12 heads of 8 dimensions, tanh-approximated GELU, eps 1e-5, no pooler.
ckpt heads12-gelunew --preset micro --seed 4 --dtype F16 --hidden 96 --heads 12 --ffn 192 --vocab-size 200 \
	--hidden-act gelu_new --layer-norm-eps 1e-5 --no-pooler --no-prefix
for c in micro-f32 micro-f16-noprefix micro-bf16-mlmhead heads12-gelunew; do
	$PY $O/reference_outputs.py "$D/$c/ckpt" "$D/$c/ref.safetensors" --batch 4 --seq 16 --attentions >/dev/null
done
$PY encoder/testdata/extra_models.py "$O" "$D/roberta" roberta
$PY encoder/testdata/extra_models.py "$O" "$D/electra" electra

# One training step: token classification with losses on layer 1 and layer 2.
T=encoder/testdata/train
rm -rf "$T" && mkdir -p "$T"
$PY $O/make_checkpoint.py "$T/ckpt" --preset micro --seed 5 --num-labels 3 >/dev/null
rm -f "$T/ckpt/tokenizer_config.json" "$T/ckpt/special_tokens_map.json" "$T/ckpt/vocab.txt"
$PY $O/train_step_reference.py "$T/ckpt" "$T/step.safetensors" --mid-layer 1 --all-grads >/dev/null
rm -f "$T/step.safetensors.json"
du -sh encoder/testdata
