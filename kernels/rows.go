package kernels

import (
	"fmt"

	"github.com/nlpodyssey/spago/mat"
)

// GatherRows returns the matrix whose row i is row rows[i] of x (for example
// the [CLS] row of every sequence of a batch, for the pooler).
func GatherRows(x mat.Tensor, rows []int) mat.Tensor {
	n, _ := Dims(x)
	for _, r := range rows {
		if r < 0 || r >= n {
			panic(fmt.Sprintf("kernels.GatherRows: row %d of a %d-row matrix", r, n))
		}
	}
	return run(&gatherRowsFn{x: x, rows: rows})
}

type gatherRowsFn struct {
	x    mat.Tensor
	rows []int
}

func (f *gatherRowsFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

func (f *gatherRowsFn) Forward() (mat.Tensor, error) {
	x := Values(f.x)
	_, cols := Dims(f.x)
	out := allocOut(len(f.rows) * cols)
	for i, r := range f.rows {
		copy(out[i*cols:(i+1)*cols], x[r*cols:(r+1)*cols])
	}
	return NewMatrix(len(f.rows), cols, out), nil
}

func (f *gatherRowsFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	g := Values(gy)
	n, cols := Dims(f.x)
	dx := alloc(n * cols)
	for i, r := range f.rows {
		dst := dx[r*cols : (r+1)*cols]
		for c, v := range g[i*cols : (i+1)*cols] {
			dst[c] += v
		}
	}
	accGrad(f.x, dx)
	return nil
}

// WeightedSum returns Σ weights[i]·xs[i] for tensors of one shape, such as
// the losses of several tasks.
func WeightedSum(xs []mat.Tensor, weights []float32) mat.Tensor {
	if len(xs) == 0 || len(xs) != len(weights) {
		panic(fmt.Sprintf("kernels.WeightedSum: %d tensors, %d weights", len(xs), len(weights)))
	}
	r, c := Dims(xs[0])
	for _, x := range xs[1:] {
		if xr, xc := Dims(x); xr != r || xc != c {
			panic(fmt.Sprintf("kernels.WeightedSum: shapes %d×%d and %d×%d", r, c, xr, xc))
		}
	}
	return run(&weightedSumFn{xs: xs, w: weights})
}

type weightedSumFn struct {
	xs []mat.Tensor
	w  []float32
}

func (f *weightedSumFn) Operands() []mat.Tensor { return f.xs }

func (f *weightedSumFn) Forward() (mat.Tensor, error) {
	r, c := Dims(f.xs[0])
	out := alloc(r * c)
	for i, x := range f.xs {
		for j, v := range Values(x) {
			out[j] += f.w[i] * v
		}
	}
	return NewMatrix(r, c, out), nil
}

func (f *weightedSumFn) Backward(gy mat.Tensor) error {
	g := Values(gy)
	for i, x := range f.xs {
		if !x.RequiresGrad() {
			continue
		}
		d := allocOut(len(g))
		for j, v := range g {
			d[j] = f.w[i] * v
		}
		accGrad(x, d)
	}
	return nil
}
