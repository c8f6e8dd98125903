package export

import (
	"fmt"
	"math"
	"strconv"

	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx/graph"
)

// depthInput returns layer l's input under depth mixing: Σ_j w_{l,j} h_j
// over the states so far, plus in attention mode the gated attention over
// them (adapters.DepthMixer.Input).
func (x *exporter) depthInput(l int, d *adapters.DepthMixer) (string, error) {
	if l-2 >= len(d.Weights) {
		return "", fmt.Errorf("depth mixing has no weights for layer %d", l)
	}
	name := "encoder.depth." + strconv.Itoa(l)
	xs := x.hidden[:l]
	w := kernels.Values(d.Weights[l-2])
	if len(w) != len(xs) {
		return "", fmt.Errorf("%s: %d weights for %d states", name, len(w), len(xs))
	}
	mix := x.weighted(name, xs, w, true)
	if d.Mode == "static" {
		return mix, nil
	}
	att, err := x.layerAttention(name, xs, d.Query[l-2], d.Bias[l-2])
	if err != nil {
		return "", err
	}
	gate, err := x.g.Param(name+".gate", d.Gate[l-2], 1)
	if err != nil {
		return "", err
	}
	return x.g.Op(name, "Add", []string{mix, x.g.Op(name, "Mul", []string{att, gate})}), nil
}

// weighted returns Σ_l w_l·xs[l] with constant weights, added in order as
// the kernels do (skipping zero weights when skipZero, as LinearMix does).
func (x *exporter) weighted(name string, xs []string, w []float32, skipZero bool) string {
	var terms []string
	for l, v := range w {
		if v == 0 && skipZero {
			continue
		}
		terms = append(terms, x.g.Op(name, "Mul", []string{xs[l], x.g.Scalar(v)}))
	}
	if len(terms) == 0 {
		return x.g.Op(name, "Mul", []string{xs[0], x.g.Scalar(0)})
	}
	return x.g.Sum(name, terms)
}

// layerAttention returns the per-token attention over the states xs with a
// learned query and per-state bias (kernels.LayerAttention):
// α = softmax_l(xs[l]·q/√hidden + b_l), out = Σ_l α_l xs[l].
func (x *exporter) layerAttention(name string, xs []string, query, bias *nn.Param) (string, error) {
	g := x.g
	h := x.m.Encoder.Config.HiddenSize
	q, err := g.Param(name+".query", query, h, 1)
	if err != nil {
		return "", err
	}
	b, err := g.Param(name+".bias", bias, len(xs))
	if err != nil {
		return "", err
	}
	scores := make([]string, len(xs))
	for l, s := range xs {
		scores[l] = g.Op(name, "MatMul", []string{s, q})
	}
	s := g.Op(name, "Concat", scores, graph.AttrInt("axis", -1))
	s = g.Op(name, "Add", []string{g.Op(name, "Mul", []string{s, g.Scalar(float32(1 / math.Sqrt(float64(h))))}), b})
	alpha := g.Op(name, "Softmax", []string{s}, graph.AttrInt("axis", -1))
	terms := make([]string, len(xs))
	for l, st := range xs {
		a := g.Op(name, "Slice", []string{alpha, g.Ints(int64(l)), g.Ints(int64(l + 1)), g.Ints(-1)})
		terms[l] = g.Op(name, "Mul", []string{st, a})
	}
	return g.Sum(name, terms), nil
}

// mix returns a task's layer mix over the hidden states
// (adapters.Mixer.Forward).
func (x *exporter) mix(name string, m *adapters.Mixer) (string, error) {
	g := x.g
	layers := m.Layers()
	xs := make([]string, len(layers))
	for i, l := range layers {
		if l >= len(x.hidden) || (m.Config.Diff && l == 0) {
			return "", fmt.Errorf("%s reads hidden state %d of %d", name, l, len(x.hidden))
		}
		xs[i] = x.hidden[l]
		if m.Config.Diff {
			if x.units[l] != x.units[l-1] {
				return "", fmt.Errorf("%s: the difference of hidden states %d and %d crosses word pooling", name, l, l-1)
			}
			xs[i] = g.Op(name, "Sub", []string{x.hidden[l], x.hidden[l-1]})
		}
		if x.units[l] != x.units[layers[0]] {
			return "", fmt.Errorf("%s mixes hidden states on both sides of word pooling", name)
		}
	}
	switch m.Config.Mode {
	case "scalar":
		// kernels.ScalarMix: γ·softmax(w)_l in float64, rounded to float32.
		w, gamma := kernels.Values(m.Weights), kernels.Values(m.Gamma)
		if len(w) != len(xs) || len(gamma) != 1 {
			return "", fmt.Errorf("%s: %d weights and %d scales for %d layers", name, len(w), len(gamma), len(xs))
		}
		s := kernels.Softmax64(w)
		coef := make([]float32, len(w))
		for l := range coef {
			coef[l] = gamma[0] * float32(s[l])
		}
		return x.weighted(name, xs, coef, false), nil
	case "concat":
		return g.Linear(name+".proj", g.Op(name, "Concat", xs, graph.AttrInt("axis", -1)), m.Proj)
	case "attention":
		return x.layerAttention(name, xs, m.Query, m.Bias)
	}
	return "", fmt.Errorf("%s: unknown mode %q", name, m.Config.Mode)
}
