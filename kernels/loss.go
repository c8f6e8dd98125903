package kernels

import (
	"fmt"

	"github.com/nlpodyssey/spago/mat"
)

// CrossEntropy returns the mean softmax cross-entropy of the rows of logits
// [n, classes] against labels (one per row), over the rows whose label is not
// ignore — PyTorch's F.cross_entropy with ignore_index. With no counted row the
// loss is 0. A label outside [0, classes) other than ignore is an error.
func CrossEntropy(logits mat.Tensor, labels []int, ignore int) (mat.Tensor, error) {
	n, classes := Dims(logits)
	if len(labels) != n {
		return nil, fmt.Errorf("cross-entropy: %d labels for %d rows", len(labels), n)
	}
	ls := make([]int64, n)
	count := 0
	for i, l := range labels {
		if l != ignore {
			if l < 0 || l >= classes {
				return nil, fmt.Errorf("cross-entropy: label %d at row %d is outside [0, %d)", l, i, classes)
			}
			count++
		}
		ls[i] = int64(l)
	}
	return run(&crossEntropyFn{logits: logits, labels: ls, ignore: int64(ignore), n: n, classes: classes, count: count}), nil
}

type crossEntropyFn struct {
	logits            mat.Tensor
	labels            []int64
	ignore            int64
	n, classes, count int
	lse               []float32
}

func (f *crossEntropyFn) Operands() []mat.Tensor { return []mat.Tensor{f.logits} }

func (f *crossEntropyFn) Forward() (mat.Tensor, error) {
	x := Values(f.logits)
	f.lse = allocOut(f.n)
	loss := allocOut(f.n)
	parallel(f.n, 16, func(lo, hi int) {
		xentFwd(lo, hi, f.classes, x, f.labels, f.ignore, f.lse, loss)
	})
	var sum float64
	for _, l := range loss {
		sum += float64(l)
	}
	mean := float32(0)
	if f.count > 0 {
		mean = float32(sum / float64(f.count))
	}
	return NewMatrix(1, 1, []float32{mean}), nil
}

func (f *crossEntropyFn) Backward(gy mat.Tensor) error {
	if !f.logits.RequiresGrad() {
		return nil
	}
	dx := alloc(f.n * f.classes)
	if f.count > 0 {
		scale := Values(gy)[0] / float32(f.count)
		x := Values(f.logits)
		parallel(f.n, 16, func(lo, hi int) {
			xentBwd(lo, hi, f.classes, x, f.labels, f.ignore, f.lse, scale, dx)
		})
	}
	accGrad(f.logits, dx)
	return nil
}
