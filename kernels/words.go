package kernels

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/mat"
)

// PoolMode says how the pieces of a segment (the wordpieces of a word) are
// combined into one vector.
type PoolMode string

// The pooling modes. Attention pooling is SegmentAttentionPool.
const (
	PoolFirst PoolMode = "first"
	PoolLast  PoolMode = "last"
	PoolMean  PoolMode = "mean"
	PoolSum   PoolMode = "sum"
)

// SegmentPool returns one row per segment: the first, last, mean or sum of
// rows starts[i]..ends[i]-1 of x. Segments must be non-empty and inside x.
func SegmentPool(x mat.Tensor, starts, ends []int, mode PoolMode) mat.Tensor {
	checkSegments("SegmentPool", x, starts, ends)
	switch mode {
	case PoolFirst, PoolLast, PoolMean, PoolSum:
	default:
		panic(fmt.Sprintf("kernels.SegmentPool: unknown mode %q", mode))
	}
	return run(&segmentPoolFn{x: x, starts: starts, ends: ends, mode: mode})
}

func checkSegments(op string, x mat.Tensor, starts, ends []int) {
	rows, _ := Dims(x)
	if len(starts) != len(ends) {
		panic(fmt.Sprintf("kernels.%s: %d starts, %d ends", op, len(starts), len(ends)))
	}
	for i := range starts {
		if starts[i] < 0 || ends[i] <= starts[i] || ends[i] > rows {
			panic(fmt.Sprintf("kernels.%s: segment %d is [%d, %d) of %d rows", op, i, starts[i], ends[i], rows))
		}
	}
}

type segmentPoolFn struct {
	x            mat.Tensor
	starts, ends []int
	mode         PoolMode
}

func (f *segmentPoolFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

// weight returns the row range the mode reads and each row's weight.
func (f *segmentPoolFn) weight(i int) (lo, hi int, w float32) {
	lo, hi = f.starts[i], f.ends[i]
	switch f.mode {
	case PoolFirst:
		return lo, lo + 1, 1
	case PoolLast:
		return hi - 1, hi, 1
	case PoolMean:
		return lo, hi, 1 / float32(hi-lo)
	}
	return lo, hi, 1
}

func (f *segmentPoolFn) Forward() (mat.Tensor, error) {
	x := Values(f.x)
	_, H := Dims(f.x)
	out := alloc(len(f.starts) * H)
	for i := range f.starts {
		lo, hi, w := f.weight(i)
		o := out[i*H : (i+1)*H]
		for r := lo; r < hi; r++ {
			for c, v := range x[r*H : (r+1)*H] {
				o[c] += w * v
			}
		}
	}
	return NewMatrix(len(f.starts), H, out), nil
}

func (f *segmentPoolFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	g := Values(gy)
	rows, H := Dims(f.x)
	dx := alloc(rows * H)
	for i := range f.starts {
		lo, hi, w := f.weight(i)
		gi := g[i*H : (i+1)*H]
		for r := lo; r < hi; r++ {
			d := dx[r*H : (r+1)*H]
			for c, v := range gi {
				d[c] += w * v
			}
		}
	}
	accGrad(f.x, dx)
	return nil
}

// SegmentAttentionPool returns, for each segment, the average of its rows of
// x weighted by the softmax of their scores (a [rows, 1] tensor, typically a
// learned linear map of x): a learned choice among a word's pieces.
func SegmentAttentionPool(x, scores mat.Tensor, starts, ends []int) mat.Tensor {
	checkSegments("SegmentAttentionPool", x, starts, ends)
	rows, _ := Dims(x)
	if r, c := Dims(scores); c != 1 || r != rows {
		panic(fmt.Sprintf("kernels.SegmentAttentionPool: %d rows with scores of %d×%d", rows, r, c))
	}
	return run(&attentionPoolFn{x: x, s: scores, starts: starts, ends: ends})
}

type attentionPoolFn struct {
	x, s         mat.Tensor
	starts, ends []int
	w            []float32 // the softmax weight of each row in its segment
	out          []float32
}

func (f *attentionPoolFn) Operands() []mat.Tensor { return []mat.Tensor{f.x, f.s} }

func (f *attentionPoolFn) Forward() (mat.Tensor, error) {
	x, s := Values(f.x), Values(f.s)
	rows, H := Dims(f.x)
	f.w = alloc(rows)
	out := alloc(len(f.starts) * H)
	for i := range f.starts {
		lo, hi := f.starts[i], f.ends[i]
		m := s[lo]
		for r := lo + 1; r < hi; r++ {
			m = max(m, s[r])
		}
		var z float64
		for r := lo; r < hi; r++ {
			f.w[r] = float32(math.Exp(float64(s[r] - m)))
			z += float64(f.w[r])
		}
		o := out[i*H : (i+1)*H]
		for r := lo; r < hi; r++ {
			f.w[r] = float32(float64(f.w[r]) / z)
			for c, v := range x[r*H : (r+1)*H] {
				o[c] += f.w[r] * v
			}
		}
	}
	f.out = out
	return NewMatrix(len(f.starts), H, out), nil
}

func (f *attentionPoolFn) Backward(gy mat.Tensor) error {
	g, x := Values(gy), Values(f.x)
	rows, H := Dims(f.x)
	out := f.out
	dx, ds := alloc(rows*H), alloc(rows)
	for i := range f.starts {
		gi, oi := g[i*H:(i+1)*H], out[i*H:(i+1)*H]
		var gout float32 // g·out
		for c := range gi {
			gout += gi[c] * oi[c]
		}
		for r := f.starts[i]; r < f.ends[i]; r++ {
			xr, d := x[r*H:(r+1)*H], dx[r*H:(r+1)*H]
			var gx float32
			for c := range gi {
				d[c] += f.w[r] * gi[c]
				gx += gi[c] * xr[c]
			}
			ds[r] = f.w[r] * (gx - gout)
		}
	}
	accGrad(f.x, dx)
	accGrad(f.s, ds)
	return nil
}
