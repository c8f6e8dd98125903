package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/hiertune/hiertune/tensor"
)

var toDType = map[DataType]tensor.DType{
	Float: tensor.F32, Float16: tensor.F16, BFloat16: tensor.BF16, Double: tensor.F64,
	Int64: tensor.I64, Int32: tensor.I32, Int16: tensor.I16, Int8: tensor.I8,
	Uint8: tensor.U8, Bool: tensor.Bool,
}

// int32Range is the range of int32_data values that each type stored in
// that field may hold (FLOAT16 and BFLOAT16 store their bit patterns).
var int32Range = map[DataType][2]int32{
	Int32: {math.MinInt32, math.MaxInt32}, Int16: {math.MinInt16, math.MaxInt16},
	Int8: {math.MinInt8, math.MaxInt8}, Uint8: {0, math.MaxUint8}, Bool: {0, 1},
	Float16: {0, math.MaxUint16}, BFloat16: {0, math.MaxUint16},
}

// ToTensor returns the elements of t as a tensor.Tensor. FLOAT, FLOAT16,
// BFLOAT16, DOUBLE, INT64, INT32, INT16, INT8, UINT8 and BOOL are supported,
// from raw_data (which the result aliases) or from the typed field that
// onnx.proto assigns to the data type. External data must have been loaded
// (see ReadFile).
func (t *Tensor) ToTensor() (*tensor.Tensor, error) {
	out, err := t.toTensor()
	if err != nil {
		return nil, fmt.Errorf("onnx: tensor %q: %w", t.Name, err)
	}
	return out, nil
}

func (t *Tensor) toTensor() (*tensor.Tensor, error) {
	dt, ok := toDType[t.DataType]
	if !ok {
		return nil, fmt.Errorf("data type %s is not supported", t.DataType)
	}
	switch {
	case t.DataLocation == LocationExternal:
		return nil, fmt.Errorf("external data is not loaded (read the model with ReadFile)")
	case t.DataLocation != LocationDefault:
		return nil, fmt.Errorf("unknown data_location %d", t.DataLocation)
	case t.Segment != nil:
		return nil, fmt.Errorf("segmented tensors are not supported")
	}
	shape := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		if d < 0 || uint64(d) > math.MaxInt {
			return nil, fmt.Errorf("invalid dims %v", t.Dims)
		}
		shape[i] = int(d)
	}
	n := tensor.NumElements(shape)
	if n < 0 {
		return nil, fmt.Errorf("dims %v: too many elements", t.Dims)
	}
	want := typedField(t.DataType)
	if t.RawData != nil {
		want = "raw_data"
	}
	if other := t.filledFields(want); len(other) > 0 {
		return nil, fmt.Errorf("%s %v: data in %s, but it belongs in %s", t.DataType, t.Dims, strings.Join(other, ", "), want)
	}
	if t.RawData != nil {
		return tensor.New(dt, shape, t.RawData)
	}
	data, err := t.typedBytes(n)
	if err != nil {
		return nil, fmt.Errorf("%s %v: %s: %w", t.DataType, t.Dims, want, err)
	}
	return tensor.New(dt, shape, data)
}

// typedField names the TensorProto field that holds d's elements when
// raw_data is not used.
func typedField(d DataType) string {
	switch d {
	case Float:
		return "float_data"
	case Double:
		return "double_data"
	case Int64:
		return "int64_data"
	}
	return "int32_data"
}

// filledFields lists the non-empty data fields of t other than keep.
func (t *Tensor) filledFields(keep string) []string {
	var out []string
	for _, f := range []struct {
		name string
		n    int
	}{
		{"raw_data", len(t.RawData)}, {"float_data", len(t.FloatData)}, {"int32_data", len(t.Int32Data)},
		{"string_data", len(t.StringData)}, {"int64_data", len(t.Int64Data)},
		{"double_data", len(t.DoubleData)}, {"uint64_data", len(t.Uint64Data)},
	} {
		if f.n > 0 && f.name != keep {
			out = append(out, f.name)
		}
	}
	return out
}

// typedBytes converts the n elements in t's typed field to little-endian
// bytes of the matching tensor.DType.
func (t *Tensor) typedBytes(n int) ([]byte, error) {
	count := func(have int) error {
		if have != n {
			return fmt.Errorf("has %d values, want %d", have, n)
		}
		return nil
	}
	switch t.DataType {
	case Float:
		if err := count(len(t.FloatData)); err != nil {
			return nil, err
		}
		b := make([]byte, 0, 4*n)
		for _, v := range t.FloatData {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b, nil
	case Double:
		if err := count(len(t.DoubleData)); err != nil {
			return nil, err
		}
		b := make([]byte, 0, 8*n)
		for _, v := range t.DoubleData {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b, nil
	case Int64:
		if err := count(len(t.Int64Data)); err != nil {
			return nil, err
		}
		b := make([]byte, 0, 8*n)
		for _, v := range t.Int64Data {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
		return b, nil
	}
	if err := count(len(t.Int32Data)); err != nil {
		return nil, err
	}
	size, _ := toDType[t.DataType].Size()
	r := int32Range[t.DataType]
	b := make([]byte, 0, size*n)
	for i, v := range t.Int32Data {
		if v < r[0] || v > r[1] {
			return nil, fmt.Errorf("value %d at index %d is out of range", v, i)
		}
		switch size {
		case 4:
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		case 2:
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		default:
			b = append(b, byte(v))
		}
	}
	return b, nil
}

// TensorFromRaw returns an ONNX tensor named name that holds t's bytes as
// raw_data; the result aliases t.Data. A DType with no ONNX equivalent (none
// of the tensor package's constants) gives data type Undefined.
func TensorFromRaw(name string, t *tensor.Tensor) *Tensor {
	out := &Tensor{Name: name, RawData: t.Data, Dims: make([]int64, len(t.Shape))}
	for d, dt := range toDType {
		if dt == t.DType {
			out.DataType = d
		}
	}
	for i, s := range t.Shape {
		out.Dims[i] = int64(s)
	}
	if out.RawData == nil {
		out.RawData = []byte{} // an empty tensor still has (empty) raw data
	}
	return out
}
