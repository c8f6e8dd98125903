package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// These tests hold the backend's primitives (C in the default build) to the
// pure-Go reference ones. In a purego build both sides are the same code.

func closeTo(t *testing.T, what string, got, want []float32, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > atol+rtol*math.Abs(float64(want[i])) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func TestGemmMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct{ m, n, k int }{{1, 1, 1}, {7, 5, 3}, {64, 48, 80}, {300, 17, 129}, {40, 200, 70}} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				// Leading dimensions larger than the matrices, as in attention.
				lda, ldb, ldc := tc.k+3, tc.n+2, tc.n+5
				ar, br := tc.m, tc.k
				if tA {
					lda, ar = tc.m+3, tc.k
				}
				if tB {
					ldb, br = tc.k+2, tc.n
				}
				a, b := randSlice(r, ar*lda, 1), randSlice(r, br*ldb, 1)
				c0 := randSlice(r, tc.m*ldc, 1)
				got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
				Gemm(tA, tB, tc.m, tc.n, tc.k, 0.7, a, lda, b, ldb, 0.5, got, ldc)
				refGemm(tA, tB, tc.m, tc.n, tc.k, 0.7, a, lda, b, ldb, 0.5, want, ldc)
				closeTo(t, "gemm", got, want, 1e-4, 1e-4)
			}
		}
	}
}

func TestElementwiseMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	n := 10007
	x := randSlice(r, n, 3)
	x[0], x[1], x[2], x[3] = 0, 1e-6, -9, 12
	dy := randSlice(r, n, 1)
	for _, approx := range []bool{false, true} {
		y, yr := make([]float32, n), make([]float32, n)
		geluFwd(x, y, approx)
		refGeluFwd(x, yr, approx)
		closeTo(t, "gelu", y, yr, 1e-6, 1e-6)
		geluBwd(x, dy, y, approx)
		refGeluBwd(x, dy, yr, approx)
		closeTo(t, "gelu'", y, yr, 3e-6, 1e-5) // erf is approximated to 4e-7
	}
	y, yr := make([]float32, n), make([]float32, n)
	tanhFwd(x, y)
	refTanhFwd(x, yr)
	closeTo(t, "tanh", y, yr, 2e-7, 1e-6)
	dropout(x, y, 5, 1000, 1<<30, 4.0/3)
	refDropout(x, yr, 5, 1000, 1<<30, 4.0/3)
	closeTo(t, "dropout", y, yr, 0, 0)
}

func TestLayerNormAndLossMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	rows, cols := 9, 37
	x, res, dy := randSlice(r, rows*cols, 2), randSlice(r, rows*cols, 1), randSlice(r, rows*cols, 1)
	g, b := randSlice(r, cols, 1), randSlice(r, cols, 1)
	type outs struct{ out, xhat, rstd, dz, dg, db []float32 }
	run := func(fwd func(r0, r1, cols int, x, res, gamma, beta []float32, eps float32, seed, threshold uint32, scale float32, out, xhat, rstd []float32),
		bwd func(r0, r1, cols int, dy, xhat, rstd, gamma, dz, dgamma, dbeta []float32)) outs {
		o := outs{make([]float32, rows*cols), make([]float32, rows*cols), make([]float32, rows), make([]float32, rows*cols), make([]float32, cols), make([]float32, cols)}
		fwd(0, rows, cols, x, res, g, b, 1e-12, 9, 1<<31, 2, o.out, o.xhat, o.rstd)
		bwd(0, rows, cols, dy, o.xhat, o.rstd, g, o.dz, o.dg, o.db)
		return o
	}
	got, want := run(reslnFwd, lnBwd), run(refReslnFwd, refLnBwd)
	closeTo(t, "layernorm", got.out, want.out, 1e-5, 1e-5)
	closeTo(t, "layernorm dz", got.dz, want.dz, 1e-5, 1e-4)
	closeTo(t, "layernorm dgamma", got.dg, want.dg, 1e-5, 1e-5)
	closeTo(t, "layernorm dbeta", got.db, want.db, 1e-5, 1e-5)

	classes := 1000
	logits := randSlice(r, rows*classes, 4)
	labels := []int64{0, 999, -100, 5, 17, 3, 3, -100, 500}
	lse, loss, lser, lossr := make([]float32, rows), make([]float32, rows), make([]float32, rows), make([]float32, rows)
	xentFwd(0, rows, classes, logits, labels, -100, lse, loss)
	refXentFwd(0, rows, classes, logits, labels, -100, lser, lossr)
	closeTo(t, "lse", lse, lser, 1e-5, 1e-6)
	closeTo(t, "loss", loss, lossr, 1e-5, 1e-6)
	d, dr := make([]float32, rows*classes), make([]float32, rows*classes)
	xentBwd(0, rows, classes, logits, labels, -100, lse, 0.25, d)
	refXentBwd(0, rows, classes, logits, labels, -100, lse, 0.25, dr)
	closeTo(t, "dlogits", d, dr, 1e-7, 1e-5)
}

func TestAttentionPrimitivesMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	B, S, heads, hd := 2, 33, 3, 8
	H := heads * hd
	q, k, v, dctx := randSlice(r, B*S*H, 1), randSlice(r, B*S*H, 1), randSlice(r, B*S*H, 1), randSlice(r, B*S*H, 1)
	attend := make([]int64, B*S)
	for i := range attend {
		if i%S < S-5*(i/S) {
			attend[i] = 1
		}
	}
	mask := NewMask(B, S, attend)
	pairBias := randSlice(r, B*S*S*heads, 1)
	for _, c := range []struct {
		threshold uint32
		bias      []float32
	}{{0, nil}, {1 << 30, nil}, {0, pairBias}, {1 << 30, pairBias}} {
		threshold, bias := c.threshold, c.bias
		probs, ctx, pr, cr := make([]float32, B*heads*S*S), make([]float32, B*S*H), make([]float32, B*heads*S*S), make([]float32, B*S*H)
		work := make([]float32, 2*S*S)
		attnFwd(0, B*heads, S, heads, hd, H, q, k, v, mask.Add, bias, 0.35, probs, ctx, 11, threshold, 4.0/3, work)
		refAttnFwd(0, B*heads, S, heads, hd, H, q, k, v, mask.Add, bias, 0.35, pr, cr, 11, threshold, 4.0/3, work)
		closeTo(t, "probs", probs, pr, 1e-6, 1e-5)
		closeTo(t, "ctx", ctx, cr, 1e-5, 1e-4)
		grads := func(f func(bh0, bh1, S, heads, hd, ld int, q, k, v, probs, dctx []float32, scale float32, dq, dk, dv, dbias []float32, seed, threshold uint32, dscale float32, work []float32)) [4][]float32 {
			g := [4][]float32{make([]float32, B*S*H), make([]float32, B*S*H), make([]float32, B*S*H)}
			if bias != nil {
				g[3] = make([]float32, len(bias))
			}
			f(0, B*heads, S, heads, hd, H, q, k, v, pr, dctx, 0.35, g[0], g[1], g[2], g[3], 11, threshold, 4.0/3, work)
			return g
		}
		got, want := grads(attnBwd), grads(refAttnBwd)
		for i, name := range []string{"dq", "dk", "dv", "dbias"} {
			closeTo(t, name, got[i], want[i], 1e-5, 1e-4)
		}
	}
}
