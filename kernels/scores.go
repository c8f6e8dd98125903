package kernels

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/mat"
)

// AttentionScores returns the scaled dot products QₕKₕᵀ/√headDim of every
// head of every sequence — the attention scores before the mask and the
// softmax — as a [batch·heads·seq, seq] matrix: row (b·heads+h)·seq+i holds
// query i's scores over the keys of sequence b in head h. q and k are laid
// out as for Attention. Unlike the probabilities that Attention returns,
// the scores are an operator with a backward pass, for losses on them
// (TinyBERT's attention distillation).
func AttentionScores(q, k mat.Tensor, batch, seq, heads int) mat.Tensor {
	n, hidden := Dims(q)
	if n != batch*seq {
		panic(fmt.Sprintf("kernels.AttentionScores: %d rows for %d×%d tokens", n, batch, seq))
	}
	if heads <= 0 || hidden%heads != 0 {
		panic(fmt.Sprintf("kernels.AttentionScores: hidden size %d not divisible into %d heads", hidden, heads))
	}
	if r, c := Dims(k); r != n || c != hidden {
		panic(fmt.Sprintf("kernels.AttentionScores: q is %d×%d but k is %d×%d", n, hidden, r, c))
	}
	return run(&scoresFn{q: q, k: k, B: batch, S: seq, heads: heads, hidden: hidden})
}

type scoresFn struct {
	q, k                mat.Tensor
	B, S, heads, hidden int
}

func (f *scoresFn) Operands() []mat.Tensor { return []mat.Tensor{f.q, f.k} }

func (f *scoresFn) dims() (hd int, scale float32) {
	hd = f.hidden / f.heads
	return hd, float32(1 / math.Sqrt(float64(hd)))
}

func (f *scoresFn) Forward() (mat.Tensor, error) {
	hd, scale := f.dims()
	S, ld := f.S, f.hidden
	q, k := Values(f.q), Values(f.k)
	out := allocOut(f.B * f.heads * S * S)
	parallel(f.B*f.heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			base := bh/f.heads*S*ld + bh%f.heads*hd
			gemm(false, true, S, S, hd, scale, q[base:], ld, k[base:], ld, 0, out[bh*S*S:], S)
		}
	})
	return NewMatrix(f.B*f.heads*S, S, out), nil
}

// Backward: with G the gradient of one head's scores, dQₕ = G·Kₕ/√d and
// dKₕ = Gᵀ·Qₕ/√d, written into the head's columns.
func (f *scoresFn) Backward(gy mat.Tensor) error {
	hd, scale := f.dims()
	S, ld := f.S, f.hidden
	g := Values(gy)
	q, k := Values(f.q), Values(f.k)
	n := f.B * S * ld
	var dq, dk []float32
	if f.q.RequiresGrad() {
		dq = allocOut(n)
	}
	if f.k.RequiresGrad() {
		dk = allocOut(n)
	}
	parallel(f.B*f.heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			base := bh/f.heads*S*ld + bh%f.heads*hd
			G := g[bh*S*S:]
			if dq != nil {
				gemm(false, false, S, hd, S, scale, G, S, k[base:], ld, 0, dq[base:], ld)
			}
			if dk != nil {
				gemm(true, false, S, hd, S, scale, G, S, q[base:], ld, 0, dk[base:], ld)
			}
		}
	})
	if dq != nil {
		accGrad(f.q, dq)
	}
	if dk != nil {
		accGrad(f.k, dk)
	}
	return nil
}
