package kernels

import (
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

// The benchmarks time one forward and backward pass of the main operators
// at bert-mini's shapes (batch 16 × seq 128, hidden 256, 4 heads, FFN 1024).
const benchRows, benchHidden, benchFFN, benchHeads, benchSeq = 16 * 128, 256, 1024, 4, 128

func benchStep(b *testing.B, inputs []*Matrix, forward func() mat.Tensor) {
	r := rand.New(rand.NewPCG(1, 1))
	out := forward()
	g := randSlice(r, len(Values(out)), 1)
	rows, cols := Dims(out)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := forward()
		out.AccGrad(NewMatrix(rows, cols, append([]float32(nil), g...)))
		if err := Backward(out); err != nil {
			b.Fatal(err)
		}
		for _, in := range inputs {
			in.ZeroGrad()
		}
	}
}

func BenchmarkLinearFFN(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	x, w, bias := leaf(r, benchRows, benchHidden, 1), leaf(r, benchFFN, benchHidden, 0.02), leaf(r, benchFFN, 1, 0.02)
	benchStep(b, []*Matrix{x, w, bias}, func() mat.Tensor { return Linear(x, w, bias) })
	b.ReportMetric(float64(6*benchRows*benchHidden*benchFFN)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkAttention(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	q, k, v := leaf(r, benchRows, benchHidden, 1), leaf(r, benchRows, benchHidden, 1), leaf(r, benchRows, benchHidden, 1)
	attend := make([]int64, benchRows)
	for i := range attend {
		attend[i] = 1
	}
	mask := NewMask(benchRows/benchSeq, benchSeq, attend)
	benchStep(b, []*Matrix{q, k, v}, func() mat.Tensor {
		ctx, _ := Attention(q, k, v, mask, benchHeads, Dropout{P: 0.1, Seed: 1})
		return ctx
	})
}

func BenchmarkLayerNormResidualDropout(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	x, res := leaf(r, benchRows, benchHidden, 1), leaf(r, benchRows, benchHidden, 1)
	g, beta := leaf(r, benchHidden, 1, 1), leaf(r, benchHidden, 1, 1)
	benchStep(b, []*Matrix{x, res, g, beta}, func() mat.Tensor { return LayerNorm(x, res, g, beta, 1e-12, Dropout{P: 0.1, Seed: 2}) })
}

func BenchmarkGELU(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	x := leaf(r, benchRows, benchFFN, 1)
	benchStep(b, []*Matrix{x}, func() mat.Tensor { return Activate(x, GELU) })
}
