#!/bin/sh
# Rebuilds checkpoints/tiny-random: a randomly initialised BERT (2 layers,
# hidden 32) with bert-base-uncased's WordPiece vocabulary, made by the
# PyTorch oracle. Run from the repository root:
#   sh checkpoints/make_tiny_random.sh
set -e
PY=${PY:-/usr/bin/python3}
O=${ORACLES:-../shared/oracles}
V=${VOCAB:-../shared/data/bert_vocab/bert-base-uncased}
D=checkpoints/tiny-random
rm -rf "$D"
$PY $O/make_checkpoint.py "$D" --preset micro --seed 2026 --dtype F16 --max-pos 512 --vocab "$V/vocab.txt"
cp "$V/tokenizer.json" "$D/"
