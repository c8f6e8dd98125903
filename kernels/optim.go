package kernels

// AdamWParams are the scalars of one AdamW step, which PyTorch computes in
// double precision and rounds to float32: Beta1, Beta2 and their complements
// OneMinusBeta1 = 1-β1 and OneMinusBeta2 = 1-β2 (rounded from double), Eps,
// Decay = 1 - lr·weight_decay, StepSize = lr/(1-β1^t) and Bc2Sqrt = √(1-β2^t).
type AdamWParams struct {
	Beta1, OneMinusBeta1, Beta2, OneMinusBeta2 float32
	Eps, Decay, StepSize, Bc2Sqrt              float32
}

// AdamWStep applies one AdamW update to the parameters p with gradient g and
// moments m and v, with the operations in torch.optim.AdamW's order.
func AdamWStep(p, g, m, v []float32, a AdamWParams) {
	if len(g) != len(p) || len(m) != len(p) || len(v) != len(p) {
		panic("kernels.AdamWStep: parameter, gradient and moments differ in length")
	}
	parallel(len(p), 1<<15, func(lo, hi int) {
		adamW(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], a.Beta1, a.OneMinusBeta1, a.Beta2, a.OneMinusBeta2, a.Eps, a.Decay, a.StepSize, a.Bc2Sqrt)
	})
}

// SumSquares returns Σ x², accumulated in float64 per chunk and then over
// the chunks in order, so the result is the same from run to run.
func SumSquares(x []float32) float64 {
	partial := make([]float64, Threads())
	used := parallelIndexed(len(x), 1<<15, func(c, lo, hi int) { partial[c] = sumSq(x[lo:hi]) })
	var total float64
	for _, s := range partial[:used] {
		total += s
	}
	return total
}

// Scale multiplies x by a in place.
func Scale(x []float32, a float32) {
	parallel(len(x), 1<<15, func(lo, hi int) { scale(x[lo:hi], a) })
}
