package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

func randSlice(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = scale * float32(r.NormFloat64())
	}
	return x
}

// leaf returns a rows×cols matrix of random values that requires gradients.
func leaf(r *rand.Rand, rows, cols int, scale float32) *Matrix {
	m := NewMatrix(rows, cols, randSlice(r, rows*cols, scale))
	m.SetRequiresGrad(true)
	return m
}

// gradCheck compares the gradients that backward gives for the loss
// Σ out⊙R (R random) with central finite differences, on up to 40 elements
// of every input.
func gradCheck(t *testing.T, inputs []*Matrix, forward func() mat.Tensor) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	out := forward()
	R := randSlice(r, len(Values(out)), 1)
	rows, cols := Dims(out)
	out.AccGrad(NewMatrix(rows, cols, append([]float32(nil), R...)))
	if err := Backward(out); err != nil {
		t.Fatal(err)
	}
	loss := func() float64 {
		var s float64
		for i, v := range Values(forward()) {
			s += float64(v) * float64(R[i])
		}
		return s
	}
	for k, in := range inputs {
		x := Values(in)
		grad := make([]float32, len(x))
		if in.HasGrad() {
			grad = Values(in.Grad())
		}
		idx := r.Perm(len(x))
		if len(idx) > 40 {
			idx = idx[:40]
		}
		var worst float64
		for _, i := range idx {
			const eps = 1e-2
			orig := x[i]
			x[i] = orig + eps
			lp := loss()
			x[i] = orig - eps
			lm := loss()
			x[i] = orig
			num := (lp - lm) / (2 * eps)
			ana := float64(grad[i])
			diff := math.Abs(num - ana)
			if diff > 1e-3+1e-2*math.Abs(num) {
				t.Errorf("input %d element %d: backward %.6g, finite difference %.6g", k, i, ana, num)
			}
			worst = max(worst, diff)
		}
		t.Logf("input %d: worst |backward - finite difference| = %.2g", k, worst)
		in.ZeroGrad()
	}
}

func TestGradLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x, w, b := leaf(r, 6, 5, 1), leaf(r, 4, 5, 0.5), leaf(r, 4, 1, 0.5)
	gradCheck(t, []*Matrix{x, w, b}, func() mat.Tensor { return Linear(x, w, b) })
	gradCheck(t, []*Matrix{x, w}, func() mat.Tensor { return Linear(x, w, nil) })
	// With the weight also given transposed (inference's layout): a copy
	// the forward pass reads, so only x's and b's gradients are checked
	// against finite differences (w's are Linear's, above).
	wv := Values(w)
	wt := make([]float32, len(wv))
	for o := range 4 {
		for i := range 5 {
			wt[i*4+o] = wv[o*5+i]
		}
	}
	gradCheck(t, []*Matrix{x, b}, func() mat.Tensor { return LinearTransposed(x, w, wt, b) })
	plain, transposed := Values(Linear(x, w, b)), Values(LinearTransposed(x, w, wt, b))
	for i := range plain {
		if math.Abs(float64(plain[i]-transposed[i])) > 1e-6 {
			t.Fatalf("LinearTransposed differs from Linear at %d: %g vs %g", i, transposed[i], plain[i])
		}
	}
}

func TestGradAttention(t *testing.T) {
	for _, d := range []Dropout{{}, {P: 0.3, Seed: 99}} {
		t.Run(fmt.Sprintf("dropout=%g", d.P), func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			const B, S, H, heads = 2, 5, 8, 2
			q, k, v := leaf(r, B*S, H, 1), leaf(r, B*S, H, 1), leaf(r, B*S, H, 1)
			mask := NewMask(B, S, []int64{1, 1, 1, 1, 1, 1, 1, 1, 0, 0})
			gradCheck(t, []*Matrix{q, k, v}, func() mat.Tensor {
				ctx, _ := Attention(q, k, v, mask, heads, d)
				return ctx
			})
			bias := leaf(r, B*S*S, heads, 1)
			gradCheck(t, []*Matrix{q, k, v, bias}, func() mat.Tensor {
				ctx, _ := AttentionWithBias(q, k, v, bias, mask, heads, d)
				return ctx
			})
		})
	}
}

func TestAttentionMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const B, S, H, heads = 2, 4, 6, 3
	q, k, v := leaf(r, B*S, H, 1), leaf(r, B*S, H, 1), leaf(r, B*S, H, 1)
	mask := NewMask(B, S, []int64{1, 1, 1, 1, 1, 1, 0, 0})
	naiveAttention(t, q, k, v, nil, mask, heads)
	naiveAttention(t, q, k, v, leaf(r, B*S*S, heads, 1), mask, heads)
}

// naiveAttention checks AttentionWithBias (Attention without a bias)
// against attention computed the obvious way, in float64.
func naiveAttention(t *testing.T, q, k, v, bias *Matrix, mask *Mask, heads int) {
	t.Helper()
	B, S := mask.Batch, mask.Seq
	_, H := Dims(q)
	hd := H / heads
	var ctx mat.Tensor
	var probs []float32
	if bias == nil {
		ctx, probs = Attention(q, k, v, mask, heads, Dropout{})
	} else {
		ctx, probs = AttentionWithBias(q, k, v, bias, mask, heads, Dropout{})
	}
	Q, K, V, C := Values(q), Values(k), Values(v), Values(ctx)
	for b := 0; b < B; b++ {
		for h := 0; h < heads; h++ {
			for i := 0; i < S; i++ {
				scores := make([]float64, S)
				m := math.Inf(-1)
				for j := 0; j < S; j++ {
					var s float64
					for c := 0; c < hd; c++ {
						s += float64(Q[(b*S+i)*H+h*hd+c]) * float64(K[(b*S+j)*H+h*hd+c])
					}
					s /= math.Sqrt(float64(hd))
					if bias != nil {
						s += float64(Values(bias)[((b*S+i)*S+j)*heads+h])
					}
					if mask.Add[b*S+j] != 0 {
						s = math.Inf(-1)
					}
					scores[j] = s
					m = max(m, s)
				}
				var z float64
				for j := range scores {
					scores[j] = math.Exp(scores[j] - m)
					z += scores[j]
				}
				for j := range scores {
					p := scores[j] / z
					if got := float64(probs[((b*heads+h)*S+i)*S+j]); math.Abs(got-p) > 1e-6 {
						t.Fatalf("P[%d,%d,%d,%d] = %g, want %g", b, h, i, j, got, p)
					}
				}
				for c := 0; c < hd; c++ {
					var want float64
					for j := 0; j < S; j++ {
						want += scores[j] / z * float64(V[(b*S+j)*H+h*hd+c])
					}
					if got := float64(C[(b*S+i)*H+h*hd+c]); math.Abs(got-want) > 1e-5 {
						t.Fatalf("ctx[%d,%d,%d] = %g, want %g", b, i, h*hd+c, got, want)
					}
				}
			}
		}
	}
}

func TestGradLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	x, res := leaf(r, 4, 7, 1), leaf(r, 4, 7, 1)
	g, b := leaf(r, 7, 1, 1), leaf(r, 7, 1, 1)
	gradCheck(t, []*Matrix{x, g, b}, func() mat.Tensor { return LayerNorm(x, nil, g, b, 1e-12, Dropout{}) })
	gradCheck(t, []*Matrix{x, res, g, b}, func() mat.Tensor { return LayerNorm(x, res, g, b, 1e-5, Dropout{P: 0.25, Seed: 3}) })
}

func TestGradActivations(t *testing.T) {
	for _, act := range []Activation{GELU, GELUTanh, ReLU, LeakyReLU, SiLU, Tanh} {
		t.Run(string(act), func(t *testing.T) {
			r := rand.New(rand.NewPCG(10, 11))
			x := leaf(r, 5, 6, 2)
			if act == ReLU || act == LeakyReLU { // keep away from the kink for finite differences
				for i, v := range Values(x) {
					if math.Abs(float64(v)) < 0.05 {
						Values(x)[i] = 0.5
					}
				}
			}
			gradCheck(t, []*Matrix{x}, func() mat.Tensor { return Activate(x, act) })
		})
	}
}

func TestGradEmbeddings(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	word, pos := leaf(r, 6, 4, 1), leaf(r, 5, 4, 1)
	ids := []int{0, 3, 3, 5, 0, 1}
	posIDs := []int{0, 1, 2, 3, 4, 0}
	build := func() mat.Tensor {
		e, err := Embeddings(Lookup{Table: word, IDs: ids, Pad: 0}, Lookup{Table: pos, IDs: posIDs, Pad: -1})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	out := build()
	out.AccGrad(NewMatrix(6, 4, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}))
	if err := ag.Backward(out); err != nil {
		t.Fatal(err)
	}
	gw := word.Grad().Value().Data().F32()
	for c := 0; c < 4; c++ {
		if gw[c] != 0 { // the padding row gets no gradient
			t.Fatalf("padding row gradient %v", gw[:4])
		}
		if gw[3*4+c] != 2 || gw[5*4+c] != 1 || gw[2*4+c] != 0 {
			t.Fatalf("scatter-add wrong: %v", gw)
		}
	}
	word.ZeroGrad()
	pos.ZeroGrad()
	if _, err := Embeddings(Lookup{Table: word, IDs: []int{6}, Pad: -1}); err == nil {
		t.Fatal("out-of-range id accepted")
	}
}

func TestGradCrossEntropy(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 15))
	x := leaf(r, 5, 4, 2)
	labels := []int{0, 3, -100, 2, 1}
	gradCheck(t, []*Matrix{x}, func() mat.Tensor {
		l, err := CrossEntropy(x, labels, -100)
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
	// Hand-computed: uniform logits over 4 classes give log 4.
	u := NewMatrix(2, 4, make([]float32, 8))
	l, err := CrossEntropy(u, []int{1, -100}, -100)
	if err != nil || math.Abs(float64(Values(l)[0])-math.Log(4)) > 1e-6 {
		t.Fatalf("loss %v (%v), want log 4", Values(l), err)
	}
	if _, err := CrossEntropy(u, []int{4, 0}, -100); err == nil {
		t.Fatal("label out of range accepted")
	}
}

func TestGradRowsAndSums(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 17))
	x, y := leaf(r, 4, 3, 1), leaf(r, 4, 3, 1)
	gradCheck(t, []*Matrix{x}, func() mat.Tensor { return GatherRows(x, []int{0, 2, 0}) })
	gradCheck(t, []*Matrix{x, y}, func() mat.Tensor { return WeightedSum([]mat.Tensor{x, y}, []float32{0.5, 2}) })
	gradCheck(t, []*Matrix{x}, func() mat.Tensor { return DropoutOp(x, Dropout{P: 0.5, Seed: 1}) })
}

func TestDropoutStatistics(t *testing.T) {
	x := make([]float32, 1<<16)
	for i := range x {
		x[i] = 1
	}
	for _, p := range []float32{0.1, 0.5} {
		y := make([]float32, len(x))
		applyDropout(Dropout{P: p, Seed: 42}, x, y, 0)
		zeros := 0
		for _, v := range y {
			if v == 0 {
				zeros++
			} else if math.Abs(float64(v)-1/(1-float64(p))) > 1e-6 {
				t.Fatalf("kept value %g", v)
			}
		}
		if frac := float64(zeros) / float64(len(y)); math.Abs(frac-float64(p)) > 0.01 {
			t.Errorf("p=%g dropped %.3f", p, frac)
		}
		// The mask does not depend on how the work is split.
		old := Threads()
		SetThreads(1)
		y1 := make([]float32, len(x))
		applyDropout(Dropout{P: p, Seed: 42}, x, y1, 0)
		SetThreads(old)
		for i := range y {
			if y[i] != y1[i] {
				t.Fatalf("element %d differs between thread counts", i)
			}
		}
	}
}

// TestBackwardAgreesWithSpago checks that the sequential Backward gives
// spago's ag.Backward gradients, and that it is deterministic: a gradient
// summed from four consumers comes out bit for bit the same every time.
func TestBackwardAgreesWithSpago(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 21))
	x, w1, w2, w3 := leaf(r, 8, 6, 1), leaf(r, 5, 6, 1), leaf(r, 5, 6, 1), leaf(r, 5, 6, 1)
	g, b := leaf(r, 6, 1, 1), leaf(r, 6, 1, 1)
	loss := func() mat.Tensor {
		h := LayerNorm(x, x, g, b, 1e-5, Dropout{})
		outs := []mat.Tensor{Linear(h, w1, nil), Linear(h, w2, nil), Linear(h, w3, nil)}
		labels := []int{0, 1, 2, 3, 4, 0, 1, 2}
		var ls []mat.Tensor
		for _, o := range outs {
			l, err := CrossEntropy(o, labels, -100)
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, l)
		}
		return WeightedSum(ls, []float32{1, 0.5, 2})
	}
	grads := func(backward func(mat.Tensor) error) []float32 {
		x.ZeroGrad()
		for _, p := range []*Matrix{w1, w2, w3, g, b} {
			p.ZeroGrad()
		}
		if err := backward(loss()); err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), Values(x.Grad())...)
	}
	want := grads(func(l mat.Tensor) error { return ag.Backward(l) })
	first := grads(Backward)
	closeTo(t, "dx", first, want, 1e-6, 1e-5)
	for i := 0; i < 20; i++ {
		again := grads(Backward)
		for j := range again {
			if again[j] != first[j] {
				t.Fatalf("run %d: dx[%d] = %x, first run %x", i, j, again[j], first[j])
			}
		}
	}
}
