package finetune

import (
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
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

// Inspect returns how every task reads the encoder. With a data file of a
// dataset's format it also averages the attention mixes of that dataset's
// tasks over the file's tokens.
func (m *Model) Inspect(datasetName, data string) ([]Reading, error) {
	var out []Reading
	for _, t := range m.tasks {
		r := Reading{Task: t.cfg.Name, Layer: t.layer}
		if t.mixer != nil {
			r = Reading{Task: t.cfg.Name, Mode: t.cfg.Mix.Mode, Layers: t.mixer.Layers(), Diff: t.cfg.Mix.Diff, Static: t.mixer.StaticWeights()}
		}
		out = append(out, r)
	}
	if data == "" {
		return out, nil
	}
	d, err := m.datasetFor(datasetName)
	if err != nil {
		return nil, err
	}
	exs, _, err := d.readInput(data, m.tok, m.maxLen, m.stride, nil)
	if err != nil {
		return nil, err
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	idx := make([]int, len(exs))
	for i := range idx {
		idx[i] = i
	}
	for _, group := range groupedBatches(idx, exs, m.cfg.Eval.BatchSize, nil) {
		bexs := make([]*example, len(group))
		for i, e := range group {
			bexs[i] = exs[e]
		}
		b := m.batch(d, bexs)
		res, err := m.Encoder.Forward(b.enc, encoder.Options{Depth: depth(d.tasks), Words: b.words})
		if err != nil {
			return nil, err
		}
		for i, t := range m.tasks {
			if t.ds != d || t.mixer == nil || t.cfg.Mix.Mode != "attention" {
				continue
			}
			_, alpha := t.mixer.Forward(res.HiddenStates)
			L := len(t.mixer.Layers())
			if out[i].Mean == nil {
				out[i].Mean = make([]float64, L)
			}
			for row, att := range b.enc.AttentionMask {
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
	return out, nil
}
