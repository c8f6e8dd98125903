package onnxweights

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/tensor"
)

// graph indexes an ONNX graph for walking it in both directions.
type graph struct {
	nodes     []*onnx.Node
	producer  map[string]*onnx.Node
	consumers map[string][]use
	inputs    map[string]bool         // graph inputs that are not initializers
	consts    map[string]*onnx.Tensor // initializers and Constant node outputs
	inits     []*onnx.Tensor
}

// use is one node input: the node and the index of the input.
type use struct {
	node    *onnx.Node
	operand int
}

func newGraph(g *onnx.Graph) (*graph, error) {
	ix := &graph{
		producer:  map[string]*onnx.Node{},
		consumers: map[string][]use{},
		inputs:    map[string]bool{},
		consts:    map[string]*onnx.Tensor{},
		inits:     g.Initializer,
		nodes:     g.Node,
	}
	for i, t := range g.Initializer {
		if t == nil {
			return nil, fmt.Errorf("initializer[%d] is nil", i)
		}
		ix.consts[t.Name] = t
	}
	for i, n := range g.Node {
		if n == nil {
			return nil, fmt.Errorf("node[%d] is nil", i)
		}
		for j, in := range n.Input {
			if in != "" {
				ix.consumers[in] = append(ix.consumers[in], use{n, j})
			}
		}
		for _, out := range n.Output {
			if out == "" {
				continue // an omitted optional output
			}
			if _, dup := ix.producer[out]; dup {
				return nil, fmt.Errorf("value %q is produced by two nodes", out)
			}
			ix.producer[out] = n
		}
		if is(n, "Constant") && len(n.Output) == 1 {
			if a := n.Attr("value"); a != nil && a.T != nil {
				ix.consts[n.Output[0]] = a.T
			}
		}
	}
	for _, v := range g.Input {
		if v != nil && ix.consts[v.Name] == nil {
			ix.inputs[v.Name] = true
		}
	}
	return ix, nil
}

// nodeName names n in messages: its name, or its op type and first output.
func nodeName(n *onnx.Node) string {
	if n.Name != "" {
		return n.Name
	}
	return fmt.Sprintf("%s(%s)", n.OpType, output(n))
}

// is reports whether n is the default-domain operator op.
func is(n *onnx.Node, op string) bool {
	return n.OpType == op && (n.Domain == "" || n.Domain == "ai.onnx")
}

// input returns n's i-th input, or "" if it has none.
func input(n *onnx.Node, i int) string {
	if 0 <= i && i < len(n.Input) {
		return n.Input[i]
	}
	return ""
}

// output returns n's first output, or "" if it has none.
func output(n *onnx.Node) string {
	if len(n.Output) > 0 {
		return n.Output[0]
	}
	return ""
}

// aliases returns v followed by the values it copies through Identity nodes,
// ending at the initializer or Constant output that holds its data (if any).
func (g *graph) aliases(v string) []string {
	chain := []string{v}
	for {
		n := g.producer[v]
		if g.consts[v] != nil || n == nil || !is(n, "Identity") || slices.Contains(chain, input(n, 0)) {
			return chain
		}
		v = input(n, 0)
		chain = append(chain, v)
	}
}

// constant resolves v through Identity nodes to the constant tensor it
// holds, returning the name that stores it; ok is false for activations.
func (g *graph) constant(v string) (root string, t *onnx.Tensor, ok bool) {
	chain := g.aliases(v)
	root = chain[len(chain)-1]
	t = g.consts[root]
	return root, t, t != nil
}

func (g *graph) isConst(v string) bool {
	_, _, ok := g.constant(v)
	return ok
}

// ints returns the elements of an integer constant.
func (g *graph) ints(v string) ([]int64, bool) {
	_, c, ok := g.constant(v)
	if !ok {
		return nil, false
	}
	t, err := c.ToTensor()
	if err != nil {
		return nil, false
	}
	vals, err := t.Int64()
	return vals, err == nil
}

// scalar returns the value of a one-element floating-point constant. A
// float32 is read as its shortest decimal (so a stored 1e-12 reads as 1e-12,
// not 9.999999960041972e-13).
func (g *graph) scalar(v string) (float64, bool) {
	_, c, ok := g.constant(v)
	if !ok {
		return 0, false
	}
	t, err := c.ToTensor()
	if err != nil || t.NumElements() != 1 {
		return 0, false
	}
	if t.DType == tensor.F64 {
		return math.Float64frombits(binary.LittleEndian.Uint64(t.Data)), true
	}
	f, err := t.Float32()
	if err != nil {
		return 0, false
	}
	return shortest(f[0]), true
}

// shortest returns f as the float64 of its shortest decimal representation.
func shortest(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// follow walks forward from v through the nodes that through accepts and
// returns the uses that stop accepts, in breadth-first order. Stopping uses
// are not walked through.
func (g *graph) follow(v string, through, stop func(use) bool) []use {
	var out []use
	seen := map[string]bool{v: true}
	for queue := []string{v}; len(queue) > 0; queue = queue[1:] {
		for _, u := range g.consumers[queue[0]] {
			switch {
			case stop(u):
				out = append(out, u)
			case through(u):
				for _, o := range u.node.Output {
					if !seen[o] {
						seen[o] = true
						queue = append(queue, o)
					}
				}
			}
		}
	}
	return out
}

// passThrough accepts the uses that only reshape, transpose, rescale or
// retype a tensor, as attention does between a projection and its matmul.
func passThrough(u use) bool {
	n := u.node
	switch {
	case is(n, "Reshape"), is(n, "Transpose"), is(n, "Cast"), is(n, "Identity"), is(n, "Unsqueeze"),
		is(n, "Squeeze"), is(n, "Dropout"), is(n, "Flatten"), is(n, "Div"):
		return u.operand == 0
	case is(n, "Mul"):
		return u.operand <= 1
	}
	return false
}

// linear is a Linear layer: MatMul by a constant weight plus an optional
// bias Add, or a Gemm.
type linear struct {
	node   *onnx.Node
	weight param
	bias   *param
	out    string // output, after the bias
}

// param is a constant that the graph uses as a parameter.
type param struct {
	value      string     // the node input that reads it (possibly an Identity alias)
	transposed bool       // stored as [in, out], the transpose of PyTorch's [out, in]
	node       *onnx.Node // a node that uses it, for messages
}

// linearAt returns the Linear layer that n computes on its first input, if
// n is a MatMul with a constant right operand or a plain Gemm.
func (g *graph) linearAt(n *onnx.Node) (*linear, bool) {
	var l *linear
	switch {
	case is(n, "MatMul") && len(n.Input) == 2:
		w, ok := g.weight(n, false)
		if !ok {
			return nil, false
		}
		l = &linear{node: n, weight: w, out: output(n)}
		// The bias is the constant added right after, if that is the only use.
		if us := g.consumers[l.out]; len(us) == 1 && is(us[0].node, "Add") && len(us[0].node.Input) == 2 {
			b := input(us[0].node, 1-us[0].operand)
			if g.isConst(b) {
				l.bias = &param{value: b, node: us[0].node}
				l.out = output(us[0].node)
			}
		}
	case is(n, "Gemm") && len(n.Input) >= 2:
		if attrInt(n, "transA", 0) != 0 || attrFloat(n, "alpha", 1) != 1 || attrFloat(n, "beta", 1) != 1 {
			return nil, false
		}
		w, ok := g.weight(n, attrInt(n, "transB", 0) != 0)
		if !ok {
			return nil, false
		}
		l = &linear{node: n, weight: w, out: output(n)}
		if b := input(n, 2); b != "" {
			if !g.isConst(b) {
				return nil, false
			}
			l.bias = &param{value: b, node: n}
		}
	default:
		return nil, false
	}
	return l, true
}

// weight returns the constant right operand of a MatMul or Gemm, looking
// through a 2-D Transpose; transB says the operator transposes it itself.
func (g *graph) weight(n *onnx.Node, transB bool) (param, bool) {
	v := input(n, 1)
	transposed := !transB
	if t := g.producer[v]; t != nil && is(t, "Transpose") && !g.isConst(v) {
		if perm := attrInts(t, "perm"); perm != nil && !slices.Equal(perm, []int64{1, 0}) {
			return param{}, false
		}
		v, transposed = input(t, 0), !transposed
	}
	if _, t, ok := g.constant(v); !ok || len(t.Dims) != 2 {
		return param{}, false
	}
	return param{value: v, transposed: transposed, node: n}, true
}

// outFeatures returns the output size of a Linear weight.
func (g *graph) outFeatures(p param) int64 {
	_, t, _ := g.constant(p.value)
	if p.transposed {
		return t.Dims[1]
	}
	return t.Dims[0]
}

// linearInput accepts the use of a value as the input of a Linear layer.
func (g *graph) linearInput(u use) bool {
	_, ok := g.linearAt(u.node)
	return ok && u.operand == 0
}

// linearsFrom returns the Linear layers that read x as their input.
func (g *graph) linearsFrom(x string) []*linear {
	var out []*linear
	for _, u := range g.consumers[x] {
		if g.linearInput(u) {
			l, _ := g.linearAt(u.node)
			out = append(out, l)
		}
	}
	return out
}

// layerNorm is a LayerNorm over the last axis, fused or decomposed.
type layerNorm struct {
	weight, bias param
	eps          float64
	out          string
}

// layerNormOn matches the LayerNorm applied to x: a LayerNormalization node
// (opset 17) or the chain torch exports below opset 17,
// ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add.
func (g *graph) layerNormOn(x string) (*layerNorm, error) {
	for _, u := range g.consumers[x] {
		n := u.node
		if !is(n, "LayerNormalization") || u.operand != 0 {
			continue
		}
		if axis := attrInt(n, "axis", -1); axis != -1 {
			return nil, fmt.Errorf("%s: LayerNormalization over axis %d, want -1", nodeName(n), axis)
		}
		if !g.isConst(input(n, 1)) || !g.isConst(input(n, 2)) {
			return nil, fmt.Errorf("%s: LayerNormalization scale and bias are not constants", nodeName(n))
		}
		return &layerNorm{
			weight: param{value: input(n, 1), node: n},
			bias:   param{value: input(n, 2), node: n},
			eps:    shortest(attrFloat(n, "epsilon", 1e-5)),
			out:    output(n),
		}, nil
	}
	return g.decomposedLayerNorm(x)
}

func (g *graph) decomposedLayerNorm(x string) (*layerNorm, error) {
	// next returns a consumer of v that is op, and its other operand.
	next := func(v, op string) (*onnx.Node, string, error) {
		for _, u := range g.consumers[v] {
			if is(u.node, op) {
				return u.node, input(u.node, 1-u.operand), nil
			}
		}
		return nil, "", fmt.Errorf("LayerNorm on %q: no %s after %q", x, op, v)
	}
	var mean *onnx.Node
	for _, u := range g.consumers[x] {
		if is(u.node, "ReduceMean") && u.operand == 0 {
			mean = u.node
		}
	}
	if mean == nil {
		return nil, fmt.Errorf("no LayerNorm on %q (neither LayerNormalization nor ReduceMean reads it)", x)
	}
	sub, other, err := next(output(mean), "Sub")
	if err != nil {
		return nil, err
	}
	if other != x || input(sub, 0) != x {
		return nil, fmt.Errorf("%s: LayerNorm subtracts the mean from %q, not from %q", nodeName(sub), input(sub, 0), x)
	}
	centered := output(sub)
	sq, _, err := next(centered, "Pow")
	if err != nil {
		return nil, err
	}
	varMean, _, err := next(output(sq), "ReduceMean")
	if err != nil {
		return nil, err
	}
	addEps, epsValue, err := next(output(varMean), "Add")
	if err != nil {
		return nil, err
	}
	eps, ok := g.scalar(epsValue)
	if !ok {
		return nil, fmt.Errorf("%s: LayerNorm epsilon %q is not a scalar constant", nodeName(addEps), epsValue)
	}
	sqrt, _, err := next(output(addEps), "Sqrt")
	if err != nil {
		return nil, err
	}
	div, _, err := next(output(sqrt), "Div")
	if err != nil {
		return nil, err
	}
	if input(div, 0) != centered {
		return nil, fmt.Errorf("%s: LayerNorm divides %q, not the centred input", nodeName(div), input(div, 0))
	}
	mul, gamma, err := next(output(div), "Mul")
	if err != nil {
		return nil, err
	}
	add, beta, err := next(output(mul), "Add")
	if err != nil {
		return nil, err
	}
	if !g.isConst(gamma) || !g.isConst(beta) {
		return nil, fmt.Errorf("%s: LayerNorm scale %q or bias %q is not a constant", nodeName(add), gamma, beta)
	}
	return &layerNorm{
		weight: param{value: gamma, node: mul},
		bias:   param{value: beta, node: add},
		eps:    eps,
		out:    output(add),
	}, nil
}

// shapeValues returns the values of a Reshape shape input: a constant, or a
// Concat of constants and computed parts. A computed part counts as one
// entry of -1; callers only rely on the trailing constant entries.
func (g *graph) shapeValues(v string) []int64 {
	if vals, ok := g.ints(v); ok {
		return vals
	}
	n := g.producer[v]
	if n == nil || !is(n, "Concat") {
		return nil
	}
	var out []int64
	for _, in := range n.Input {
		if vals, ok := g.ints(in); ok {
			out = append(out, vals...)
		} else {
			out = append(out, -1)
		}
	}
	return out
}

func attrInt(n *onnx.Node, name string, def int64) int64 {
	if a := n.Attr(name); a != nil && a.Type == onnx.AttributeInt {
		return a.I
	}
	return def
}

func attrFloat(n *onnx.Node, name string, def float32) float32 {
	if a := n.Attr(name); a != nil && a.Type == onnx.AttributeFloat {
		return a.F
	}
	return def
}

func attrInts(n *onnx.Node, name string) []int64 {
	if a := n.Attr(name); a != nil && a.Type == onnx.AttributeInts {
		return a.Ints
	}
	return nil
}
