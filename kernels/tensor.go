package kernels

import (
	"fmt"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// Matrix is the value type of every operator here: a row-major float32
// spago matrix. Vectors (biases, LayerNorm weights) are n×1 matrices, as
// spago makes them.
type Matrix = mat.Dense[float32]

// NewMatrix wraps data (not copied) as a rows×cols matrix.
func NewMatrix(rows, cols int, data []float32) *Matrix {
	if len(data) != rows*cols {
		panic(fmt.Sprintf("kernels: %d values for a %d×%d matrix", len(data), rows, cols))
	}
	return mat.NewDense[float32](mat.WithShape(rows, cols), mat.WithBacking(data))
}

// Values returns the data of a tensor's value, without copying. It waits for
// an operator's forward pass to finish.
func Values(t mat.Tensor) []float32 {
	return valueOf(t).Data().F32()
}

// Dims returns the rows and columns of a tensor's value.
func Dims(t mat.Tensor) (rows, cols int) {
	s := t.Value().Shape()
	if len(s) == 1 {
		return s[0], 1
	}
	return s[0], s[1]
}

func valueOf(t mat.Tensor) *Matrix {
	d, ok := t.Value().(*Matrix)
	if !ok {
		panic(fmt.Sprintf("kernels: value of type %T, want *mat.Dense[float32]", t.Value()))
	}
	return d
}

// run wraps f in a spago operator and runs its forward pass.
func run(f ag.AutoGradFunction) mat.Tensor {
	return ag.NewOperator(f).Run()
}

// adopted hands a freshly computed gradient to spago without a copy: spago's
// Dense.AccGrad keeps Clone() of the first gradient it receives, and the
// gradients built here belong to nobody else, so Clone may return the matrix
// itself.
type adopted struct{ *Matrix }

// Clone returns the wrapped matrix itself.
func (a adopted) Clone() mat.Matrix { return a.Matrix }

// accGrad adds g, laid out like t's value, to t's gradient if t needs one.
// g must not be used afterwards by the caller.
func accGrad(t mat.Tensor, g []float32) {
	if t == nil || !t.RequiresGrad() {
		return
	}
	r, c := Dims(t)
	t.AccGrad(adopted{NewMatrix(r, c, g)})
}

func needsGrad(ts ...mat.Tensor) bool {
	for _, t := range ts {
		if t != nil && t.RequiresGrad() {
			return true
		}
	}
	return false
}

func checkLen(op, what string, t mat.Tensor, n int) {
	if got := len(Values(t)); got != n {
		panic(fmt.Sprintf("kernels.%s: %s has %d values, want %d", op, what, got, n))
	}
}
