package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

func TestGradAttentionScores(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const B, S, H, heads = 2, 4, 6, 3
	q, k := leaf(r, B*S, H, 1), leaf(r, B*S, H, 1)
	gradCheck(t, []*Matrix{q, k}, func() mat.Tensor { return AttentionScores(q, k, B, S, heads) })
}

// TestAttentionScoresAreAttentionLogits checks the scores against a naive
// product and against Attention: softmax(scores + mask) is its
// probabilities.
func TestAttentionScoresAreAttentionLogits(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const B, S, H, heads = 2, 5, 8, 2
	hd := H / heads
	q, k, v := leaf(r, B*S, H, 1), leaf(r, B*S, H, 1), leaf(r, B*S, H, 1)
	mask := NewMask(B, S, []int64{1, 1, 1, 1, 1, 1, 1, 1, 0, 0})
	scores := AttentionScores(q, k, B, S, heads)
	if rows, cols := Dims(scores); rows != B*heads*S || cols != S {
		t.Fatalf("scores are %d×%d, want %d×%d", rows, cols, B*heads*S, S)
	}
	_, probs := Attention(q, k, v, mask, heads, Dropout{})
	Q, K, got := Values(q), Values(k), Values(scores)
	for b := 0; b < B; b++ {
		for h := 0; h < heads; h++ {
			for i := 0; i < S; i++ {
				row := got[((b*heads+h)*S+i)*S:][:S]
				var z float64
				for j := 0; j < S; j++ {
					var want float64
					for c := 0; c < hd; c++ {
						want += float64(Q[(b*S+i)*H+h*hd+c]) * float64(K[(b*S+j)*H+h*hd+c])
					}
					want /= math.Sqrt(float64(hd))
					if math.Abs(float64(row[j])-want) > 1e-5 {
						t.Fatalf("score[%d,%d,%d,%d] = %g, want %g", b, h, i, j, row[j], want)
					}
					if mask.Add[b*S+j] == 0 {
						z += math.Exp(want)
					}
				}
				for j := 0; j < S; j++ {
					p := 0.0
					if mask.Add[b*S+j] == 0 {
						p = math.Exp(float64(row[j])) / z
					}
					if d := math.Abs(p - float64(probs[((b*heads+h)*S+i)*S+j])); d > 1e-5 {
						t.Fatalf("softmax of the scores differs from Attention's probabilities by %g", d)
					}
				}
			}
		}
	}
}
