package kernels

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/mat"
)

// Mask is the additive attention mask of a batch of Batch sequences of Seq
// tokens: 0 where a token may be attended to and the most negative float32
// where it is padding, exactly as HuggingFace builds it ((1-mask)·finfo.min),
// so padded rows are computed like theirs.
type Mask struct {
	Batch, Seq int
	Add        []float32
}

// NewMask builds the mask of a batch from its 0/1 attention mask
// [batch·seq] (anything non-zero attends).
func NewMask(batch, seq int, attend []int64) *Mask {
	if len(attend) != batch*seq {
		panic(fmt.Sprintf("kernels.NewMask: %d mask values for %d×%d", len(attend), batch, seq))
	}
	add := alloc(len(attend))
	for i, a := range attend {
		if a == 0 {
			add[i] = -math.MaxFloat32
		}
	}
	return &Mask{Batch: batch, Seq: seq, Add: add}
}

// Attention is multi-head scaled dot-product attention over a whole batch in
// one operator. q, k and v are [batch·seq, heads·headDim] matrices (the
// outputs of the query, key and value projections); for each sequence b and
// head h it computes
//
//	P = softmax(QₕKₕᵀ/√headDim + mask_b),  ctx = dropout(P)·Vₕ
//
// and returns ctx in the same [batch·seq, heads·headDim] layout, with the
// probabilities P ([batch, heads, seq, seq], before dropout) as the second
// result. Heads are read in place with strided products: nothing is permuted.
func Attention(q, k, v mat.Tensor, mask *Mask, heads int, d Dropout) (ctx mat.Tensor, probs []float32) {
	return AttentionWithBias(q, k, v, nil, mask, heads, d)
}

// AttentionWithBias is Attention with a learned additive logit per head
// and pair of tokens (pair states read by attention, as Graphormer's edge
// bias): bias is [batch·seq·seq, heads], row (b·seq + i)·seq + j holding
// the bias of token i attending to token j in sequence b for every head; nil
// is Attention.
func AttentionWithBias(q, k, v, bias mat.Tensor, mask *Mask, heads int, d Dropout) (ctx mat.Tensor, probs []float32) {
	n, hidden := Dims(q)
	if n != mask.Batch*mask.Seq {
		panic(fmt.Sprintf("kernels.Attention: %d rows for a %d×%d mask", n, mask.Batch, mask.Seq))
	}
	if heads <= 0 || hidden%heads != 0 {
		panic(fmt.Sprintf("kernels.Attention: hidden size %d not divisible into %d heads", hidden, heads))
	}
	for _, t := range []mat.Tensor{k, v} {
		if r, c := Dims(t); r != n || c != hidden {
			panic(fmt.Sprintf("kernels.Attention: q is %d×%d but k or v is %d×%d", n, hidden, r, c))
		}
	}
	if bias != nil {
		if r, c := Dims(bias); r != n*mask.Seq || c != heads {
			panic(fmt.Sprintf("kernels.AttentionWithBias: bias is %d×%d, want %d×%d", r, c, n*mask.Seq, heads))
		}
	}
	f := &attentionFn{q: q, k: k, v: v, bias: bias, mask: mask, heads: heads, d: d, hidden: hidden}
	out := run(f)
	return out, f.probs
}

type attentionFn struct {
	q, k, v       mat.Tensor
	bias          mat.Tensor // [B·S·S, heads] or nil
	mask          *Mask
	heads, hidden int
	d             Dropout
	probs         []float32
}

func (f *attentionFn) Operands() []mat.Tensor {
	if f.bias != nil {
		return []mat.Tensor{f.q, f.k, f.v, f.bias}
	}
	return []mat.Tensor{f.q, f.k, f.v}
}

func (f *attentionFn) dims() (B, S, hd int, scale float32) {
	hd = f.hidden / f.heads
	return f.mask.Batch, f.mask.Seq, hd, float32(1 / math.Sqrt(float64(hd)))
}

func (f *attentionFn) Forward() (mat.Tensor, error) {
	B, S, hd, scale := f.dims()
	threshold, dscale := f.d.params()
	q, k, v := Values(f.q), Values(f.k), Values(f.v)
	var bias []float32
	if f.bias != nil {
		bias = Values(f.bias)
	}
	ctx := allocOut(B * S * f.hidden)
	f.probs = allocOut(B * f.heads * S * S)
	work := make([][]float32, Threads())
	parallelIndexed(B*f.heads, 1, func(c, lo, hi int) {
		if threshold != 0 {
			work[c] = allocOut(S * S)
		}
		attnFwd(lo, hi, S, f.heads, hd, f.hidden, q, k, v, f.mask.Add, bias, scale, f.probs, ctx,
			f.d.Seed, threshold, dscale, work[c])
	})
	return NewMatrix(B*S, f.hidden, ctx), nil
}

func (f *attentionFn) Backward(gy mat.Tensor) error {
	B, S, hd, scale := f.dims()
	threshold, dscale := f.d.params()
	n := B * S * f.hidden
	dq, dk, dv := allocOut(n), allocOut(n), allocOut(n)
	var dbias []float32
	if f.bias != nil && f.bias.RequiresGrad() {
		dbias = allocOut(B * S * S * f.heads)
	}
	parallel(B*f.heads, 1, func(lo, hi int) {
		work := allocOut(2 * S * S)
		attnBwd(lo, hi, S, f.heads, hd, f.hidden, Values(f.q), Values(f.k), Values(f.v), f.probs, Values(gy), scale,
			dq, dk, dv, dbias, f.d.Seed, threshold, dscale, work)
	})
	accGrad(f.q, dq)
	accGrad(f.k, dk)
	accGrad(f.v, dv)
	if dbias != nil {
		accGrad(f.bias, dbias)
	}
	return nil
}
