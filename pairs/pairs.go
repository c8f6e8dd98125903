// Package pairs gives an encoder pair states: besides its tokens' states,
// each layer reads and writes a state P_ij of width d_p for every pair of
// tokens of a sequence, so that the transformer becomes a graph network
// whose edges carry what relates two tokens, and absolute positions can
// go.
//
//   - P starts from the relation the input gives: the relative position of
//     j from i within a sentence (clipped to ±MaxDistance), "another
//     sentence" across sentence boundaries, or a relation to or from
//     [CLS] — nothing that depends on where a sentence sits in the text.
//   - Reading: layer l's attention adds a learned bias per head,
//     w_{l,h}·P_ij, to its logits (Graphormer's edge bias, AlphaFold's pair
//     bias). w starts at zero, so a pretrained model starts out computing
//     exactly what it computed.
//   - Writing: after layer l, P_ij += (A_l x_i) ⊙ (C_l x_j) (C_l starts at
//     zero), and optionally the triangle update P_ij += O_l mean_k
//     (A'_l P_ik) ⊙ (C'_l P_jk) (Evoformer's, O(n³)).
//   - A dependency parser may add a learned projection of P_ij to its arc
//     scores.
package pairs

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

// Module holds the pair-state parameters of a model. Slices are indexed by
// layer (1-based; nil where a layer has none).
type Module struct {
	Config *Config
	Heads  int
	// Relations is the embedding of the relations P starts from
	// ("pairs.relations.weight" [Buckets(), dim]).
	Relations *nn.Param
	// Bias[l] maps P to layer l's attention bias per head
	// ("pairs.{l}.bias.weight" [heads, dim]).
	Bias []*nn.Param
	// UpdateA[l], UpdateC[l] project layer l's output for the product
	// update ("pairs.{l}.update_a", "pairs.{l}.update_c").
	UpdateA, UpdateC []*encoder.Linear
	// TriangleA, TriangleC, TriangleOut are the triangle update's
	// projections ("pairs.{l}.triangle_a", "_c", "_out").
	TriangleA, TriangleC, TriangleOut []*encoder.Linear
	// Parser projects P to a parser's arc score ("pairs.parser.weight"
	// [1, dim]); nil without Config.Parser.
	Parser *nn.Param
}

func newParam(rows, cols int) *nn.Param {
	p := &nn.Param{Matrix: mat.NewDense[float32](mat.WithShape(rows, cols))}
	p.SetRequiresGrad(true)
	return p
}

func normal(p *nn.Param, std float64, rng *rand.Rand) {
	v := kernels.Values(p)
	for i := range v {
		v[i] = float32(std * rng.NormFloat64())
	}
}

// Buckets returns the number of relations: 2·MaxDistance+1 relative
// positions, another sentence, from [CLS], to [CLS].
func (c *Config) Buckets() int { return 2*c.MaxDistance + 4 }

// New makes the parameters of a checked configuration for an encoder of
// the given hidden size, heads and layers. Everything that writes into the
// encoder's computation starts at zero (the biases, C, O), so the model
// starts out as the encoder without pair states; what feeds those is drawn
// from rng with unit-scale outputs, so that their gradients are not zero.
func New(cfg *Config, hidden, heads, layers int, rng *rand.Rand) *Module {
	d := cfg.Dim
	m := &Module{Config: cfg, Heads: heads, Relations: newParam(cfg.Buckets(), d),
		Bias: make([]*nn.Param, layers+1), UpdateA: make([]*encoder.Linear, layers+1), UpdateC: make([]*encoder.Linear, layers+1),
		TriangleA: make([]*encoder.Linear, layers+1), TriangleC: make([]*encoder.Linear, layers+1), TriangleOut: make([]*encoder.Linear, layers+1)}
	normal(m.Relations, 1, rng)
	for l := cfg.From; l <= layers; l++ {
		m.Bias[l] = newParam(heads, d)
		if cfg.Update == "product" {
			m.UpdateA[l], m.UpdateC[l] = encoder.NewLinear(hidden, d), encoder.NewLinear(hidden, d)
			normal(m.UpdateA[l].Weight, 1/math.Sqrt(float64(hidden)), rng)
		}
		if cfg.Triangle {
			m.TriangleA[l], m.TriangleC[l], m.TriangleOut[l] = encoder.NewLinear(d, d), encoder.NewLinear(d, d), encoder.NewLinear(d, d)
			normal(m.TriangleA[l].Weight, 1/math.Sqrt(float64(d)), rng)
			normal(m.TriangleC[l].Weight, 1/math.Sqrt(float64(d)), rng)
		}
	}
	if cfg.Parser {
		m.Parser = newParam(1, d)
	}
	return m
}

// NamedParams lists the parameters under their checkpoint names.
func (m *Module) NamedParams() []encoder.NamedParam {
	d := m.Config.Dim
	ps := []encoder.NamedParam{{Name: "pairs.relations.weight", Param: m.Relations, Shape: []int{m.Config.Buckets(), d}}}
	linear := func(name string, l *encoder.Linear) {
		if l == nil {
			return
		}
		out, in := kernels.Dims(l.Weight)
		ps = append(ps, encoder.NamedParam{Name: name + ".weight", Param: l.Weight, Shape: []int{out, in}},
			encoder.NamedParam{Name: name + ".bias", Param: l.Bias, Shape: []int{out}})
	}
	for l := range m.Bias {
		if m.Bias[l] == nil {
			continue
		}
		ps = append(ps, encoder.NamedParam{Name: fmt.Sprintf("pairs.%d.bias.weight", l), Param: m.Bias[l], Shape: []int{m.Heads, d}})
		linear(fmt.Sprintf("pairs.%d.update_a", l), m.UpdateA[l])
		linear(fmt.Sprintf("pairs.%d.update_c", l), m.UpdateC[l])
		linear(fmt.Sprintf("pairs.%d.triangle_a", l), m.TriangleA[l])
		linear(fmt.Sprintf("pairs.%d.triangle_c", l), m.TriangleC[l])
		linear(fmt.Sprintf("pairs.%d.triangle_out", l), m.TriangleOut[l])
	}
	if m.Parser != nil {
		ps = append(ps, encoder.NamedParam{Name: "pairs.parser.weight", Param: m.Parser, Shape: []int{1, d}})
	}
	return ps
}

// Relations returns the relation bucket of every pair of a batch of size
// sequences of seq tokens (row (b·seq + i)·seq + j), from its input ids
// and attention mask (nil: all attended): position 0 is [CLS], a sentence
// runs up to and including its [SEP] (sep is that token's id), padding
// pairs get bucket 0 (attention ignores them).
func (c *Config) Relations(size, seq int, ids []int, attend []int64, sep int) []int {
	K := c.MaxDistance
	other, fromCLS, toCLS := 2*K+1, 2*K+2, 2*K+3
	out := make([]int, size*seq*seq)
	sent := make([]int, seq)
	for b := range size {
		s := 0
		for t := range seq {
			sent[t] = s
			if ids[b*seq+t] == sep {
				s++
			}
		}
		real := func(t int) bool { return attend == nil || attend[b*seq+t] != 0 }
		for i := range seq {
			for j := range seq {
				r := &out[(b*seq+i)*seq+j]
				switch {
				case !real(i) || !real(j):
					*r = 0
				case i == 0 && j == 0:
					*r = K
				case i == 0:
					*r = fromCLS
				case j == 0:
					*r = toCLS
				case sent[i] != sent[j]:
					*r = other
				default:
					*r = min(max(j-i, -K), K) + K
				}
			}
		}
	}
	return out
}

// EstimateBytes is about the memory the pair states of a training step
// take for batch sequences of seq tokens through layers layers: every
// pair tensor the backward pass keeps, B·S² values each.
func (m *Module) EstimateBytes(batch, seq, layers int) int64 {
	d, h := int64(m.Config.Dim), int64(m.Heads)
	var per int64 = d // P0
	for l := m.Config.From; l <= layers && l < len(m.Bias); l++ {
		per += 2 * h // the bias and its gradient
		if m.UpdateA[l] != nil {
			per += 3 * d // U, the new P, their gradients' peak
		}
		if m.TriangleA[l] != nil {
			per += 5 * d // A'P, C'P, T, O·T, the new P
		}
	}
	return 4 * int64(batch) * int64(seq) * int64(seq) * per * 2 // ×2: gradients
}

// State is the pair states of one forward pass. It implements
// encoder.Pairs.
type State struct {
	m       *Module
	B, S    int
	keep    []bool
	p       mat.Tensor
	history []mat.Tensor // history[l]: P after layer l (0: the relations)
}

// Start begins the pair states of a forward pass over a batch; sep is the
// tokenizer's [SEP] id. It refuses, before computing anything, a triangle
// update on sequences longer than TriangleMaxLength.
func (m *Module) Start(b *encoder.Batch, sep int) (*State, error) {
	if m.Config.Triangle && b.Seq > m.Config.TriangleMaxLength {
		return nil, fmt.Errorf("pairs.triangle: a sequence of %d pieces is longer than triangle_max_length %d (the triangle update costs n³; raise the limit to allow it)", b.Seq, m.Config.TriangleMaxLength)
	}
	rel := m.Config.Relations(b.Size, b.Seq, b.InputIDs, b.AttentionMask, sep)
	p, err := kernels.Embeddings(kernels.Lookup{Table: m.Relations, IDs: rel, Pad: -1})
	if err != nil {
		return nil, err
	}
	keep := make([]bool, b.Size*b.Seq)
	for i := range keep {
		keep[i] = b.AttentionMask == nil || b.AttentionMask[i] != 0
	}
	return &State{m: m, B: b.Size, S: b.Seq, keep: keep, p: p, history: []mat.Tensor{p}}, nil
}

// Bias returns layer l's attention bias [B·S·S, heads] (from the states
// after layer l-1), or nil below From.
func (s *State) Bias(l int) mat.Tensor {
	if l >= len(s.m.Bias) || s.m.Bias[l] == nil {
		return nil
	}
	return kernels.Linear(s.At(l-1), s.m.Bias[l], nil)
}

// Update writes layer l's output x into the pair states.
func (s *State) Update(l int, x mat.Tensor) error {
	m := s.m
	if l < len(m.UpdateA) && m.UpdateA[l] != nil {
		u := kernels.PairProduct(m.UpdateA[l].Forward(x), m.UpdateC[l].Forward(x), s.B, s.S)
		s.p = kernels.WeightedSum([]mat.Tensor{s.p, u}, []float32{1, 1})
	}
	if l < len(m.TriangleA) && m.TriangleA[l] != nil {
		t := kernels.TriangleProduct(m.TriangleA[l].Forward(s.p), m.TriangleC[l].Forward(s.p), s.B, s.S, s.keep)
		s.p = kernels.WeightedSum([]mat.Tensor{s.p, m.TriangleOut[l].Forward(t)}, []float32{1, 1})
	}
	s.history = append(s.history, s.p)
	return nil
}

// At returns the pair states after layer l ([B·S·S, dim]; 0: the
// relations), once the forward pass has run that far.
func (s *State) At(l int) mat.Tensor { return s.history[min(l, len(s.history)-1)] }

// Parser reports whether parsers read the pair states.
func (s *State) Parser() bool { return s.m.Parser != nil }

// Logits returns the parser's scores of the pair states after layer l at
// rows, an n×cols matrix (kernels.PairLogits).
func (s *State) Logits(l int, rows []int, n, cols int) mat.Tensor {
	return kernels.PairLogits(s.At(l), s.m.Parser, rows, n, cols)
}
