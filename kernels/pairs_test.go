package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

func TestGradPairOps(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const B, S, d = 2, 4, 3
	a, c := leaf(r, B*S, d, 1), leaf(r, B*S, d, 1)
	gradCheck(t, []*Matrix{a, c}, func() mat.Tensor { return PairProduct(a, c, B, S) })
	keep := []bool{true, true, true, false, true, true, true, true}
	pa, pc := leaf(r, B*S*S, d, 1), leaf(r, B*S*S, d, 1)
	gradCheck(t, []*Matrix{pa, pc}, func() mat.Tensor { return TriangleProduct(pa, pc, B, S, keep) })
	gradCheck(t, []*Matrix{pa}, func() mat.Tensor { return Reshape(pa, B*S, S*d) })
	u := leaf(r, 1, d, 1)
	rows := []int{3, -1, 3, 0, 31, 7}
	gradCheck(t, []*Matrix{pa, u}, func() mat.Tensor { return PairLogits(pa, u, rows, 2, 3) })
}

// TestPairOpsByHand checks both products against their definitions.
func TestPairOpsByHand(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const B, S, d = 2, 3, 2
	a, c := leaf(r, B*S, d, 1), leaf(r, B*S, d, 1)
	u := Values(PairProduct(a, c, B, S))
	av, cv := Values(a), Values(c)
	for b := range B {
		for i := range S {
			for j := range S {
				for e := range d {
					want := av[(b*S+i)*d+e] * cv[(b*S+j)*d+e]
					if got := u[((b*S+i)*S+j)*d+e]; got != want {
						t.Fatalf("U[%d,%d,%d,%d] = %g, want %g", b, i, j, e, got, want)
					}
				}
			}
		}
	}
	keep := []bool{true, true, false, true, true, true}
	pa, pc := leaf(r, B*S*S, d, 1), leaf(r, B*S*S, d, 1)
	tv := Values(TriangleProduct(pa, pc, B, S, keep))
	pav, pcv := Values(pa), Values(pc)
	for b := range B {
		n := map[int]float64{0: 2, 1: 3}[b]
		for i := range S {
			for j := range S {
				for e := range d {
					var want float64
					for k := range S {
						if keep[b*S+k] {
							want += float64(pav[((b*S+i)*S+k)*d+e]) * float64(pcv[((b*S+j)*S+k)*d+e])
						}
					}
					want /= n
					if got := tv[((b*S+i)*S+j)*d+e]; math.Abs(float64(got)-want) > 1e-6 {
						t.Fatalf("T[%d,%d,%d,%d] = %g, want %g", b, i, j, e, got, want)
					}
				}
			}
		}
	}
}
