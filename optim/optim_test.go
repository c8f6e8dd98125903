package optim

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

func param(v ...float32) *nn.Param {
	return nn.NewParam(mat.NewDense[float32](mat.WithShape(len(v), 1), mat.WithBacking(v)))
}

func TestNoDecay(t *testing.T) {
	for name, want := range map[string]bool{
		"encoder.layer.0.attention.self.query.bias":         true,
		"encoder.layer.0.attention.output.LayerNorm.weight": true,
		"embeddings.LayerNorm.bias":                         true,
		"encoder.layer.0.attention.self.query.weight":       false,
		"embeddings.word_embeddings.weight":                 false,
	} {
		if NoDecay(name) != want {
			t.Errorf("NoDecay(%q) = %v", name, !want)
		}
	}
}

// TestAdamWHandComputed checks two steps against the formulas of
// torch.optim.AdamW, computed here in float64.
func TestAdamWHandComputed(t *testing.T) {
	w, b, frozen := param(1, -2), param(0.5), param(3)
	ps := []encoder.NamedParam{{Name: "x.weight", Param: w}, {Name: "x.bias", Param: b}, {Name: "y.weight", Param: frozen}}
	o := NewAdamW(ps, 0.1, 0.01)
	grads := [][]float32{{0.5, -1}, {2}}
	wantW := []float64{1, -2}
	wantB := 0.5
	mw, vw := []float64{0, 0}, []float64{0, 0}
	mb, vb := 0.0, 0.0
	for step := 1; step <= 2; step++ {
		w.AccGrad(mat.NewDense[float32](mat.WithShape(2, 1), mat.WithBacking(append([]float32(nil), grads[0]...))))
		b.AccGrad(mat.NewDense[float32](mat.WithShape(1, 1), mat.WithBacking(append([]float32(nil), grads[1]...))))
		o.Step()
		o.ZeroGrad()
		bc1, bc2 := 1-math.Pow(0.9, float64(step)), 1-math.Pow(0.999, float64(step))
		for i := range wantW {
			g := float64(grads[0][i])
			wantW[i] *= 1 - 0.1*0.01
			mw[i] = 0.9*mw[i] + 0.1*g
			vw[i] = 0.999*vw[i] + 0.001*g*g
			wantW[i] -= 0.1 / bc1 * mw[i] / (math.Sqrt(vw[i])/math.Sqrt(bc2) + 1e-8)
		}
		g := float64(grads[1][0])
		mb = 0.9*mb + 0.1*g
		vb = 0.999*vb + 0.001*g*g
		wantB -= 0.1 / bc1 * mb / (math.Sqrt(vb)/math.Sqrt(bc2) + 1e-8) // no decay for a bias
	}
	for i, v := range kernels.Values(w) {
		if math.Abs(float64(v)-wantW[i]) > 1e-6 {
			t.Errorf("w[%d] = %.7f, want %.7f", i, v, wantW[i])
		}
	}
	if v := kernels.Values(b)[0]; math.Abs(float64(v)-wantB) > 1e-6 {
		t.Errorf("b = %.7f, want %.7f", v, wantB)
	}
	if v := kernels.Values(frozen)[0]; v != 3 {
		t.Errorf("a parameter without gradient changed to %g", v)
	}
}

func TestClipGradNorm(t *testing.T) {
	p := param(0, 0)
	p.AccGrad(mat.NewDense[float32](mat.WithShape(2, 1), mat.WithBacking([]float32{3, 4})))
	ps := []encoder.NamedParam{{Name: "p", Param: p}}
	if n := ClipGradNorm(ps, 10); math.Abs(n-5) > 1e-9 {
		t.Fatalf("norm %g, want 5", n)
	}
	if g := kernels.Values(p.Grad()); g[0] != 3 {
		t.Fatalf("clipped below the limit: %v", g)
	}
	ClipGradNorm(ps, 1)
	if g := kernels.Values(p.Grad()); math.Abs(float64(g[0])-0.6) > 1e-6 || math.Abs(float64(g[1])-0.8) > 1e-6 {
		t.Fatalf("clipped gradient %v, want [0.6 0.8]", g)
	}
}

func TestLinearSchedule(t *testing.T) {
	s := LinearSchedule{Peak: 1, Warmup: 10, Total: 110}
	for step, want := range map[int]float64{0: 0, 5: 0.5, 10: 1, 60: 0.5, 110: 0, 200: 0} {
		if got := s.At(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("At(%d) = %g, want %g", step, got, want)
		}
	}
}
