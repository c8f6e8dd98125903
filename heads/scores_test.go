package heads

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/kernels"
)

// TestDecodeChecksShapes checks that the decoders refuse scores of the
// wrong size with an error instead of indexing past them.
func TestDecodeChecksShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	tagger := NewTagger(4, []string{"A", "B"}, false, rng)
	if _, err := tagger.Decode(make([]float32, 5), []int{2}); err == nil || !strings.Contains(err.Error(), "5 logits for 2 words of 2 labels") {
		t.Errorf("tagger: %v", err)
	}
	if _, err := tagger.Decode(nil, []int{-1}); err == nil {
		t.Error("tagger: a negative sentence length passed")
	}
	if got, err := tagger.Decode([]float32{0, 1, 2, 1}, []int{2}); err != nil || got[0] != 1 || got[1] != 0 {
		t.Errorf("tagger: %v, %v", got, err)
	}
	p, err := NewParser(4, 3, 2, []string{"nsubj", "root"}, "mst", rng)
	if err != nil {
		t.Fatal(err)
	}
	s := Sentences{B: 1, W: 3, Lengths: []int{3}}
	if _, err := p.DecodeHeads(make([]float32, 8), s); err == nil || !strings.Contains(err.Error(), "8 arc scores") {
		t.Errorf("parser arcs: %v", err)
	}
	if _, err := p.DecodeHeads(make([]float32, 9), Sentences{B: 1, W: 3, Lengths: []int{4}}); err == nil || !strings.Contains(err.Error(), "length 4 outside [1, 3]") {
		t.Errorf("parser lengths: %v", err)
	}
	// Word 1 prefers ROOT, word 2 prefers word 1.
	arc := []float32{0, 0, 0, 5, -1e9, 0, 0, 5, -1e9}
	heads, err := p.DecodeHeads(arc, s)
	if err != nil || heads[0][1] != 0 || heads[0][2] != 1 {
		t.Fatalf("parser heads: %v, %v", heads, err)
	}
	if _, err := p.DecodeLabels(heads, make([]float32, 3)); err == nil || !strings.Contains(err.Error(), "3 label scores for 2 arcs of 2 labels") {
		t.Errorf("parser labels: %v", err)
	}
	labels, err := p.DecodeLabels(heads, []float32{9, 0, 0, 9})
	if err != nil || labels[0][1] != 1 || labels[0][2] != 0 {
		t.Errorf("parser labels: %v, %v (want root for the word on ROOT, nsubj for the other)", labels, err)
	}
}

// TestAllLabelScoresMatchPairwise checks the all-pairs label scores against
// kernels.Bilinear on every pair gathered explicitly.
func TestAllLabelScoresMatchPairwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p, err := NewParser(6, 5, 4, []string{"a", "b", "root"}, "mst", rng)
	if err != nil {
		t.Fatal(err)
	}
	uv := kernels.Values(p.RelU) // random, not the zero it starts at
	for i := range uv {
		uv[i] = float32(rng.NormFloat64())
	}
	const B, W = 2, 3
	words := kernels.NewMatrix(B*W, 6, make([]float32, B*W*6))
	for i := range kernels.Values(words) {
		kernels.Values(words)[i] = float32(rng.NormFloat64())
	}
	label := p.Forward(words, Sentences{B: B, W: W, Lengths: []int{3, 2}}, NoDropout).AllLabels()
	var deps, govs []int
	for b := 0; b < B; b++ {
		for i := 0; i < W; i++ {
			for j := 0; j < W; j++ {
				deps, govs = append(deps, b*W+i), append(govs, b*W+j)
			}
		}
	}
	rd, rh := mlp(p.RelDep, words, NoDropout), mlp(p.RelHead, words, NoDropout)
	want := kernels.Values(kernels.Bilinear(kernels.GatherRows(rd, deps), kernels.GatherRows(rh, govs), p.RelU, len(p.Labels)))
	got := kernels.Values(label)
	if len(got) != len(want) {
		t.Fatalf("%d scores, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Fatalf("score %d: %v, want %v", i, got[i], want[i])
		}
	}
}
