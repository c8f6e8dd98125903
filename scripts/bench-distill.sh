#!/usr/bin/env bash
# Inference speed of a teacher's encoder and its students', in one command:
# hiertune bench --mode infer on EWT dev batches (32 sentences, grouped by
# length as evaluation groups them), each model timed in ROUNDS alternating
# rounds (the best kept, so that a busy moment does not count against one
# model), then tokens/s, parameters and the speed-up over the teacher.
#   bash scripts/bench-distill.sh TEACHER_RUN STUDENT_RUN...   (ROUNDS=3)
# A distillation run directory may be given for its student (DIR/student).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
[ $# -ge 2 ] || { echo "usage: bash scripts/bench-distill.sh TEACHER_RUN STUDENT_RUN..." >&2; exit 2; }
go build -o bin/hiertune ./cmd/hiertune
DEV=../shared/data/ud_english_ewt/en_ewt-ud-dev.conllu
W=$(mktemp)
trap 'rm -f "$W"' EXIT
for r in $(seq "${ROUNDS:-3}"); do
	for run in "$@"; do
		[ -d "$run/student" ] && run=$run/student
		out=$(bin/hiertune bench --mode infer --model "$run/checkpoints/best" --data "$DEV" --batch 32 --steps 40 2>/dev/null)
		echo "{\"run\":\"$run\",\"round\":$r,\"result\":$out}" | tee -a "$W"
	done
done
python3 - "$W" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    rec = json.loads(line)
    r = rec["result"]
    if rec["run"] not in best or r["infer_tokens_per_s"] > best[rec["run"]]["infer_tokens_per_s"]:
        best[rec["run"]] = r
runs = list(best)
base = best[runs[0]]["infer_tokens_per_s"]
print("| model | layers | hidden | parameters | infer tok/s | × teacher |")
print("|---|---|---|---|---|---|")
for run in runs:
    r = best[run]
    print(f"| {run} | {r['layers']} | {r['hidden']} | {r['params']/1e6:.2f}M | {r['infer_tokens_per_s']:.0f} | {r['infer_tokens_per_s']/base:.2f} |")
PY
