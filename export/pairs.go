package export

import (
	"fmt"
	"strconv"

	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/onnx/graph"
)

// The inputs of a model with pair states, INT64 like the others.
const (
	// PairRelations is the relation bucket of every pair of tokens of a
	// row, row-major (pairs.Config.Relations).
	PairRelations = "pair_relations" // [batch, seq·seq]
	// PairRows gives, for a parser that reads pair states, the pair of
	// every dependent and head word slot as a position in the flattened
	// [batch·seq·seq] pairs, -1 where there is none
	// (tasks.Batch.PairRows).
	PairRows = "pair_rows" // [examples, words·words]
)

// pairStart adds the pair states the relations give, [batch, seq, seq,
// dim].
func (x *exporter) pairStart() (string, error) {
	g, p := x.g, x.m.Pairs()
	if !x.has(PairRelations) {
		return "", fmt.Errorf("pair states without the %s input", PairRelations)
	}
	seq := g.Unsqueeze("pairs", g.Dim("pairs", InputIDs, 1), 0)
	shape := g.Op("pairs", "Concat", []string{g.Ints(0, -1), seq}, graph.AttrInt("axis", 0))
	rel := g.Op("pairs", "Reshape", []string{PairRelations, shape})
	table, err := x.table("pairs.relations.weight", p.Relations)
	if err != nil {
		return "", err
	}
	return g.Op("pairs", "Gather", []string{table, rel}, graph.AttrInt("axis", 0)), nil
}

// pairBias adds layer l's attention bias [batch, heads, seq, seq] from the
// pair states, or returns "" when the layer reads none.
func (x *exporter) pairBias(l int, states string) (string, error) {
	p := x.m.Pairs()
	if p == nil || l >= len(p.Bias) || p.Bias[l] == nil {
		return "", nil
	}
	g, name := x.g, "pairs."+strconv.Itoa(l)+".bias"
	heads, d := p.Heads, p.Config.Dim
	w := kernels.Values(p.Bias[l])
	t := make([]float32, len(w)) // [heads, dim] → [dim, heads]
	for h := range heads {
		for c := range d {
			t[c*heads+h] = w[h*d+c]
		}
	}
	b := g.Op(name, "MatMul", []string{states, g.Floats(name+".weight_t", []int{d, heads}, t)})
	return g.Transpose(name, b, 0, 3, 1, 2), nil
}

// pairUpdate adds the updates of the pair states after layer l, whose
// output is h [batch, seq, hidden].
func (x *exporter) pairUpdate(l int, states, h string) (string, error) {
	p, g := x.m.Pairs(), x.g
	name := "pairs." + strconv.Itoa(l)
	if l < len(p.UpdateA) && p.UpdateA[l] != nil {
		a, err := g.Linear(name+".update_a", h, p.UpdateA[l])
		if err != nil {
			return "", err
		}
		c, err := g.Linear(name+".update_c", h, p.UpdateC[l])
		if err != nil {
			return "", err
		}
		u := g.Op(name, "Mul", []string{g.Unsqueeze(name, a, 2), g.Unsqueeze(name, c, 1)})
		states = g.Op(name, "Add", []string{states, u})
	}
	if l < len(p.TriangleA) && p.TriangleA[l] != nil {
		a, err := g.Linear(name+".triangle_a", states, p.TriangleA[l])
		if err != nil {
			return "", err
		}
		c, err := g.Linear(name+".triangle_c", states, p.TriangleC[l])
		if err != nil {
			return "", err
		}
		// The mean over the row's real tokens k, as kernels.TriangleProduct.
		keep := g.Cast(name, AttentionMask, onnx.Float)
		n := g.Reshape(name, g.Reduce(name, "ReduceSum", keep, true, 1), -1, 1, 1, 1)
		a = g.Op(name, "Mul", []string{a, g.Unsqueeze(name, keep, 1, 3)})
		t := g.Op(name, "Einsum", []string{a, c}, graph.AttrString("equation", "bikd,bjkd->bijd"))
		out, err := g.Linear(name+".triangle_out", g.Op(name, "Div", []string{t, n}), p.TriangleOut[l])
		if err != nil {
			return "", err
		}
		states = g.Op(name, "Add", []string{states, out})
	}
	return states, nil
}

// PairLogits returns the parser's scores of the pair states of its layer
// for every dependent and head word slot, [examples, words, words], or ""
// when parsers read no pair states.
func (in *taskInput) PairLogits() (string, error) {
	x, g, name := in.x, in.x.g, in.Name()
	p := x.m.Pairs()
	if p == nil || p.Parser == nil {
		return "", nil
	}
	if !x.has(PairRows) {
		return "", fmt.Errorf("reads pair states without the %s input", PairRows)
	}
	states := x.pairs[min(in.t.Deepest(), len(x.pairs)-1)]
	u := g.Floats(name+".pairs.parser.weight_t", []int{p.Config.Dim, 1}, kernels.Values(p.Parser))
	flat := g.Reshape(name, g.Op(name, "MatMul", []string{states, u}), -1)
	valid := g.Op(name, "GreaterOrEqual", []string{PairRows, g.ScalarInt(0)})
	picked := g.Op(name, "Gather", []string{flat, g.Op(name, "Max", []string{PairRows, g.ScalarInt(0)})}, graph.AttrInt("axis", 0))
	scores := g.Op(name, "Where", []string{valid, picked, g.Scalar(0)})
	// [examples, W·W] → [examples, W, W], W being the word slots' count.
	W := g.Unsqueeze(name, g.Dim(name, WordStart, 1), 0)
	shape := g.Op(name, "Concat", []string{g.Ints(0), W, W}, graph.AttrInt("axis", 0))
	return g.Op(name, "Reshape", []string{scores, shape}), nil
}
