package onnxweights

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hiertune/hiertune/onnx"
)

// canonicalRE matches a BertModel parameter name at the end of an exported
// name such as "m.bert.encoder.layer.0.attention.self.query.bias".
var canonicalRE = regexp.MustCompile(`(?:^|\.)(embeddings\.(?:word|position|token_type)_embeddings\.weight|` +
	`(?:embeddings\.LayerNorm|pooler\.dense|encoder\.layer\.\d+\.(?:attention\.self\.(?:query|key|value)|` +
	`attention\.output\.dense|attention\.output\.LayerNorm|intermediate\.dense|output\.dense|output\.LayerNorm))` +
	`\.(?:weight|bias))$`)

// canonical returns the canonical parameter name that name ends with.
func canonical(name string) (string, bool) {
	m := canonicalRE.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// isLinear reports whether a canonical name belongs to a Linear layer.
func isLinear(name string) bool {
	return strings.Contains(name, ".query.") || strings.Contains(name, ".key.") ||
		strings.Contains(name, ".value.") || strings.Contains(name, ".dense.")
}

// canonicalAlias returns the canonical name closest to the use among v and
// the Identity aliases behind it: after deduplication torch exports equal
// parameters as one initializer plus Identity nodes that carry the names.
func (g *graph) canonicalAlias(v string) (string, bool) {
	for _, a := range g.aliases(v) {
		if name, ok := canonical(a); ok {
			return name, true
		}
	}
	return "", false
}

// named collects the parameters that the graph names, each at a place
// where it is used (which fixes the orientation of Linear weights).
type named struct {
	g      *graph
	params map[string]param
}

// byName finds the parameters whose names (or Identity aliases) end in a
// canonical name. An anonymous MatMul weight takes its name from the bias
// added right after it: "...query.bias" names "...query.weight".
func byName(g *graph, nodes []*onnx.Node) (map[string]param, error) {
	nm := &named{g: g, params: map[string]param{}}
	weights := map[use]bool{} // the MatMul and Gemm operands that are Linear weights
	for _, n := range nodes {
		l, ok := g.linearAt(n)
		if !ok {
			continue
		}
		weights[use{n, 1}] = true
		name, ok := g.canonicalAlias(l.weight.value)
		if !ok && l.bias != nil {
			if b, ok := g.canonicalAlias(l.bias.value); ok && strings.HasSuffix(b, ".bias") {
				name = strings.TrimSuffix(b, ".bias") + ".weight"
			}
		}
		if isLinear(name) && strings.HasSuffix(name, ".weight") {
			if err := nm.add(name, l.weight); err != nil {
				return nil, err
			}
		}
	}
	for _, n := range nodes {
		for i, in := range n.Input {
			if weights[use{n, i}] || in == "" || !g.isConst(in) {
				continue
			}
			name, ok := g.canonicalAlias(in)
			// Linear weights count only where a MatMul or Gemm uses them.
			if ok && !(isLinear(name) && strings.HasSuffix(name, ".weight")) {
				if err := nm.add(name, param{value: in, node: n}); err != nil {
					return nil, err
				}
			}
		}
	}
	return nm.params, nil
}

// add records p under name; a second, different tensor under the same name
// is an error.
func (nm *named) add(name string, p param) error {
	q, ok := nm.params[name]
	if !ok {
		nm.params[name] = p
		return nil
	}
	same, err := nm.g.sameTensor(p, q)
	if err != nil {
		return err
	}
	if !same {
		return fmt.Errorf("two different tensors are named like %s: %q (used by %s) and %q (used by %s)",
			name, q.value, nodeName(q.node), p.value, nodeName(p.node))
	}
	return nil
}
