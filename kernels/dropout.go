package kernels

import (
	"math"

	"github.com/nlpodyssey/spago/mat"
)

// Dropout describes the dropout applied inside an operator: each element is
// zeroed with probability P and the rest scaled by 1/(1-P), as in PyTorch.
// The mask is a hash of (Seed, element index), so the backward pass recomputes
// it instead of storing it, and the result does not depend on the number of
// threads. The zero value is no dropout.
type Dropout struct {
	P    float32
	Seed uint32
}

// params returns the hash threshold below which an element is dropped and the
// scale of the kept ones; a zero threshold means no dropout.
func (d Dropout) params() (threshold uint32, scale float32) {
	if d.P <= 0 {
		return 0, 1
	}
	t := math.Round(float64(d.P) * (1 << 32))
	if t < 1 {
		t = 1
	}
	if t > math.MaxUint32 {
		t = math.MaxUint32
	}
	return uint32(t), 1 / (1 - d.P)
}

// applyDropout writes dropout(x) into y (which may be x) for the element
// range starting at off of the op's tensor.
func applyDropout(d Dropout, x, y []float32, off uint64) {
	threshold, scale := d.params()
	parallel(len(x), 1<<14, func(lo, hi int) {
		dropout(x[lo:hi], y[lo:hi], d.Seed, off+uint64(lo), threshold, scale)
	})
}

// DropoutOp returns dropout(x). With d.P == 0 it returns x itself.
func DropoutOp(x mat.Tensor, d Dropout) mat.Tensor {
	if d.P <= 0 {
		return x
	}
	return run(&dropoutFn{x: x, d: d})
}

type dropoutFn struct {
	x mat.Tensor
	d Dropout
}

func (f *dropoutFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

func (f *dropoutFn) Forward() (mat.Tensor, error) {
	x := Values(f.x)
	y := allocOut(len(x))
	applyDropout(f.d, x, y, 0)
	r, c := Dims(f.x)
	return NewMatrix(r, c, y), nil
}

func (f *dropoutFn) Backward(gy mat.Tensor) error {
	g := Values(gy)
	dx := allocOut(len(g))
	applyDropout(f.d, g, dx, 0)
	accGrad(f.x, dx)
	return nil
}
