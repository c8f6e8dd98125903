#!/bin/sh
# Regenerates the trainer fixtures of loader/tokenizer. Run from the repository root:
#   sh loader/tokenizer/testdata/train_hf.sh [SHARED_DATA_DIR]
# SHARED_DATA_DIR defaults to ../shared/data. train_corpus.txt is the first 400 lines of
# UD English-EWT train (CC BY-SA 4.0); train_hf_vocab.txt is what HF tokenizers'
# WordPieceTrainer learns from it (npm package tokenizers@0.23.2, installed into a scratch
# dir). HF breaks ties between equally frequent pairs by token ids that depend on hash
# order, so its vocabulary differs a little from run to run.
set -eu
D=loader/tokenizer/testdata
DATA=${1:-../shared/data}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
head -n 400 "$DATA/raw_text/en_ewt_train.txt" > "$D/train_corpus.txt"
(cd "$W" && npm install --silent --no-audit --no-fund tokenizers@0.23.2 >/dev/null)
NODE_PATH="$W/node_modules" node "$D/train_hf.js" "$D" >/dev/null 2>&1
ls -l "$D"/train_*
