package pairs_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hiertune/hiertune/checkpoints"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/pairs"
)

const cls, sep = 101, 102

func tinyModel(t *testing.T) *encoder.Model {
	t.Helper()
	dir, err := checkpoints.Dir("tiny-random")
	if err != nil {
		t.Fatal(err)
	}
	ck, err := loader.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func module(t *testing.T, m *encoder.Model, cfg pairs.Config) *pairs.Module {
	t.Helper()
	cfg.Defaults()
	if err := cfg.Check(len(m.Layers)); err != nil {
		t.Fatal(err)
	}
	c := m.Config
	return pairs.New(&cfg, c.HiddenSize, c.NumAttentionHeads, c.NumHiddenLayers, rand.New(rand.NewPCG(1, 2)))
}

func forward(t *testing.T, m *encoder.Model, p *pairs.Module, b *encoder.Batch, noPositions bool) [][]float32 {
	t.Helper()
	opt := encoder.Options{NoPositions: noPositions}
	if p != nil {
		st, err := p.Start(b, sep)
		if err != nil {
			t.Fatal(err)
		}
		opt.Pairs = st
	}
	res, err := m.Forward(b, opt)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for _, h := range res.HiddenStates {
		out = append(out, slices.Clone(kernels.Values(h)))
	}
	return out
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestStartsAsThePretrainedModel: with the biases at zero, as New makes
// them, every hidden state equals the encoder's without pair states, with
// the product and triangle updates running.
func TestStartsAsThePretrainedModel(t *testing.T) {
	m := tinyModel(t)
	p := module(t, m, pairs.Config{Dim: 8, Triangle: true, Parser: true})
	b := &encoder.Batch{Size: 2, Seq: 7, InputIDs: []int{cls, 7592, 2088, sep, 2023, 2003, sep, cls, 2023, 2003, 1037, sep, 0, 0},
		AttentionMask: []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}}
	want, got := forward(t, m, nil, b, false), forward(t, m, p, b, false)
	for n := range want {
		if d := maxDiff(got[n], want[n]); d > 1e-5 {
			t.Errorf("hidden state %d: max |Δ| %g from the encoder without pair states", n, d)
		}
	}
}

// TestSentenceOrderDoesNotMatter is the claim behind pair states without
// absolute positions: the tokens of "A B" and "B A" get the same outputs
// (the pair states being trained, here drawn at random), while the encoder
// with positions gives them different ones.
func TestSentenceOrderDoesNotMatter(t *testing.T) {
	m := tinyModel(t)
	p := module(t, m, pairs.Config{Dim: 8, Triangle: true, NoPositions: true})
	rng := rand.New(rand.NewPCG(3, 4))
	for _, np := range p.NamedParams() {
		v := kernels.Values(np.Param)
		for i := range v {
			v[i] = float32(0.5 * rng.NormFloat64())
		}
	}
	a, bb := []int{7592, 2088, 2003}, []int{2023, 2003, 1037, 3231}
	ab := append(append(append(append([]int{cls}, a...), sep), bb...), sep)
	ba := append(append(append(append([]int{cls}, bb...), sep), a...), sep)
	// Position k of "A B" is position perm[k] of "B A".
	perm := []int{0}
	for k := range len(a) + 1 {
		perm = append(perm, 1+len(bb)+1+k)
	}
	for k := range len(bb) + 1 {
		perm = append(perm, 1+k)
	}
	n := len(ab)
	batch := func(ids []int) *encoder.Batch { return &encoder.Batch{Size: 1, Seq: n, InputIDs: ids} }
	worst := func(x, y [][]float32) float64 {
		H := len(x[0]) / n
		d := 0.0
		top := len(x) - 1
		for k := range n {
			d = max(d, maxDiff(x[top][k*H:(k+1)*H], y[top][perm[k]*H:(perm[k]+1)*H]))
		}
		return d
	}
	if d := worst(forward(t, m, p, batch(ab), true), forward(t, m, p, batch(ba), true)); d > 1e-5 {
		t.Errorf("without positions: max |Δ| %g between a token's outputs in A B and B A", d)
	}
	if d := worst(forward(t, m, nil, batch(ab), false), forward(t, m, nil, batch(ba), false)); d < 1e-2 {
		t.Errorf("with positions: max |Δ| only %g between A B and B A", d)
	}
}

func TestRelations(t *testing.T) {
	c := pairs.Config{Dim: 1, MaxDistance: 2}
	c.Defaults()
	// [CLS] a b [SEP] c [SEP] pad
	rel := c.Relations(1, 7, []int{cls, 5, 6, sep, 7, sep, 0}, []int64{1, 1, 1, 1, 1, 1, 0}, sep)
	at := func(i, j int) int { return rel[i*7+j] }
	const other, fromCLS, toCLS = 5, 6, 7
	for _, c := range []struct{ i, j, want int }{
		{0, 0, 2}, {0, 3, fromCLS}, {4, 0, toCLS}, {1, 2, 3}, {2, 1, 1}, {1, 3, 4}, {1, 4, other}, {4, 5, 3}, {5, 2, other}, {1, 6, 0},
	} {
		if got := at(c.i, c.j); got != c.want {
			t.Errorf("relation (%d, %d) = %d, want %d", c.i, c.j, got, c.want)
		}
	}
}

func TestConfigErrorsAndTriangleLimit(t *testing.T) {
	for _, c := range []pairs.Config{{Dim: 0}, {Dim: 4, From: 9}, {Dim: 4, Update: "sum"}, {Dim: 4, MaxDistance: -1}} {
		c.Defaults()
		if err := c.Check(2); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	m := tinyModel(t)
	p := module(t, m, pairs.Config{Dim: 4, Triangle: true, TriangleMaxLength: 4})
	if _, err := p.Start(&encoder.Batch{Size: 1, Seq: 5, InputIDs: []int{cls, 1, 2, 3, sep}}, sep); err == nil {
		t.Error("a triangle update over 5 pieces with a limit of 4 was not refused")
	}
}
