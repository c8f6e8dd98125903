package heads

import (
	"math/rand/v2"
	"strings"
	"testing"
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
