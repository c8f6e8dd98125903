#!/usr/bin/env bash
# Runs the distillation comparison of docs/results.md — the 2-layer student
# fine-tuned directly, stage 2 only, stages 1 + 2, MKD, and MKD with two
# teachers, 3 seeds each — and prints its table. Runs already finished are
# kept (delete their directory to redo one); an interrupted one is resumed.
#   bash scripts/distill-experiments.sh [JOBS...]
# Environment: SEEDS ("1 2 3"), OUT (runs/distill), TEACHER (the
# hierarchical teacher run, runs/teachers/ewt-hier), NER_TEACHER (the second
# teacher of multi-teacher, runs/teachers/ner-only), TEACHER_STEPS (3136 =
# 8 epochs of EWT). A teacher that does not exist yet is trained first
# (seed 1). Seeds run in the outer loop, so a partial run covers every job.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/logged.sh
SEEDS=${SEEDS:-"1 2 3"}
OUT=${OUT:-runs/distill}
TEACHER=${TEACHER:-runs/teachers/ewt-hier}
NER_TEACHER=${NER_TEACHER:-runs/teachers/ner-only}
TEACHER_STEPS=${TEACHER_STEPS:-3136}
JOBS=${*:-ewt-direct ewt-stage2 ewt ewt-mkd multi-teacher}
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
go build -o bin/hiertune ./cmd/hiertune
mkdir -p "$OUT"

teacher() { # teacher CONFIG DIR
	[ -f "$2.log" ] && return
	echo "== teacher $2" >&2
	mkdir -p "$(dirname "$2")"
	logged "$2.log" bin/hiertune finetune --config "examples/$1.yaml" --output "$2" --seed 1 --steps "$TEACHER_STEPS" $([ -f "$2/latest" ] && echo --resume)
}
teacher ewt-hier "$TEACHER"
case " $JOBS " in *" multi-teacher "*) teacher ner-only "$NER_TEACHER" ;; esac

cfgs=$(mktemp -d)
trap 'rm -rf "$cfgs"' EXIT
for j in $JOBS; do
	sed -e "s#runs/ewt-hier\$#$TEACHER#" -e "s#runs/ner-only\$#$NER_TEACHER#" "examples/distill-$j.yaml" >"$cfgs/$j.yaml"
done
for s in $SEEDS; do
	for j in $JOBS; do
		d=$OUT/$j-s$s
		if [ -f "$d/student/checkpoints/best/state.json" ] && [ ! -f "$d.log.tmp" ]; then
			continue
		fi
		flags=""
		[ -d "$d/checkpoints" ] && flags="--resume"
		echo "== $j seed $s" >&2
		logged "$d.log" bin/hiertune distill --config "$cfgs/$j.yaml" --output "$d" --seed "$s" $flags
	done
done
python3 scripts/results_table.py "$OUT"
