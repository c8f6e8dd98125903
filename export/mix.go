package export

import (
	"fmt"
	"math"
	"strconv"

	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/kernels"
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
	gate, err := x.g.param(name+".gate", d.Gate[l-2], 1)
	if err != nil {
		return "", err
	}
	return x.g.op(name, "Add", []string{mix, x.g.op(name, "Mul", []string{att, gate})}), nil
}

// weighted returns Σ_l w_l·xs[l] with constant weights, added in order as
// the kernels do (skipping zero weights when skipZero, as LinearMix does).
func (x *exporter) weighted(name string, xs []string, w []float32, skipZero bool) string {
	var terms []string
	for l, v := range w {
		if v == 0 && skipZero {
			continue
		}
		terms = append(terms, x.g.op(name, "Mul", []string{xs[l], x.g.scalar(v)}))
	}
	if len(terms) == 0 {
		return x.g.op(name, "Mul", []string{xs[0], x.g.scalar(0)})
	}
	return x.g.sum(name, terms)
}

// layerAttention returns the per-token attention over the states xs with a
// learned query and per-state bias (kernels.LayerAttention):
// α = softmax_l(xs[l]·q/√hidden + b_l), out = Σ_l α_l xs[l].
func (x *exporter) layerAttention(name string, xs []string, query, bias *nn.Param) (string, error) {
	g := x.g
	h := x.m.Encoder.Config.HiddenSize
	q, err := g.param(name+".query", query, h, 1)
	if err != nil {
		return "", err
	}
	b, err := g.param(name+".bias", bias, len(xs))
	if err != nil {
		return "", err
	}
	scores := make([]string, len(xs))
	for l, s := range xs {
		scores[l] = g.op(name, "MatMul", []string{s, q})
	}
	s := g.op(name, "Concat", scores, attrInt("axis", -1))
	s = g.op(name, "Add", []string{g.op(name, "Mul", []string{s, g.scalar(float32(1 / math.Sqrt(float64(h))))}), b})
	alpha := g.op(name, "Softmax", []string{s}, attrInt("axis", -1))
	terms := make([]string, len(xs))
	for l, st := range xs {
		a := g.op(name, "Slice", []string{alpha, g.ints(int64(l)), g.ints(int64(l + 1)), g.ints(-1)})
		terms[l] = g.op(name, "Mul", []string{st, a})
	}
	return g.sum(name, terms), nil
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
			xs[i] = g.op(name, "Sub", []string{x.hidden[l], x.hidden[l-1]})
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
		s := softmax64(w)
		coef := make([]float32, len(w))
		for l := range coef {
			coef[l] = gamma[0] * float32(s[l])
		}
		return x.weighted(name, xs, coef, false), nil
	case "concat":
		return g.linear(name+".proj", g.op(name, "Concat", xs, attrInt("axis", -1)), m.Proj)
	case "attention":
		return x.layerAttention(name, xs, m.Query, m.Bias)
	}
	return "", fmt.Errorf("%s: unknown mode %q", name, m.Config.Mode)
}

func softmax64(v []float32) []float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, float64(x))
	}
	out := make([]float64, len(v))
	var z float64
	for i, x := range v {
		out[i] = math.Exp(float64(x) - m)
		z += out[i]
	}
	for i := range out {
		out[i] /= z
	}
	return out
}
