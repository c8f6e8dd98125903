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
	switch v := t.Value().(type) {
	case *Matrix:
		return v
	case *node:
		return v.Matrix
	}
	panic(fmt.Sprintf("kernels: value of type %T, want *mat.Dense[float32]", t.Value()))
}

// node is the value of an operator of this package: the result matrix with
// the function that computed it, so that Backward can walk the graph.
type node struct {
	*Matrix
	fn ag.AutoGradFunction
}

// traced makes f's result a node.
type traced struct{ ag.AutoGradFunction }

func (t traced) Forward() (mat.Tensor, error) {
	v, err := t.AutoGradFunction.Forward()
	if err != nil {
		return nil, err
	}
	return &node{Matrix: v.(*Matrix), fn: t.AutoGradFunction}, nil
}

// run wraps f in a spago operator and runs its forward pass.
func run(f ag.AutoGradFunction) mat.Tensor {
	return ag.NewOperator(traced{f}).Run()
}

// Backward propagates gradients from out, which must be a scalar without a
// gradient (it gets 1) or hold the gradient to propagate, back to every
// tensor it depends on. Unlike ag.Backward, which runs each operator in its
// own goroutine as soon as its gradient is complete, it runs the operators
// of this package one at a time in reverse topological order (each one still
// uses Threads() goroutines inside). Every gradient is then summed in the
// same order on every run, so training is deterministic: a resumed run
// reproduces an uninterrupted one bit for bit. Operators from outside this
// package are not supported (use ag.Backward for mixed graphs).
func Backward(out mat.Tensor) error {
	if !out.HasGrad() {
		if len(Values(out)) != 1 {
			return fmt.Errorf("kernels.Backward: a %d-value output needs its gradient set", len(Values(out)))
		}
		out.AccGrad(NewMatrix(1, 1, []float32{1}))
	}
	order, err := topological(out)
	if err != nil {
		return err
	}
	for i := len(order) - 1; i >= 0; i-- {
		op := order[i]
		if !op.HasGrad() {
			continue
		}
		if err := op.Value().(*node).fn.Backward(op.Grad()); err != nil {
			return err
		}
	}
	return nil
}

// topological returns the operators out depends on, each after all of its
// operands, by an iterative depth-first search.
func topological(out mat.Tensor) ([]*ag.Operator, error) {
	type frame struct {
		op   *ag.Operator
		next int
	}
	var order []*ag.Operator
	seen := map[*ag.Operator]bool{}
	root, ok := out.(*ag.Operator)
	if !ok {
		return nil, nil // a leaf: nothing to propagate
	}
	stack := []frame{{op: root}}
	seen[root] = true
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		n, ok := top.op.Value().(*node)
		if !ok {
			return nil, fmt.Errorf("kernels.Backward: operator of type %T is not from package kernels", top.op.Value())
		}
		operands := n.fn.Operands()
		if top.next == len(operands) {
			order = append(order, top.op)
			stack = stack[:len(stack)-1]
			continue
		}
		child, isOp := operands[top.next].(*ag.Operator)
		top.next++
		if isOp && !seen[child] && child.RequiresGrad() {
			seen[child] = true
			stack = append(stack, frame{op: child})
		}
	}
	return order, nil
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

// Op runs f, an autograd function defined outside this package, as an
// operator that Backward can walk. f.Forward must return a *Matrix, and
// f.Backward should hand its gradients to AccGrad.
func Op(f ag.AutoGradFunction) mat.Tensor { return run(f) }

// AccGrad adds g, laid out like t's value, to t's gradient if t needs one,
// without copying it: g must be freshly computed and not used afterwards.
func AccGrad(t mat.Tensor, g []float32) { accGrad(t, g) }

// Alloc returns n zeroed values for an operator's output or gradient, from
// the arena in use if any (see Arena).
func Alloc(n int) []float32 { return alloc(n) }
