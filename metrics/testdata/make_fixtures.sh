#!/bin/sh
# Regenerates oracle_score.json: the PyTorch baseline's scorer
# (shared/oracles/torch_multitask.py --score) on the hand-written
# gold.conllu / pred.conllu pair. Run from the repository root; needs the
# system python with torch (/usr/bin/python3).
set -eu
ORACLES=${ORACLES:-/work/shared/oracles}
D=metrics/testdata
/usr/bin/python3 "$ORACLES/torch_multitask.py" --score "$D/gold.conllu" "$D/pred.conllu" > "$D/oracle_score.json"
