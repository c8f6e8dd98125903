package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

func TestGradSegmentPools(t *testing.T) {
	r := rand.New(rand.NewPCG(40, 41))
	x := leaf(r, 9, 4, 1)
	starts, ends := []int{0, 1, 4, 5}, []int{1, 4, 5, 9}
	for _, mode := range []PoolMode{PoolFirst, PoolLast, PoolMean, PoolSum} {
		t.Run(string(mode), func(t *testing.T) {
			gradCheck(t, []*Matrix{x}, func() mat.Tensor { return SegmentPool(x, starts, ends, mode) })
		})
	}
	s := leaf(r, 9, 1, 1)
	gradCheck(t, []*Matrix{x, s}, func() mat.Tensor { return SegmentAttentionPool(x, s, starts, ends) })
	// Mean pooling of [1,2,3] rows is their average.
	m := NewMatrix(3, 1, []float32{1, 2, 3})
	if v := Values(SegmentPool(m, []int{0}, []int{3}, PoolMean))[0]; v != 2 {
		t.Errorf("mean of 1,2,3 = %g", v)
	}
}

func TestArcScores(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 43))
	const B, W, d = 2, 4, 3
	dep, head, u := leaf(r, B*W, d, 1), leaf(r, B*W, d, 1), leaf(r, d+1, d, 1)
	lengths := []int{4, 3}
	s := Values(ArcScores(dep, head, u, B, W, lengths))
	D, Hd, U := Values(dep), Values(head), Values(u)
	for b := 0; b < B; b++ {
		for i := 0; i < W; i++ {
			for j := 0; j < W; j++ {
				got := s[(b*W+i)*W+j]
				if j >= lengths[b] || j == i {
					if got != Masked {
						t.Fatalf("S[%d,%d,%d] = %g, want masked", b, i, j, got)
					}
					continue
				}
				var want float64
				for a := 0; a <= d; a++ {
					xa := 1.0
					if a < d {
						xa = float64(D[(b*W+i)*d+a])
					}
					for c := 0; c < d; c++ {
						want += xa * float64(U[a*d+c]) * float64(Hd[(b*W+j)*d+c])
					}
				}
				if math.Abs(float64(got)-want) > 1e-5 {
					t.Fatalf("S[%d,%d,%d] = %g, want %g", b, i, j, got, want)
				}
			}
		}
	}
	gradCheck(t, []*Matrix{dep, head, u}, func() mat.Tensor {
		// Zero the masked entries so that the loss does not depend on them.
		return WeightedSum([]mat.Tensor{ArcScores(dep, head, u, B, W, lengths)}, []float32{1e-3})
	})
}

// TestBilinearAllPairs checks the all-pairs label scores against Bilinear
// on each (dependent, head) pair, sentence by sentence.
func TestBilinearAllPairs(t *testing.T) {
	r := rand.New(rand.NewPCG(46, 47))
	const B, W, dx, dy, L = 2, 3, 4, 5, 3
	x, y, u := leaf(r, B*W, dx, 1), leaf(r, B*W, dy, 1), leaf(r, dx+1, L*(dy+1), 1)
	got := Values(BilinearAllPairs(Values(x), Values(y), Values(u), B, W, L))
	if len(got) != B*W*W*L {
		t.Fatalf("%d scores, want %d", len(got), B*W*W*L)
	}
	X, Y := Values(x), Values(y)
	for b := 0; b < B; b++ {
		for i := 0; i < W; i++ {
			for j := 0; j < W; j++ {
				dep := NewMatrix(1, dx, X[(b*W+i)*dx:(b*W+i+1)*dx])
				head := NewMatrix(1, dy, Y[(b*W+j)*dy:(b*W+j+1)*dy])
				want := Values(Bilinear(dep, head, u, L))
				for l := 0; l < L; l++ {
					if v := got[((b*W+i)*W+j)*L+l]; math.Abs(float64(v-want[l])) > 1e-5 {
						t.Fatalf("pair (%d, %d, %d) label %d: %g, want %g", b, i, j, l, v, want[l])
					}
				}
			}
		}
	}
}

func TestGradBilinearAndBCE(t *testing.T) {
	r := rand.New(rand.NewPCG(44, 45))
	const n, dx, dy, L = 5, 3, 4, 2
	x, y, u := leaf(r, n, dx, 1), leaf(r, n, dy, 1), leaf(r, dx+1, L*(dy+1), 1)
	gradCheck(t, []*Matrix{x, y, u}, func() mat.Tensor { return Bilinear(x, y, u, L) })
	// One pair by hand: out = [x;1]ᵀ U_l [y;1].
	out := Values(Bilinear(x, y, u, L))
	X, Y, Uv := Values(x), Values(y), Values(u)
	var want float64
	for a := 0; a <= dx; a++ {
		xa := 1.0
		if a < dx {
			xa = float64(X[a])
		}
		for c := 0; c <= dy; c++ {
			yc := 1.0
			if c < dy {
				yc = float64(Y[c])
			}
			want += xa * float64(Uv[a*L*(dy+1)+1*(dy+1)+c]) * yc
		}
	}
	if math.Abs(float64(out[1])-want) > 1e-5 {
		t.Fatalf("out[0,1] = %g, want %g", out[1], want)
	}

	logits := leaf(r, 4, 3, 2)
	targets := []float32{1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1}
	keep := []bool{true, false, true, true}
	gradCheck(t, []*Matrix{logits}, func() mat.Tensor { return SigmoidBCE(logits, targets, keep) })
	// Zero logits: every term is log 2, and so is their mean.
	z := NewMatrix(4, 3, make([]float32, 12))
	if v := Values(SigmoidBCE(z, targets, keep))[0]; math.Abs(float64(v)-math.Ln2) > 1e-6 {
		t.Errorf("BCE at zero = %g, want ln 2", v)
	}
}

func TestGradLayerMixes(t *testing.T) {
	r := rand.New(rand.NewPCG(50, 51))
	a, b, c := leaf(r, 5, 4, 1), leaf(r, 5, 4, 1), leaf(r, 5, 3, 1)
	w, g := leaf(r, 2, 1, 1), leaf(r, 1, 1, 1)
	gradCheck(t, []*Matrix{a, b, w, g}, func() mat.Tensor { return ScalarMix([]mat.Tensor{a, b}, w, g) })
	q, bias := leaf(r, 4, 1, 1), leaf(r, 2, 1, 1)
	gradCheck(t, []*Matrix{a, b, q, bias}, func() mat.Tensor {
		out, _ := LayerAttention([]mat.Tensor{a, b}, q, bias)
		return out
	})
	gradCheck(t, []*Matrix{a, c}, func() mat.Tensor { return Concat([]mat.Tensor{a, c}) })
	gradCheck(t, []*Matrix{a, b, w}, func() mat.Tensor { return LinearMix([]mat.Tensor{a, b}, w) })
	gradCheck(t, []*Matrix{a, g}, func() mat.Tensor { return ScaleBy(a, g) })
	gradCheck(t, []*Matrix{a, b}, func() mat.Tensor { return Difference(a, b) })
	// Equal weights mix to the average; a very large bias selects a layer.
	half := NewMatrix(2, 1, []float32{0, 0})
	one := NewMatrix(1, 1, []float32{1})
	m := Values(ScalarMix([]mat.Tensor{a, b}, half, one))
	if math.Abs(float64(m[0]-(Values(a)[0]+Values(b)[0])/2)) > 1e-6 {
		t.Errorf("equal mix %g", m[0])
	}
	zero := NewMatrix(4, 1, make([]float32, 4))
	sel := NewMatrix(2, 1, []float32{0, 40})
	out, alpha := LayerAttention([]mat.Tensor{a, b}, zero, sel)
	if alpha[1] < 1-1e-9 || Values(out)[0] != Values(b)[0] {
		t.Errorf("a bias of 40 did not select the layer: α %v", alpha[:2])
	}
}
