#!/bin/sh
# Regenerates hf_hard.json.gz, HF tokenizers' encodings of hard_lines.json.
# Run from the repository root:
#   sh loader/tokenizer/testdata/make_hard_fixtures.sh [SHARED_DATA_DIR]
# SHARED_DATA_DIR defaults to ../shared/data. Needs node with npm: the HF
# tokenizers Node binding (npm package tokenizers@0.23.2) is installed into a
# scratch dir. make_fixtures.sh runs this too.
set -eu
D=loader/tokenizer/testdata
DATA=${1:-../shared/data}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
(cd "$W" && npm install --silent --no-audit --no-fund tokenizers@0.23.2 >/dev/null)
NODE_PATH="$W/node_modules" node "$D/hf_hard.js" "$D" "$DATA"
ls -l "$D/hf_hard.json.gz"
