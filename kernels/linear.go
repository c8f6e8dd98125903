package kernels

import (
	"fmt"

	"github.com/nlpodyssey/spago/mat"
)

// Linear returns x·wᵀ + b for x of shape [n, in], a weight w of shape
// [out, in] (PyTorch's layout) and a bias b of out values, or no bias if b is
// nil. The bias is written first and the product accumulated onto it, so the
// operator makes one pass over its output.
func Linear(x, w, b mat.Tensor) mat.Tensor {
	n, in := Dims(x)
	out, win := Dims(w)
	if win != in {
		panic(fmt.Sprintf("kernels.Linear: input has %d columns, weight is %d×%d", in, out, win))
	}
	if b != nil {
		checkLen("Linear", "bias", b, out)
	}
	return run(&linearFn{x: x, w: w, b: b, n: n, in: in, out: out})
}

// LinearTransposed is Linear for a weight also kept transposed, wt being
// wᵀ ([in, out], row-major), as inference keeps it: the forward product
// reads wt when x has fewer than fewRows rows (a sentence at a time), where
// OpenBLAS multiplies by wt up to 1.4× faster than by w's transpose (at
// 25 rows; no faster at 800); the backward pass reads w.
func LinearTransposed(x, w mat.Tensor, wt []float32, b mat.Tensor) mat.Tensor {
	n, in := Dims(x)
	out, win := Dims(w)
	if win != in || len(wt) != in*out {
		panic(fmt.Sprintf("kernels.LinearTransposed: input has %d columns, weight is %d×%d, its transpose %d values", in, out, win, len(wt)))
	}
	if b != nil {
		checkLen("LinearTransposed", "bias", b, out)
	}
	return run(&linearFn{x: x, w: w, wt: wt, b: b, n: n, in: in, out: out})
}

// fewRows is where LinearTransposed stops reading the transpose.
const fewRows = 256

type linearFn struct {
	x, w, b    mat.Tensor
	wt         []float32 // wᵀ, or nil
	n, in, out int
}

func (f *linearFn) Operands() []mat.Tensor {
	if f.b == nil {
		return []mat.Tensor{f.x, f.w}
	}
	return []mat.Tensor{f.x, f.w, f.b}
}

func (f *linearFn) Forward() (mat.Tensor, error) {
	y := allocOut(f.n * f.out)
	var beta float32
	if f.b != nil {
		fillRows(y, Values(f.b))
		beta = 1
	}
	if f.wt != nil && f.n < fewRows {
		Gemm(false, false, f.n, f.out, f.in, 1, Values(f.x), f.in, f.wt, f.out, beta, y, f.out)
	} else {
		Gemm(false, true, f.n, f.out, f.in, 1, Values(f.x), f.in, Values(f.w), f.in, beta, y, f.out)
	}
	return NewMatrix(f.n, f.out, y), nil
}

func (f *linearFn) Backward(gy mat.Tensor) error {
	g := Values(gy)
	if f.x.RequiresGrad() {
		dx := allocOut(f.n * f.in)
		Gemm(false, false, f.n, f.in, f.out, 1, g, f.out, Values(f.w), f.in, 0, dx, f.in)
		accGrad(f.x, dx)
	}
	if f.w.RequiresGrad() {
		dw := allocOut(f.out * f.in)
		Gemm(true, false, f.out, f.in, f.n, 1, g, f.out, Values(f.x), f.in, 0, dw, f.in)
		accGrad(f.w, dw)
	}
	if f.b != nil && f.b.RequiresGrad() {
		accGrad(f.b, columnSums(g, f.n, f.out))
	}
	return nil
}

// fillRows sets every row of y (len(y)/len(v) rows) to v.
func fillRows(y, v []float32) {
	cols := len(v)
	parallel(len(y)/cols, 256, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(y[r*cols:(r+1)*cols], v)
		}
	})
}

// columnSums returns the sums of the columns of the rows×cols matrix x.
func columnSums(x []float32, rows, cols int) []float32 {
	partial := make([][]float32, Threads())
	used := parallelIndexed(rows, 64, func(c, lo, hi int) {
		partial[c] = alloc(cols)
		colsumAcc(lo, hi, cols, x, partial[c])
	})
	sum := partial[0]
	for _, p := range partial[1:used] {
		for i, v := range p {
			sum[i] += v
		}
	}
	return sum
}
