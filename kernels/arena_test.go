package kernels

import (
	"math/rand/v2"
	"testing"
)

func TestRoundSize(t *testing.T) {
	for n, want := range map[int]int{1: 1, 16: 16, 17: 20, 20: 20, 21: 24, 32: 32, 33: 40, 1000: 1024, 1025: 1280} {
		if got := roundSize(n); got != want {
			t.Errorf("roundSize(%d) = %d, want %d", n, got, want)
		}
	}
	for n := 1; n < 100000; n += 37 {
		if c := roundSize(n); c < n || float64(c) > 1.25*float64(n)+1 {
			t.Fatalf("roundSize(%d) = %d", n, c)
		}
	}
}

// TestArenaGivesTheSameResults runs a small forward and backward pass three
// times, twice with an arena (reset in between, so the second run reuses
// dirty buffers), and checks results and the arena's reuse.
func TestArenaGivesTheSameResults(t *testing.T) {
	r := rand.New(rand.NewPCG(30, 31))
	x, w, b := leaf(r, 12, 8, 1), leaf(r, 8, 8, 1), leaf(r, 8, 1, 1)
	g, beta := leaf(r, 8, 1, 1), leaf(r, 8, 1, 1)
	attend := []int64{1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0}
	step := func() (loss float32, grads [][]float32) {
		mask := NewMask(2, 6, attend)
		h := Linear(x, w, b)
		ctx, _ := Attention(h, h, h, mask, 2, Dropout{P: 0.2, Seed: 5})
		y := Activate(LayerNorm(ctx, h, g, beta, 1e-5, Dropout{P: 0.1, Seed: 6}), GELU)
		l, err := CrossEntropy(y, []int{0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3}, -100)
		if err != nil {
			t.Fatal(err)
		}
		if err := Backward(l); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*Matrix{x, w, b, g, beta} {
			grads = append(grads, append([]float32(nil), Values(p.Grad())...))
			p.ZeroGrad()
		}
		return Values(l)[0], grads
	}
	want, wantGrads := step()
	a := NewArena()
	UseArena(a)
	defer UseArena(nil)
	for run := 0; run < 2; run++ {
		loss, grads := step()
		if loss != want {
			t.Fatalf("run %d: loss %g, want %g", run, loss, want)
		}
		for i := range grads {
			closeTo(t, "grad", grads[i], wantGrads[i], 0, 0)
		}
		if run == 0 {
			a.Reset()
		}
	}
	before := a.Bytes()
	a.Reset()
	step()
	if a.Bytes() != before {
		t.Errorf("a repeated step grew the arena from %d to %d bytes", before, a.Bytes())
	}
}
