// Package hierarchy is the soft-hierarchy transformer: each token carries,
// besides its state V, a hierarchy vector H — tokens are the closer in the
// hierarchy the closer their H — and
//
//   - a regulariser pulls the states of tokens with close H together, so
//     that in the upper layers the tokens of a phrase carry nearly one
//     state (kernels.SimilarityLoss);
//   - optionally, gold dependency trees shape H, squared H distances being
//     regressed onto tree distances as Hewitt & Manning's structural probe
//     does (kernels.TreeDistanceLoss), without the model building a tree;
//   - tokens with close H are merged by agglomerative clustering between
//     layers, so the layers above run on phrases, and every token gets back
//     its phrase's state plus its own before the merge (a U-Net skip) for
//     the heads (Merger).
//
// H of hidden state l is a linear projection of that state, H_l = P_l·V_l:
// it reads the residual stream and never writes it, so the pretrained
// model's outputs are unchanged, it costs one small product per layer,
// and a projection is what a structural probe is, so the syntactic
// supervision trains exactly a probe while the regulariser makes the
// states agree with it. (A separate stream that each layer updates would
// need new attention parameters in every layer, and could not start
// without changing the pretrained computation.)
package hierarchy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/hierarchy/probe"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/tasks"
)

// Module holds the hierarchy projections of a model.
type Module struct {
	Config *Config
	// Proj[l] maps hidden state l to its hierarchy vectors (nil below
	// Config.From).
	Proj []*encoder.Linear
}

// New makes the projections of a checked configuration for an encoder of
// the given hidden size and layers, drawn from rng so that two tokens'
// squared H distance starts near 2 (about the kernel's temperature):
// weights N(0, 2/(hidden·dim)), biases zero.
func New(cfg *Config, hidden, layers int, rng *rand.Rand) *Module {
	m := &Module{Config: cfg, Proj: make([]*encoder.Linear, layers+1)}
	std := math.Sqrt(2 / float64(hidden*cfg.Dim))
	for l := cfg.From; l <= layers; l++ {
		p := encoder.NewLinear(hidden, cfg.Dim)
		w := kernels.Values(p.Weight)
		for i := range w {
			w[i] = float32(std * rng.NormFloat64())
		}
		m.Proj[l] = p
	}
	return m
}

// NamedParams lists the projections' parameters as
// hierarchy.{l}.weight [dim, hidden] and hierarchy.{l}.bias [dim].
func (m *Module) NamedParams() []encoder.NamedParam {
	var ps []encoder.NamedParam
	for l, p := range m.Proj {
		if p == nil {
			continue
		}
		_, hidden := kernels.Dims(p.Weight)
		ps = append(ps,
			encoder.NamedParam{Name: fmt.Sprintf("hierarchy.%d.weight", l), Param: p.Weight, Shape: []int{m.Config.Dim, hidden}},
			encoder.NamedParam{Name: fmt.Sprintf("hierarchy.%d.bias", l), Param: p.Bias, Shape: []int{m.Config.Dim}})
	}
	return ps
}

// H returns the hierarchy vectors of hidden state l, x being its rows.
func (m *Module) H(l int, x mat.Tensor) mat.Tensor { return m.Proj[l].Forward(x) }

// Has reports whether hidden state l has hierarchy vectors.
func (m *Module) Has(l int) bool { return l >= 0 && l < len(m.Proj) && m.Proj[l] != nil }

// Losses are a batch's hierarchy loss terms, named for the metrics.
type Losses struct {
	Terms   []mat.Tensor
	Weights []float32
	Names   []string
}

// Losses returns the regulariser's and the syntactic supervision's loss
// terms on the hidden states of a training batch of the dataset named
// dataset.
func (m *Module) Losses(hidden []mat.Tensor, b *tasks.Batch, dataset string) (Losses, error) {
	var out Losses
	if s := m.Config.Similarity; s != nil && s.Weight > 0 {
		cfg := kernels.Similarity{Kernel: kernels.PairKernel(s.Kernel), Tau: s.Temperature, Density: s.Density, DensityWeight: s.DensityWeight}
		for _, l := range s.Layers {
			if l >= len(hidden) {
				continue // above the depth the batch's tasks need
			}
			loss, _ := kernels.SimilarityLoss(hidden[l], m.H(l, hidden[l]), TokenRows(b, b.UnitsAt(l)), cfg)
			out.Terms, out.Weights, out.Names = append(out.Terms, loss), append(out.Weights, float32(s.Weight)), append(out.Names, "hier_sim")
		}
	}
	if s := m.Config.Syntax; s != nil && s.Weight > 0 && s.Dataset == dataset {
		trees, err := Trees(b)
		if err != nil {
			return out, err
		}
		dist := make([][]float32, len(trees))
		for i, t := range trees {
			for _, row := range t {
				for _, v := range row {
					dist[i] = append(dist[i], float32(v))
				}
			}
		}
		for _, l := range s.Layers {
			if l >= len(hidden) {
				continue
			}
			loss := kernels.TreeDistanceLoss(m.H(l, hidden[l]), WordRows(b, b.UnitsAt(l), trees), dist)
			out.Terms, out.Weights, out.Names = append(out.Terms, loss), append(out.Weights, float32(s.Weight)), append(out.Names, "hier_syntax")
		}
	}
	return out, nil
}

// TokenRows returns, for the hidden states of batch b (over word units
// pooled in the encoder, or not), the rows of every encoder row's tokens:
// its positions without [CLS], [SEP] and padding.
func TokenRows(b *tasks.Batch, units bool) [][]int {
	size, seq, mask := b.Enc.Size, b.Enc.Seq, b.Enc.AttentionMask
	if units {
		size, seq, mask = b.Words.Size, b.Words.Seq, b.Words.Mask()
	}
	out := make([][]int, size)
	for r := 0; r < size; r++ {
		n := 0
		for n < seq && mask[r*seq+n] != 0 {
			n++
		}
		for p := 1; p < n-1; p++ {
			out[r] = append(out[r], r*seq+p)
		}
	}
	return out
}

// Trees returns, for each example of b, the distances between its words
// in its gold dependency tree, or nil when it has no whole tree (heads
// "_").
func Trees(b *tasks.Batch) ([][][]int, error) {
	out := make([][][]int, len(b.Examples))
	for i, ex := range b.Examples {
		heads := tasks.GoldHeads(ex)
		if len(heads) != len(ex.Words) || slices.Contains(heads, conllu.NoHead) {
			continue
		}
		d, err := probe.TreeDistances(heads)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", ex.Line, err)
		}
		out[i] = d
	}
	return out, nil
}

// WordRows returns, for each example of b that trees has a tree of, the
// rows of its words in the hidden states (each word's first piece, or
// with units its unit); none for the others.
func WordRows(b *tasks.Batch, units bool, trees [][][]int) [][]int {
	W, starts, _ := b.WordSlots(units)
	rows := make([][]int, len(b.Examples))
	for i, n := range b.WordCounts() {
		if trees[i] == nil {
			continue
		}
		for w := 1; w <= n; w++ {
			rows[i] = append(rows[i], starts[i*W+w])
		}
	}
	return rows
}
