package export

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/tensor"
)

// graph accumulates the nodes and initializers of an ONNX graph. Values
// are named after the part of the model that computes them plus a counter,
// so that the graph reads like the model.
type graph struct {
	opset int64
	nodes []*onnx.Node
	inits []*onnx.Tensor
	seen  map[string]int
}

func newGraph(opset int64) *graph { return &graph{opset: opset, seen: map[string]int{}} }

// fresh returns a name for a new value, prefix plus a counter.
func (g *graph) fresh(prefix string) string {
	g.seen[prefix]++
	return fmt.Sprintf("%s_%d", prefix, g.seen[prefix])
}

// op adds a node with one output named after prefix and returns the
// output's name.
func (g *graph) op(prefix, opType string, inputs []string, attrs ...*onnx.Attribute) string {
	out := g.fresh(prefix + "/" + opType)
	g.nodes = append(g.nodes, &onnx.Node{OpType: opType, Input: inputs, Output: []string{out}, Name: out, Attribute: attrs})
	return out
}

// rename adds an Identity node that gives value x the name out (for graph
// outputs).
func (g *graph) rename(x, out string) {
	g.nodes = append(g.nodes, &onnx.Node{OpType: "Identity", Input: []string{x}, Output: []string{out}, Name: out})
}

func attrInt(name string, v int64) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttributeInt, I: v}
}

func attrInts(name string, v ...int64) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttributeInts, Ints: v}
}

func attrFloat(name string, v float32) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttributeFloat, F: v}
}

// floats adds a FLOAT initializer.
func (g *graph) floats(name string, shape []int, v []float32) string {
	g.inits = append(g.inits, onnx.TensorFromRaw(name, tensor.FromFloat32(shape, v)))
	return name
}

// ints adds a 1-D INT64 initializer (shapes, axes, indices).
func (g *graph) ints(v ...int64) string {
	name := g.fresh("const/ints")
	g.inits = append(g.inits, onnx.TensorFromRaw(name, tensor.FromInt64([]int{len(v)}, v)))
	return name
}

// scalarInt adds a 0-D INT64 initializer.
func (g *graph) scalarInt(v int64) string {
	name := g.fresh("const/int")
	g.inits = append(g.inits, onnx.TensorFromRaw(name, tensor.FromInt64(nil, []int64{v})))
	return name
}

// scalar adds a 0-D FLOAT initializer.
func (g *graph) scalar(v float32) string {
	name := g.fresh("const/float")
	g.inits = append(g.inits, onnx.TensorFromRaw(name, tensor.FromFloat32(nil, []float32{v})))
	return name
}

// param adds a parameter as an initializer of the given shape.
func (g *graph) param(name string, p *nn.Param, shape ...int) (string, error) {
	v := kernels.Values(p)
	if len(v) != tensor.NumElements(shape) {
		return "", fmt.Errorf("parameter %s has %d values, want shape %v", name, len(v), shape)
	}
	return g.floats(name, shape, v), nil
}

// linear returns x·Wᵀ + b for a Linear layer; its weight is stored
// transposed, [in, out], so that MatMul reads it directly.
func (g *graph) linear(name, x string, l *encoder.Linear) (string, error) {
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
	wt := g.floats(name+".weight_t", []int{in, out}, t)
	b := g.floats(name+".bias", []int{out}, kernels.Values(l.Bias))
	return g.op(name, "Add", []string{g.op(name, "MatMul", []string{x, wt}), b}), nil
}

// layerNorm returns LayerNorm(x) over the last axis.
func (g *graph) layerNorm(name, x string, ln *encoder.LayerNorm) (string, error) {
	w, err := g.param(name+".weight", ln.Weight, len(kernels.Values(ln.Weight)))
	if err != nil {
		return "", err
	}
	b, err := g.param(name+".bias", ln.Bias, len(kernels.Values(ln.Bias)))
	if err != nil {
		return "", err
	}
	return g.op(name, "LayerNormalization", []string{x, w, b}, attrInt("axis", -1), attrFloat("epsilon", ln.Eps)), nil
}

// reduce applies a reduction over axes (none: all): ReduceSum takes its
// axes as an input from opset 13, the others only from opset 18.
func (g *graph) reduce(name, opType, x string, keep bool, axes ...int64) string {
	k := int64(0)
	if keep {
		k = 1
	}
	if len(axes) == 0 { // all of them
		return g.op(name, opType, []string{x}, attrInt("keepdims", k))
	}
	if opType == "ReduceSum" || g.opset >= 18 {
		return g.op(name, opType, []string{x, g.ints(axes...)}, attrInt("keepdims", k))
	}
	return g.op(name, opType, []string{x}, attrInts("axes", axes...), attrInt("keepdims", k))
}

func (g *graph) unsqueeze(name, x string, axes ...int64) string {
	return g.op(name, "Unsqueeze", []string{x, g.ints(axes...)})
}

func (g *graph) reshape(name, x string, shape ...int64) string {
	return g.op(name, "Reshape", []string{x, g.ints(shape...)})
}

func (g *graph) transpose(name, x string, perm ...int64) string {
	return g.op(name, "Transpose", []string{x}, attrInts("perm", perm...))
}

func (g *graph) cast(name, x string, to onnx.DataType) string {
	return g.op(name, "Cast", []string{x}, attrInt("to", int64(to)))
}

// dim returns dimension i of x's shape as a 0-D INT64 value.
func (g *graph) dim(name, x string, i int64) string {
	return g.op(name, "Gather", []string{g.op(name, "Shape", []string{x}), g.scalarInt(i)}, attrInt("axis", 0))
}

// activate applies an encoder activation.
func (g *graph) activate(name, x string, act kernels.Activation) (string, error) {
	switch act {
	case kernels.GELU: // x·Φ(x) = ½x(1 + erf(x/√2))
		e := g.op(name, "Erf", []string{g.op(name, "Mul", []string{x, g.scalar(float32(1 / math.Sqrt2))})})
		return g.op(name, "Mul", []string{g.op(name, "Mul", []string{x, g.scalar(0.5)}), g.op(name, "Add", []string{e, g.scalar(1)})}), nil
	case kernels.GELUTanh: // ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
		cube := g.op(name, "Mul", []string{g.op(name, "Mul", []string{x, x}), x})
		inner := g.op(name, "Add", []string{x, g.op(name, "Mul", []string{cube, g.scalar(0.044715)})})
		t := g.op(name, "Tanh", []string{g.op(name, "Mul", []string{inner, g.scalar(float32(math.Sqrt(2 / math.Pi)))})})
		return g.op(name, "Mul", []string{g.op(name, "Mul", []string{x, g.scalar(0.5)}), g.op(name, "Add", []string{t, g.scalar(1)})}), nil
	case kernels.ReLU:
		return g.op(name, "Relu", []string{x}), nil
	case kernels.LeakyReLU: // max(x, 0.1x) is leaky ReLU for a slope below one
		return g.op(name, "Max", []string{x, g.op(name, "Mul", []string{x, g.scalar(0.1)})}), nil
	case kernels.SiLU:
		return g.op(name, "Mul", []string{x, g.op(name, "Sigmoid", []string{x})}), nil
	case kernels.Tanh:
		return g.op(name, "Tanh", []string{x}), nil
	}
	return "", fmt.Errorf("%s: activation %q has no ONNX form", name, act)
}

// additiveMask turns a 0/1 INT64 mask [batch, seq] into the additive
// attention mask [batch, 1, 1, seq]: 0 to attend, the most negative float
// for padding, as kernels.NewMask.
func (g *graph) additiveMask(name, mask string) string {
	pad := g.op(name, "Equal", []string{mask, g.scalarInt(0)})
	add := g.op(name, "Where", []string{pad, g.scalar(-math.MaxFloat32), g.scalar(0)})
	return g.unsqueeze(name, add, 1, 2)
}

// segmentPool pools the rows of x [N, D] over the segments [starts, ends)
// (INT64 tensors of one shape Q, positions in x) into [Q..., D], as
// kernels.SegmentPool and SegmentAttentionPool do: the first, last, mean or
// sum of a segment's rows, or with mode attention the softmax of scores
// ([N], one per row) over the segment.
func (g *graph) segmentPool(name, x, starts, ends, mode, scores string) (string, error) {
	switch mode {
	case "first":
		return g.op(name, "Gather", []string{x, starts}, attrInt("axis", 0)), nil
	case "last":
		return g.op(name, "Gather", []string{x, g.op(name, "Sub", []string{ends, g.scalarInt(1)})}, attrInt("axis", 0)), nil
	case "mean", "sum", "attention":
	default:
		return "", fmt.Errorf("%s: unknown pooling %q", name, mode)
	}
	// Gather each segment's rows into [Q..., K, D], K the longest segment,
	// rows past a segment's end repeating its first and weighing nothing.
	n := g.op(name, "Sub", []string{ends, starts})
	k := g.reduce(name, "ReduceMax", n, false)
	offsets := g.op(name, "Range", []string{g.scalarInt(0), k, g.scalarInt(1)})
	first := g.unsqueeze(name, starts, -1)
	idx := g.op(name, "Add", []string{first, offsets})
	valid := g.op(name, "Less", []string{idx, g.unsqueeze(name, ends, -1)})
	idx = g.op(name, "Where", []string{valid, idx, first})
	rows := g.op(name, "Gather", []string{x, idx}, attrInt("axis", 0))
	var w string
	switch mode {
	case "sum":
		w = g.cast(name, valid, onnx.Float)
	case "mean":
		w = g.op(name, "Div", []string{g.cast(name, valid, onnx.Float), g.unsqueeze(name, g.cast(name, n, onnx.Float), -1)})
	default:
		s := g.op(name, "Gather", []string{scores, idx}, attrInt("axis", 0))
		s = g.op(name, "Where", []string{valid, s, g.scalar(-math.MaxFloat32)})
		w = g.op(name, "Softmax", []string{s}, attrInt("axis", -1))
	}
	return g.reduce(name, "ReduceSum", g.op(name, "Mul", []string{rows, g.unsqueeze(name, w, -1)}), false, -2), nil
}

// sum adds values left to right.
func (g *graph) sum(name string, xs []string) string {
	out := xs[0]
	for _, x := range xs[1:] {
		out = g.op(name, "Add", []string{out, x})
	}
	return out
}
