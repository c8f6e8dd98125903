// Package adapters holds the blocks hiertune adds between a pretrained
// encoder and its task heads: learned mixes of layers, which let a task read
// several depths instead of one.
package adapters

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

// MixConfig says how a task reads the encoder's hidden states.
type MixConfig struct {
	// Mode is "" (one layer: the task's own), "scalar" (softmax-weighted
	// sum of layers with a learned scale, as ELMo and UDify), "concat"
	// (the layers side by side, projected back to the hidden size) or
	// "attention" (per token, attention over the layers with a learned
	// query).
	Mode string `yaml:"mode" json:"mode"`
	// Layers are the hidden states mixed (0 = embeddings, i = layer i,
	// negative from the top); empty means all of them.
	Layers []int `yaml:"layers" json:"layers,omitempty"`
	// Diff mixes what each layer adds, h_l − h_{l−1}, instead of h_l (the
	// embedding output, which has no predecessor, is left out).
	Diff bool `yaml:"diff" json:"diff,omitempty"`
}

// Modes are the mixing modes ("" is a single layer).
var Modes = []string{"", "scalar", "concat", "attention"}

// Mixer reads a mix of hidden states.
type Mixer struct {
	nn.Module
	Config MixConfig
	layers []int // absolute hidden-state indices read
	// scalar: weights and scale; concat: the projection; attention: the
	// query and the per-layer bias.
	Weights, Gamma *nn.Param
	Proj           *encoder.Linear
	Query, Bias    *nn.Param
}

// NewMixer returns the mixer of cfg for an encoder of numLayers layers and
// the given hidden size. Its weights start neutral: a uniform mix, a
// projection drawn as PyTorch's nn.Linear, a zero query (uniform attention).
func NewMixer(cfg MixConfig, numLayers, hidden int, rng *rand.Rand) (*Mixer, error) {
	if !slices.Contains(Modes, cfg.Mode) || cfg.Mode == "" {
		return nil, fmt.Errorf("unknown layer mix %q (want scalar, concat or attention)", cfg.Mode)
	}
	m := &Mixer{Config: cfg}
	layers := cfg.Layers
	if len(layers) == 0 {
		for l := 0; l <= numLayers; l++ {
			layers = append(layers, l)
		}
	}
	for _, l := range layers {
		abs := l
		if l < 0 {
			abs = numLayers + 1 + l
		}
		if abs < 0 || abs > numLayers {
			return nil, fmt.Errorf("layer %d does not exist in a %d-layer encoder", l, numLayers)
		}
		if cfg.Diff && abs == 0 {
			continue
		}
		if !slices.Contains(m.layers, abs) {
			m.layers = append(m.layers, abs)
		}
	}
	slices.Sort(m.layers)
	if len(m.layers) == 0 {
		return nil, fmt.Errorf("the layer mix reads no layer")
	}
	n := len(m.layers)
	switch cfg.Mode {
	case "scalar":
		m.Weights, m.Gamma = param(n, 1), param(1, 1)
		kernels.Values(m.Gamma)[0] = 1
	case "concat":
		m.Proj = encoder.NewLinear(n*hidden, hidden)
		bound := 1 / math.Sqrt(float64(n*hidden))
		for _, p := range []*nn.Param{m.Proj.Weight, m.Proj.Bias} {
			v := kernels.Values(p)
			for i := range v {
				v[i] = float32((2*rng.Float64() - 1) * bound)
			}
		}
	case "attention":
		m.Query, m.Bias = param(hidden, 1), param(n, 1)
	}
	return m, nil
}

func param(rows, cols int) *nn.Param {
	p := &nn.Param{Matrix: mat.NewDense[float32](mat.WithShape(rows, cols))}
	p.SetRequiresGrad(true)
	return p
}

// Deepest returns the deepest hidden state the mixer reads.
func (m *Mixer) Deepest() int { return m.layers[len(m.layers)-1] }

// Layers returns the hidden states the mix is over, in order (the layer l
// of a difference h_l − h_{l−1}).
func (m *Mixer) Layers() []int { return slices.Clone(m.layers) }

// NamedParams returns the mixer's parameters, named "mix.…".
func (m *Mixer) NamedParams() []encoder.NamedParam {
	vec := func(name string, p *nn.Param) encoder.NamedParam {
		r, _ := kernels.Dims(p)
		return encoder.NamedParam{Name: name, Param: p, Shape: []int{r}}
	}
	switch m.Config.Mode {
	case "scalar":
		return []encoder.NamedParam{vec("mix.weights", m.Weights), vec("mix.gamma", m.Gamma)}
	case "concat":
		out, in := kernels.Dims(m.Proj.Weight)
		return []encoder.NamedParam{
			{Name: "mix.proj.weight", Param: m.Proj.Weight, Shape: []int{out, in}},
			vec("mix.proj.bias", m.Proj.Bias),
		}
	}
	return []encoder.NamedParam{vec("mix.query", m.Query), vec("mix.bias", m.Bias)}
}

// inputs returns the states the mix is over: the hidden states, or their
// differences.
func (m *Mixer) inputs(hidden []mat.Tensor) []mat.Tensor {
	xs := make([]mat.Tensor, len(m.layers))
	for i, l := range m.layers {
		xs[i] = hidden[l]
		if m.Config.Diff {
			xs[i] = kernels.Difference(hidden[l], hidden[l-1])
		}
	}
	return xs
}

// Forward returns the mixed states [rows, hidden] from every hidden state
// of a forward pass (index 0 the embedding output), and, for attention, the
// attention of each row over the mixed layers.
func (m *Mixer) Forward(hidden []mat.Tensor) (mat.Tensor, []float32) {
	xs := m.inputs(hidden)
	switch m.Config.Mode {
	case "scalar":
		return kernels.ScalarMix(xs, m.Weights, m.Gamma), nil
	case "concat":
		return m.Proj.Forward(kernels.Concat(xs)), nil
	}
	return kernels.LayerAttention(xs, m.Query, m.Bias)
}

// StaticWeights returns the mix's weights over its layers that do not depend
// on the input: the softmax of the scalar weights, or of the attention's
// per-layer bias (its prior). Concatenation has none (nil).
func (m *Mixer) StaticWeights() []float64 {
	var w []float32
	switch m.Config.Mode {
	case "scalar":
		w = kernels.Values(m.Weights)
	case "attention":
		w = kernels.Values(m.Bias)
	default:
		return nil
	}
	return kernels.Softmax64(w)
}
