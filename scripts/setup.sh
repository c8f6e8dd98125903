#!/usr/bin/env bash
# Sets up a machine for hiertune and builds it into bin/hiertune.
#   bash scripts/setup.sh
# Installs what is missing (Debian/Ubuntu): gcc for cgo and OpenBLAS for the
# matrix products. Without them hiertune still builds (CGO_ENABLED=0) and
# runs on its pure-Go kernels, only slower.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		export PATH=$PATH:/usr/local/go/bin
	else
		echo "setup: Go 1.26 or newer is needed (https://go.dev/dl/)" >&2
		exit 1
	fi
fi

missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
dpkg -s libopenblas-dev >/dev/null 2>&1 || missing+=(libopenblas-dev)
if [ ${#missing[@]} -gt 0 ]; then
	if command -v apt-get >/dev/null 2>&1; then
		sudo=""
		[ "$(id -u)" -eq 0 ] || sudo="sudo"
		echo "setup: installing ${missing[*]}" >&2
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
	else
		echo "setup: please install ${missing[*]} (no apt-get here); building without them" >&2
	fi
fi

if command -v gcc >/dev/null 2>&1; then
	go build -o bin/hiertune ./cmd/hiertune
else
	CGO_ENABLED=0 go build -o bin/hiertune ./cmd/hiertune
fi
echo "setup: built bin/hiertune" >&2
