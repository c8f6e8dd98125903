package kernels

import (
	"math/rand/v2"
	"testing"
)

func TestArenaReusesOneBlock(t *testing.T) {
	a := NewArena()
	x := a.get(10)
	y := a.get(3)
	if &y[0] == &x[0] || cap(x) != 10 {
		t.Fatal("overlapping or uncapped buffers")
	}
	big := a.get(3 * minBlock) // more than the first block: a second one
	big[len(big)-1] = 1
	a.Reset()
	if len(a.blocks) != 1 || len(a.blocks[0]) < 3*minBlock+32 {
		t.Fatalf("after Reset: %d blocks, first of %d", len(a.blocks), len(a.blocks[0]))
	}
	held := a.Bytes()
	for step := 0; step < 3; step++ {
		a.get(10)
		a.get(3)
		a.get(3 * minBlock)
		a.Reset()
	}
	if a.Bytes() != held {
		t.Errorf("steady steps changed the arena from %d to %d bytes", held, a.Bytes())
	}
}

// TestArenaGivesTheSameResults runs a small forward and backward pass three
// times, twice with an arena (reset in between, so the second run reuses
// dirty buffers), and checks results and the arena's reuse. The arena's
// buffers are aligned differently from the heap's, which can change how
// vectorised sums are split, so the first comparison allows rounding; two
// runs in the arena must agree exactly.
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
	heapLoss, heapGrads := step()
	a := NewArena()
	UseArena(a)
	defer UseArena(nil)
	want, wantGrads := step()
	closeTo(t, "loss", []float32{want}, []float32{heapLoss}, 1e-6, 1e-6)
	for i := range wantGrads {
		closeTo(t, "grad", wantGrads[i], heapGrads[i], 1e-6, 1e-5)
	}
	a.Reset()
	loss, grads := step()
	if loss != want {
		t.Fatalf("second run in the arena: loss %g, want %g", loss, want)
	}
	for i := range grads {
		closeTo(t, "grad", grads[i], wantGrads[i], 0, 0)
	}
	before := a.Bytes()
	a.Reset()
	step()
	if a.Bytes() != before {
		t.Errorf("a repeated step grew the arena from %d to %d bytes", before, a.Bytes())
	}
}
