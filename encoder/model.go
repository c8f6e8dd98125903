// Package encoder is the BERT-family transformer encoder as spago modules,
// one type per part of HuggingFace's modeling_bert.py and with the same
// names, so that every parameter's checkpoint key follows from its place.
//
// The forward pass is batched: each layer transforms one [batch·seq, hidden]
// matrix with the fused operators of package kernels, and returns every hidden
// state (the embedding output, then the output of each layer) so that tasks can
// read any depth.
package encoder

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/tensor"
)

// Model is a BERT-family encoder: embeddings, a stack of layers and an
// optional pooler (HuggingFace's BertModel).
type Model struct {
	nn.Module
	Config     Config
	Embeddings *Embeddings
	// EmbeddingsProject maps ELECTRA's narrower embeddings to the hidden
	// size; nil for other models.
	EmbeddingsProject *Linear
	Layers            []*Layer // "encoder.layer.{i}"
	Pooler            *Pooler  // nil when the checkpoint has none
	// LayerInput, when set, chooses each layer's input from the outputs of
	// the embeddings and all earlier layers (depth attention); nil feeds
	// each layer the previous one's output, as BERT does.
	LayerInput LayerInput
}

// LayerInput chooses the input of layer l (1-based) from the hidden states
// computed so far: states[0] the embedding output, states[j] layer j's.
type LayerInput interface {
	Input(l int, states []mat.Tensor) mat.Tensor
}

// Embeddings sums word, position and token-type embeddings and normalises
// them (BertEmbeddings).
type Embeddings struct {
	nn.Module
	WordEmbeddings      *nn.Param
	PositionEmbeddings  *nn.Param
	TokenTypeEmbeddings *nn.Param
	LayerNorm           *LayerNorm
	PadTokenID          int
}

// Layer is one transformer block (BertLayer).
type Layer struct {
	nn.Module
	Attention    *Attention
	Intermediate *Intermediate
	Output       *Output
}

// Attention is self-attention with its output projection (BertAttention).
type Attention struct {
	nn.Module
	Self   *SelfAttention
	Output *SelfOutput
}

// SelfAttention holds the query, key and value projections
// (BertSelfAttention).
type SelfAttention struct {
	nn.Module
	Query, Key, Value *Linear
	NumHeads          int
}

// SelfOutput projects the attention context and closes the sub-layer with
// dropout, the residual and LayerNorm (BertSelfOutput).
type SelfOutput struct {
	nn.Module
	Dense     *Linear
	LayerNorm *LayerNorm
}

// Intermediate is the first half of the feed-forward block
// (BertIntermediate).
type Intermediate struct {
	nn.Module
	Dense      *Linear
	Activation kernels.Activation
}

// Output is the second half of the feed-forward block with dropout, the
// residual and LayerNorm (BertOutput).
type Output struct {
	nn.Module
	Dense     *Linear
	LayerNorm *LayerNorm
}

// Pooler maps the first token's final state through a dense layer and tanh
// (BertPooler).
type Pooler struct {
	nn.Module
	Dense *Linear
}

// Linear is a dense layer with PyTorch's [out, in] weight layout.
type Linear struct {
	nn.Module
	Weight *nn.Param
	Bias   *nn.Param
	// transposed is Weightᵀ once PrepareInference made it.
	transposed []float32
}

// LayerNorm normalises each row and applies a learned scale and shift.
type LayerNorm struct {
	nn.Module
	Weight *nn.Param
	Bias   *nn.Param
	Eps    float32
}

// newParam returns a zero rows×cols parameter. (nn.NewParam would copy the
// matrix it is given; a fresh one needs no copy.)
func newParam(rows, cols int) *nn.Param {
	p := &nn.Param{Matrix: mat.NewDense[float32](mat.WithShape(rows, cols))}
	p.SetRequiresGrad(true)
	return p
}

// NewLinear returns a zero-initialised in→out dense layer.
func NewLinear(in, out int) *Linear {
	return &Linear{Weight: newParam(out, in), Bias: newParam(out, 1)}
}

// NewLayerNorm returns a LayerNorm over n features with weight one and bias
// zero.
func NewLayerNorm(n int, eps float64) *LayerNorm {
	ln := &LayerNorm{Weight: newParam(n, 1), Bias: newParam(n, 1), Eps: float32(eps)}
	fill(ln.Weight, 1)
	return ln
}

// New returns a model of the given configuration with LayerNorm weights at
// one and every other parameter at zero; load a checkpoint into it or call
// InitWeights. The pooler is included when withPooler is set. A
// configuration that fails Validate or CheckSize is an error, returned
// before anything is allocated.
func New(cfg Config, withPooler bool) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.CheckSize(withPooler); err != nil {
		return nil, err
	}
	act, _ := kernels.ParseActivation(cfg.HiddenAct)
	H, E := cfg.HiddenSize, cfg.EmbeddingWidth()
	m := &Model{
		Config: cfg,
		Embeddings: &Embeddings{
			WordEmbeddings:      newParam(cfg.VocabSize, E),
			PositionEmbeddings:  newParam(cfg.MaxPositionEmbeddings, E),
			TokenTypeEmbeddings: newParam(cfg.TypeVocabSize, E),
			LayerNorm:           NewLayerNorm(E, cfg.LayerNormEps),
			PadTokenID:          cfg.PadTokenID,
		},
	}
	if E != H {
		m.EmbeddingsProject = NewLinear(E, H)
	}
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		m.Layers = append(m.Layers, &Layer{
			Attention: &Attention{
				Self:   &SelfAttention{Query: NewLinear(H, H), Key: NewLinear(H, H), Value: NewLinear(H, H), NumHeads: cfg.NumAttentionHeads},
				Output: &SelfOutput{Dense: NewLinear(H, H), LayerNorm: NewLayerNorm(H, cfg.LayerNormEps)},
			},
			Intermediate: &Intermediate{Dense: NewLinear(H, cfg.IntermediateSize), Activation: act},
			Output:       &Output{Dense: NewLinear(cfg.IntermediateSize, H), LayerNorm: NewLayerNorm(H, cfg.LayerNormEps)},
		})
	}
	if withPooler {
		m.Pooler = &Pooler{Dense: NewLinear(H, H)}
	}
	return m, nil
}

// NamedParam is a parameter with its checkpoint key and its shape as
// PyTorch stores it ([n] for a vector, which spago holds as n×1).
type NamedParam struct {
	Name  string
	Param *nn.Param
	Shape []int
}

// Tensors returns parameters as F32 tensors under their names, for
// writing a checkpoint.
func Tensors(ps []NamedParam) map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor, len(ps))
	for _, np := range ps {
		out[np.Name] = tensor.FromFloat32(np.Shape, kernels.Values(np.Param))
	}
	return out
}

// LoadTensors copies every parameter's values from the tensor of its
// name in ts, checking its shape; errors name the tensor.
func LoadTensors(ps []NamedParam, ts map[string]*tensor.Tensor) error {
	for _, np := range ps {
		t, ok := ts[np.Name]
		if !ok {
			return fmt.Errorf("missing tensor %q", np.Name)
		}
		if err := t.CopyTo(kernels.Values(np.Param), np.Shape); err != nil {
			return fmt.Errorf("tensor %q: %w", np.Name, err)
		}
	}
	return nil
}

// NamedParams returns every parameter under its HuggingFace BertModel key
// (without a "bert." prefix), in state-dict order.
func (m *Model) NamedParams() []NamedParam {
	var ps []NamedParam
	matrix := func(name string, p *nn.Param) {
		r, c := kernels.Dims(p)
		ps = append(ps, NamedParam{name, p, []int{r, c}})
	}
	vector := func(name string, p *nn.Param) {
		r, _ := kernels.Dims(p)
		ps = append(ps, NamedParam{name, p, []int{r}})
	}
	lin := func(prefix string, l *Linear) {
		matrix(prefix+".weight", l.Weight)
		vector(prefix+".bias", l.Bias)
	}
	ln := func(prefix string, l *LayerNorm) {
		vector(prefix+".weight", l.Weight)
		vector(prefix+".bias", l.Bias)
	}
	e := m.Embeddings
	matrix("embeddings.word_embeddings.weight", e.WordEmbeddings)
	matrix("embeddings.position_embeddings.weight", e.PositionEmbeddings)
	matrix("embeddings.token_type_embeddings.weight", e.TokenTypeEmbeddings)
	ln("embeddings.LayerNorm", e.LayerNorm)
	if m.EmbeddingsProject != nil {
		lin("embeddings_project", m.EmbeddingsProject)
	}
	for i, l := range m.Layers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		lin(p+"attention.self.query", l.Attention.Self.Query)
		lin(p+"attention.self.key", l.Attention.Self.Key)
		lin(p+"attention.self.value", l.Attention.Self.Value)
		lin(p+"attention.output.dense", l.Attention.Output.Dense)
		ln(p+"attention.output.LayerNorm", l.Attention.Output.LayerNorm)
		lin(p+"intermediate.dense", l.Intermediate.Dense)
		lin(p+"output.dense", l.Output.Dense)
		ln(p+"output.LayerNorm", l.Output.LayerNorm)
	}
	if m.Pooler != nil {
		lin("pooler.dense", m.Pooler.Dense)
	}
	return ps
}

// InitWeights draws fresh weights as HuggingFace's _init_weights does:
// dense and embedding weights from N(0, initializer_range²), biases zero,
// LayerNorm weights one, and the padding row of the word embeddings zero.
func (m *Model) InitWeights(rng *rand.Rand) {
	std := m.Config.InitializerRange
	if std <= 0 {
		std = 0.02
	}
	for _, np := range m.NamedParams() {
		switch {
		case strings.Contains(np.Name, "LayerNorm") && strings.HasSuffix(np.Name, ".weight"):
			fill(np.Param, 1)
		case strings.HasSuffix(np.Name, ".bias"):
			fill(np.Param, 0)
		default:
			InitNormal(np.Param, std, rng)
		}
	}
	w := kernels.Values(m.Embeddings.WordEmbeddings)
	width := m.Config.EmbeddingWidth()
	clear(w[m.Config.PadTokenID*width : (m.Config.PadTokenID+1)*width])
}

// InitNormal fills p with draws from N(0, std²).
func InitNormal(p *nn.Param, std float64, rng *rand.Rand) {
	v := kernels.Values(p)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * std)
	}
}

func fill(p *nn.Param, v float32) {
	d := kernels.Values(p)
	for i := range d {
		d[i] = v
	}
}
