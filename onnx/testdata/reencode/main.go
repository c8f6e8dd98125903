// Command reencode decodes an ONNX model with package onnx (loading its
// external data) and writes it back with Encode. make_fixtures.py runs it to
// check the Go encoder against the python onnx checker.
//
//	go run ./onnx/testdata/reencode IN.onnx OUT.onnx
package main

import (
	"fmt"
	"os"

	"github.com/hiertune/hiertune/onnx"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: reencode IN.onnx OUT.onnx")
		os.Exit(2)
	}
	m, err := onnx.ReadFile(os.Args[1])
	if err == nil {
		var b []byte
		if b, err = m.Encode(); err == nil {
			err = os.WriteFile(os.Args[2], b, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reencode:", err)
		os.Exit(1)
	}
}
