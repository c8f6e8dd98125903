// Package graph builds ONNX graphs node by node for hiertune's exporter and
// the task heads: each method adds the nodes of one operation and returns
// the name of its output value, named after the part of the model that
// computes it.
package graph

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/tensor"
)

// Graph accumulates the nodes and initializers of an ONNX graph. Values
// are named after the part of the model that computes them plus a counter,
// so that the graph reads like the model.
type Graph struct {
	opset int64
	nodes []*onnx.Node
	inits []*onnx.Tensor
	seen  map[string]int
}

// New returns an empty graph for the given default-domain opset.
func New(opset int64) *Graph { return &Graph{opset: opset, seen: map[string]int{}} }

// Opset returns the graph's operator set.
func (g *Graph) Opset() int64 { return g.opset }

// Nodes returns the graph's nodes in the order they were added.
func (g *Graph) Nodes() []*onnx.Node { return g.nodes }

// Initializers returns the graph's constants.
func (g *Graph) Initializers() []*onnx.Tensor { return g.inits }

// fresh returns a name for a new value, prefix plus a counter.
func (g *Graph) fresh(prefix string) string {
	g.seen[prefix]++
	return fmt.Sprintf("%s_%d", prefix, g.seen[prefix])
}

// Op adds a node with one output named after prefix and returns the
// output's name.
func (g *Graph) Op(prefix, opType string, inputs []string, attrs ...*onnx.Attribute) string {
	out := g.fresh(prefix + "/" + opType)
	g.nodes = append(g.nodes, &onnx.Node{OpType: opType, Input: inputs, Output: []string{out}, Name: out, Attribute: attrs})
	return out
}

// Rename adds an Identity node that gives value x the name out (for graph
// outputs).
func (g *Graph) Rename(x, out string) {
	g.nodes = append(g.nodes, &onnx.Node{OpType: "Identity", Input: []string{x}, Output: []string{out}, Name: out})
}

// AttrInt is an INT attribute.
func AttrInt(name string, v int64) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttributeInt, I: v}
}

// AttrInts is an INTS attribute.
func AttrInts(name string, v ...int64) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttributeInts, Ints: v}
}

// AttrString is a STRING attribute.
func AttrString(name, v string) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttributeString, S: []byte(v)}
}

// AttrFloat is a FLOAT attribute.
func AttrFloat(name string, v float32) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttributeFloat, F: v}
}

// Floats adds a FLOAT initializer.
func (g *Graph) Floats(name string, shape []int, v []float32) string {
	g.inits = append(g.inits, onnx.TensorFromRaw(name, tensor.FromFloat32(shape, v)))
	return name
}

// Ints adds a 1-D INT64 initializer (shapes, axes, indices).
func (g *Graph) Ints(v ...int64) string {
	name := g.fresh("const/ints")
	g.inits = append(g.inits, onnx.TensorFromRaw(name, tensor.FromInt64([]int{len(v)}, v)))
	return name
}

// ScalarInt adds a 0-D INT64 initializer.
func (g *Graph) ScalarInt(v int64) string {
	name := g.fresh("const/int")
	g.inits = append(g.inits, onnx.TensorFromRaw(name, tensor.FromInt64(nil, []int64{v})))
	return name
}

// Scalar adds a 0-D FLOAT initializer.
func (g *Graph) Scalar(v float32) string {
	name := g.fresh("const/float")
	g.inits = append(g.inits, onnx.TensorFromRaw(name, tensor.FromFloat32(nil, []float32{v})))
	return name
}

// Param adds a parameter as an initializer of the given shape.
func (g *Graph) Param(name string, p *nn.Param, shape ...int) (string, error) {
	v := kernels.Values(p)
	if len(v) != tensor.NumElements(shape) {
		return "", fmt.Errorf("parameter %s has %d values, want shape %v", name, len(v), shape)
	}
	return g.Floats(name, shape, v), nil
}

// Linear returns x·Wᵀ + b for a Linear layer; its weight is stored
// transposed, [in, out], so that MatMul reads it directly.
func (g *Graph) Linear(name, x string, l *encoder.Linear) (string, error) {
	out, in := kernels.Dims(l.Weight)
	w := kernels.Values(l.Weight)
	if len(w) != out*in || len(kernels.Values(l.Bias)) != out {
		return "", fmt.Errorf("%s: weight of %d values and bias of %d for %d×%d", name, len(w), len(kernels.Values(l.Bias)), out, in)
	}
	t := make([]float32, len(w))
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			t[i*out+o] = w[o*in+i]
		}
	}
	wt := g.Floats(name+".weight_t", []int{in, out}, t)
	b := g.Floats(name+".bias", []int{out}, kernels.Values(l.Bias))
	return g.Op(name, "Add", []string{g.Op(name, "MatMul", []string{x, wt}), b}), nil
}

// LayerNorm returns LayerNorm(x) over the last axis.
func (g *Graph) LayerNorm(name, x string, ln *encoder.LayerNorm) (string, error) {
	w, err := g.Param(name+".weight", ln.Weight, len(kernels.Values(ln.Weight)))
	if err != nil {
		return "", err
	}
	b, err := g.Param(name+".bias", ln.Bias, len(kernels.Values(ln.Bias)))
	if err != nil {
		return "", err
	}
	return g.Op(name, "LayerNormalization", []string{x, w, b}, AttrInt("axis", -1), AttrFloat("epsilon", ln.Eps)), nil
}

// Reduce applies a reduction over axes (none: all): ReduceSum takes its
// axes as an input from opset 13, the others only from opset 18.
func (g *Graph) Reduce(name, opType, x string, keep bool, axes ...int64) string {
	k := int64(0)
	if keep {
		k = 1
	}
	if len(axes) == 0 { // all of them
		return g.Op(name, opType, []string{x}, AttrInt("keepdims", k))
	}
	if opType == "ReduceSum" || g.opset >= 18 {
		return g.Op(name, opType, []string{x, g.Ints(axes...)}, AttrInt("keepdims", k))
	}
	return g.Op(name, opType, []string{x}, AttrInts("axes", axes...), AttrInt("keepdims", k))
}

// Unsqueeze inserts axes of size one.
func (g *Graph) Unsqueeze(name, x string, axes ...int64) string {
	return g.Op(name, "Unsqueeze", []string{x, g.Ints(axes...)})
}

// Reshape gives x a shape (0 keeps a dimension, -1 infers one).
func (g *Graph) Reshape(name, x string, shape ...int64) string {
	return g.Op(name, "Reshape", []string{x, g.Ints(shape...)})
}

// Transpose permutes x's axes.
func (g *Graph) Transpose(name, x string, perm ...int64) string {
	return g.Op(name, "Transpose", []string{x}, AttrInts("perm", perm...))
}

// Cast converts x to another element type.
func (g *Graph) Cast(name, x string, to onnx.DataType) string {
	return g.Op(name, "Cast", []string{x}, AttrInt("to", int64(to)))
}

// Dim returns dimension i of x's shape as a 0-D INT64 value.
func (g *Graph) Dim(name, x string, i int64) string {
	return g.Op(name, "Gather", []string{g.Op(name, "Shape", []string{x}), g.ScalarInt(i)}, AttrInt("axis", 0))
}

// Activate applies an encoder activation.
func (g *Graph) Activate(name, x string, act kernels.Activation) (string, error) {
	switch act {
	case kernels.GELU: // x·Φ(x) = ½x(1 + erf(x/√2))
		e := g.Op(name, "Erf", []string{g.Op(name, "Mul", []string{x, g.Scalar(float32(1 / math.Sqrt2))})})
		return g.Op(name, "Mul", []string{g.Op(name, "Mul", []string{x, g.Scalar(0.5)}), g.Op(name, "Add", []string{e, g.Scalar(1)})}), nil
	case kernels.GELUTanh: // ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
		cube := g.Op(name, "Mul", []string{g.Op(name, "Mul", []string{x, x}), x})
		inner := g.Op(name, "Add", []string{x, g.Op(name, "Mul", []string{cube, g.Scalar(0.044715)})})
		t := g.Op(name, "Tanh", []string{g.Op(name, "Mul", []string{inner, g.Scalar(float32(math.Sqrt(2 / math.Pi)))})})
		return g.Op(name, "Mul", []string{g.Op(name, "Mul", []string{x, g.Scalar(0.5)}), g.Op(name, "Add", []string{t, g.Scalar(1)})}), nil
	case kernels.ReLU:
		return g.Op(name, "Relu", []string{x}), nil
	case kernels.LeakyReLU: // max(x, 0.1x) is leaky ReLU for a slope below one
		return g.Op(name, "Max", []string{x, g.Op(name, "Mul", []string{x, g.Scalar(0.1)})}), nil
	case kernels.SiLU:
		return g.Op(name, "Mul", []string{x, g.Op(name, "Sigmoid", []string{x})}), nil
	case kernels.Tanh:
		return g.Op(name, "Tanh", []string{x}), nil
	}
	return "", fmt.Errorf("%s: activation %q has no ONNX form", name, act)
}

// AdditiveMask turns a 0/1 INT64 mask [batch, seq] into the additive
// attention mask [batch, 1, 1, seq]: 0 to attend, the most negative float
// for padding, as kernels.NewMask.
func (g *Graph) AdditiveMask(name, mask string) string {
	pad := g.Op(name, "Equal", []string{mask, g.ScalarInt(0)})
	add := g.Op(name, "Where", []string{pad, g.Scalar(-math.MaxFloat32), g.Scalar(0)})
	return g.Unsqueeze(name, add, 1, 2)
}

// SegmentPool pools the rows of x [N, D] over the segments [starts, ends)
// (INT64 tensors of one shape Q, positions in x) into [Q..., D], as
// kernels.SegmentPool and SegmentAttentionPool do: the first, last, mean or
// sum of a segment's rows, or with mode attention the softmax of scores
// ([N], one per row) over the segment.
func (g *Graph) SegmentPool(name, x, starts, ends, mode, scores string) (string, error) {
	switch mode {
	case "first":
		return g.Op(name, "Gather", []string{x, starts}, AttrInt("axis", 0)), nil
	case "last":
		return g.Op(name, "Gather", []string{x, g.Op(name, "Sub", []string{ends, g.ScalarInt(1)})}, AttrInt("axis", 0)), nil
	case "mean", "sum", "attention":
	default:
		return "", fmt.Errorf("%s: unknown pooling %q", name, mode)
	}
	// Gather each segment's rows into [Q..., K, D], K the longest segment,
	// rows past a segment's end repeating its first and weighing nothing.
	n := g.Op(name, "Sub", []string{ends, starts})
	k := g.Reduce(name, "ReduceMax", n, false)
	offsets := g.Op(name, "Range", []string{g.ScalarInt(0), k, g.ScalarInt(1)})
	first := g.Unsqueeze(name, starts, -1)
	idx := g.Op(name, "Add", []string{first, offsets})
	valid := g.Op(name, "Less", []string{idx, g.Unsqueeze(name, ends, -1)})
	idx = g.Op(name, "Where", []string{valid, idx, first})
	rows := g.Op(name, "Gather", []string{x, idx}, AttrInt("axis", 0))
	var w string
	switch mode {
	case "sum":
		w = g.Cast(name, valid, onnx.Float)
	case "mean":
		w = g.Op(name, "Div", []string{g.Cast(name, valid, onnx.Float), g.Unsqueeze(name, g.Cast(name, n, onnx.Float), -1)})
	default:
		s := g.Op(name, "Gather", []string{scores, idx}, AttrInt("axis", 0))
		s = g.Op(name, "Where", []string{valid, s, g.Scalar(-math.MaxFloat32)})
		w = g.Op(name, "Softmax", []string{s}, AttrInt("axis", -1))
	}
	return g.Reduce(name, "ReduceSum", g.Op(name, "Mul", []string{rows, g.Unsqueeze(name, w, -1)}), false, -2), nil
}

// Sum adds values left to right.
func (g *Graph) Sum(name string, xs []string) string {
	out := xs[0]
	for _, x := range xs[1:] {
		out = g.Op(name, "Add", []string{out, x})
	}
	return out
}

// Dims makes a shape of named (string) and fixed (int) dimensions.
func Dims(ds ...any) *onnx.Shape {
	s := &onnx.Shape{}
	for _, d := range ds {
		switch d := d.(type) {
		case string:
			s.Dim = append(s.Dim, onnx.Dimension{Param: d})
		case int:
			s.Dim = append(s.Dim, onnx.Dimension{Value: int64(d), HasValue: true})
		}
	}
	return s
}

// FloatInfo declares a FLOAT graph value of the given shape.
func FloatInfo(name string, shape *onnx.Shape) *onnx.ValueInfo {
	return &onnx.ValueInfo{Name: name, Type: &onnx.Type{Tensor: &onnx.TensorType{ElemType: onnx.Float, Shape: shape}}}
}
