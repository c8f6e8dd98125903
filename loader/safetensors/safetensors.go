// Package safetensors reads and writes the safetensors format: an 8-byte
// little-endian header length N, N bytes of JSON describing each tensor's
// dtype, shape and byte range, then the tensors' bytes.
//
// The reader validates everything the header claims before any tensor is
// used: the header fits in the file, every dtype is known, every byte range
// matches its dtype and shape, and the ranges tile the data region exactly,
// with no overlap, gap or overrun (the rules of the reference implementation).
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/tensor"
)

// MaxHeaderSize is the largest header accepted, as in the reference
// implementation; it stops a corrupt length from causing a huge allocation.
const MaxHeaderSize = 100_000_000

// Entry is one tensor's description in a header.
type Entry struct {
	Name       string
	DType      tensor.DType
	Shape      []int
	Begin, End int64 // byte range in the data region
}

// Header is a parsed, validated safetensors header.
type Header struct {
	Metadata map[string]string
	Entries  []Entry // in the order of their data
	DataSize int64   // bytes of the data region
}

// ParseHeader parses and validates the JSON header raw, for a data region of
// dataSize bytes.
func ParseHeader(raw []byte, dataSize int64) (*Header, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("header is not valid UTF-8")
	}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '{' {
		return nil, errors.New("header is not a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("header is not valid JSON: %w", err)
	}
	h := &Header{DataSize: dataSize}
	for name, msg := range fields {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &h.Metadata); err != nil {
				return nil, fmt.Errorf("__metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var info struct {
			DType       *string  `json:"dtype"`
			Shape       *[]int64 `json:"shape"`
			DataOffsets *[]int64 `json:"data_offsets"`
		}
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&info); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		if info.DType == nil || info.Shape == nil || info.DataOffsets == nil {
			return nil, fmt.Errorf("tensor %q: dtype, shape and data_offsets are all required", name)
		}
		e := Entry{Name: name, DType: tensor.DType(*info.DType)}
		if _, ok := e.DType.Size(); !ok {
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", name, *info.DType)
		}
		for _, d := range *info.Shape {
			if d < 0 || d > 1<<40 {
				return nil, fmt.Errorf("tensor %q: invalid shape %v", name, *info.Shape)
			}
			e.Shape = append(e.Shape, int(d))
		}
		if len(*info.DataOffsets) != 2 {
			return nil, fmt.Errorf("tensor %q: data_offsets must be [begin, end], got %v", name, *info.DataOffsets)
		}
		e.Begin, e.End = (*info.DataOffsets)[0], (*info.DataOffsets)[1]
		if e.Begin < 0 || e.End < e.Begin {
			return nil, fmt.Errorf("tensor %q: invalid data_offsets [%d, %d]", name, e.Begin, e.End)
		}
		if e.End > dataSize {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the end of the data (%d bytes; file truncated?)", name, e.Begin, e.End, dataSize)
		}
		n, err := tensor.NumBytes(e.DType, e.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		if int64(n) != e.End-e.Begin {
			return nil, fmt.Errorf("tensor %q: %s%v needs %d bytes but data_offsets [%d, %d] hold %d", name, e.DType, e.Shape, n, e.Begin, e.End, e.End-e.Begin)
		}
		h.Entries = append(h.Entries, e)
	}
	sort.Slice(h.Entries, func(i, j int) bool {
		a, b := h.Entries[i], h.Entries[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	var at int64
	for i, e := range h.Entries {
		switch {
		case e.Begin < at:
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q", e.Name, e.Begin, e.End, h.Entries[i-1].Name)
		case e.Begin > at:
			return nil, fmt.Errorf("tensor %q: gap of %d bytes before its data_offsets [%d, %d]", e.Name, e.Begin-at, e.Begin, e.End)
		}
		at = e.End
	}
	if at != dataSize {
		return nil, fmt.Errorf("tensors cover %d bytes but the data region has %d", at, dataSize)
	}
	return h, nil
}

// File is a safetensors file read into memory.
type File struct {
	Path   string
	Header *Header
	data   []byte
}

// ReadFile reads and validates the safetensors file at path.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	file, err := Read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	file.Path = path
	return file, nil
}

// Read reads and validates a safetensors file of the given size from r.
func Read(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("file is %d bytes, too short for a safetensors header", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("header length %d exceeds the %d-byte limit (not a safetensors file?)", n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, fmt.Errorf("header length %d runs past the end of the %d-byte file (truncated?)", n, size)
	}
	raw := make([]byte, n)
	if _, err := r.ReadAt(raw, 8); err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	dataSize := size - 8 - int64(n)
	h, err := ParseHeader(raw, dataSize)
	if err != nil {
		return nil, err
	}
	data := make([]byte, dataSize)
	if _, err := r.ReadAt(data, 8+int64(n)); err != nil && !(errors.Is(err, io.EOF) && dataSize == 0) {
		return nil, fmt.Errorf("reading tensor data: %w", err)
	}
	return &File{Header: h, data: data}, nil
}

// Names returns the tensor names in data order.
func (f *File) Names() []string {
	names := make([]string, len(f.Header.Entries))
	for i, e := range f.Header.Entries {
		names[i] = e.Name
	}
	return names
}

// Tensor returns the named tensor, sharing the file's memory.
func (f *File) Tensor(name string) (*tensor.Tensor, bool) {
	for _, e := range f.Header.Entries {
		if e.Name == name {
			return &tensor.Tensor{DType: e.DType, Shape: e.Shape, Data: f.data[e.Begin:e.End:e.End]}, true
		}
	}
	return nil, false
}

// Tensors returns every tensor by name, sharing the file's memory.
func (f *File) Tensors() map[string]*tensor.Tensor {
	m := make(map[string]*tensor.Tensor, len(f.Header.Entries))
	for _, e := range f.Header.Entries {
		m[e.Name] = &tensor.Tensor{DType: e.DType, Shape: e.Shape, Data: f.data[e.Begin:e.End:e.End]}
	}
	return m
}

// Encode returns the safetensors encoding of tensors, written in name order,
// with metadata (may be nil) and the header padded with spaces to a multiple
// of 8 bytes, as the reference implementation writes it.
func Encode(tensors map[string]*tensor.Tensor, metadata map[string]string) ([]byte, error) {
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		if name == "__metadata__" {
			return nil, errors.New(`"__metadata__" is not a valid tensor name`)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var hdr strings.Builder
	hdr.WriteByte('{')
	if metadata != nil {
		b, err := json.Marshal(metadata)
		if err != nil {
			return nil, err
		}
		hdr.WriteString(`"__metadata__":`)
		hdr.Write(b)
	}
	var off int64
	for i, name := range names {
		t := tensors[name]
		if _, err := tensor.New(t.DType, t.Shape, t.Data); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		if i > 0 || metadata != nil {
			hdr.WriteByte(',')
		}
		nb, _ := json.Marshal(name)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		sb, _ := json.Marshal(shape)
		fmt.Fprintf(&hdr, `%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, nb, t.DType, sb, off, off+int64(len(t.Data)))
		off += int64(len(t.Data))
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	out := make([]byte, 8, 8+int64(hdr.Len())+off)
	binary.LittleEndian.PutUint64(out, uint64(hdr.Len()))
	out = append(out, hdr.String()...)
	for _, name := range names {
		out = append(out, tensors[name].Data...)
	}
	return out, nil
}

// WriteFile writes tensors to path atomically: to a temporary file in the
// same directory, synced, then renamed over path.
func WriteFile(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	b, err := Encode(tensors, metadata)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, b)
}
