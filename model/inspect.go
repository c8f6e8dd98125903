package model

import (
	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/tasks"
)

// Reading says how a task reads the encoder: its layer, or its mix of layers
// with the learned weights.
type Reading struct {
	Task   string `json:"task"`
	Layer  int    `json:"layer,omitempty"`
	Mode   string `json:"mix,omitempty"`
	Layers []int  `json:"layers,omitempty"`
	Diff   bool   `json:"diff,omitempty"`
	// Static is the softmax of a scalar mix's weights, or of an attention
	// mix's per-layer prior.
	Static []float64 `json:"weights,omitempty"`
	// Mean is an attention mix's weights over the layers averaged over the
	// tokens of the inspected data.
	Mean   []float64 `json:"mean_attention,omitempty"`
	Tokens int       `json:"tokens,omitempty"`
}

// Inspection is what Inspect reads from a model.
type Inspection struct {
	Tasks []Reading `json:"tasks"`
	// Depth holds the depth mixer's weights, a row for each layer l = 2..L
	// over h_0..h_{l-1}: the static
	// weights, or in attention mode with data, the effective weights
	// w + λ·α averaged over the data's tokens. Nil without depth mixing.
	Depth [][]float64 `json:"depth_mixing,omitempty"`
	// DepthGates are the attention mode's gates λ of layers 2..L.
	DepthGates []float64 `json:"depth_gates,omitempty"`
	// DepthTokens counts the tokens Depth averages over (0: static).
	DepthTokens int `json:"depth_tokens,omitempty"`
}

// Inspect returns how every task and the depth mixer read the encoder.
// With a data file of a dataset's format it also averages the attention
// mixes of that dataset's tasks, and the depth attention, over the file's
// tokens.
func (m *Model) Inspect(datasetName, data string) (*Inspection, error) {
	var out []Reading
	for _, t := range m.Tasks {
		r := Reading{Task: t.Config.Name, Layer: t.Layer}
		if t.Mixer != nil {
			r = Reading{Task: t.Config.Name, Mode: t.Config.Mix.Mode, Layers: t.Mixer.Layers(), Diff: t.Config.Mix.Diff, Static: t.Mixer.StaticWeights()}
		}
		out = append(out, r)
	}
	ins := &Inspection{Tasks: out}
	if m.depth != nil {
		ins.Depth, ins.DepthGates = m.depth.WeightMatrix(), m.depth.Gates()
	}
	if data == "" {
		return ins, nil
	}
	d, err := m.Dataset(datasetName)
	if err != nil {
		return nil, err
	}
	exs, err := m.ReadInput(d, data, false, nil)
	if err != nil {
		return nil, err
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	// The depth attention of each layer, summed over real tokens.
	var depthSum [][]float64
	var mask []int64
	if m.depth != nil && m.depth.Mode == "attention" {
		depthSum = make([][]float64, len(ins.Depth))
		m.depth.Observe = func(l int, alpha []float32) {
			if depthSum[l-2] == nil {
				depthSum[l-2] = make([]float64, l)
			}
			for row, att := range mask {
				if att == 0 {
					continue
				}
				for j := 0; j < l; j++ {
					depthSum[l-2][j] += float64(alpha[row*l+j])
				}
				if l == 2 {
					ins.DepthTokens++
				}
			}
		}
		defer func() { m.depth.Observe = nil }()
	}
	for _, b := range m.Batches(d, exs, 0) {
		mask = b.Enc.AttentionMask
		if b.Words != nil && b.Words.After == 0 {
			mask = b.Words.Mask() // the layers read words; pooling higher up ends depth mixing there
		}
		opt := encoder.Options{Depth: Depth(m.TasksOf(d)), Words: b.Words}
		if err := m.SetPairs(&opt, b); err != nil {
			return nil, err
		}
		res, err := m.Encoder.Forward(b.Enc, opt)
		if err != nil {
			return nil, err
		}
		for i, t := range m.Tasks {
			if t.Config.Dataset != d.Name || t.Mixer == nil || t.Config.Mix.Mode != "attention" {
				continue
			}
			_, alpha := t.Mixer.Forward(res.HiddenStates)
			L := len(t.Mixer.Layers())
			if out[i].Mean == nil {
				out[i].Mean = make([]float64, L)
			}
			for row, att := range b.Enc.AttentionMask {
				if att == 0 {
					continue
				}
				for l := 0; l < L; l++ {
					out[i].Mean[l] += float64(alpha[row*L+l])
				}
				out[i].Tokens++
			}
		}
		arena.Reset()
	}
	for i := range out {
		for l := range out[i].Mean {
			out[i].Mean[l] /= float64(out[i].Tokens)
		}
	}
	for i, sum := range depthSum {
		for j := range sum {
			ins.Depth[i][j] += ins.DepthGates[i] * sum[j] / float64(ins.DepthTokens)
		}
	}
	return ins, nil
}

// Hidden runs the encoder, unmerged and as deep as it goes, over examples
// of dataset d in batches, and calls fn with each batch and its hidden
// states.
func (m *Model) Hidden(d *datasets.Dataset, exs []*tasks.Example, fn func(b *tasks.Batch, hidden []mat.Tensor) error) error {
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	for _, b := range m.Batches(d, exs, 0) {
		opt := encoder.Options{Words: b.Words}
		if err := m.SetPairs(&opt, b); err != nil {
			return err
		}
		res, err := m.Encoder.Forward(b.Enc, opt)
		if err != nil {
			return err
		}
		if err := fn(b, res.HiddenStates); err != nil {
			return err
		}
		arena.Reset()
	}
	return nil
}
