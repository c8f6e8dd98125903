package kernels

import (
	"fmt"

	"github.com/nlpodyssey/spago/mat"
)

// PairProduct returns the pair update of B sequences of S tokens:
//
//	U[b,i,j] = a[b,i] ⊙ c[b,j]
//
// a and c are [B·S, d] (two projections of the token states); the result is
// [B·S·S, d], row (b·S + i)·S + j for the pair (i, j) of sequence b, the
// layout of pair states.
func PairProduct(a, c mat.Tensor, B, S int) mat.Tensor {
	ra, d := Dims(a)
	if rc, dc := Dims(c); ra != B*S || rc != B*S || dc != d {
		panic(fmt.Sprintf("kernels.PairProduct: a %d×%d, c %d×%d for %d×%d tokens", ra, d, rc, dc, B, S))
	}
	return run(&pairProductFn{a: a, c: c, B: B, S: S, d: d})
}

type pairProductFn struct {
	a, c    mat.Tensor
	B, S, d int
}

func (f *pairProductFn) Operands() []mat.Tensor { return []mat.Tensor{f.a, f.c} }

func (f *pairProductFn) Forward() (mat.Tensor, error) {
	S, d := f.S, f.d
	a, c := Values(f.a), Values(f.c)
	out := allocOut(f.B * S * S * d)
	parallel(f.B*S, 1, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			b := bi / S
			ai := a[bi*d : (bi+1)*d]
			for j := range S {
				cj := c[(b*S+j)*d : (b*S+j+1)*d]
				o := out[(bi*S+j)*d : (bi*S+j+1)*d]
				for k := range o {
					o[k] = ai[k] * cj[k]
				}
			}
		}
	})
	return NewMatrix(f.B*S*S, d, out), nil
}

func (f *pairProductFn) Backward(gy mat.Tensor) error {
	S, d := f.S, f.d
	a, c, g := Values(f.a), Values(f.c), Values(gy)
	var da, dc []float32
	if f.a.RequiresGrad() {
		// da[b,i] = Σ_j g[b,i,j] ⊙ c[b,j]
		da = alloc(f.B * S * d)
		parallel(f.B*S, 1, func(lo, hi int) {
			for bi := lo; bi < hi; bi++ {
				b := bi / S
				dst := da[bi*d : (bi+1)*d]
				for j := range S {
					gr, cj := g[(bi*S+j)*d:(bi*S+j+1)*d], c[(b*S+j)*d:(b*S+j+1)*d]
					for k := range dst {
						dst[k] += gr[k] * cj[k]
					}
				}
			}
		})
	}
	if f.c.RequiresGrad() {
		// dc[b,j] = Σ_i g[b,i,j] ⊙ a[b,i]
		dc = alloc(f.B * S * d)
		parallel(f.B*S, 1, func(lo, hi int) {
			for bj := lo; bj < hi; bj++ {
				b, j := bj/S, bj%S
				dst := dc[bj*d : (bj+1)*d]
				for i := range S {
					r := (b*S+i)*S + j
					gr, ai := g[r*d:(r+1)*d], a[(b*S+i)*d:(b*S+i+1)*d]
					for k := range dst {
						dst[k] += gr[k] * ai[k]
					}
				}
			}
		})
	}
	accGrad(f.a, da)
	accGrad(f.c, dc)
	return nil
}

// TriangleProduct returns the "outgoing edges" triangle update of pair
// states (AlphaFold's triangle multiplicative update, Edge Transformer's
// triangular attention without the attention): for B sequences of S tokens,
//
//	T[b,i,j] = (1/n_b) Σ_k a[b,i,k] ⊙ c[b,j,k]
//
// over the n_b tokens k that keep[b·S + k] marks (padding is left out), so
// that the pair (i, j) reads every path i→k, j→k. a and c are [B·S·S, d]
// (two projections of the pair states), as is the result. It costs
// O(B·S³·d).
func TriangleProduct(a, c mat.Tensor, B, S int, keep []bool) mat.Tensor {
	ra, d := Dims(a)
	if rc, dc := Dims(c); ra != B*S*S || rc != ra || dc != d || len(keep) != B*S {
		panic(fmt.Sprintf("kernels.TriangleProduct: a %d×%d, c %d×%d, %d keep flags for %d×%d tokens", ra, d, rc, dc, len(keep), B, S))
	}
	inv := make([]float32, B)
	for b := range B {
		n := 0
		for k := range S {
			if keep[b*S+k] {
				n++
			}
		}
		if n > 0 {
			inv[b] = 1 / float32(n)
		}
	}
	return run(&triangleFn{a: a, c: c, B: B, S: S, d: d, keep: keep, inv: inv})
}

type triangleFn struct {
	a, c    mat.Tensor
	B, S, d int
	keep    []bool
	inv     []float32
}

func (f *triangleFn) Operands() []mat.Tensor { return []mat.Tensor{f.a, f.c} }

// row returns the row of pair (i, j) of sequence b.
func (f *triangleFn) row(b, i, j int) int { return (b*f.S+i)*f.S + j }

func (f *triangleFn) Forward() (mat.Tensor, error) {
	S, d := f.S, f.d
	a, c := Values(f.a), Values(f.c)
	out := alloc(f.B * S * S * d) // accumulated
	parallel(f.B*S, 1, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			b, i := bi/S, bi%S
			for j := range S {
				o := out[f.row(b, i, j)*d : (f.row(b, i, j)+1)*d]
				for k := range S {
					if !f.keep[b*S+k] {
						continue
					}
					ar, cr := a[f.row(b, i, k)*d:], c[f.row(b, j, k)*d:]
					for e := range o {
						o[e] += ar[e] * cr[e]
					}
				}
				for e := range o {
					o[e] *= f.inv[b]
				}
			}
		}
	})
	return NewMatrix(f.B*S*S, d, out), nil
}

func (f *triangleFn) Backward(gy mat.Tensor) error {
	var da, dc []float32
	if f.a.RequiresGrad() {
		// da[b,i,k] = (1/n_b) Σ_j g[b,i,j] ⊙ c[b,j,k], for kept k
		da = f.grad(Values(gy), Values(f.c), false)
	}
	if f.c.RequiresGrad() {
		// dc[b,j,k] = (1/n_b) Σ_i g[b,i,j] ⊙ a[b,i,k], for kept k
		dc = f.grad(Values(gy), Values(f.a), true)
	}
	accGrad(f.a, da)
	accGrad(f.c, dc)
	return nil
}

// grad returns out[b,x,k] = (1/n_b) Σ_y g[b,x,y] ⊙ other[b,y,k] over kept
// k (zero elsewhere), with g read transposed (g[b,y,x]) when transposed.
func (f *triangleFn) grad(g, other []float32, transposed bool) []float32 {
	S, d := f.S, f.d
	out := alloc(f.B * S * S * d)
	parallel(f.B*S, 1, func(lo, hi int) {
		for bx := lo; bx < hi; bx++ {
			b, x := bx/S, bx%S
			for k := range S {
				if !f.keep[b*S+k] {
					continue
				}
				dst := out[f.row(b, x, k)*d : (f.row(b, x, k)+1)*d]
				for y := range S {
					gr := g[f.row(b, x, y)*d:]
					if transposed {
						gr = g[f.row(b, y, x)*d:]
					}
					or := other[f.row(b, y, k)*d:]
					for e := range dst {
						dst[e] += gr[e] * or[e]
					}
				}
				for e := range dst {
					dst[e] *= f.inv[b]
				}
			}
		}
	})
	return out
}

// Reshape returns x's values as a rows×cols matrix (row-major, the same
// number of values), passing gradients through unchanged.
func Reshape(x mat.Tensor, rows, cols int) mat.Tensor {
	r, c := Dims(x)
	if r*c != rows*cols {
		panic(fmt.Sprintf("kernels.Reshape: %d×%d into %d×%d", r, c, rows, cols))
	}
	return run(&reshapeFn{x: x, rows: rows, cols: cols})
}

type reshapeFn struct {
	x          mat.Tensor
	rows, cols int
}

func (f *reshapeFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

func (f *reshapeFn) Forward() (mat.Tensor, error) {
	out := allocOut(f.rows * f.cols)
	copy(out, Values(f.x))
	return NewMatrix(f.rows, f.cols, out), nil
}

func (f *reshapeFn) Backward(gy mat.Tensor) error {
	if f.x.RequiresGrad() {
		g := allocOut(f.rows * f.cols)
		copy(g, Values(gy))
		accGrad(f.x, g)
	}
	return nil
}

// PairLogits returns the n×cols matrix whose value k is p[rows[k]]·u — a
// learned projection (u, [1, d]) of the pair states p [pairs, d] picked by
// rows — or 0 where rows[k] is negative (a pair without a state): a
// parser's arc scores from the pair states of its words.
func PairLogits(p, u mat.Tensor, rows []int, n, cols int) mat.Tensor {
	pr, d := Dims(p)
	if ur, uc := Dims(u); ur != 1 || uc != d || len(rows) != n*cols {
		panic(fmt.Sprintf("kernels.PairLogits: u %d×%d for %d-wide states, %d rows for %d×%d", ur, uc, d, len(rows), n, cols))
	}
	for _, r := range rows {
		if r >= pr {
			panic(fmt.Sprintf("kernels.PairLogits: row %d of %d pair states", r, pr))
		}
	}
	return run(&pairLogitsFn{p: p, u: u, rows: rows, n: n, cols: cols, d: d})
}

type pairLogitsFn struct {
	p, u       mat.Tensor
	rows       []int
	n, cols, d int
}

func (f *pairLogitsFn) Operands() []mat.Tensor { return []mat.Tensor{f.p, f.u} }

func (f *pairLogitsFn) Forward() (mat.Tensor, error) {
	p, u, d := Values(f.p), Values(f.u), f.d
	out := alloc(f.n * f.cols)
	for k, r := range f.rows {
		if r < 0 {
			continue
		}
		var s float32
		for e, w := range u {
			s += p[r*d+e] * w
		}
		out[k] = s
	}
	return NewMatrix(f.n, f.cols, out), nil
}

func (f *pairLogitsFn) Backward(gy mat.Tensor) error {
	p, u, g, d := Values(f.p), Values(f.u), Values(gy), f.d
	var dp, du []float32
	if f.p.RequiresGrad() {
		dp = alloc(len(p))
	}
	if f.u.RequiresGrad() {
		du = alloc(d)
	}
	for k, r := range f.rows {
		if r < 0 {
			continue
		}
		if dp != nil {
			for e, w := range u {
				dp[r*d+e] += g[k] * w
			}
		}
		if du != nil {
			for e := range du {
				du[e] += g[k] * p[r*d+e]
			}
		}
	}
	accGrad(f.p, dp)
	accGrad(f.u, du)
	return nil
}
