package encoder

import (
	"fmt"
	"math/rand/v2"
	"slices"

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
	// Attentions keeps every layer's attention probabilities (over the
	// merged units in the layers that run on them).
	Attentions bool
	// Scores lists layers (1-based) whose attention scores to return as
	// differentiable tensors, for losses on them (distillation). Each costs
	// one more QKᵀ product, as the fused attention keeps its own to itself.
	Scores []int
	// Words, when set, pools the wordpieces of each word into one position
	// partway through the encoder (see WordPooling).
	Words *WordPooling
	// Merge, when set, merges positions into fewer units between layers
	// and maps the states above the merges back to the positions (token
	// merging; see Merger).
	Merge Merger
	// Pairs, when set, adds a bias per head and token pair to the
	// attention logits and sees every layer's output (pair states; see
	// Pairs).
	Pairs Pairs
	// NoPositions leaves the absolute position embeddings out (with pair
	// states, which give positions relative to each token instead).
	NoPositions bool
}

// Pairs carries pair states through a forward pass: layer l's attention
// adds Bias(l) to its logits, and Update sees layer l's output. A Pairs
// serves one forward pass over the batch's positions (no word pooling or
// merging).
type Pairs interface {
	// Bias returns layer l's (1-based) attention bias, [batch·seq·seq,
	// heads] as kernels.AttentionWithBias reads it, or nil for none.
	Bias(l int) mat.Tensor
	// Update is called with layer l's output.
	Update(l int, x mat.Tensor) error
}

// Merger merges the positions of a forward pass into fewer units between
// layers, so that the layers above run on shorter sequences, and maps
// their outputs back to the positions below the first merge (U-Net style),
// so that whoever reads the hidden states sees the same positions with
// or without merging. A Merger serves one forward pass.
type Merger interface {
	// Merge is called before layer l (1-based) runs with its input x
	// over the current positions and their mask, and returns the layer's
	// input and mask: x and mask themselves when nothing is merged there.
	Merge(l int, x mat.Tensor, mask *kernels.Mask) (mat.Tensor, *kernels.Mask, error)
	// Unmerge returns hidden state n (layer n's output, over the units of
	// the merges below layer n+1) over the positions before the first
	// merge.
	Unmerge(n int, h mat.Tensor) mat.Tensor
}

// WordPooling shortens the sequences of a batch partway through the
// encoder: from hidden state After on, each word (and each special token)
// is one position, so the layers above run on words, not wordpieces, and
// cost less (attention quadratically so).
//
// After = 0 pools before the first layer: a word's embedding is the pooled
// word embeddings of its pieces, plus the position embedding of the word's
// position and its token type, normalised — positions count words. After =
// k > 0 pools the output of layer k. Hidden states 0..After (After = 0: only
// the pieces' embeddings are not returned) are over pieces, those above
// over words.
type WordPooling struct {
	After int
	// Mode is how pieces combine: mean, sum, first, last, or PoolAttention
	// (a softmax over the pieces of each word of scores given by Score).
	Mode  kernels.PoolMode
	Score *Linear // hidden → 1, for PoolAttention
	// The word batch is Size×Seq positions. Position p pools the rows
	// Starts[p]..Ends[p]-1 of the piece batch (flattened [batch·seq]), or
	// is padding when Ends[p] == Starts[p]. Types gives each word position
	// its token type (nil: all 0).
	Size, Seq    int
	Starts, Ends []int
	Types        []int
}

// Pooled reports whether hidden state n is over words rather than pieces:
// every state above After, and all of them when After is 0. A nil w pools
// nothing.
func (w *WordPooling) Pooled(n int) bool { return w != nil && (n > w.After || w.After == 0) }

// PoolAttention is the word pooling mode that learns which pieces of a
// word count: WordPooling.Score scores each piece, and a word is the
// softmax-weighted average of its pieces (a zero Score pools the mean).
const PoolAttention kernels.PoolMode = "attention"

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
	// Scores[i] holds layer i+1's attention scores QKᵀ/√headDim, before the
	// mask and the softmax, as a [batch·heads·seq, seq] operator (see
	// kernels.AttentionScores) when Options.Scores lists the layer, and is
	// nil otherwise.
	Scores []mat.Tensor
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
	if opt.Merge != nil && len(opt.Scores) > 0 {
		return nil, fmt.Errorf("encoder: attention scores of merged layers are over units, not tokens: no scores with token merging")
	}
	if opt.Pairs != nil && (opt.Merge != nil || opt.Words != nil || len(opt.Scores) > 0) {
		return nil, fmt.Errorf("encoder: pair states are over the batch's positions: not with word pooling, token merging or attention scores")
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
	w := opt.Words
	if w != nil {
		if err := m.checkWords(b, w); err != nil {
			return nil, err
		}
	}
	d := dropouts{train: opt.Train, rng: opt.RNG, hidden: m.Config.HiddenDropoutProb, attn: m.Config.AttentionProbsDropoutProb}
	var x mat.Tensor
	var err error
	if w != nil && w.After == 0 {
		x, err = m.wordEmbeddings(b, w, &d)
	} else {
		var positions []int
		if !opt.NoPositions {
			positions = m.positionIDs(b)
		}
		x, err = m.Embeddings.Forward(b, positions, &d)
	}
	if err != nil {
		return nil, err
	}
	if m.EmbeddingsProject != nil {
		x = m.EmbeddingsProject.Forward(x)
	}
	res := &Result{HiddenStates: []mat.Tensor{x}}
	size, seq := b.Size, b.Seq
	if w != nil && w.After == 0 {
		size, seq, attend = w.Size, w.Seq, w.Mask()
	}
	mask := kernels.NewMask(size, seq, attend)
	if len(opt.Scores) > 0 {
		res.Scores = make([]mat.Tensor, depth)
	}
	// The hidden states above merged are over merged units; seqBefore is
	// the sequence length below the first merge.
	merged, seqBefore := -1, 0
	for i, l := range m.Layers[:depth] {
		if w != nil && w.After > 0 && i == w.After {
			x = w.Pool(x)
			size, seq = w.Size, w.Seq
			mask = kernels.NewMask(size, seq, w.Mask())
		}
		if m.LayerInput != nil && (w == nil || w.After == 0 || i < w.After) {
			x = m.LayerInput.Input(i+1, res.HiddenStates)
		}
		if opt.Merge != nil {
			before := mask
			if x, mask, err = opt.Merge.Merge(i+1, x, mask); err != nil {
				return nil, err
			}
			if mask != before && merged < 0 {
				merged, seqBefore = i, before.Seq
			}
		}
		var probs []float32
		var scores, bias mat.Tensor
		if opt.Pairs != nil {
			bias = opt.Pairs.Bias(i + 1)
		}
		x, probs, scores = l.forward(x, mask, bias, &d, slices.Contains(opt.Scores, i+1))
		if opt.Pairs != nil {
			if err := opt.Pairs.Update(i+1, x); err != nil {
				return nil, err
			}
		}
		if scores != nil {
			res.Scores[i] = scores
		}
		res.HiddenStates = append(res.HiddenStates, x)
		if opt.Attentions {
			res.Attentions = append(res.Attentions, probs)
		}
	}
	if merged >= 0 {
		for n := merged + 1; n < len(res.HiddenStates); n++ {
			res.HiddenStates[n] = opt.Merge.Unmerge(n, res.HiddenStates[n])
		}
		x, seq = res.HiddenStates[depth], seqBefore
	}
	if m.Pooler != nil && depth == len(m.Layers) {
		first := make([]int, size)
		for i := range first {
			first[i] = i * seq
		}
		res.Pooled = m.Pooler.Forward(kernels.GatherRows(x, first))
	}
	return res, nil
}

// checkWords validates a word pooling against the batch.
func (m *Model) checkWords(b *Batch, w *WordPooling) error {
	n := w.Size * w.Seq
	switch {
	case w.After < 0 || w.After > len(m.Layers):
		return fmt.Errorf("encoder: word pooling after hidden state %d of %d", w.After, len(m.Layers))
	case w.Size <= 0 || w.Seq <= 0 || len(w.Starts) != n || len(w.Ends) != n || (w.Types != nil && len(w.Types) != n):
		return fmt.Errorf("encoder: word pooling of %d×%d positions with %d starts, %d ends, %d types", w.Size, w.Seq, len(w.Starts), len(w.Ends), len(w.Types))
	case w.Seq > m.Config.MaxSequenceLength():
		return fmt.Errorf("encoder: %d words exceed the model's %d positions", w.Seq, m.Config.MaxSequenceLength())
	}
	switch w.Mode {
	case kernels.PoolMean, kernels.PoolSum, kernels.PoolFirst, kernels.PoolLast:
	case PoolAttention:
		if w.Score == nil {
			return fmt.Errorf("encoder: attention word pooling without a scorer")
		}
	default:
		return fmt.Errorf("encoder: unknown word pooling mode %q", w.Mode)
	}
	for p := range w.Starts {
		if w.Starts[p] < 0 || w.Ends[p] < w.Starts[p] || w.Ends[p] > b.Size*b.Seq {
			return fmt.Errorf("encoder: word position %d pools rows [%d, %d) of %d", p, w.Starts[p], w.Ends[p], b.Size*b.Seq)
		}
	}
	return nil
}

// Mask returns the word batch's attention mask: padding positions are
// those that pool nothing.
func (w *WordPooling) Mask() []int64 {
	m := make([]int64, len(w.Starts))
	for p := range m {
		if w.Ends[p] > w.Starts[p] {
			m[p] = 1
		}
	}
	return m
}

// Pool pools the rows of x (the piece batch) into the word batch; padding
// positions pool row 0 (they are masked out, so any row serves).
func (w *WordPooling) Pool(x mat.Tensor) mat.Tensor {
	starts, ends := make([]int, len(w.Starts)), make([]int, len(w.Ends))
	for p := range starts {
		starts[p], ends[p] = w.Starts[p], w.Ends[p]
		if ends[p] == starts[p] {
			starts[p], ends[p] = 0, 1
		}
	}
	if w.Mode == PoolAttention {
		return kernels.SegmentAttentionPool(x, w.Score.Forward(x), starts, ends)
	}
	return kernels.SegmentPool(x, starts, ends, w.Mode)
}

// wordEmbeddings computes the embedding output of a word batch: pooled
// word embeddings of each word's pieces, plus the embeddings of its
// position (counting words) and token type, normalised, with dropout.
func (m *Model) wordEmbeddings(b *Batch, w *WordPooling, d *dropouts) (mat.Tensor, error) {
	e := m.Embeddings
	pieces, err := kernels.Embeddings(kernels.Lookup{Table: e.WordEmbeddings, IDs: b.InputIDs, Pad: e.PadTokenID})
	if err != nil {
		return nil, fmt.Errorf("encoder embeddings: %w", err)
	}
	words := w.Pool(pieces)
	positions, types := make([]int, len(w.Starts)), w.Types
	if types == nil {
		types = make([]int, len(w.Starts))
	}
	pad := m.Config.PadTokenID
	for s := 0; s < w.Size; s++ {
		next := pad + 1
		for t := 0; t < w.Seq; t++ {
			p := s*w.Seq + t
			switch {
			case !m.Config.positionsFromPadding():
				positions[p] = t
			case w.Ends[p] == w.Starts[p]:
				positions[p] = pad
			default:
				positions[p] = next
				next++
			}
		}
	}
	extra, err := kernels.Embeddings(
		kernels.Lookup{Table: e.PositionEmbeddings, IDs: positions, Pad: -1},
		kernels.Lookup{Table: e.TokenTypeEmbeddings, IDs: types, Pad: -1},
	)
	if err != nil {
		return nil, fmt.Errorf("encoder embeddings: %w", err)
	}
	x := e.LayerNorm.Forward(words, extra, kernels.Dropout{})
	return kernels.DropoutOp(x, d.next(hiddenDropout)), nil
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

// The dropout sites.
const (
	hiddenDropout = iota
	attentionDropout
)

func (d *dropouts) next(site int) kernels.Dropout {
	if d == nil || !d.train { // nil: evaluation
		return kernels.Dropout{}
	}
	p := d.hidden
	if site == attentionDropout {
		p = d.attn
	}
	if p <= 0 {
		return kernels.Dropout{}
	}
	return kernels.Dropout{P: float32(p), Seed: d.rng.Uint32()}
}

// Forward returns dropout(LayerNorm(word + position + token type)), without
// the position term when positions is nil.
func (e *Embeddings) Forward(b *Batch, positions []int, d *dropouts) (mat.Tensor, error) {
	types := b.TokenTypeIDs
	if types == nil {
		types = make([]int, len(b.InputIDs))
	}
	// The padding row gets no gradient, as with PyTorch's padding_idx.
	lookups := []kernels.Lookup{{Table: e.WordEmbeddings, IDs: b.InputIDs, Pad: e.PadTokenID}}
	if positions != nil {
		lookups = append(lookups, kernels.Lookup{Table: e.PositionEmbeddings, IDs: positions, Pad: -1})
	}
	lookups = append(lookups, kernels.Lookup{Table: e.TokenTypeEmbeddings, IDs: types, Pad: -1})
	sum, err := kernels.Embeddings(lookups...)
	if err != nil {
		return nil, fmt.Errorf("encoder embeddings: %w", err)
	}
	x := e.LayerNorm.Forward(sum, nil, kernels.Dropout{})
	return kernels.DropoutOp(x, d.next(hiddenDropout)), nil
}

// Forward runs one transformer block and returns its output and attention
// probabilities, and with withScores its attention scores (else nil).
func (l *Layer) Forward(x mat.Tensor, mask *kernels.Mask, d *dropouts, withScores bool) (out mat.Tensor, probs []float32, scores mat.Tensor) {
	return l.forward(x, mask, nil, d, withScores)
}

// forward is Forward with an attention bias per head and token pair (nil:
// none; see kernels.AttentionWithBias).
func (l *Layer) forward(x mat.Tensor, mask *kernels.Mask, bias mat.Tensor, d *dropouts, withScores bool) (out mat.Tensor, probs []float32, scores mat.Tensor) {
	a, probs, scores := l.Attention.Forward(x, mask, bias, d, withScores)
	h := l.Intermediate.Forward(a)
	return l.Output.Forward(h, a, d), probs, scores
}

// Forward returns the attention sub-layer's output and probabilities, and
// with withScores its scores (else nil); bias, when not nil, is added to
// the attention logits (kernels.AttentionWithBias).
func (a *Attention) Forward(x mat.Tensor, mask *kernels.Mask, bias mat.Tensor, d *dropouts, withScores bool) (out mat.Tensor, probs []float32, scores mat.Tensor) {
	ctx, probs, scores := a.Self.Forward(x, mask, bias, d, withScores)
	return a.Output.Forward(ctx, x, d), probs, scores
}

// Forward returns the attention context of every head, concatenated, with
// the probabilities, and with withScores the scores as an operator (else
// nil); bias, when not nil, is added to the logits.
func (s *SelfAttention) Forward(x mat.Tensor, mask *kernels.Mask, bias mat.Tensor, d *dropouts, withScores bool) (ctx mat.Tensor, probs []float32, scores mat.Tensor) {
	q, k, v := s.Query.Forward(x), s.Key.Forward(x), s.Value.Forward(x)
	if withScores {
		scores = kernels.AttentionScores(q, k, mask.Batch, mask.Seq, s.NumHeads)
	}
	ctx, probs = kernels.AttentionWithBias(q, k, v, bias, mask, s.NumHeads, d.next(attentionDropout))
	return ctx, probs, scores
}

// Forward returns LayerNorm(dropout(dense(ctx)) + input).
func (o *SelfOutput) Forward(ctx, input mat.Tensor, d *dropouts) mat.Tensor {
	return o.LayerNorm.Forward(o.Dense.Forward(ctx), input, d.next(hiddenDropout))
}

// Forward returns act(dense(x)).
func (i *Intermediate) Forward(x mat.Tensor) mat.Tensor {
	return kernels.Activate(i.Dense.Forward(x), i.Activation)
}

// Forward returns LayerNorm(dropout(dense(h)) + input).
func (o *Output) Forward(h, input mat.Tensor, d *dropouts) mat.Tensor {
	return o.LayerNorm.Forward(o.Dense.Forward(h), input, d.next(hiddenDropout))
}

// Forward returns tanh(dense(first)) for the first tokens' states.
func (p *Pooler) Forward(first mat.Tensor) mat.Tensor {
	return kernels.Activate(p.Dense.Forward(first), kernels.Tanh)
}

// Forward returns x·Wᵀ + b.
func (l *Linear) Forward(x mat.Tensor) mat.Tensor {
	if l.transposed != nil {
		return kernels.LinearTransposed(x, l.Weight, l.transposed, l.Bias)
	}
	return kernels.Linear(x, l.Weight, l.Bias)
}

// PrepareInference readies a model that will only run inference from now
// on (serving, prediction, a distillation teacher): every dense layer of
// the encoder keeps its weight transposed too, which BLAS multiplies
// faster when a batch has few rows. It costs the encoder's dense weights
// again in memory. A model trained afterwards would keep computing with
// the transposes made here: do not train it.
func (m *Model) PrepareInference() {
	lin := []*Linear{m.EmbeddingsProject}
	if m.Pooler != nil {
		lin = append(lin, m.Pooler.Dense)
	}
	for _, l := range m.Layers {
		a := l.Attention
		lin = append(lin, a.Self.Query, a.Self.Key, a.Self.Value, a.Output.Dense, l.Intermediate.Dense, l.Output.Dense)
	}
	for _, l := range lin {
		if l == nil || l.transposed != nil {
			continue
		}
		out, in := kernels.Dims(l.Weight)
		w := kernels.Values(l.Weight)
		t := make([]float32, in*out)
		for o := range out {
			for i := range in {
				t[i*out+o] = w[o*in+i]
			}
		}
		l.transposed = t
	}
}

// Forward returns LayerNorm(dropout(x) + residual); residual may be nil.
func (n *LayerNorm) Forward(x, residual mat.Tensor, d kernels.Dropout) mat.Tensor {
	return kernels.LayerNorm(x, residual, n.Weight, n.Bias, n.Eps, d)
}
