#!/usr/bin/env bash
# Compares the training jobs of an older commit with the working tree's,
# alternating the two binaries so that both see the same machine load
# (docs/performance.md). Each round runs, with each binary and its own
# commit's examples, finetune upos-only for 150 steps (tok/s after step 50)
# and pretrain on the embedded default's configuration for 40 steps; the
# order of the two alternates from round to round.
#   bash scripts/ab-jobs.sh COMMIT [ROUNDS]      # ROUNDS defaults to 3
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bash scripts/ab-jobs.sh COMMIT [ROUNDS]" >&2; exit 2; }
OLD=$1 ROUNDS=${2:-3}
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
NEW=$PWD SHARED=$(cd ../shared && pwd)
W=$(mktemp -d)
trap 'git -C "$NEW" worktree remove --force "$W/old" >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
git worktree add --detach "$W/old" "$OLD" >/dev/null
ln -s "$SHARED" "$W/shared"
(cd "$W/old" && go build -o bin/hiertune ./cmd/hiertune)
go build -o bin/hiertune ./cmd/hiertune

# job SIDE ROUND: prints {"finetune": tok/s after step 50, "pretrain": padded tok/s}.
job() {
	local dir=$1 out=$W/$2-$3
	(
		cd "$dir"
		sed -e "s#^output: .*#output: $out-ft#" examples/upos-only.yaml >"$out-ft.yaml"
		bin/hiertune finetune --config "$out-ft.yaml" --steps 150 2>"$out-ft.log" >/dev/null
		sed -e "s#^output: .*#output: $out-pt#" -e "s#^  steps: .*#  steps: 40#" -e "s#^  eval_every: .*#  eval_every: 1000#" \
			-e "s#^  save_every: .*#  save_every: 1000#" examples/pretrain-default.yaml >"$out-pt.yaml"
		bin/hiertune pretrain --config "$out-pt.yaml" 2>"$out-pt.log" >/dev/null
	)
	python3 - "$out-ft/metrics.jsonl" "$out-pt/metrics.jsonl" <<'PY'
import json, sys
def train(p): return [json.loads(l) for l in open(p) if '"split":"train"' in l]
late = [r for r in train(sys.argv[1]) if r["step"] > 50]
print(json.dumps({"finetune": sum(r["tokens_per_s"] for r in late) / len(late),
                  "pretrain": train(sys.argv[2])[-1]["padded_tokens_per_s"]}))
PY
}

for round in $(seq "$ROUNDS"); do
	# Odd rounds run the old binary first, even rounds the new one.
	order="old new"
	[ $((round % 2)) = 0 ] && order="new old"
	for side in $order; do
		if [ $side = old ]; then dir=$W/old; else dir=$NEW; fi
		echo "{\"round\":$round,\"side\":\"$side\",\"result\":$(job "$dir" $side "$round")}" | tee -a "$W/all.jsonl"
	done
done
python3 - "$W/all.jsonl" "$OLD" <<'PY'
import json, statistics as st, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
for job in ("finetune", "pretrain"):
    old = [r["result"][job] for r in sorted(recs, key=lambda r: r["round"]) if r["side"] == "old"]
    new = [r["result"][job] for r in sorted(recs, key=lambda r: r["round"]) if r["side"] == "new"]
    sd = lambda xs: st.stdev(xs) if len(xs) > 1 else 0.0
    print(f"{job}: {sys.argv[2]} {st.mean(old):.0f} ± {sd(old):.0f} tok/s, working tree {st.mean(new):.0f} ± {sd(new):.0f}: "
          f"{st.mean(new) / st.mean(old):.3f}× (per round {', '.join(f'{b / a:.2f}' for a, b in zip(old, new))})")
PY
