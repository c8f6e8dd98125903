#!/usr/bin/env bash
# Runs hiertune's checks: gofmt, go mod tidy, go vet, then the test suite
# twice, on the native (cgo + OpenBLAS) kernels and on the pure-Go ones.
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
if ! go mod tidy -diff >/dev/null; then
	echo "go mod tidy would change go.mod or go.sum: run it and commit the result" >&2
	exit 1
fi
go vet ./...
go test -count=1 ./...
CGO_ENABLED=0 go test -count=1 ./...
