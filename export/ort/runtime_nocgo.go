//go:build !cgo

package ort

import (
	"github.com/hiertune/hiertune/tensor"
)

// available reports whether this build can run ONNX Runtime.
const available = false

type runtime struct{}

func newRuntime(lib, path string, inputs, outputs []string, threads int) (*runtime, error) {
	return nil, ErrNoCgo
}

func (r *runtime) run(inputs []*tensor.Tensor) ([]*tensor.Tensor, error) { return nil, ErrNoCgo }

func (r *runtime) close() error { return nil }
