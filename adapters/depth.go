package adapters

import (
	"fmt"
	"strconv"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

// DepthMixer feeds each encoder layer a mix of the outputs of the
// embeddings and of all earlier layers, instead of the previous layer's
// output alone: the layers no longer just add to one residual stream, each
// reads what it chooses (it implements encoder.LayerInput).
//
// In "static" mode (DenseFormer's depth-weighted average) layer l reads
// Σ_j w_{l,j} h_j with learned weights; in "attention" mode it adds, gated by
// a learned λ_l, a per-token attention over the same states with a learned
// query and per-layer bias: Σ_j (w_{l,j} + λ_l α_{l,j}(token)) h_j. Weights
// start at one for the previous layer and zero elsewhere, and λ at zero, so
// a retrofitted pretrained encoder computes exactly what it did.
type DepthMixer struct {
	nn.Module
	Mode    string
	Weights []*nn.Param // Weights[l-2]: layer l's weights over h_0..h_{l-1}
	Query   []*nn.Param
	Bias    []*nn.Param
	Gate    []*nn.Param
	// Observe, when set, receives in attention mode each layer l's
	// attention over h_0..h_{l-1}: l values per row, row-major (for
	// inspection).
	Observe func(l int, alpha []float32)
}

// DepthModes are the depth mixing modes.
var DepthModes = []string{"static", "attention"}

// NewDepthMixer returns an identity-initialised mixer for an encoder of the
// given layers and hidden size. Layer 1 has only the embeddings to read and
// gets no weights.
func NewDepthMixer(mode string, layers, hidden int) (*DepthMixer, error) {
	if mode != "static" && mode != "attention" {
		return nil, fmt.Errorf("unknown depth mixing %q (want static or attention)", mode)
	}
	d := &DepthMixer{Mode: mode}
	for l := 2; l <= layers; l++ {
		w := param(l, 1)
		kernels.Values(w)[l-1] = 1
		d.Weights = append(d.Weights, w)
		if mode == "attention" {
			d.Query = append(d.Query, param(hidden, 1))
			d.Bias = append(d.Bias, param(l, 1))
			d.Gate = append(d.Gate, param(1, 1))
		}
	}
	return d, nil
}

// Input returns layer l's input from the states so far.
func (d *DepthMixer) Input(l int, states []mat.Tensor) mat.Tensor {
	if l < 2 {
		return states[l-1]
	}
	xs := states[:l]
	mix := kernels.LinearMix(xs, d.Weights[l-2])
	if d.Mode == "static" {
		return mix
	}
	att, alpha := kernels.LayerAttention(xs, d.Query[l-2], d.Bias[l-2])
	if d.Observe != nil {
		d.Observe(l, alpha)
	}
	return kernels.WeightedSum([]mat.Tensor{mix, kernels.ScaleBy(att, d.Gate[l-2])}, []float32{1, 1})
}

// NamedParams returns the mixer's parameters, named "depth.L.…" by layer.
func (d *DepthMixer) NamedParams() []encoder.NamedParam {
	var ps []encoder.NamedParam
	vec := func(name string, p *nn.Param) {
		r, _ := kernels.Dims(p)
		ps = append(ps, encoder.NamedParam{Name: name, Param: p, Shape: []int{r}})
	}
	for i := range d.Weights {
		prefix := "depth." + strconv.Itoa(i+2) + "."
		vec(prefix+"weights", d.Weights[i])
		if d.Mode == "attention" {
			vec(prefix+"query", d.Query[i])
			vec(prefix+"bias", d.Bias[i])
			vec(prefix+"gate", d.Gate[i])
		}
	}
	return ps
}

// Gates returns the attention gates λ_l of layers 2..L (nil in static
// mode).
func (d *DepthMixer) Gates() []float64 {
	var out []float64
	for _, g := range d.Gate {
		out = append(out, float64(kernels.Values(g)[0]))
	}
	return out
}

// WeightMatrix returns the static weights: one row per layer l = 2..L,
// holding its weights over h_0..h_{l-1}.
func (d *DepthMixer) WeightMatrix() [][]float64 {
	out := make([][]float64, len(d.Weights))
	for i, w := range d.Weights {
		for _, v := range kernels.Values(w) {
			out[i] = append(out[i], float64(v))
		}
	}
	return out
}
