package pytorch

import (
	"errors"
	"fmt"
	"math"

	"github.com/hiertune/hiertune/tensor"
)

// callable is a whitelisted Python class or function that REDUCE (and, for
// classes, NEWOBJ) may call with an argument tuple.
type callable struct {
	name  string
	class bool
	call  func(args tuple) (any, error)
}

// storageType is a typed storage class such as torch.FloatStorage; persistent
// ids name one to give the element type of a storage.
type storageType struct {
	name  string
	dtype tensor.DType
}

// torchConst is an inert torch object such as torch.float32 or torch.strided.
type torchConst string

// storage is a range of a storage record: the key naming the record in the
// file, the element type, and the byte range inside the record. A range that
// is not the whole record comes from a legacy storage view.
type storage struct {
	key    string
	dtype  tensor.DType
	offset int // bytes
	nbytes int
}

// tensorRef is a tensor as the pickle describes it: a strided view of a
// storage, all counted in elements.
type tensorRef struct {
	storage *storage
	offset  int
	shape   []int
	stride  []int
}

// storageDTypes maps typed storage class names to element types.
var storageDTypes = map[string]tensor.DType{
	"FloatStorage":    tensor.F32,
	"HalfStorage":     tensor.F16,
	"BFloat16Storage": tensor.BF16,
	"DoubleStorage":   tensor.F64,
	"LongStorage":     tensor.I64,
	"IntStorage":      tensor.I32,
	"ShortStorage":    tensor.I16,
	"CharStorage":     tensor.I8,
	"ByteStorage":     tensor.U8,
	"BoolStorage":     tensor.Bool,
}

// allowedGlobals is every global a pickle may name, keyed by its dotted name.
var allowedGlobals = func() map[string]any {
	g := map[string]any{"torch.strided": torchConst("torch.strided")}
	for _, c := range []*callable{
		{name: "collections.OrderedDict", class: true, call: newOrderedDict},
		{name: "torch._utils._rebuild_tensor", call: rebuildTensor},
		{name: "torch._utils._rebuild_tensor_v2", call: rebuildTensorV2},
		{name: "torch._utils._rebuild_parameter", call: rebuildParameter},
		{name: "torch.serialization._get_layout", call: getLayout},
	} {
		g[c.name] = c
	}
	for name, dt := range storageDTypes {
		// Very old checkpoints saved from the GPU name the CUDA classes.
		for _, module := range []string{"torch.", "torch.cuda."} {
			g[module+name] = &storageType{name: module + name, dtype: dt}
		}
	}
	for _, dt := range []string{"float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"} {
		g["torch."+dt] = torchConst("torch." + dt)
	}
	return g
}()

// findGlobal returns the whitelisted global module.name.
func findGlobal(module, name string) (any, error) {
	full := module + "." + name
	if g, ok := allowedGlobals[full]; ok {
		return g, nil
	}
	if full == "torch.storage._load_from_bytes" {
		return nil, errors.New("global torch.storage._load_from_bytes is not supported: " +
			"the file holds a storage pickled outside torch.save's storage records")
	}
	return nil, fmt.Errorf("global %s is not allowed", full)
}

// newOrderedDict is collections.OrderedDict(), also called as
// OrderedDict.__new__, or OrderedDict(items) with a list of [key, value]
// pairs, as Python 2 pickled it.
func newOrderedDict(args tuple) (any, error) {
	d := newDict()
	if len(args) == 0 {
		return d, nil
	}
	items, ok := args[0].(*list)
	if len(args) > 1 || !ok {
		return nil, errors.New("want no arguments or a list of items")
	}
	for _, item := range items.items {
		var pair []any
		switch p := item.(type) {
		case *list:
			pair = p.items
		case tuple:
			pair = p
		}
		if len(pair) != 2 {
			return nil, fmt.Errorf("item is %s, not a [key, value] pair", typeName(item))
		}
		if err := d.set(pair[0], pair[1]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// getLayout is torch.serialization._get_layout(name); only dense tensors are
// supported.
func getLayout(args tuple) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want 1 argument, got %d", len(args))
	}
	if name, ok := args[0].(string); !ok || name != "torch.strided" {
		return nil, fmt.Errorf("unsupported layout %s (only torch.strided tensors are supported)", describe(args[0]))
	}
	return torchConst("torch.strided"), nil
}

// rebuildTensorV2 is _rebuild_tensor_v2(storage, storage_offset, size,
// stride, requires_grad, backward_hooks[, metadata]). The last arguments only
// matter to autograd.
func rebuildTensorV2(args tuple) (any, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("want 6 or 7 arguments, got %d", len(args))
	}
	return rebuildTensor(args[:4])
}

// rebuildTensor is _rebuild_tensor(storage, storage_offset, size, stride).
func rebuildTensor(args tuple) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("want 4 arguments, got %d", len(args))
	}
	s, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("storage is %s", typeName(args[0]))
	}
	offset, err := toInt(args[1])
	if err != nil {
		return nil, fmt.Errorf("storage offset: %w", err)
	}
	shape, err := toInts(args[2])
	if err != nil {
		return nil, fmt.Errorf("size: %w", err)
	}
	stride, err := toInts(args[3])
	if err != nil {
		return nil, fmt.Errorf("stride: %w", err)
	}
	return &tensorRef{storage: s, offset: offset, shape: shape, stride: stride}, nil
}

// rebuildParameter is _rebuild_parameter(data, requires_grad,
// backward_hooks): an nn.Parameter is read as its tensor.
func rebuildParameter(args tuple) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("want 3 arguments, got %d", len(args))
	}
	t, ok := args[0].(*tensorRef)
	if !ok {
		return nil, fmt.Errorf("data is %s, not a tensor", typeName(args[0]))
	}
	return t, nil
}

// loadStorage resolves torch.save's persistent id for a storage,
//
//	('storage', storage_type, key, location, numel[, view_metadata])
//
// into a reference to the storage record named key; the record itself is
// read later. location (the device) does not matter: everything is read
// into host memory. The legacy format adds view_metadata, which is None or
// (view_key, offset, numel) for a view of the storage.
func loadStorage(pid any) (any, error) {
	t, ok := pid.(tuple)
	if !ok || len(t) < 5 || len(t) > 6 || t[0] != any("storage") {
		return nil, fmt.Errorf("unsupported persistent id of type %s (want a ('storage', ...) tuple)", typeName(pid))
	}
	st, ok := t[1].(*storageType)
	if !ok {
		return nil, fmt.Errorf("storage type is %s", typeName(t[1]))
	}
	key, ok := t[2].(string)
	if !ok {
		return nil, fmt.Errorf("storage key is %s, not a str", typeName(t[2]))
	}
	size, _ := st.dtype.Size()
	numel, err := toInt(t[4])
	if err != nil || numel < 0 || numel > math.MaxInt/size {
		return nil, fmt.Errorf("storage %q: invalid element count %s", key, describe(t[4]))
	}
	s := &storage{key: key, dtype: st.dtype, nbytes: numel * size}
	if len(t) == 6 && t[5] != nil {
		view, ok := t[5].(tuple)
		if !ok || len(view) != 3 {
			return nil, fmt.Errorf("storage %q: view metadata is %s, want (key, offset, size)", key, typeName(t[5]))
		}
		off, err1 := toInt(view[1])
		n, err2 := toInt(view[2])
		if err1 != nil || err2 != nil || off < 0 || n < 0 || off > numel || n > numel-off {
			return nil, fmt.Errorf("storage %q: view of %s elements at %s is outside its %d elements",
				key, describe(view[2]), describe(view[1]), numel)
		}
		s.offset, s.nbytes = off*size, n*size
	}
	return s, nil
}

// toInt converts a Python int to an int.
func toInt(v any) (int, error) {
	i, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%s is not an int", typeName(v))
	}
	if i < math.MinInt || i > math.MaxInt {
		return 0, fmt.Errorf("int %d out of range", i)
	}
	return int(i), nil
}

// toInts converts a tuple of Python ints, such as a size or stride.
func toInts(v any) ([]int, error) {
	t, ok := v.(tuple)
	if !ok {
		return nil, fmt.Errorf("%s is not a tuple", typeName(v))
	}
	out := make([]int, len(t))
	for i, x := range t {
		var err error
		if out[i], err = toInt(x); err != nil {
			return nil, err
		}
	}
	return out, nil
}
