package encoder

import (
	"fmt"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/kernels"
)

// Batch is a padded batch of token sequences, row-major [Size, Seq].
type Batch struct {
	Size, Seq     int
	InputIDs      []int
	AttentionMask []int64 // 1 for tokens, 0 for padding; nil means all ones
	TokenTypeIDs  []int   // nil means all zeros
}

// Options control one forward pass.
type Options struct {
	// Train turns dropout on; its masks are drawn from RNG, which must then
	// be set.
	Train bool
	RNG   *rand.Rand
	// Depth runs only the first Depth layers (0 runs all). Tasks that read
	// low layers need no more; the pooler runs only at full depth.
	Depth int
	// Attentions keeps every layer's attention probabilities.
	Attentions bool
}

// Result holds what a forward pass computed.
type Result struct {
	// HiddenStates[0] is the embedding output and HiddenStates[i] the output
	// of layer i, each [batch·seq, hidden] (HuggingFace's hidden_states).
	HiddenStates []mat.Tensor
	// Attentions[i] holds layer i+1's probabilities [batch, heads, seq, seq]
	// when Options.Attentions is set.
	Attentions [][]float32
	// Pooled is the pooler output [batch, hidden], or nil.
	Pooled mat.Tensor
}

// Forward runs the encoder on a batch. The error reports input the model
// cannot take (an id outside the vocabulary, a sequence longer than the
// position table, malformed shapes).
func (m *Model) Forward(b *Batch, opt Options) (*Result, error) {
	if err := m.check(b); err != nil {
		return nil, err
	}
	if opt.Train && opt.RNG == nil {
		return nil, fmt.Errorf("encoder: training forward pass without an RNG for dropout")
	}
	depth := len(m.Layers)
	if opt.Depth > 0 && opt.Depth < depth {
		depth = opt.Depth
	}
	attend := b.AttentionMask
	if attend == nil {
		attend = make([]int64, b.Size*b.Seq)
		for i := range attend {
			attend[i] = 1
		}
	}
	d := dropouts{train: opt.Train, rng: opt.RNG, hidden: m.Config.HiddenDropoutProb, attn: m.Config.AttentionProbsDropoutProb}
	x, err := m.Embeddings.Forward(b, m.positionIDs(b), &d)
	if err != nil {
		return nil, err
	}
	if m.EmbeddingsProject != nil {
		x = m.EmbeddingsProject.Forward(x)
	}
	res := &Result{HiddenStates: []mat.Tensor{x}}
	mask := kernels.NewMask(b.Size, b.Seq, attend)
	for _, l := range m.Layers[:depth] {
		var probs []float32
		x, probs = l.Forward(x, mask, &d)
		res.HiddenStates = append(res.HiddenStates, x)
		if opt.Attentions {
			res.Attentions = append(res.Attentions, probs)
		}
	}
	if m.Pooler != nil && depth == len(m.Layers) {
		first := make([]int, b.Size)
		for i := range first {
			first[i] = i * b.Seq
		}
		res.Pooled = m.Pooler.Forward(kernels.GatherRows(x, first))
	}
	return res, nil
}

func (m *Model) check(b *Batch) error {
	n := b.Size * b.Seq
	switch {
	case b.Size <= 0 || b.Seq <= 0:
		return fmt.Errorf("encoder: empty batch (%d×%d)", b.Size, b.Seq)
	case len(b.InputIDs) != n:
		return fmt.Errorf("encoder: %d input ids for a %d×%d batch", len(b.InputIDs), b.Size, b.Seq)
	case b.AttentionMask != nil && len(b.AttentionMask) != n:
		return fmt.Errorf("encoder: %d attention-mask values for a %d×%d batch", len(b.AttentionMask), b.Size, b.Seq)
	case b.TokenTypeIDs != nil && len(b.TokenTypeIDs) != n:
		return fmt.Errorf("encoder: %d token type ids for a %d×%d batch", len(b.TokenTypeIDs), b.Size, b.Seq)
	case b.Seq > m.Config.MaxSequenceLength():
		return fmt.Errorf("encoder: sequence length %d exceeds the model's maximum of %d positions", b.Seq, m.Config.MaxSequenceLength())
	}
	return nil
}

// positionIDs numbers the tokens of each sequence: 0, 1, 2, ... for BERT;
// for RoBERTa-style models pad+1, pad+2, ... over non-padding tokens and pad
// on padding, as HuggingFace's create_position_ids_from_input_ids.
func (m *Model) positionIDs(b *Batch) []int {
	ids := make([]int, b.Size*b.Seq)
	pad := m.Config.PadTokenID
	for s := 0; s < b.Size; s++ {
		next := pad + 1
		for t := 0; t < b.Seq; t++ {
			i := s*b.Seq + t
			switch {
			case !m.Config.positionsFromPadding():
				ids[i] = t
			case b.InputIDs[i] == pad:
				ids[i] = pad
			default:
				ids[i] = next
				next++
			}
		}
	}
	return ids
}

// dropouts hands out the dropout of each operator of one forward pass.
type dropouts struct {
	train        bool
	rng          *rand.Rand
	hidden, attn float64
}

func (d *dropouts) next(p float64) kernels.Dropout {
	if !d.train || p <= 0 {
		return kernels.Dropout{}
	}
	return kernels.Dropout{P: float32(p), Seed: d.rng.Uint32()}
}

// Forward returns dropout(LayerNorm(word + position + token type)).
func (e *Embeddings) Forward(b *Batch, positions []int, d *dropouts) (mat.Tensor, error) {
	types := b.TokenTypeIDs
	if types == nil {
		types = make([]int, len(b.InputIDs))
	}
	sum, err := kernels.Embeddings(
		// The padding row gets no gradient, as with PyTorch's padding_idx.
		kernels.Lookup{Table: e.WordEmbeddings, IDs: b.InputIDs, Pad: e.PadTokenID},
		kernels.Lookup{Table: e.PositionEmbeddings, IDs: positions, Pad: -1},
		kernels.Lookup{Table: e.TokenTypeEmbeddings, IDs: types, Pad: -1},
	)
	if err != nil {
		return nil, fmt.Errorf("encoder embeddings: %w", err)
	}
	x := e.LayerNorm.Forward(sum, nil, kernels.Dropout{})
	return kernels.DropoutOp(x, d.next(d.hidden)), nil
}

// Forward runs one transformer block and returns its output and attention
// probabilities.
func (l *Layer) Forward(x mat.Tensor, mask *kernels.Mask, d *dropouts) (mat.Tensor, []float32) {
	a, probs := l.Attention.Forward(x, mask, d)
	h := l.Intermediate.Forward(a)
	return l.Output.Forward(h, a, d), probs
}

// Forward returns the attention sub-layer's output and probabilities.
func (a *Attention) Forward(x mat.Tensor, mask *kernels.Mask, d *dropouts) (mat.Tensor, []float32) {
	ctx, probs := a.Self.Forward(x, mask, d)
	return a.Output.Forward(ctx, x, d), probs
}

// Forward returns the attention context of every head, concatenated.
func (s *SelfAttention) Forward(x mat.Tensor, mask *kernels.Mask, d *dropouts) (mat.Tensor, []float32) {
	q, k, v := s.Query.Forward(x), s.Key.Forward(x), s.Value.Forward(x)
	return kernels.Attention(q, k, v, mask, s.NumHeads, d.next(d.attn))
}

// Forward returns LayerNorm(dropout(dense(ctx)) + input).
func (o *SelfOutput) Forward(ctx, input mat.Tensor, d *dropouts) mat.Tensor {
	return o.LayerNorm.Forward(o.Dense.Forward(ctx), input, d.next(d.hidden))
}

// Forward returns act(dense(x)).
func (i *Intermediate) Forward(x mat.Tensor) mat.Tensor {
	return kernels.Activate(i.Dense.Forward(x), i.Activation)
}

// Forward returns LayerNorm(dropout(dense(h)) + input).
func (o *Output) Forward(h, input mat.Tensor, d *dropouts) mat.Tensor {
	return o.LayerNorm.Forward(o.Dense.Forward(h), input, d.next(d.hidden))
}

// Forward returns tanh(dense(first)) for the first tokens' states.
func (p *Pooler) Forward(first mat.Tensor) mat.Tensor {
	return kernels.Activate(p.Dense.Forward(first), kernels.Tanh)
}

// Forward returns x·Wᵀ + b.
func (l *Linear) Forward(x mat.Tensor) mat.Tensor {
	return kernels.Linear(x, l.Weight, l.Bias)
}

// Forward returns LayerNorm(dropout(x) + residual); residual may be nil.
func (n *LayerNorm) Forward(x, residual mat.Tensor, d kernels.Dropout) mat.Tensor {
	return kernels.LayerNorm(x, residual, n.Weight, n.Bias, n.Eps, d)
}
