package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

func TestSimilarityLossHandComputed(t *testing.T) {
	// One sentence of three rows: states 0, 1, 3 and hierarchy vectors
	// 0, 0, 10. Squared distances d = 1, 9, 4 and e = 0, 100, 100 (pairs
	// 01, 02, 12); mean(e) = 200/3, so with τ = 0.5 the relative
	// distances are 0, 3, 3 and the weights 1, e⁻³, e⁻³.
	v := NewMatrix(3, 1, []float32{0, 1, 3})
	h := NewMatrix(3, 1, []float32{0, 0, 10})
	for _, k := range []PairKernel{Gaussian, Cauchy} {
		far := math.Exp(-3)
		if k == Cauchy {
			far = 1.0 / 4
		}
		w, d := []float64{1, far, far}, []float64{1, 9, 4}
		var A, W float64
		for i := range w {
			A, W = A+w[i]*d[i], W+w[i]
		}
		R := 3 * A / (W * 14) // P·Σw·d / (Σw·Σd), the factors 2 of ordered pairs cancel
		mean := W / 3
		want := R + 2*(mean-0.5)*(mean-0.5)
		out, st := SimilarityLoss(v, h, [][]int{{0, 1, 2}}, Similarity{Kernel: k, Tau: 0.5, Density: 0.5, DensityWeight: 2})
		if got := float64(Values(out)[0]); math.Abs(got-want) > 1e-6 {
			t.Errorf("%s: loss %.7f, want %.7f", k, got, want)
		}
		if math.Abs(st.Ratio-R) > 1e-6 || math.Abs(st.MeanWeight-mean) > 1e-6 {
			t.Errorf("%s: stats %+v, want ratio %.6f and mean weight %.6f", k, st, R, mean)
		}
	}
}

func TestSimilarityLossIsScaleInvariant(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	v, h := leaf(r, 7, 5, 1), leaf(r, 7, 3, 1)
	sents := [][]int{{0, 1, 2, 3}, {4, 5, 6}}
	cfg := Similarity{Kernel: Gaussian, Tau: 2, Density: 0.3, DensityWeight: 1}
	a, _ := SimilarityLoss(v, h, sents, cfg)
	scaled := append([]float32(nil), Values(v)...)
	for i := range scaled {
		scaled[i] *= 10
	}
	b, _ := SimilarityLoss(NewMatrix(7, 5, scaled), h, sents, cfg)
	if d := math.Abs(float64(Values(a)[0] - Values(b)[0])); d > 1e-5 {
		t.Errorf("scaling the states by 10 changed the loss by %g", d)
	}
	hs := append([]float32(nil), Values(h)...)
	for i := range hs {
		hs[i] *= 0.01
	}
	c, _ := SimilarityLoss(v, NewMatrix(7, 3, hs), sents, cfg)
	if d := math.Abs(float64(Values(a)[0] - Values(c)[0])); d > 1e-5 {
		t.Errorf("scaling the hierarchy vectors by 0.01 changed the loss by %g", d)
	}
}

func TestGradSimilarityLoss(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range []PairKernel{Gaussian, Cauchy} {
		v, h := leaf(r, 9, 6, 1), leaf(r, 9, 3, 0.7)
		// Sentences of 4, 1 (skipped) and 4 rows, not in row order.
		sents := [][]int{{0, 2, 1, 3}, {4}, {8, 5, 6, 7}}
		cfg := Similarity{Kernel: k, Tau: 2, Density: 0.4, DensityWeight: 3}
		gradCheck(t, []*Matrix{v, h}, func() mat.Tensor {
			out, _ := SimilarityLoss(v, h, sents, cfg)
			return out
		})
	}
}

func TestTreeDistanceLossHandComputed(t *testing.T) {
	// Words at 0, 1, 3 on a line, a chain tree (distances 1, 1, 2):
	// squared distances 1, 4, 9 → |0| + |3| + |7| = 10 per direction,
	// 20/3² over ordered pairs.
	h := NewMatrix(3, 1, []float32{0, 1, 3})
	out := TreeDistanceLoss(h, [][]int{{0, 1, 2}}, [][]float32{{0, 1, 2, 1, 0, 1, 2, 1, 0}})
	if got := Values(out)[0]; math.Abs(float64(got)-20.0/9) > 1e-6 {
		t.Errorf("loss %g, want 20/9", got)
	}
}

func TestGradTreeDistanceLoss(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	h := leaf(r, 7, 4, 1)
	sents := [][]int{{0, 1, 2, 3}, {6, 4, 5}}
	// Targets 0.5 above or below the squared distances, so that no pair
	// sits on the absolute value's kink.
	var dist [][]float32
	for _, rows := range sents {
		n := len(rows)
		d := make([]float32, n*n)
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				e := float32(sqDist(Values(h), 4, rows[i], rows[j]))
				if r.IntN(2) == 0 {
					e += 0.5
				} else {
					e -= 0.5
				}
				d[i*n+j], d[j*n+i] = e, e
			}
		}
		dist = append(dist, d)
	}
	gradCheck(t, []*Matrix{h}, func() mat.Tensor { return TreeDistanceLoss(h, sents, dist) })
}

func TestMergeRows(t *testing.T) {
	x := NewMatrix(4, 2, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	out := MergeRows(x, []int{0, 1, 0, -1}, []float32{0.25, 1, 0.75, 1}, 2)
	want := []float32{0.25*1 + 0.75*5, 0.25*2 + 0.75*6, 3, 4}
	for i, v := range Values(out) {
		if math.Abs(float64(v-want[i])) > 1e-6 {
			t.Fatalf("merged %v, want %v", Values(out), want)
		}
	}
	r := rand.New(rand.NewPCG(9, 9))
	y := leaf(r, 6, 3, 1)
	gradCheck(t, []*Matrix{y}, func() mat.Tensor {
		return MergeRows(y, []int{2, 0, 0, -1, 1, 2}, []float32{0.5, 0.3, 0.7, 1, 1, 0.5}, 3)
	})
}

func TestGatherAdd(t *testing.T) {
	x := NewMatrix(2, 2, []float32{1, 2, 3, 4})
	add := NewMatrix(3, 2, []float32{10, 20, 30, 40, 50, 60})
	for _, c := range []struct {
		sign float32
		want []float32
	}{{1, []float32{13, 24, 31, 42, 53, 64}}, {-1, []float32{7, 16, 29, 38, 47, 56}}} {
		got := Values(GatherAdd(x, []int{1, 0, 1}, add, c.sign))
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("sign %g: %v, want %v", c.sign, got, c.want)
			}
		}
	}
	r := rand.New(rand.NewPCG(8, 8))
	y, a := leaf(r, 3, 4, 1), leaf(r, 5, 4, 1)
	gradCheck(t, []*Matrix{y, a}, func() mat.Tensor { return GatherAdd(y, []int{2, 0, 2, 1, 2}, a, -1) })
}

// A unit of size 2 with proportional attention draws the attention its
// two identical tokens drew: the merged sequence's outputs equal the
// unmerged one's.
func TestSizedMaskIsProportionalAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	const hidden, heads = 8, 2
	a, b, c := randSlice(r, hidden, 1), randSlice(r, hidden, 1), randSlice(r, hidden, 1)
	rows := func(rs ...[]float32) *Matrix {
		var data []float32
		for _, x := range rs {
			data = append(data, x...)
		}
		return NewMatrix(len(rs), hidden, data)
	}
	// Unmerged: a, b, b, c. Merged: a, b (size 2), c.
	full := rows(a, b, b, c)
	ctxFull, _ := Attention(full, full, full, NewMask(1, 4, []int64{1, 1, 1, 1}), heads, Dropout{})
	merged := rows(a, b, c)
	ctxMerged, _ := Attention(merged, merged, merged, NewSizedMask(1, 3, []float32{1, 2, 1}), heads, Dropout{})
	f, m := Values(ctxFull), Values(ctxMerged)
	for i, want := range [][]float32{f[:hidden], f[hidden : 2*hidden], f[3*hidden:]} {
		for k := range want {
			if d := math.Abs(float64(m[i*hidden+k] - want[k])); d > 1e-6 {
				t.Fatalf("merged row %d differs from the unmerged one by %g", i, d)
			}
		}
	}
	// The gradients through a sized mask.
	q, k, v := leaf(r, 6, hidden, 1), leaf(r, 6, hidden, 1), leaf(r, 6, hidden, 1)
	sized := NewSizedMask(2, 3, []float32{1, 3, 2, 2, 1, 0})
	gradCheck(t, []*Matrix{q, k, v}, func() mat.Tensor {
		ctx, _ := Attention(q, k, v, sized, heads, Dropout{})
		return ctx
	})
	// Size 1 everywhere is the plain mask; 0 is padding.
	m1 := NewSizedMask(1, 3, []float32{1, 1, 0})
	if m1.Add[0] != 0 || m1.Add[1] != 0 || m1.Add[2] != -math.MaxFloat32 {
		t.Errorf("sized mask of sizes 1, 1, 0: %v", m1.Add)
	}
}
