// Package ort runs ONNX graphs with ONNX Runtime, through
// github.com/yalue/onnxruntime_go.
//
// A Session checks every input against the graph's declared inputs — name,
// element type, rank, fixed dimensions, and named dimensions that must agree
// across inputs — before anything reaches C, so that a model file that does
// not fit the data is a Go error naming the input, not a failure inside ONNX
// Runtime. The library is loaded once per process (see FindLibrary); builds
// without cgo have no ONNX Runtime and Open says so.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/tensor"
)

// LibraryEnv is the environment variable that points at the ONNX Runtime
// shared library when no path is given explicitly.
const LibraryEnv = "HIERTUNE_ORT_LIB"

// libraryFile is where scripts/setup.sh puts the library, relative to the
// repository root.
var libraryFile = filepath.Join("third_party", "onnxruntime", "libonnxruntime.so.1")

// ErrNoCgo is what Open returns in a build without cgo: ONNX Runtime is a
// C library.
var ErrNoCgo = errors.New("ONNX Runtime is not available: hiertune was built without cgo (rebuild with CGO_ENABLED=1)")

// Options configure a session.
type Options struct {
	// Library is the path of libonnxruntime; "" looks it up with
	// FindLibrary.
	Library string
	// Threads is the number of intra-op threads (0: ONNX Runtime's
	// default, one per core).
	Threads int
}

// Value is a declared input or output of a graph.
type Value struct {
	Name string
	Type onnx.DataType
	// Dims is the declared shape; nil when the rank is unknown.
	Dims []onnx.Dimension
}

// String describes v as "input_ids INT64[batch, seq]".
func (v Value) String() string {
	if v.Dims == nil {
		return fmt.Sprintf("%s %s[?]", v.Name, v.Type)
	}
	return fmt.Sprintf("%s %s%s", v.Name, v.Type, shapeString(v.Dims))
}

func shapeString(dims []onnx.Dimension) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		switch {
		case d.HasValue:
			parts[i] = strconv.FormatInt(d.Value, 10)
		case d.Param != "":
			parts[i] = d.Param
		default:
			parts[i] = "?"
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Session is a model file loaded into ONNX Runtime.
type Session struct {
	path            string
	inputs, outputs []Value
	metadata        map[string]string
	rt              *runtime // nil after Close
}

// Open reads the model at path, checks that its inputs and outputs are
// tensors hiertune can feed and read (FLOAT, INT64 or INT32), and creates an
// ONNX Runtime session for it.
func Open(path string, opt Options) (*Session, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := onnx.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Graph == nil {
		return nil, fmt.Errorf("%s: the model has no graph", path)
	}
	s := &Session{path: path, metadata: map[string]string{}}
	if s.inputs, err = declared(m.Graph, m.Graph.Input, "input"); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.outputs, err = declared(m.Graph, m.Graph.Output, "output"); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(s.outputs) == 0 {
		return nil, fmt.Errorf("%s: the graph has no outputs", path)
	}
	for _, e := range m.MetadataProps {
		s.metadata[e.Key] = e.Value
	}
	if !available {
		return nil, ErrNoCgo
	}
	lib, err := FindLibrary(opt.Library)
	if err != nil {
		return nil, err
	}
	if s.rt, err = newRuntime(lib, path, names(s.inputs), names(s.outputs), opt.Threads); err != nil {
		return nil, err
	}
	return s, nil
}

// declared lists the graph's inputs or outputs, leaving out inputs that
// are initializers (overridable constants, not data).
func declared(g *onnx.Graph, vs []*onnx.ValueInfo, kind string) ([]Value, error) {
	constant := map[string]bool{}
	for _, t := range g.Initializer {
		constant[t.Name] = true
	}
	var out []Value
	for _, v := range vs {
		if kind == "input" && constant[v.Name] {
			continue
		}
		if v.Type == nil || v.Type.Tensor == nil {
			return nil, fmt.Errorf("%s %q is not a tensor", kind, v.Name)
		}
		tt := v.Type.Tensor
		if _, ok := dtypes[tt.ElemType]; !ok {
			return nil, fmt.Errorf("%s %q has element type %s (supported: FLOAT, INT64, INT32)", kind, v.Name, tt.ElemType)
		}
		val := Value{Name: v.Name, Type: tt.ElemType}
		if tt.Shape != nil {
			val.Dims = append([]onnx.Dimension{}, tt.Shape.Dim...)
		}
		out = append(out, val)
	}
	return out, nil
}

// dtypes maps the element types a session exchanges to tensor types.
var dtypes = map[onnx.DataType]tensor.DType{onnx.Float: tensor.F32, onnx.Int64: tensor.I64, onnx.Int32: tensor.I32}

func names(vs []Value) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name
	}
	return out
}

// Available returns nil when sessions can be opened with the given
// library ("" as in Options), or the reason they cannot: a build without
// cgo (ErrNoCgo) or no library found.
func Available(library string) error {
	if !available {
		return ErrNoCgo
	}
	_, err := FindLibrary(library)
	return err
}

// Path returns the model file's path.
func (s *Session) Path() string { return s.path }

// Inputs returns the graph's declared inputs.
func (s *Session) Inputs() []Value { return slices.Clone(s.inputs) }

// Outputs returns the graph's declared outputs.
func (s *Session) Outputs() []Value { return slices.Clone(s.outputs) }

// InputNames returns the names of the graph's inputs.
func (s *Session) InputNames() []string { return names(s.inputs) }

// OutputNames returns the names of the graph's outputs.
func (s *Session) OutputNames() []string { return names(s.outputs) }

// Metadata returns the model's metadata_props.
func (s *Session) Metadata() map[string]string {
	out := make(map[string]string, len(s.metadata))
	for k, v := range s.metadata {
		out[k] = v
	}
	return out
}

// Run runs the graph on inputs (every declared input, by name) and returns
// the named outputs (nil: all of them) as F32, I64 or I32 tensors. Inputs
// are checked against the declarations first (see CheckInputs).
func (s *Session) Run(inputs map[string]*tensor.Tensor, outputs []string) (map[string]*tensor.Tensor, error) {
	if s.rt == nil {
		return nil, fmt.Errorf("%s: session is closed", s.path)
	}
	if err := CheckInputs(s.inputs, inputs); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path, err)
	}
	want := map[string]bool{}
	for _, name := range outputs {
		if !slices.Contains(names(s.outputs), name) {
			return nil, fmt.Errorf("%s: the graph has no output %q (it has %s)", s.path, name, strings.Join(names(s.outputs), ", "))
		}
		want[name] = true
	}
	ordered := make([]*tensor.Tensor, len(s.inputs))
	for i, in := range s.inputs {
		ordered[i] = inputs[in.Name]
	}
	all, err := s.rt.run(ordered)
	if err != nil {
		return nil, fmt.Errorf("%s: onnxruntime: %w", s.path, err)
	}
	out := map[string]*tensor.Tensor{}
	for i, o := range s.outputs {
		if outputs == nil || want[o.Name] {
			out[o.Name] = all[i]
		}
	}
	return out, nil
}

// Close releases the session.
func (s *Session) Close() error {
	if s.rt == nil {
		return nil
	}
	err := s.rt.close()
	s.rt = nil
	return err
}

// CheckInputs reports the first way inputs do not fit the declared ones: a
// missing or unknown name, another element type, another rank, a size
// where the graph fixes another, or a named dimension (such as "batch")
// whose size differs between inputs.
func CheckInputs(declared []Value, inputs map[string]*tensor.Tensor) error {
	known := map[string]bool{}
	for _, d := range declared {
		known[d.Name] = true
	}
	var extra []string
	for name := range inputs {
		if !known[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("the graph has no input %q (its inputs are %s)", extra[0], strings.Join(names(declared), ", "))
	}
	type seen struct {
		size  int
		input string
	}
	named := map[string]seen{}
	for _, d := range declared {
		t, ok := inputs[d.Name]
		if !ok || t == nil {
			return fmt.Errorf("input %q is missing (the graph takes %s)", d.Name, d)
		}
		if want := dtypes[d.Type]; t.DType != want {
			return fmt.Errorf("input %q is %s, the graph takes %s (%s)", d.Name, t.DType, want, d)
		}
		if _, err := tensor.New(t.DType, t.Shape, t.Data); err != nil {
			return fmt.Errorf("input %q: %w", d.Name, err)
		}
		if d.Dims == nil {
			continue
		}
		if len(t.Shape) != len(d.Dims) {
			return fmt.Errorf("input %q has shape %v, the graph takes rank %d (%s)", d.Name, t.Shape, len(d.Dims), d)
		}
		for i, dim := range d.Dims {
			size := t.Shape[i]
			switch {
			case dim.HasValue && int64(size) != dim.Value:
				return fmt.Errorf("input %q has shape %v, the graph takes %s (dimension %d must be %d)", d.Name, t.Shape, d, i, dim.Value)
			case dim.Param != "":
				if prev, ok := named[dim.Param]; ok && prev.size != size {
					return fmt.Errorf("input %q has shape %v: dimension %q is %d here but %d in input %q", d.Name, t.Shape, dim.Param, size, prev.size, prev.input)
				}
				named[dim.Param] = seen{size, d.Name}
			}
		}
	}
	return nil
}

// FindLibrary returns the path of the ONNX Runtime library: explicit if
// not empty, else $HIERTUNE_ORT_LIB, else third_party/onnxruntime/
// libonnxruntime.so.1 (where scripts/setup.sh installs it) next to the
// executable's directory (bin/hiertune → ../third_party/…) or in the
// repository around the working directory (the first parent holding
// go.mod). The error names every path tried.
func FindLibrary(explicit string) (string, error) {
	var tried []string
	try := func(p string) bool {
		tried = append(tried, p)
		_, err := os.Stat(p)
		return err == nil
	}
	if explicit != "" {
		if try(explicit) {
			return explicit, nil
		}
		return "", fmt.Errorf("ONNX Runtime library %s not found", explicit)
	}
	if env := os.Getenv(LibraryEnv); env != "" {
		if try(env) {
			return env, nil
		}
		return "", fmt.Errorf("ONNX Runtime library %s (from $%s) not found", env, LibraryEnv)
	}
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(filepath.Dir(exe)), libraryFile); try(p) {
			return p, nil
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				if p := filepath.Join(dir, libraryFile); try(p) {
					return p, nil
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("ONNX Runtime library not found (tried %s): run scripts/setup.sh, or give its path with --ort-lib or $%s", strings.Join(tried, ", "), LibraryEnv)
}
