#!/bin/sh
# Regenerates the golden fixtures of loader/tokenizer (make_hard_fixtures.sh
# regenerates only hf_hard.json.gz, with node alone). Run from the repository root:
#   sh loader/tokenizer/testdata/make_fixtures.sh [SHARED_DATA_DIR]
# SHARED_DATA_DIR defaults to ../shared/data. Needs the system python with torch
# (/usr/bin/python3, for the torch_multitask oracle) and python3-sentencepiece
# (apt-get install python3-sentencepiece), and node with npm: the HF tokenizers
# Node binding (npm package tokenizers@0.23.2) is installed into a scratch dir.
set -eu
D=loader/tokenizer/testdata
DATA=${1:-../shared/data}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
(cd "$W" && npm install --silent --no-audit --no-fund tokenizers@0.23.2 >/dev/null)
/usr/bin/python3 "$D/make_fixtures.py" "$D" "$DATA" "$W"
NODE_PATH="$W/node_modules" node "$D/hf_golden.js" "$D" "$DATA"
NODE_PATH="$W/node_modules" node "$D/hf_hard.js" "$D" "$DATA"
ls -l "$D"
