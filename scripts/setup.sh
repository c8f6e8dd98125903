#!/usr/bin/env bash
# Sets up a machine for hiertune and builds it into bin/hiertune.
#   bash scripts/setup.sh
# Installs what is missing (Debian/Ubuntu): gcc for cgo, OpenBLAS for the
# matrix products and Open MPI for data-parallel training (mpirun). Without them hiertune still builds (CGO_ENABLED=0) and
# runs on its pure-Go kernels, only slower. Then fetches ONNX Runtime's
# shared library (for `--engine onnx`) from the npm package onnxruntime-node
# with `npm pack` (no install scripts run) into third_party/onnxruntime/,
# checking its SHA-256. ORT_VERSION picks another version (then unchecked);
# HIERTUNE_ORT_LIB at run time points hiertune at another copy.
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
command -v npm >/dev/null 2>&1 || missing+=(npm)
dpkg -s libopenblas-dev >/dev/null 2>&1 || missing+=(libopenblas-dev)
dpkg -s libopenmpi-dev >/dev/null 2>&1 || missing+=(openmpi-bin libopenmpi-dev)
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

ORT_VERSION=${ORT_VERSION:-1.24.3}
ort_sha256=92ba8e44d31b80a34f5e805076a044122c3be1fffe0d88ed790de7267b0b2682 # linux x64, 1.24.3
ort_lib=third_party/onnxruntime/libonnxruntime.so.1
case "$(uname -m)" in
x86_64) ort_arch=x64 ;;
aarch64) ort_arch=arm64 ort_sha256="" ;;
*) ort_arch="" ;;
esac
if [ -f "$ort_lib" ] && [ "$(cat third_party/onnxruntime/VERSION 2>/dev/null)" = "$ORT_VERSION" ]; then
	:
elif [ -z "$ort_arch" ] || ! command -v npm >/dev/null 2>&1; then
	echo "setup: no ONNX Runtime for $(uname -m) or no npm; --engine onnx will be unavailable" >&2
else
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	echo "setup: fetching ONNX Runtime $ORT_VERSION (npm pack onnxruntime-node)" >&2
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
	tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp" "package/bin/napi-v6/linux/$ort_arch/libonnxruntime.so.1"
	got="$tmp/package/bin/napi-v6/linux/$ort_arch/libonnxruntime.so.1"
	if [ "$ORT_VERSION" = 1.24.3 ] && [ -n "$ort_sha256" ] && ! echo "$ort_sha256  $got" | sha256sum -c --quiet -; then
		echo "setup: libonnxruntime.so.1 of onnxruntime-node $ORT_VERSION has an unexpected SHA-256" >&2
		exit 1
	fi
	mkdir -p third_party/onnxruntime
	mv "$got" "$ort_lib.tmp" && mv "$ort_lib.tmp" "$ort_lib"
	echo "$ORT_VERSION" >third_party/onnxruntime/VERSION
fi

if command -v gcc >/dev/null 2>&1; then
	go build -o bin/hiertune ./cmd/hiertune
else
	CGO_ENABLED=0 go build -o bin/hiertune ./cmd/hiertune
fi
echo "setup: built bin/hiertune" >&2
