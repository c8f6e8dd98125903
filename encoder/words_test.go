package encoder_test

import (
	"math/rand/v2"
	"testing"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

func microModel(t *testing.T, layers int) *encoder.Model {
	t.Helper()
	cfg, _ := encoder.Preset("micro")
	cfg.NumHiddenLayers = layers
	m, err := encoder.New(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(rand.New(rand.NewPCG(1, 2)))
	return m
}

func equalValues(t *testing.T, what string, a, b []float32, tol float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d and %d values", what, len(a), len(b))
	}
	for i := range a {
		if d := float64(a[i] - b[i]); d > tol || d < -tol {
			t.Fatalf("%s[%d]: %g and %g", what, i, a[i], b[i])
		}
	}
}

// With one piece per word, pooling before the first layer is the identity:
// the word batch is the piece batch.
func TestWordPoolingOfSinglePiecesChangesNothing(t *testing.T) {
	m := microModel(t, 2)
	b := &encoder.Batch{Size: 2, Seq: 5, InputIDs: []int{2, 10, 11, 12, 3, 2, 20, 3, 0, 0},
		AttentionMask: []int64{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}}
	plain, err := m.Forward(b, encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &encoder.WordPooling{After: 0, Mode: kernels.PoolMean, Size: 2, Seq: 5}
	for p := 0; p < 10; p++ {
		end := p + 1
		if b.AttentionMask[p] == 0 {
			end = p
		}
		w.Starts, w.Ends = append(w.Starts, p), append(w.Ends, end)
	}
	pooled, err := m.Forward(b, encoder.Options{Words: w})
	if err != nil {
		t.Fatal(err)
	}
	for l := range plain.HiddenStates {
		pv, wv := kernels.Values(plain.HiddenStates[l]), kernels.Values(pooled.HiddenStates[l])
		for p := 0; p < 10; p++ { // padding rows differ (their positions), real rows must not
			if b.AttentionMask[p] == 1 {
				equalValues(t, "hidden state", pv[p*32:(p+1)*32], wv[p*32:(p+1)*32], 1e-6)
			}
		}
	}
}

// Pooling after layer 2: states 0..2 are the piece-level ones; layer 3 runs
// on the mean of each word's pieces.
func TestWordPoolingAfterALayer(t *testing.T) {
	m := microModel(t, 3)
	// One sequence: [CLS] a ##b c ##d ##e [SEP] → 3 units + 2 specials.
	b := &encoder.Batch{Size: 1, Seq: 7, InputIDs: []int{2, 10, 11, 12, 13, 14, 3}}
	w := &encoder.WordPooling{After: 2, Mode: kernels.PoolMean, Size: 1, Seq: 5,
		Starts: []int{0, 1, 3, 6, 0}, Ends: []int{1, 3, 6, 7, 0}}
	w.Starts[4], w.Ends[4] = 0, 0 // padding
	pooled, err := m.Forward(b, encoder.Options{Words: w})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := m.Forward(b, encoder.Options{Depth: 2})
	for l := 0; l <= 2; l++ {
		equalValues(t, "piece-level state", kernels.Values(plain.HiddenStates[l]), kernels.Values(pooled.HiddenStates[l]), 0)
	}
	h2 := kernels.Values(plain.HiddenStates[2])
	mean := make([]float32, 5*32)
	for p := 0; p < 4; p++ {
		n := float32(w.Ends[p] - w.Starts[p])
		for r := w.Starts[p]; r < w.Ends[p]; r++ {
			for c := 0; c < 32; c++ {
				mean[p*32+c] += h2[r*32+c] / n
			}
		}
	}
	mean4 := append([]float32(nil), h2[:32]...) // the padding position pools row 0
	copy(mean[4*32:], mean4)
	x := kernels.NewMatrix(5, 32, mean)
	want, _, _ := m.Layers[2].Forward(x, kernels.NewMask(1, 5, []int64{1, 1, 1, 1, 0}), nil, false)
	got := kernels.Values(pooled.HiddenStates[3])
	equalValues(t, "word-level layer 3", got[:4*32], kernels.Values(want)[:4*32], 1e-5)
}

// Attention pooling with a zero scorer is the mean; a scorer that favours
// some pieces moves the pooled words, and no scorer is an error.
func TestAttentionWordPooling(t *testing.T) {
	m := microModel(t, 2)
	b := &encoder.Batch{Size: 1, Seq: 7, InputIDs: []int{2, 10, 11, 12, 13, 14, 3}}
	w := &encoder.WordPooling{After: 1, Mode: kernels.PoolMean, Size: 1, Seq: 5,
		Starts: []int{0, 1, 3, 6, 0}, Ends: []int{1, 3, 6, 7, 0}}
	mean, err := m.Forward(b, encoder.Options{Words: w})
	if err != nil {
		t.Fatal(err)
	}
	w.Mode = encoder.PoolAttention
	if _, err := m.Forward(b, encoder.Options{Words: w}); err == nil {
		t.Fatal("attention pooling without a scorer")
	}
	w.Score = encoder.NewLinear(32, 1)
	att, err := m.Forward(b, encoder.Options{Words: w})
	if err != nil {
		t.Fatal(err)
	}
	equalValues(t, "zero-scored attention pool", kernels.Values(att.HiddenStates[2])[:4*32], kernels.Values(mean.HiddenStates[2])[:4*32], 1e-6)
	encoder.InitNormal(w.Score.Weight, 1, rand.New(rand.NewPCG(3, 4)))
	moved, err := m.Forward(b, encoder.Options{Words: w})
	if err != nil {
		t.Fatal(err)
	}
	if a, z := kernels.Values(moved.HiddenStates[2]), kernels.Values(mean.HiddenStates[2]); a[32] == z[32] {
		t.Error("a non-zero scorer pools the mean")
	}
}
