//go:build cgo

package ort

import (
	"encoding/binary"
	"fmt"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/hiertune/hiertune/tensor"
)

// available reports whether this build can run ONNX Runtime.
const available = true

// env is the process's ONNX Runtime environment: the library can be
// loaded only once, so every session must use the same file.
var env struct {
	sync.Mutex
	lib string
}

// initEnvironment loads lib and initialises ONNX Runtime, once.
func initEnvironment(lib string) error {
	env.Lock()
	defer env.Unlock()
	if env.lib != "" {
		if env.lib != lib {
			return fmt.Errorf("ONNX Runtime is already loaded from %s; cannot load %s as well", env.lib, lib)
		}
		return nil
	}
	onnxruntime.SetSharedLibraryPath(lib)
	if err := onnxruntime.InitializeEnvironment(); err != nil {
		return fmt.Errorf("ONNX Runtime library %s: %w", lib, err)
	}
	env.lib = lib
	return nil
}

// runtime is an ONNX Runtime session with the graph's input and output
// names in declaration order.
type runtime struct {
	session *onnxruntime.DynamicAdvancedSession
	outputs int
}

func newRuntime(lib, path string, inputs, outputs []string, threads int) (*runtime, error) {
	if err := initEnvironment(lib); err != nil {
		return nil, err
	}
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: %w", err)
	}
	defer opts.Destroy()
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			return nil, fmt.Errorf("onnxruntime: %w", err)
		}
		if err := opts.SetInterOpNumThreads(1); err != nil {
			return nil, fmt.Errorf("onnxruntime: %w", err)
		}
	}
	s, err := onnxruntime.NewDynamicAdvancedSession(path, inputs, outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: onnxruntime: %w", path, err)
	}
	return &runtime{session: s, outputs: len(outputs)}, nil
}

// run feeds inputs (already checked against the declarations) and returns
// every output.
func (r *runtime) run(inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	in := make([]onnxruntime.Value, len(inputs))
	defer func() {
		for _, v := range in {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, t := range inputs {
		v, err := toValue(t)
		if err != nil {
			return nil, err
		}
		in[i] = v
	}
	out := make([]onnxruntime.Value, r.outputs)
	defer func() {
		for _, v := range out {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	if err := r.session.Run(in, out); err != nil {
		return nil, err
	}
	res := make([]*tensor.Tensor, len(out))
	for i, v := range out {
		t, err := fromValue(v)
		if err != nil {
			return nil, fmt.Errorf("output %d: %w", i, err)
		}
		res[i] = t
	}
	return res, nil
}

func (r *runtime) close() error { return r.session.Destroy() }

// toValue copies t into an ONNX Runtime tensor of its element type.
func toValue(t *tensor.Tensor) (onnxruntime.Value, error) {
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	shape := onnxruntime.NewShape(dims...)
	le := binary.LittleEndian
	switch t.DType {
	case tensor.F32:
		v, err := t.Float32()
		if err != nil {
			return nil, err
		}
		return onnxruntime.NewTensor(shape, v)
	case tensor.I64:
		v, err := t.Int64()
		if err != nil {
			return nil, err
		}
		return onnxruntime.NewTensor(shape, v)
	case tensor.I32:
		v := make([]int32, t.NumElements())
		for i := range v {
			v[i] = int32(le.Uint32(t.Data[4*i:]))
		}
		return onnxruntime.NewTensor(shape, v)
	}
	return nil, fmt.Errorf("dtype %s cannot be fed to ONNX Runtime", t.DType)
}

// fromValue copies an ONNX Runtime output into a tensor.
func fromValue(v onnxruntime.Value) (*tensor.Tensor, error) {
	dims := v.GetShape()
	shape := make([]int, len(dims))
	for i, d := range dims {
		shape[i] = int(d)
	}
	le := binary.LittleEndian
	switch t := v.(type) {
	case *onnxruntime.Tensor[float32]:
		return tensor.FromFloat32(shape, t.GetData()), nil
	case *onnxruntime.Tensor[int64]:
		return tensor.FromInt64(shape, t.GetData()), nil
	case *onnxruntime.Tensor[int32]:
		d := t.GetData()
		b := make([]byte, 4*len(d))
		for i, x := range d {
			le.PutUint32(b[4*i:], uint32(x))
		}
		return tensor.New(tensor.I32, shape, b)
	}
	return nil, fmt.Errorf("unsupported output value %T", v)
}
