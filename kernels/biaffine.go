package kernels

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/mat"
)

// Masked is the score ArcScores gives to impossible arcs: low enough that
// softmax gives them no weight, finite so that no NaN arises.
const Masked = -1e9

// ArcScores returns the arc scores of Dozat & Manning's biaffine parser for
// a batch of B sentences padded to W words, where word 0 of each sentence
// is its ROOT:
//
//	S[b,i,j] = [dep_{b,i}; 1]ᵀ U head_{b,j}
//
// dep and head are [B·W, d] (the outputs of the dependent and head MLPs), U
// is [d+1, d] (its last row is the dependent-side bias). The result is
// [B·W, W]: row b·W+i holds word i's scores for every candidate head j.
// Heads beyond a sentence's length (lengths[b] words, ROOT included) and
// self-loops get Masked.
func ArcScores(dep, head, u mat.Tensor, B, W int, lengths []int) mat.Tensor {
	rows, d := Dims(dep)
	if hr, hd := Dims(head); hr != rows || hd != d || rows != B*W {
		panic(fmt.Sprintf("kernels.ArcScores: dep %d×%d, head %d×%d for %d×%d words", rows, d, hr, hd, B, W))
	}
	if ur, uc := Dims(u); ur != d+1 || uc != d {
		panic(fmt.Sprintf("kernels.ArcScores: U is %d×%d, want %d×%d", ur, uc, d+1, d))
	}
	if len(lengths) != B {
		panic(fmt.Sprintf("kernels.ArcScores: %d lengths for %d sentences", len(lengths), B))
	}
	for _, n := range lengths {
		if n < 1 || n > W {
			panic(fmt.Sprintf("kernels.ArcScores: length %d outside [1, %d]", n, W))
		}
	}
	return run(&arcScoresFn{dep: dep, head: head, u: u, B: B, W: W, d: d, lengths: lengths})
}

type arcScoresFn struct {
	dep, head, u mat.Tensor
	B, W, d      int
	lengths      []int
	t            []float32 // [dep; 1]·U, [B·W, d]
}

func (f *arcScoresFn) Operands() []mat.Tensor { return []mat.Tensor{f.dep, f.head, f.u} }

func (f *arcScoresFn) masked(b, i, j int) bool { return j >= f.lengths[b] || j == i }

func (f *arcScoresFn) Forward() (mat.Tensor, error) {
	n, d, W := f.B*f.W, f.d, f.W
	u := Values(f.u)
	f.t = allocOut(n * d)
	fillRows(f.t, u[d*d:]) // the bias row, then += dep·U[:d]
	Gemm(false, false, n, d, d, 1, Values(f.dep), d, u, d, 1, f.t, d)
	s := allocOut(n * W)
	head := Values(f.head)
	parallel(f.B, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			gemm(false, true, W, W, d, 1, f.t[b*W*d:], d, head[b*W*d:], d, 0, s[b*W*W:], W)
			for i := 0; i < W; i++ {
				for j := 0; j < W; j++ {
					if f.masked(b, i, j) {
						s[(b*W+i)*W+j] = Masked
					}
				}
			}
		}
	})
	return NewMatrix(n, W, s), nil
}

func (f *arcScoresFn) Backward(gy mat.Tensor) error {
	n, d, W := f.B*f.W, f.d, f.W
	g := Values(gy)
	ds := allocOut(n * W) // the gradient with masked entries (constants) zeroed
	copy(ds, g)
	for b := 0; b < f.B; b++ {
		for i := 0; i < W; i++ {
			for j := 0; j < W; j++ {
				if f.masked(b, i, j) {
					ds[(b*W+i)*W+j] = 0
				}
			}
		}
	}
	head := Values(f.head)
	dt, dh := allocOut(n*d), allocOut(n*d)
	parallel(f.B, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			gemm(false, false, W, d, W, 1, ds[b*W*W:], W, head[b*W*d:], d, 0, dt[b*W*d:], d)
			gemm(true, false, W, d, W, 1, ds[b*W*W:], W, f.t[b*W*d:], d, 0, dh[b*W*d:], d)
		}
	})
	accGrad(f.head, dh)
	u := Values(f.u)
	if f.u.RequiresGrad() {
		du := allocOut((d + 1) * d)
		Gemm(true, false, d, d, n, 1, Values(f.dep), d, dt, d, 0, du, d)
		copy(du[d*d:], columnSums(dt, n, d))
		accGrad(f.u, du)
	}
	if f.dep.RequiresGrad() {
		dd := allocOut(n * d)
		Gemm(false, true, n, d, d, 1, dt, d, u, d, 0, dd, d)
		accGrad(f.dep, dd)
	}
	return nil
}

// Bilinear returns out[n,l] = [x_n; 1]ᵀ U_l [y_n; 1] for N aligned pairs of
// rows of x [N, dx] and y [N, dy], with labels matrices U_l of size
// (dx+1)×(dy+1) stored side by side in u [dx+1, labels·(dy+1)] — Dozat &
// Manning's label scorer with its linear and bias terms. The result is
// [N, labels].
func Bilinear(x, y, u mat.Tensor, labels int) mat.Tensor {
	n, dx := Dims(x)
	ny, dy := Dims(y)
	if ny != n {
		panic(fmt.Sprintf("kernels.Bilinear: %d rows of x, %d of y", n, ny))
	}
	if ur, uc := Dims(u); ur != dx+1 || uc != labels*(dy+1) {
		panic(fmt.Sprintf("kernels.Bilinear: U is %d×%d, want %d×%d", ur, uc, dx+1, labels*(dy+1)))
	}
	return run(&bilinearFn{x: x, y: y, u: u, n: n, dx: dx, dy: dy, labels: labels})
}

type bilinearFn struct {
	x, y, u           mat.Tensor
	n, dx, dy, labels int
	xe, ye, t         []float32
}

func (f *bilinearFn) Operands() []mat.Tensor { return []mat.Tensor{f.x, f.y, f.u} }

// extend appends a column of ones to the rows of v.
func extend(v []float32, n, d int) []float32 {
	e := allocOut(n * (d + 1))
	for r := 0; r < n; r++ {
		copy(e[r*(d+1):], v[r*d:(r+1)*d])
		e[r*(d+1)+d] = 1
	}
	return e
}

func (f *bilinearFn) Forward() (mat.Tensor, error) {
	n, ex, ey, L := f.n, f.dx+1, f.dy+1, f.labels
	f.xe, f.ye = extend(Values(f.x), n, f.dx), extend(Values(f.y), n, f.dy)
	f.t = allocOut(n * L * ey)
	Gemm(false, false, n, L*ey, ex, 1, f.xe, ex, Values(f.u), L*ey, 0, f.t, L*ey)
	out := allocOut(n * L)
	parallel(n, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr := f.ye[r*ey : (r+1)*ey]
			for l := 0; l < L; l++ {
				tr := f.t[(r*L+l)*ey : (r*L+l+1)*ey]
				var s float32
				for k, v := range yr {
					s += tr[k] * v
				}
				out[r*L+l] = s
			}
		}
	})
	return NewMatrix(n, L, out), nil
}

func (f *bilinearFn) Backward(gy mat.Tensor) error {
	n, ex, ey, L := f.n, f.dx+1, f.dy+1, f.labels
	g := Values(gy)
	dt := allocOut(n * L * ey)
	dy := alloc(n * f.dy)
	parallel(n, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr := f.ye[r*ey : (r+1)*ey]
			dyr := dy[r*f.dy : (r+1)*f.dy]
			for l := 0; l < L; l++ {
				gl := g[r*L+l]
				tr := f.t[(r*L+l)*ey : (r*L+l+1)*ey]
				dtr := dt[(r*L+l)*ey : (r*L+l+1)*ey]
				for k, v := range yr {
					dtr[k] = gl * v
				}
				for k := range dyr {
					dyr[k] += gl * tr[k]
				}
			}
		}
	})
	accGrad(f.y, dy)
	if f.u.RequiresGrad() {
		du := allocOut(ex * L * ey)
		Gemm(true, false, ex, L*ey, n, 1, f.xe, ex, dt, L*ey, 0, du, L*ey)
		accGrad(f.u, du)
	}
	if f.x.RequiresGrad() {
		dxe := allocOut(n * ex)
		Gemm(false, true, n, ex, L*ey, 1, dt, L*ey, Values(f.u), L*ey, 0, dxe, ex)
		dx := allocOut(n * f.dx)
		for r := 0; r < n; r++ {
			copy(dx[r*f.dx:(r+1)*f.dx], dxe[r*ex:r*ex+f.dx])
		}
		accGrad(f.x, dx)
	}
	return nil
}

// SigmoidBCE returns the binary cross-entropy of sigmoid(logits) against
// 0/1 targets, averaged over the columns and over the rows whose keep entry
// is true (0 when none is), as PyTorch's BCEWithLogitsLoss: the loss of a
// multi-label classifier such as a morphological-feature head.
func SigmoidBCE(logits mat.Tensor, targets []float32, keep []bool) mat.Tensor {
	n, k := Dims(logits)
	if len(targets) != n*k || len(keep) != n {
		panic(fmt.Sprintf("kernels.SigmoidBCE: %d targets and %d row flags for %d×%d logits", len(targets), len(keep), n, k))
	}
	return run(&bceFn{x: logits, t: targets, keep: keep, n: n, k: k})
}

type bceFn struct {
	x    mat.Tensor
	t    []float32
	keep []bool
	n, k int
}

func (f *bceFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

func (f *bceFn) rows() int {
	c := 0
	for _, k := range f.keep {
		if k {
			c++
		}
	}
	return c
}

func (f *bceFn) Forward() (mat.Tensor, error) {
	x := Values(f.x)
	var sum float64
	for r := 0; r < f.n; r++ {
		if !f.keep[r] {
			continue
		}
		for c := r * f.k; c < (r+1)*f.k; c++ {
			// log(1+exp(-|x|)) + max(x,0) - x·t, the stable form
			v := float64(x[c])
			sum += softplus(-abs(v)) + max(v, 0) - v*float64(f.t[c])
		}
	}
	loss := float32(0)
	if rows := f.rows(); rows > 0 {
		loss = float32(sum / float64(rows*f.k))
	}
	return NewMatrix(1, 1, []float32{loss}), nil
}

func (f *bceFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	x := Values(f.x)
	dx := alloc(f.n * f.k)
	if rows := f.rows(); rows > 0 {
		scale := float64(Values(gy)[0]) / float64(rows*f.k)
		for r := 0; r < f.n; r++ {
			if !f.keep[r] {
				continue
			}
			for c := r * f.k; c < (r+1)*f.k; c++ {
				dx[c] = float32(scale * (sigmoid(float64(x[c])) - float64(f.t[c])))
			}
		}
	}
	accGrad(f.x, dx)
	return nil
}

func softplus(x float64) float64 { return math.Log1p(math.Exp(x)) }
func abs(x float64) float64      { return math.Abs(x) }
func sigmoid(x float64) float64  { return 1 / (1 + math.Exp(-x)) }

// BilinearAllPairs returns Bilinear's label scores for every (dependent,
// head) pair of B sentences padded to W words: x and y are [B·W, dx] and
// [B·W, dy] values, u as for Bilinear. The result is [B·W·W, labels], row
// (b·W+i)·W+j for dependent i and head j of sentence b. Each dependent is
// multiplied by U once instead of once per head: T = [x; 1]·U for all
// words, then per sentence T_b·[y_b; 1]ᵀ. It has no backward pass (it is
// for inference and export).
func BilinearAllPairs(x, y, u []float32, B, W, labels int) mat.Tensor {
	n := B * W
	dx, dy := len(x)/max(n, 1), len(y)/max(n, 1)
	ex, ey, L := dx+1, dy+1, labels
	if len(x) != n*dx || len(y) != n*dy || len(u) != ex*L*ey {
		panic(fmt.Sprintf("kernels.BilinearAllPairs: x %d, y %d, U %d values for %d×%d words and %d labels", len(x), len(y), len(u), B, W, L))
	}
	xe, ye := extend(x, n, dx), extend(y, n, dy)
	t := allocOut(n * L * ey) // rows (word, label)
	Gemm(false, false, n, L*ey, ex, 1, xe, ex, u, L*ey, 0, t, L*ey)
	out := allocOut(n * W * L)
	parallel(B, 1, func(lo, hi int) {
		per := make([]float32, W*L*W) // one sentence's scores, rows (dependent, label), columns heads
		for b := lo; b < hi; b++ {
			gemm(false, true, W*L, W, ey, 1, t[b*W*L*ey:], ey, ye[b*W*ey:], ey, 0, per, W)
			for i := 0; i < W; i++ {
				for l := 0; l < L; l++ {
					for j, v := range per[(i*L+l)*W : (i*L+l+1)*W] {
						out[((b*W+i)*W+j)*L+l] = v
					}
				}
			}
		}
	})
	return NewMatrix(n*W, L, out)
}
