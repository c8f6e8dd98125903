// Package tensor defines the raw tensor hiertune exchanges between its
// parts: what checkpoint readers (safetensors, PyTorch pickles, ONNX
// initializers) produce, what checkpoints and optimiser states are written
// as, and what ONNX Runtime takes and returns.
//
// A Tensor keeps its bytes exactly as stored (little-endian, row-major) so
// readers never convert more than they must; Float32 and Int64 convert on
// request, upcasting F16 and BF16 to float32 exactly.
package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// DType names an element type with the spelling safetensors uses.
type DType string

// The element types readers may produce.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size returns the number of bytes of one element and whether d is known.
func (d DType) Size() (int, bool) {
	switch d {
	case F64, I64:
		return 8, true
	case F32, I32:
		return 4, true
	case F16, BF16, I16:
		return 2, true
	case I8, U8, Bool:
		return 1, true
	}
	return 0, false
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == F64 || d == F32 || d == F16 || d == BF16
}

// Tensor is a dense row-major tensor with its raw little-endian bytes.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// NumElements returns the product of shape (1 for a scalar, 0 if a
// dimension is 0), or -1 if a dimension is negative or the product
// overflows an int.
func NumElements(shape []int) int {
	for _, d := range shape {
		if d < 0 {
			return -1
		}
	}
	if slices.Contains(shape, 0) {
		return 0
	}
	n := 1
	for _, d := range shape {
		if n > math.MaxInt/d {
			return -1
		}
		n *= d
	}
	return n
}

// NumBytes returns the bytes a tensor of dtype and shape takes. Readers
// must size tensors with it rather than multiply shape and element size
// themselves: the error says what is wrong (an unknown dtype, a negative
// dimension, or a size that overflows an int) where a bare product would wrap
// around to a nonsensical, even negative, byte count.
func NumBytes(dtype DType, shape []int) (int, error) {
	size, ok := dtype.Size()
	if !ok {
		return 0, fmt.Errorf("unknown dtype %q", dtype)
	}
	if slices.ContainsFunc(shape, func(d int) bool { return d < 0 }) {
		return 0, fmt.Errorf("shape %v has a negative dimension", shape)
	}
	n := NumElements(shape)
	if n < 0 || n > math.MaxInt/size {
		return 0, fmt.Errorf("%s%v is too large: its size in bytes overflows a %d-bit integer", dtype, shape, strconv.IntSize)
	}
	return n * size, nil
}

// New returns a tensor after checking that data holds exactly the bytes that
// dtype and shape call for.
func New(dtype DType, shape []int, data []byte) (*Tensor, error) {
	n, err := NumBytes(dtype, shape)
	if err != nil {
		return nil, err
	}
	if len(data) != n {
		return nil, fmt.Errorf("%s%v needs %d bytes, have %d", dtype, shape, n, len(data))
	}
	return &Tensor{DType: dtype, Shape: append([]int(nil), shape...), Data: data}, nil
}

// FromFloat32 returns an F32 tensor holding a copy of v.
func FromFloat32(shape []int, v []float32) *Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return &Tensor{DType: F32, Shape: append([]int(nil), shape...), Data: b}
}

// FromInt64 returns an I64 tensor holding a copy of v.
func FromInt64(shape []int, v []int64) *Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return &Tensor{DType: I64, Shape: append([]int(nil), shape...), Data: b}
}

// NumElements returns the number of elements of t.
func (t *Tensor) NumElements() int { return NumElements(t.Shape) }

// check checks that t's data holds exactly the bytes its dtype and shape
// call for, as New does; a Tensor built as a literal may not.
func (t *Tensor) check() error {
	n, err := NumBytes(t.DType, t.Shape)
	if err != nil {
		return err
	}
	if len(t.Data) != n {
		return fmt.Errorf("%s%v needs %d bytes, have %d", t.DType, t.Shape, n, len(t.Data))
	}
	return nil
}

// Float32 converts a floating-point tensor to float32 values. F16 and BF16 are
// upcast exactly; F64 is rounded to nearest.
func (t *Tensor) Float32() ([]float32, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	n := t.NumElements()
	out := make([]float32, n)
	b := t.Data
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = HalfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	default:
		return nil, fmt.Errorf("dtype %s is not a floating-point type", t.DType)
	}
	return out, nil
}

// Int64 converts an integer (or boolean) tensor to int64 values.
func (t *Tensor) Int64() ([]int64, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	n := t.NumElements()
	out := make([]int64, n)
	b := t.Data
	switch t.DType {
	case I64:
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case I16:
		for i := range out {
			out[i] = int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		}
	case I8:
		for i := range out {
			out[i] = int64(int8(b[i]))
		}
	case U8, Bool:
		for i := range out {
			out[i] = int64(b[i])
		}
	default:
		return nil, fmt.Errorf("dtype %s is not an integer type", t.DType)
	}
	return out, nil
}

// HalfToFloat32 converts IEEE 754 binary16 bits to float32, exactly.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal half: normalise into a float32 normal.
	e := uint32(113)
	for frac&0x400 == 0 {
		frac <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
}

// Float32ToHalf converts a float32 to IEEE 754 binary16 bits, rounding to
// nearest even; values beyond the half range become ±Inf.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal half or zero
		if e < -10 {
			return sign
		}
		m := frac | 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the correct rounding
	}
	return sign | uint16(r)
}

// Float32ToBF16 converts a float32 to bfloat16 bits, rounding to nearest even.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: keep it quiet
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// FromFloat32As returns v as a tensor of dtype F32, F16 or BF16 (rounded to
// nearest even).
func FromFloat32As(shape []int, v []float32, dtype DType) (*Tensor, error) {
	switch dtype {
	case F32:
		return FromFloat32(shape, v), nil
	case F16, BF16:
		b := make([]byte, 2*len(v))
		for i, x := range v {
			h := Float32ToHalf(x)
			if dtype == BF16 {
				h = Float32ToBF16(x)
			}
			binary.LittleEndian.PutUint16(b[2*i:], h)
		}
		return &Tensor{DType: dtype, Shape: append([]int(nil), shape...), Data: b}, nil
	}
	return nil, fmt.Errorf("cannot write float values as %s", dtype)
}

// CopyTo copies the tensor's values, converted to float32, into dst, a
// parameter of the given shape: the shapes must be equal and the dtype a
// floating-point one.
func (t *Tensor) CopyTo(dst []float32, shape []int) error {
	if !slices.Equal(t.Shape, shape) {
		return fmt.Errorf("shape %v, want %v", t.Shape, shape)
	}
	if !t.DType.IsFloat() {
		return fmt.Errorf("dtype %s is not a floating-point type", t.DType)
	}
	v, err := t.Float32()
	if err != nil {
		return err
	}
	if len(v) != len(dst) {
		return fmt.Errorf("%d values for a parameter of %d", len(v), len(dst))
	}
	copy(dst, v)
	return nil
}
