package kernels

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/mat"
)

// PairKernel turns a relative squared distance x between two hierarchy
// vectors (see SimilarityLoss) into a weight in (0, 1] that decreases
// with x.
type PairKernel string

// The pair kernels.
const (
	// Gaussian is exp(−x).
	Gaussian PairKernel = "gaussian"
	// Cauchy is 1/(1 + x): heavier tails, so distant pairs keep some
	// weight and gradient.
	Cauchy PairKernel = "cauchy"
)

// PairKernels lists the pair kernels by name.
var PairKernels = []string{string(Gaussian), string(Cauchy)}

// Weight returns the kernel's weight of relative squared distance x and
// its derivative in x.
func (k PairKernel) Weight(x float64) (w, dw float64) {
	if k == Cauchy {
		w = 1 / (1 + x)
		return w, -w * w
	}
	w = math.Exp(-x)
	return w, -w
}

// Similarity configures SimilarityLoss.
type Similarity struct {
	Kernel PairKernel
	// Tau is the kernel's temperature (> 0), in units of the sentence's
	// mean squared distance between hierarchy vectors.
	Tau float64
	// Density is the mean pair weight each sentence should have (in (0, 1)),
	// and DensityWeight the weight of the squared deviation from it.
	Density, DensityWeight float64
}

// SimilarityStats are the sentence means of SimilarityLoss's two terms, for
// the metrics.
type SimilarityStats struct {
	// Ratio is the weighted mean of the state distances over their plain
	// mean: 1 when the hierarchy weights are uninformative, lower the more
	// the pairs close in the hierarchy are close in state.
	Ratio float64
	// MeanWeight is the mean pair weight (the density's term pulls it
	// towards Similarity.Density).
	MeanWeight float64
}

// SimilarityLoss is the soft-hierarchy regulariser. For the rows of each
// sentence (sentences[s] lists rows of v and h, disjoint between
// sentences; sentences of fewer than two rows are skipped), over ordered
// pairs i ≠ j,
//
//	d_ij = ‖v_i − v_j‖², e_ij = ‖h_i − h_j‖², w_ij = K(e_ij / (τ·mean(e)))
//	R = Σ w·d / (mean(w) · Σ d)      (the w-weighted mean of d over its mean)
//	L = R + μ·(mean(w) − ρ)²
//
// and the result (1×1) is L averaged over the sentences. R pulls states
// together the closer their hierarchy vectors are. Neither term changes
// when the states or the hierarchy vectors of a sentence are scaled, so
// neither can be lowered by collapsing them to one point or by spreading
// them apart; what the density term sets is their shape: equal distances
// give every pair the weight K(1/τ), and a mean weight ρ above that asks
// for clusters — pairs much closer than the mean. It also returns the
// means of R and mean(w).
func SimilarityLoss(v, h mat.Tensor, sentences [][]int, s Similarity) (mat.Tensor, SimilarityStats) {
	nv, _ := Dims(v)
	nh, _ := Dims(h)
	if nv != nh {
		panic(fmt.Sprintf("kernels.SimilarityLoss: %d state rows, %d hierarchy rows", nv, nh))
	}
	checkSentences("SimilarityLoss", nv, sentences)
	if s.Tau <= 0 || (s.Kernel != Gaussian && s.Kernel != Cauchy) {
		panic(fmt.Sprintf("kernels.SimilarityLoss: kernel %q with temperature %g", s.Kernel, s.Tau))
	}
	f := &similarityFn{v: v, h: h, sents: sentences, cfg: s}
	out := run(f)
	return out, f.stats
}

func checkSentences(op string, rows int, sentences [][]int) {
	for _, s := range sentences {
		for _, r := range s {
			if r < 0 || r >= rows {
				panic(fmt.Sprintf("kernels.%s: row %d of %d", op, r, rows))
			}
		}
	}
}

type similarityFn struct {
	v, h  mat.Tensor
	sents [][]int
	cfg   Similarity
	stats SimilarityStats
	used  int // sentences of two rows or more
}

func (f *similarityFn) Operands() []mat.Tensor { return []mat.Tensor{f.v, f.h} }

// sqDist returns ‖x_a − x_b‖² of rows a and b of the cols-wide x.
func sqDist(x []float32, cols, a, b int) float64 {
	xa, xb := x[a*cols:(a+1)*cols], x[b*cols:(b+1)*cols]
	var s float32
	for c := range xa {
		d := xa[c] - xb[c]
		s += d * d
	}
	return float64(s)
}

// sentence computes one sentence's loss terms; with gd and ge (n×n), it
// also fills ∂L/∂d_ij and ∂L/∂e_ij.
func (f *similarityFn) sentence(rows []int, gd, ge []float64) (ratio, mean float64) {
	v, h := Values(f.v), Values(f.h)
	_, D := Dims(f.v)
	_, E := Dims(f.h)
	n := len(rows)
	P := float64(n * (n - 1))
	d, e := make([]float64, n*n), make([]float64, n*n)
	var Se float64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			dij, eij := sqDist(v, D, rows[i], rows[j]), sqDist(h, E, rows[i], rows[j])
			d[i*n+j], d[j*n+i] = dij, dij
			e[i*n+j], e[j*n+i] = eij, eij
			Se += 2 * eij
		}
	}
	// Tiny floors keep everything finite when all states or all
	// hierarchy vectors of the sentence coincide.
	scale := f.cfg.Tau*Se/P + 1e-12
	var A, W, S float64
	w, dw := make([]float64, n*n), make([]float64, n*n)
	for k := range e {
		if k/n == k%n {
			continue
		}
		w[k], dw[k] = f.cfg.Kernel.Weight(e[k] / scale)
		A += w[k] * d[k]
		W += w[k]
		S += d[k]
	}
	Wf, Sf := W+1e-12*P, S+1e-12*P
	R := P * A / (Wf * Sf)
	mean = W / P
	if gd == nil {
		return R, mean
	}
	dens := 2 * f.cfg.DensityWeight * (mean - f.cfg.Density) / P
	// ∂L/∂x_ij for x = e/scale, then through scale = τ·Σe/P.
	var C float64
	for k := range e {
		if k/n == k%n {
			continue
		}
		gd[k] = P*w[k]/(Wf*Sf) - R/Sf
		ge[k] = (P*d[k]/(Wf*Sf) - R/Wf + dens) * dw[k]
		C += ge[k] * e[k]
	}
	for k := range ge {
		if k/n != k%n {
			ge[k] = ge[k]/scale - C*f.cfg.Tau/(P*scale*scale)
		}
	}
	return R, mean
}

func (f *similarityFn) Forward() (mat.Tensor, error) {
	ratios, means := make([]float64, len(f.sents)), make([]float64, len(f.sents))
	parallel(len(f.sents), 1, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			if len(f.sents[s]) >= 2 {
				ratios[s], means[s] = f.sentence(f.sents[s], nil, nil)
			}
		}
	})
	var loss float64
	f.used, f.stats = 0, SimilarityStats{}
	for s, rows := range f.sents {
		if len(rows) < 2 {
			continue
		}
		f.used++
		dev := means[s] - f.cfg.Density
		loss += ratios[s] + f.cfg.DensityWeight*dev*dev
		f.stats.Ratio += ratios[s]
		f.stats.MeanWeight += means[s]
	}
	if f.used > 0 {
		loss /= float64(f.used)
		f.stats.Ratio /= float64(f.used)
		f.stats.MeanWeight /= float64(f.used)
	}
	return NewMatrix(1, 1, []float32{float32(loss)}), nil
}

func (f *similarityFn) Backward(gy mat.Tensor) error {
	if f.used == 0 {
		return nil
	}
	g := float64(Values(gy)[0]) / float64(f.used)
	rv, D := Dims(f.v)
	_, E := Dims(f.h)
	dv, dh := alloc(rv*D), alloc(rv*E)
	v, h := Values(f.v), Values(f.h)
	// Sentences own disjoint rows, so they write their gradients in
	// parallel without sharing.
	parallel(len(f.sents), 1, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			rows := f.sents[s]
			n := len(rows)
			if n < 2 {
				continue
			}
			gd, ge := make([]float64, n*n), make([]float64, n*n)
			f.sentence(rows, gd, ge)
			// d_ij = ‖x_i − x_j‖² appears as (i, j) and (j, i), with equal
			// gradients: ∂/∂x_i = 4 Σ_j g_ij (x_i − x_j).
			pairGrad(v, dv, D, rows, gd, 4*g)
			pairGrad(h, dh, E, rows, ge, 4*g)
		}
	})
	if f.v.RequiresGrad() {
		accGrad(f.v, dv)
	}
	if f.h.RequiresGrad() {
		accGrad(f.h, dh)
	}
	return nil
}

// pairGrad adds scale·Σ_j g_ij (x_i − x_j) to row rows[i] of dx for every
// i, g being n×n over the rows.
func pairGrad(x, dx []float32, cols int, rows []int, g []float64, scale float64) {
	n := len(rows)
	acc := make([]float64, cols)
	for i := 0; i < n; i++ {
		clear(acc)
		xi := x[rows[i]*cols : (rows[i]+1)*cols]
		for j := 0; j < n; j++ {
			gij := g[i*n+j]
			if j == i || gij == 0 {
				continue
			}
			xj := x[rows[j]*cols : (rows[j]+1)*cols]
			for c := range acc {
				acc[c] += gij * float64(xi[c]-xj[c])
			}
		}
		out := dx[rows[i]*cols : (rows[i]+1)*cols]
		for c := range acc {
			out[c] += float32(scale * acc[c])
		}
	}
}

// TreeDistanceLoss is the structural probe's loss (Hewitt & Manning 2019)
// on hierarchy vectors: for each sentence, whose words are the rows
// sentences[s] of h and whose gold tree distances are dist[s] (n×n,
// row-major), (1/n²)·Σ_ij |‖h_i − h_j‖² − dist_ij|, averaged over the
// sentences of two words or more. The result is 1×1.
func TreeDistanceLoss(h mat.Tensor, sentences [][]int, dist [][]float32) mat.Tensor {
	rows, _ := Dims(h)
	checkSentences("TreeDistanceLoss", rows, sentences)
	if len(dist) != len(sentences) {
		panic(fmt.Sprintf("kernels.TreeDistanceLoss: %d sentences, %d distance matrices", len(sentences), len(dist)))
	}
	for s, d := range dist {
		if n := len(sentences[s]); len(d) != n*n {
			panic(fmt.Sprintf("kernels.TreeDistanceLoss: sentence %d has %d words and %d distances", s, n, len(d)))
		}
	}
	return run(&treeDistanceFn{h: h, sents: sentences, dist: dist})
}

type treeDistanceFn struct {
	h     mat.Tensor
	sents [][]int
	dist  [][]float32
	used  int
}

func (f *treeDistanceFn) Operands() []mat.Tensor { return []mat.Tensor{f.h} }

func (f *treeDistanceFn) Forward() (mat.Tensor, error) {
	h := Values(f.h)
	_, E := Dims(f.h)
	var loss float64
	f.used = 0
	for s, rows := range f.sents {
		n := len(rows)
		if n < 2 {
			continue
		}
		f.used++
		var l float64
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				l += 2 * math.Abs(sqDist(h, E, rows[i], rows[j])-float64(f.dist[s][i*n+j]))
			}
		}
		loss += l / float64(n*n)
	}
	if f.used > 0 {
		loss /= float64(f.used)
	}
	return NewMatrix(1, 1, []float32{float32(loss)}), nil
}

func (f *treeDistanceFn) Backward(gy mat.Tensor) error {
	if f.used == 0 || !f.h.RequiresGrad() {
		return nil
	}
	g := float64(Values(gy)[0]) / float64(f.used)
	h := Values(f.h)
	r, E := Dims(f.h)
	dh := alloc(r * E)
	for s, rows := range f.sents {
		n := len(rows)
		if n < 2 {
			continue
		}
		sign := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				diff := sqDist(h, E, rows[i], rows[j]) - float64(f.dist[s][i*n+j])
				switch {
				case diff > 0:
					sign[i*n+j], sign[j*n+i] = 1, 1
				case diff < 0:
					sign[i*n+j], sign[j*n+i] = -1, -1
				}
			}
		}
		pairGrad(h, dh, E, rows, sign, 4*g/float64(n*n))
	}
	accGrad(f.h, dh)
	return nil
}

// MergeRows merges rows of x into units: output row u is Σ weight[r]·x[r]
// over the rows r with unit[r] = u (rows with unit −1 go nowhere). With
// weights that sum to 1 within a unit it is the unit's weighted mean.
func MergeRows(x mat.Tensor, unit []int, weight []float32, units int) mat.Tensor {
	rows, _ := Dims(x)
	if len(unit) != rows || len(weight) != rows {
		panic(fmt.Sprintf("kernels.MergeRows: %d rows, %d units, %d weights", rows, len(unit), len(weight)))
	}
	for r, u := range unit {
		if u < -1 || u >= units {
			panic(fmt.Sprintf("kernels.MergeRows: row %d goes to unit %d of %d", r, u, units))
		}
	}
	return run(&mergeRowsFn{x: x, unit: unit, weight: weight, units: units})
}

type mergeRowsFn struct {
	x      mat.Tensor
	unit   []int
	weight []float32
	units  int
}

func (f *mergeRowsFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

func (f *mergeRowsFn) Forward() (mat.Tensor, error) {
	x := Values(f.x)
	_, cols := Dims(f.x)
	out := alloc(f.units * cols)
	// Threads take column ranges, so no two write one value.
	parallel(cols, 16, func(lo, hi int) {
		for r, u := range f.unit {
			if u < 0 {
				continue
			}
			o, w := out[u*cols+lo:u*cols+hi], f.weight[r]
			for c, v := range x[r*cols+lo : r*cols+hi] {
				o[c] += w * v
			}
		}
	})
	return NewMatrix(f.units, cols, out), nil
}

func (f *mergeRowsFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	g := Values(gy)
	rows, cols := Dims(f.x)
	dx := alloc(rows * cols)
	parallel(rows, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			u := f.unit[r]
			if u < 0 {
				continue
			}
			d, w := dx[r*cols:(r+1)*cols], f.weight[r]
			for c, v := range g[u*cols : (u+1)*cols] {
				d[c] = w * v
			}
		}
	})
	accGrad(f.x, dx)
	return nil
}

// GatherAdd returns sign·x[rows[i]] + add[i] for every row i of add: with
// sign 1 it gives merged units' states back to the positions they merged,
// plus a skip; with sign −1 it computes that skip.
func GatherAdd(x mat.Tensor, rows []int, add mat.Tensor, sign float32) mat.Tensor {
	n, cols := Dims(x)
	ar, ac := Dims(add)
	if ar != len(rows) || ac != cols {
		panic(fmt.Sprintf("kernels.GatherAdd: %d rows of %d columns to gather onto %d×%d", len(rows), cols, ar, ac))
	}
	for _, r := range rows {
		if r < 0 || r >= n {
			panic(fmt.Sprintf("kernels.GatherAdd: row %d of a %d-row matrix", r, n))
		}
	}
	return run(&gatherAddFn{x: x, rows: rows, add: add, sign: sign})
}

type gatherAddFn struct {
	x, add mat.Tensor
	rows   []int
	sign   float32
}

func (f *gatherAddFn) Operands() []mat.Tensor { return []mat.Tensor{f.x, f.add} }

func (f *gatherAddFn) Forward() (mat.Tensor, error) {
	x, add := Values(f.x), Values(f.add)
	_, cols := Dims(f.x)
	out := allocOut(len(f.rows) * cols)
	parallel(len(f.rows), 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			src, a, o := x[f.rows[i]*cols:(f.rows[i]+1)*cols], add[i*cols:(i+1)*cols], out[i*cols:(i+1)*cols]
			for c := range o {
				o[c] = f.sign*src[c] + a[c]
			}
		}
	})
	return NewMatrix(len(f.rows), cols, out), nil
}

func (f *gatherAddFn) Backward(gy mat.Tensor) error {
	g := Values(gy)
	n, cols := Dims(f.x)
	if f.add.RequiresGrad() {
		da := allocOut(len(g))
		copy(da, g)
		accGrad(f.add, da)
	}
	if !f.x.RequiresGrad() {
		return nil
	}
	dx := alloc(n * cols)
	// Several positions gather one row: threads take column ranges.
	parallel(cols, 16, func(lo, hi int) {
		for i, r := range f.rows {
			d, gi := dx[r*cols+lo:r*cols+hi], g[i*cols+lo:i*cols+hi]
			for c, v := range gi {
				d[c] += f.sign * v
			}
		}
	})
	accGrad(f.x, dx)
	return nil
}

// NewSizedMask builds the attention mask of a batch of merged units
// [batch·seq]: a unit of size s > 0 gets log(s) added to every logit that
// attends to it (ToMe's proportional attention: a unit standing for s
// tokens draws the attention those s tokens would have drawn together), a
// size of 0 marks padding.
func NewSizedMask(batch, seq int, sizes []float32) *Mask {
	if len(sizes) != batch*seq {
		panic(fmt.Sprintf("kernels.NewSizedMask: %d sizes for %d×%d", len(sizes), batch, seq))
	}
	add := alloc(len(sizes))
	for i, s := range sizes {
		if s > 0 {
			add[i] = float32(math.Log(float64(s)))
		} else {
			add[i] = -math.MaxFloat32
		}
	}
	return &Mask{Batch: batch, Seq: seq, Add: add}
}
