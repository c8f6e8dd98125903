package ort

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/tensor"
)

func named(n string) onnx.Dimension { return onnx.Dimension{Param: n} }
func fixed(v int64) onnx.Dimension  { return onnx.Dimension{Value: v, HasValue: true} }

// TestCheckInputs checks every way inputs can fail to fit a graph.
func TestCheckInputs(t *testing.T) {
	decl := []Value{
		{Name: "input_ids", Type: onnx.Int64, Dims: []onnx.Dimension{named("batch"), named("seq")}},
		{Name: "mask", Type: onnx.Float, Dims: []onnx.Dimension{named("batch"), fixed(4)}},
		{Name: "any", Type: onnx.Int32},
	}
	ids := func(shape ...int) *tensor.Tensor {
		return tensor.FromInt64(shape, make([]int64, tensor.NumElements(shape)))
	}
	mask := func(shape ...int) *tensor.Tensor {
		return tensor.FromFloat32(shape, make([]float32, tensor.NumElements(shape)))
	}
	anyT := &tensor.Tensor{DType: tensor.I32, Shape: []int{3}, Data: make([]byte, 12)}
	cases := []struct {
		name   string
		inputs map[string]*tensor.Tensor
		want   string
	}{
		{"ok", map[string]*tensor.Tensor{"input_ids": ids(2, 4), "mask": mask(2, 4), "any": anyT}, ""},
		{"unknown", map[string]*tensor.Tensor{"input_ids": ids(2, 4), "mask": mask(2, 4), "any": anyT, "extra": ids(1)},
			`the graph has no input "extra" (its inputs are input_ids, mask, any)`},
		{"missing", map[string]*tensor.Tensor{"input_ids": ids(2, 4), "any": anyT},
			`input "mask" is missing (the graph takes mask FLOAT[batch, 4])`},
		{"dtype", map[string]*tensor.Tensor{"input_ids": mask(2, 4), "mask": mask(2, 4), "any": anyT},
			`input "input_ids" is F32, the graph takes I64`},
		{"rank", map[string]*tensor.Tensor{"input_ids": ids(8), "mask": mask(2, 4), "any": anyT},
			`input "input_ids" has shape [8], the graph takes rank 2`},
		{"fixed", map[string]*tensor.Tensor{"input_ids": ids(2, 5), "mask": mask(2, 5), "any": anyT},
			`input "mask" has shape [2 5], the graph takes mask FLOAT[batch, 4] (dimension 1 must be 4)`},
		{"named", map[string]*tensor.Tensor{"input_ids": ids(2, 4), "mask": mask(3, 4), "any": anyT},
			`dimension "batch" is 3 here but 2 in input "input_ids"`},
		{"short data", map[string]*tensor.Tensor{"input_ids": {DType: tensor.I64, Shape: []int{2, 4}, Data: make([]byte, 8)}, "mask": mask(2, 4), "any": anyT},
			`input "input_ids": `},
	}
	for _, c := range cases {
		err := CheckInputs(decl, c.inputs)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestFindLibrary checks the explicit path and the environment variable.
func TestFindLibrary(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := FindLibrary(lib); got != lib || err != nil {
		t.Errorf("explicit: %q, %v", got, err)
	}
	if _, err := FindLibrary(filepath.Join(dir, "none.so")); err == nil || !strings.Contains(err.Error(), "none.so not found") {
		t.Errorf("explicit missing: %v", err)
	}
	t.Setenv(LibraryEnv, lib)
	if got, err := FindLibrary(""); got != lib || err != nil {
		t.Errorf("$%s: %q, %v", LibraryEnv, got, err)
	}
	t.Setenv(LibraryEnv, filepath.Join(dir, "gone.so"))
	if _, err := FindLibrary(""); err == nil || !strings.Contains(err.Error(), "gone.so (from $"+LibraryEnv+") not found") {
		t.Errorf("$%s missing: %v", LibraryEnv, err)
	}
}

// TestOpenErrors checks the model files Open refuses before ONNX Runtime
// sees them.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, m *onnx.Model) string {
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tt := func(name string, dt onnx.DataType) *onnx.ValueInfo {
		return &onnx.ValueInfo{Name: name, Type: &onnx.Type{Tensor: &onnx.TensorType{ElemType: dt}}}
	}
	garbage := filepath.Join(dir, "garbage.onnx")
	os.WriteFile(garbage, []byte("\xff\xff\xff"), 0o644)
	cases := []struct{ path, want string }{
		{filepath.Join(dir, "missing.onnx"), "no such file"},
		{garbage, "garbage.onnx: "},
		{write("nograph.onnx", &onnx.Model{IRVersion: 8}), "the model has no graph"},
		{write("strings.onnx", &onnx.Model{IRVersion: 8, Graph: &onnx.Graph{Input: []*onnx.ValueInfo{tt("text", onnx.String)}, Output: []*onnx.ValueInfo{tt("y", onnx.Float)}}}),
			`input "text" has element type STRING (supported: FLOAT, INT64, INT32)`},
		{write("nooutputs.onnx", &onnx.Model{IRVersion: 8, Graph: &onnx.Graph{Input: []*onnx.ValueInfo{tt("x", onnx.Float)}}}), "the graph has no outputs"},
	}
	for _, c := range cases {
		if _, err := Open(c.path, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", filepath.Base(c.path), err, c.want)
		}
	}
	if !available {
		ok := write("ok.onnx", &onnx.Model{IRVersion: 8, Graph: &onnx.Graph{Input: []*onnx.ValueInfo{tt("x", onnx.Float)}, Output: []*onnx.ValueInfo{tt("x", onnx.Float)}}})
		if _, err := Open(ok, Options{}); !errors.Is(err, ErrNoCgo) {
			t.Errorf("without cgo: %v, want ErrNoCgo", err)
		}
	}
}

// TestRun runs a small graph through ONNX Runtime: element types in and
// out, choosing outputs, and a closed session.
func TestRun(t *testing.T) {
	if err := Available(""); err != nil {
		t.Skipf("ONNX Runtime is not available (run scripts/setup.sh; build with cgo): %v", err)
	}
	vec := func(name string, dt onnx.DataType) *onnx.ValueInfo {
		return &onnx.ValueInfo{Name: name, Type: &onnx.Type{Tensor: &onnx.TensorType{ElemType: dt, Shape: &onnx.Shape{Dim: []onnx.Dimension{named("n")}}}}}
	}
	m := &onnx.Model{IRVersion: 8, OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
		Name: "t",
		Node: []*onnx.Node{
			{OpType: "Add", Input: []string{"x", "x"}, Output: []string{"twice"}},
			{OpType: "Cast", Input: []string{"i"}, Output: []string{"narrow"}, Attribute: []*onnx.Attribute{{Name: "to", Type: onnx.AttributeInt, I: int64(onnx.Int32)}}},
		},
		Input:  []*onnx.ValueInfo{vec("x", onnx.Float), vec("i", onnx.Int64)},
		Output: []*onnx.ValueInfo{vec("twice", onnx.Float), vec("narrow", onnx.Int32)},
	}}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "t.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]*tensor.Tensor{"x": tensor.FromFloat32([]int{3}, []float32{1, -2, 3.5}), "i": tensor.FromInt64([]int{3}, []int64{7, -1, 1 << 20})}
	out, err := s.Run(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	twice, _ := out["twice"].Float32()
	narrow, _ := out["narrow"].Int64()
	if len(twice) != 3 || twice[0] != 2 || twice[1] != -4 || twice[2] != 7 || out["narrow"].DType != tensor.I32 || narrow[2] != 1<<20 || narrow[1] != -1 {
		t.Errorf("outputs %v %v (%s)", twice, narrow, out["narrow"].DType)
	}
	if out, err := s.Run(in, []string{"narrow"}); err != nil || len(out) != 1 || out["narrow"] == nil {
		t.Errorf("one output: %v, %v", out, err)
	}
	if _, err := s.Run(in, []string{"thrice"}); err == nil || !strings.Contains(err.Error(), `the graph has no output "thrice" (it has twice, narrow)`) {
		t.Errorf("unknown output: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(in, nil); err == nil || !strings.Contains(err.Error(), "session is closed") {
		t.Errorf("closed: %v", err)
	}
}

// FuzzCheckInputs feeds tensors of any declared type, shape and data size:
// CheckInputs must return an error or nil, never panic.
func FuzzCheckInputs(f *testing.F) {
	f.Add(uint8(0), uint8(2), uint8(4), uint16(64), int64(4))
	f.Add(uint8(1), uint8(3), uint8(0), uint16(0), int64(-1))
	f.Fuzz(func(t *testing.T, dtype, rows, cols uint8, size uint16, fixedDim int64) {
		dts := []tensor.DType{tensor.I64, tensor.F32, tensor.I32, tensor.F16, "X"}
		decl := []Value{
			{Name: "a", Type: onnx.Int64, Dims: []onnx.Dimension{named("batch"), fixed(fixedDim)}},
			{Name: "b", Type: onnx.Float, Dims: []onnx.Dimension{named("batch")}},
		}
		in := map[string]*tensor.Tensor{
			"a": {DType: dts[int(dtype)%len(dts)], Shape: []int{int(rows) - 1, int(cols)}, Data: make([]byte, size)},
			"b": tensor.FromFloat32([]int{int(rows)}, make([]float32, rows)),
		}
		_ = CheckInputs(decl, in)
	})
}
