#!/usr/bin/env bash
# The load test and fault runs of docs/serving.md, on this machine only
# (127.0.0.1). For each run given (default: the quick start's run and its
# distilled student), for each engine (hiertune's, and ONNX Runtime on the
# run's exported graph) and with dynamic batching (--max-batch 32) and
# without (--max-batch 1): a server on a free port, `hiertune load` at 1, 8
# and 64 clients sending one EWT dev sentence per request (at most
# REQUESTS requests or DURATION per test), the server's peak memory from
# its /metrics; then `hiertune load --faults` once per run on hiertune's
# engine. JSON lines into runs/serve-bench/, a table on stdout.
#   bash scripts/serve-bench.sh [RUN...]
# Needs the runs: bin/hiertune finetune --config examples/quickstart.yaml
# and bin/hiertune distill --config examples/distill-quickstart.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-2000}
DURATION=${DURATION:-20s}
DATA=${DATA:-../shared/data/ud_english_ewt/en_ewt-ud-dev.conllu}
OUT=runs/serve-bench
mkdir -p "$OUT"
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(runs/quickstart runs/distill-quickstart/student)

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# serve_and_load NAME RUN ENGINE MAXBATCH [load flags...]: one server, one
# load command; the load's JSON lines (and the server's peak memory) go to
# $OUT/NAME.jsonl.
serve_and_load() {
	local name=$1 run=$2 engine=$3 maxbatch=$4
	shift 4
	local p extra=()
	p=$(port)
	[ "$engine" = onnx ] && extra=(--onnx "$OUT/$(basename "$(dirname "$run")")-$(basename "$run").onnx")
	bin/hiertune serve --run "$run" --engine "$engine" "${extra[@]}" --addr "127.0.0.1:$p" --max-batch "$maxbatch" \
		>/dev/null 2>"$OUT/$name.server.log" &
	local pid=$!
	for _ in $(seq 100); do
		curl -sf "127.0.0.1:$p/readyz" >/dev/null 2>&1 && break
		sleep 0.2
	done
	bin/hiertune load --url "http://127.0.0.1:$p" --data "$DATA" "$@" >"$OUT/$name.jsonl" 2>"$OUT/$name.log" || echo "load $name failed: see $OUT/$name.log" >&2
	curl -s "127.0.0.1:$p/metrics" | awk -v n="$name" '/^hiertune_peak_resident_memory_bytes/ {printf "{\"peak_rss_bytes\": %s}\n", $2}' >>"$OUT/$name.jsonl"
	kill -TERM $pid
	wait $pid || true
}

for run in "${runs[@]}"; do
	tag="$(basename "$(dirname "$run")")-$(basename "$run")"
	bin/hiertune export --run "$run" --output "$OUT/$tag.onnx" >/dev/null
	for engine in go onnx; do
		for mb in 32 1; do
			echo "$tag $engine max-batch $mb" >&2
			serve_and_load "$tag-$engine-b$mb" "$run" "$engine" "$mb" --clients 1,8,64 --requests "$REQUESTS" --duration "$DURATION"
		done
	done
	echo "$tag faults" >&2
	serve_and_load "$tag-faults" "$run" go 32 --faults
done
python3 - "$OUT" <<'EOF'
import glob, json, os, sys
out = sys.argv[1]
print(f"{'run / engine / batching':44} {'clients':>7} {'req/s':>8} {'words/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'statuses':>16} {'peak RSS':>9}")
for path in sorted(glob.glob(os.path.join(out, "*-b*.jsonl"))):
    name = os.path.basename(path)[:-6]
    rows = [json.loads(l) for l in open(path) if l.strip()]
    peak = next((r["peak_rss_bytes"] for r in rows if "peak_rss_bytes" in r), 0)
    for r in rows:
        if "clients" in r:
            print(f"{name:44} {r['clients']:7d} {r['requests_per_s']:8.1f} {r['words_per_s']:9.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {json.dumps(r['status']):>16} {peak / 2**20:8.0f}M")
for path in sorted(glob.glob(os.path.join(out, "*-faults.jsonl"))):
    print("\n" + os.path.basename(path)[:-6])
    for l in open(path):
        r = json.loads(l)
        if "name" in r:
            print(f"  {r['name']:52} {'ok' if r['ok'] else 'WRONG':5} got {r['got']} valid meanwhile {r['valid_meanwhile']} peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB")
EOF
