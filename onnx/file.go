package onnx

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// ReadFile reads and decodes the model at path and loads the external data
// of all its tensors (initializers and attribute tensors, in subgraphs too).
// An external tensor's bytes come from the file its "location" entry names,
// relative to the model's directory (which, after resolving symbolic links,
// that file must be inside), starting at "offset" (default 0) for
// "length" bytes (default: to the end of the file); afterwards the tensor
// holds them as RawData, with DataLocation LocationDefault and no
// ExternalData.
func ReadFile(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	m, err := decodeModel(b)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	l := &externalLoader{dir: filepath.Dir(path), files: map[string]*os.File{}}
	defer l.close()
	err = eachTensor(m.Graph, func(t *Tensor) error {
		if t.DataLocation != LocationExternal {
			return nil
		}
		if err := l.load(t); err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	return m, nil
}

// eachTensor calls fn for every tensor stored in g: initializers and
// attribute values, recursing into subgraphs.
func eachTensor(g *Graph, fn func(*Tensor) error) error {
	if g == nil {
		return nil
	}
	for _, t := range g.Initializer {
		if err := fn(t); err != nil {
			return err
		}
	}
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			for _, t := range append([]*Tensor{a.T}, a.Tensors...) {
				if t == nil {
					continue
				}
				if err := fn(t); err != nil {
					return err
				}
			}
			for _, sub := range append([]*Graph{a.G}, a.Graphs...) {
				if err := eachTensor(sub, fn); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// externalLoader reads external tensor data, opening each data file once.
type externalLoader struct {
	dir     string
	realDir string // dir with symbolic links resolved, once needed
	files   map[string]*os.File
}

// resolve returns the path of the file rel names in the model's directory
// with every symbolic link resolved, and whether that lies inside the
// directory (itself resolved): a link must not reach what a "../" location
// may not.
func (l *externalLoader) resolve(rel string) (real string, inside bool, err error) {
	if l.realDir == "" {
		if l.realDir, err = filepath.EvalSymlinks(l.dir); err != nil {
			return "", false, err
		}
	}
	if real, err = filepath.EvalSymlinks(filepath.Join(l.dir, rel)); err != nil {
		return "", false, err
	}
	r, err := filepath.Rel(l.realDir, real)
	return real, err == nil && filepath.IsLocal(r), nil
}

func (l *externalLoader) close() {
	for _, f := range l.files {
		f.Close()
	}
}

func (l *externalLoader) load(t *Tensor) error {
	var location string
	var offset, length int64
	hasLength := false
	for _, e := range t.ExternalData {
		if e.Key == "location" {
			location = e.Value
			continue
		}
		if e.Key != "offset" && e.Key != "length" {
			continue // optional keys such as "checksum" are not checked
		}
		v, err := strconv.ParseInt(e.Value, 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("external_data: invalid %s %q", e.Key, e.Value)
		}
		if e.Key == "offset" {
			offset = v
		} else {
			length, hasLength = v, true
		}
	}
	rel := filepath.FromSlash(location)
	if !filepath.IsLocal(rel) {
		return fmt.Errorf("external_data: location %q is not a path inside the model's directory", location)
	}
	f, ok := l.files[rel]
	if !ok {
		real, inside, err := l.resolve(rel)
		if err != nil {
			return err
		}
		if !inside {
			return fmt.Errorf("external_data: location %q leads through a symbolic link to %s, outside the model's directory", location, real)
		}
		if f, err = os.Open(real); err != nil {
			return err
		}
		l.files[rel] = f
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if offset > size {
		return fmt.Errorf("%s: offset %d is beyond the end of the file (%d bytes)", f.Name(), offset, size)
	}
	if !hasLength {
		length = size - offset
	}
	if length > size-offset || uint64(length) > math.MaxInt {
		return fmt.Errorf("%s: %d bytes at offset %d run past the end of the file (%d bytes)", f.Name(), length, offset, size)
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil {
		return err
	}
	t.RawData, t.DataLocation, t.ExternalData = buf, LocationDefault, nil
	return nil
}
