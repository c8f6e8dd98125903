package encoder_test

import (
	"math"
	"testing"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

// Options.Scores returns the listed layers' attention scores, whose masked
// softmax is the layer's attention probabilities, and changes nothing else.
func TestAttentionScoresOption(t *testing.T) {
	m := microModel(t, 3)
	b := &encoder.Batch{Size: 2, Seq: 4, InputIDs: []int{2, 10, 11, 3, 2, 20, 3, 0},
		AttentionMask: []int64{1, 1, 1, 1, 1, 1, 1, 0}}
	plain, err := m.Forward(b, encoder.Options{Attentions: true})
	if err != nil {
		t.Fatal(err)
	}
	withScores, err := m.Forward(b, encoder.Options{Scores: []int{1, 3}})
	if err != nil {
		t.Fatal(err)
	}
	for l := range plain.HiddenStates {
		equalValues(t, "hidden state", kernels.Values(plain.HiddenStates[l]), kernels.Values(withScores.HiddenStates[l]), 0)
	}
	if plain.Scores != nil || len(withScores.Scores) != 3 || withScores.Scores[1] != nil {
		t.Fatalf("scores of layers %v; want those of layers 1 and 3 only", withScores.Scores)
	}
	heads, S := m.Config.NumAttentionHeads, b.Seq
	for _, layer := range []int{1, 3} {
		scores := kernels.Values(withScores.Scores[layer-1])
		probs := plain.Attentions[layer-1]
		if len(scores) != len(probs) {
			t.Fatalf("layer %d: %d scores, %d probabilities", layer, len(scores), len(probs))
		}
		for row := 0; row < b.Size*heads*S; row++ {
			seq := row / (heads * S)
			var z float64
			for j := 0; j < S; j++ {
				if b.AttentionMask[seq*S+j] == 1 {
					z += math.Exp(float64(scores[row*S+j]))
				}
			}
			for j := 0; j < S; j++ {
				p := 0.0
				if b.AttentionMask[seq*S+j] == 1 {
					p = math.Exp(float64(scores[row*S+j])) / z
				}
				if d := math.Abs(p - float64(probs[row*S+j])); d > 1e-5 {
					t.Fatalf("layer %d row %d key %d: softmax of the scores %g, probability %g", layer, row, j, p, probs[row*S+j])
				}
			}
		}
	}
}
