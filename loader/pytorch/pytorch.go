// Package pytorch reads the tensors of a PyTorch checkpoint written by
// torch.save, such as the pytorch_model.bin of a HuggingFace model.
//
// Both formats of torch.save are read: the zip archive of PyTorch 1.6 and
// later, and the legacy format of earlier versions (still written with
// _use_new_zipfile_serialization=False). The pickled object is run by a
// restricted unpickler that knows only the classes and functions a state
// dict needs: collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// _rebuild_tensor and _rebuild_parameter, the typed storage classes
// (torch.FloatStorage, torch.HalfStorage, torch.BFloat16Storage, ...) and a
// few inert constants such as torch.float32 and torch.strided. Any other
// global is an error that names it; reading a file never executes code.
//
// The pickled object must be a dict of tensors: a state dict. A training
// checkpoint that wraps it, {"state_dict": {...}, ...} or {"model": {...},
// ...}, is accepted too; then only the inner dict is returned, and the other
// entries (optimizer state, epoch, ...) are unpickled, so they may only use
// the whitelist, but their tensors are never read. A state dict value that
// is not a tensor is an error naming its key.
//
// Every tensor comes back contiguous and row-major, whatever its strides and
// storage offset, with its own bytes: tensors that share a storage in
// PyTorch (tied embeddings, slices of one buffer) get separate copies. A
// contiguous tensor that fills its storage keeps the buffer the storage was
// read into, so a typical state dict takes about its file size in memory.
// To bound what a hostile file can make the reader allocate, all tensors
// together may not take more than 8 times the file size. The element type is
// the storage's: F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL.
//
// Only little-endian files of dense tensors are supported, with zip entries
// stored uncompressed as torch.save writes them. The device a tensor was
// saved from does not matter.
package pytorch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/hiertune/hiertune/tensor"
)

// Load reads the torch.save checkpoint at path and returns its tensors by
// state dict key.
func Load(path string) (map[string]*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Read(f, fi.Size(), path)
}

// Read reads a torch.save checkpoint of size bytes from r and returns its
// tensors by state dict key. name identifies the checkpoint in errors.
func Read(r io.ReaderAt, size int64, name string) (map[string]*tensor.Tensor, error) {
	ts, err := read(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ts, nil
}

// recordLoader returns the bytes of the storage record with the given key.
type recordLoader func(key string) ([]byte, error)

func read(r io.ReaderAt, size int64) (map[string]*tensor.Tensor, error) {
	head := make([]byte, min(size, 4))
	if err := readFullAt(r, head, 0); err != nil {
		return nil, err
	}
	var container func(io.ReaderAt, int64) (any, recordLoader, error)
	switch {
	case bytes.Equal(head, []byte("PK\x03\x04")):
		container = readZip
	case len(head) > 0 && head[0] == opProto:
		container = readLegacy
	default:
		return nil, errors.New("not a torch.save file: neither a zip archive nor a legacy pickle")
	}
	obj, load, err := container(r, size)
	if err != nil {
		return nil, err
	}
	refs, err := stateDict(obj)
	if err != nil {
		return nil, err
	}
	return materialise(refs, load, int(min(size, math.MaxInt/maxExpansion))*maxExpansion)
}

// maxExpansion bounds the bytes of all tensors together by this many times
// the file size. Only tensors sharing a storage (tied weights) take more
// memory than the file; many views of one storage could otherwise make a
// small hostile file allocate without bound.
const maxExpansion = 8

// stateDict returns the tensors of the unpickled object: obj itself, or the
// dict under "state_dict" or "model" for a wrapped training checkpoint.
func stateDict(obj any) (map[string]*tensorRef, error) {
	top, ok := obj.(*dict)
	if !ok {
		return nil, fmt.Errorf("the checkpoint holds a %s, not a dict of tensors", typeName(obj))
	}
	d := top
	in := "" // names the wrapper entry in error messages
	for _, k := range []string{"state_dict", "model"} {
		inner, ok := top.m[k].(*dict)
		if !ok {
			continue
		}
		if in != "" {
			return nil, errors.New(`the checkpoint has both a "state_dict" and a "model" dict`)
		}
		d, in = inner, fmt.Sprintf(" in %q", k)
	}
	refs := make(map[string]*tensorRef, len(d.keys))
	for _, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("key %s%s is not a str", describe(k), in)
		}
		t, ok := d.m[k].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("key %q%s: value is %s, not a tensor", name, in, typeName(d.m[k]))
		}
		refs[name] = t
	}
	return refs, nil
}

// materialise reads the storages of refs and returns contiguous tensors of at
// most budget bytes in all. It goes one storage at a time and lets the first
// tensor that covers a whole record in order keep the record's bytes, so a
// state dict of contiguous tensors is read with no copy beyond the file read
// itself.
func materialise(refs map[string]*tensorRef, load recordLoader, budget int) (map[string]*tensor.Tensor, error) {
	byKey := make(map[string][]string)
	for name, t := range refs {
		byKey[t.storage.key] = append(byKey[t.storage.key], name)
	}
	keys := make([]string, 0, len(byKey))
	for key := range byKey {
		keys = append(keys, key)
	}
	slices.Sort(keys)

	out := make(map[string]*tensor.Tensor, len(refs))
	for _, key := range keys {
		names := byKey[key]
		slices.Sort(names)
		rec, err := load(key)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", names[0], err)
		}
		owned := false // whether a tensor has taken rec
		for _, name := range names {
			t := refs[name]
			// A negative count (an invalid size) is left for contiguous to report.
			if size, _ := t.storage.dtype.Size(); tensor.NumElements(t.shape) > budget/size {
				return nil, fmt.Errorf("tensor %q: the tensors add up to more than %d times the file size", name, maxExpansion)
			}
			data, aliased, err := t.contiguous(rec, !owned)
			if err != nil {
				return nil, fmt.Errorf("tensor %q: %w", name, err)
			}
			budget -= len(data)
			owned = owned || aliased
			if out[name], err = tensor.New(t.storage.dtype, t.shape, data); err != nil {
				return nil, fmt.Errorf("tensor %q: %w", name, err)
			}
		}
	}
	return out, nil
}

// readFullAt reads len(buf) bytes at off.
func readFullAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
