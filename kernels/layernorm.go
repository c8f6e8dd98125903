package kernels

import (
	"fmt"

	"github.com/nlpodyssey/spago/mat"
)

// LayerNorm returns LayerNorm(dropout(x) + residual) over the rows of x,
// scaled by gamma and shifted by beta — the closing step of every BERT
// sub-layer, fused into one pass. residual may be nil and d the zero Dropout.
func LayerNorm(x, residual, gamma, beta mat.Tensor, eps float32, d Dropout) mat.Tensor {
	rows, cols := Dims(x)
	if residual != nil {
		if r, c := Dims(residual); r != rows || c != cols {
			panic(fmt.Sprintf("kernels.LayerNorm: x is %d×%d, residual %d×%d", rows, cols, r, c))
		}
	}
	checkLen("LayerNorm", "gamma", gamma, cols)
	checkLen("LayerNorm", "beta", beta, cols)
	return run(&layerNormFn{x: x, res: residual, gamma: gamma, beta: beta, eps: eps, d: d, rows: rows, cols: cols})
}

type layerNormFn struct {
	x, res, gamma, beta mat.Tensor
	eps                 float32
	d                   Dropout
	rows, cols          int
	xhat, rstd          []float32
}

func (f *layerNormFn) Operands() []mat.Tensor {
	if f.res == nil {
		return []mat.Tensor{f.x, f.gamma, f.beta}
	}
	return []mat.Tensor{f.x, f.res, f.gamma, f.beta}
}

func (f *layerNormFn) Forward() (mat.Tensor, error) {
	threshold, scale := f.d.params()
	out := allocOut(f.rows * f.cols)
	f.xhat = allocOut(f.rows * f.cols)
	f.rstd = allocOut(f.rows)
	var res []float32
	if f.res != nil {
		res = Values(f.res)
	}
	x, g, b := Values(f.x), Values(f.gamma), Values(f.beta)
	parallel(f.rows, 32, func(lo, hi int) {
		reslnFwd(lo, hi, f.cols, x, res, g, b, f.eps, f.d.Seed, threshold, scale, out, f.xhat, f.rstd)
	})
	return NewMatrix(f.rows, f.cols, out), nil
}

func (f *layerNormFn) Backward(gy mat.Tensor) error {
	dy, g := Values(gy), Values(f.gamma)
	dz := allocOut(f.rows * f.cols)
	dgamma := make([][]float32, Threads())
	dbeta := make([][]float32, Threads())
	used := parallelIndexed(f.rows, 32, func(c, lo, hi int) {
		dgamma[c], dbeta[c] = alloc(f.cols), alloc(f.cols)
		lnBwd(lo, hi, f.cols, dy, f.xhat, f.rstd, g, dz, dgamma[c], dbeta[c])
	})
	for c := 1; c < used; c++ {
		for i := range dgamma[0] {
			dgamma[0][i] += dgamma[c][i]
			dbeta[0][i] += dbeta[c][i]
		}
	}
	accGrad(f.gamma, dgamma[0])
	accGrad(f.beta, dbeta[0])
	if f.res != nil && f.res.RequiresGrad() && f.x.RequiresGrad() {
		dres := allocOut(len(dz))
		copy(dres, dz)
		accGrad(f.res, dres)
	} else if f.res != nil {
		accGrad(f.res, dz)
	}
	if f.x.RequiresGrad() {
		if f.d.P > 0 {
			applyDropout(f.d, dz, dz, 0)
		}
		accGrad(f.x, dz)
	}
	return nil
}
